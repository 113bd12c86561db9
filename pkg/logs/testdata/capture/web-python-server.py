"""Sample Python HTTP service for kubectl-fastdev.

GET / answers the message, GET /healthz "ok", GET /idna?host=NAME the host name in IDNA (ASCII)
form, using the one dependency in requirements.txt. One log line per request; a clean exit on SIGTERM.
"""
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import idna
import six

MESSAGE = "hello from web-python v3 with six " + six.__version__


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/raise":
            raise ValueError("fastdev e2e: raised")
        if url.path == "/healthz":
            self.reply("ok")
        elif url.path == "/idna":
            host = parse_qs(url.query).get("host", ["bücher.example"])[0]
            self.reply(idna.encode(host).decode("ascii"))
        else:
            self.reply(MESSAGE)

    def reply(self, text):
        body = (text + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    server = ThreadingHTTPServer(("", 8080), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("web-python listening on :8080", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
