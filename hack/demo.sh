#!/bin/bash
# `make demo`: deploy the sample apps into namespace fastdev-demo on the local cluster and run
# `kubectl fastdev up` on them from manifests/examples. Edit the samples' files and watch them go live.
set -euo pipefail
cd "$(dirname "$0")/.."
NS=${DEMO_NAMESPACE:-fastdev-demo}
export KUBECONFIG=$(hack/cluster/cluster.sh kubeconfig)
KUBECTL=$(hack/cluster/cluster.sh env | sed -n 's/^FASTDEV_KUBECTL=//p')
$KUBECTL get namespace "$NS" >/dev/null 2>&1 || $KUBECTL create namespace "$NS" >/dev/null
$KUBECTL -n "$NS" apply -f manifests/examples/web-static/deployment.yaml -f manifests/examples/web-go/deployment.yaml
$KUBECTL -n "$NS" rollout status deployment/web-static deployment/web-go --timeout=180s
cat <<MSG

The sample apps run in namespace $NS. kubectl fastdev now injects its synclet, syncs them and
forwards their declared port 8080 to local ports: web-static to http://127.0.0.1:8080 and web-go to
the next free port (or others, if those are taken: the "forwarding" lines below say which).
The URLs stay up across every edit, restart and replaced pod. In another terminal:
  export KUBECONFIG=$KUBECONFIG PATH=\$PATH:$PWD/bin
  curl http://127.0.0.1:8080   (web-static)    curl http://127.0.0.1:8081   (web-go)
  edit manifests/examples/web-go/src/main.go (the message) or manifests/examples/web-static/www/index.html
  kubectl fastdev status -n $NS
Ctrl-C stops watching; \`make demo-down\` (kubectl fastdev down -n $NS) restores the Deployments.

MSG
cd manifests/examples
exec ../../bin/kubectl-fastdev -n "$NS" up web-static web-go
