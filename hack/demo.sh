#!/bin/bash
# `make demo`: deploy the sample apps into namespace fastdev-demo on the local cluster and run
# `kubectl fastdev up` on them from manifests/examples. Edit the samples' files and watch them go live.
set -euo pipefail
cd "$(dirname "$0")/.."
NS=${DEMO_NAMESPACE:-fastdev-demo}
export KUBECONFIG=$(hack/cluster/cluster.sh kubeconfig)
KUBECTL=$(hack/cluster/cluster.sh env | sed -n 's/^FASTDEV_KUBECTL=//p')
$KUBECTL get namespace "$NS" >/dev/null 2>&1 || $KUBECTL create namespace "$NS" >/dev/null
APPS="web-static web-go web-node web-python"
for app in $APPS; do $KUBECTL -n "$NS" apply -f manifests/examples/$app/deployment.yaml; done
# shellcheck disable=SC2086 # one word per app
$KUBECTL -n "$NS" rollout status $(printf 'deployment/%s ' $APPS) --timeout=180s
cat <<MSG

The sample apps run in namespace $NS. kubectl fastdev now injects its synclet, syncs them and
forwards their declared port 8080 to local ports: web-static to http://127.0.0.1:8080, the others to
the next free ports (or others, if those are taken: the "forwarding" lines below say which).
The URLs stay up across every edit, restart and replaced pod. In another terminal:
  export KUBECONFIG=$KUBECONFIG PATH=\$PATH:$PWD/bin
  curl http://127.0.0.1:8080   (web-static)    curl http://127.0.0.1:8081   (web-go)
  curl http://127.0.0.1:8082   (web-node)      curl http://127.0.0.1:8083   (web-python)
  edit manifests/examples/web-go/src/main.go (the message) or manifests/examples/web-static/www/index.html,
  web-node/src/server.js, web-python/src/server.py; add "escape-html": "1.0.3" to web-node/src/package.json
  or six to web-python/src/requirements.txt (installed in the pod, offline)
  kubectl fastdev status -n $NS
Ctrl-C stops watching; \`make demo-down\` (kubectl fastdev down -n $NS) restores the Deployments.

MSG
cd manifests/examples
# shellcheck disable=SC2086 # one word per app
exec ../../bin/kubectl-fastdev -n "$NS" up $APPS
