import json
import logging
import sys

logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(levelname)s:%(name)s:%(message)s")
log = logging.getLogger("worker")


def load(path):
    with open(path) as f:
        return json.load(f)


def handler(request):
    try:
        return load(request["path"])
    except FileNotFoundError as e:
        raise RuntimeError("config missing for " + request["path"]) from e


def ratio(a, b):
    return a / b


log.info("worker starting")
try:
    handler({"path": "/app/src/missing.json"})
except RuntimeError:
    log.exception("request failed")
log.info("serving on :8080")
sys.stdout.flush()
try:
    {}["user"]
except KeyError:
    try:
        ratio(1, 0)
    except ZeroDivisionError:
        log.exception("while handling a missing key")
log.info("still serving")
sys.stdout.flush()
print(ratio(1, 0))
