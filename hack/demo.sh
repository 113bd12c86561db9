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

The sample apps run in namespace $NS. kubectl fastdev now injects its synclet and syncs them.
In another terminal:
  export KUBECONFIG=$KUBECONFIG PATH=\$PATH:$PWD/bin
  kubectl -n $NS port-forward deploy/web-go 8080:8080 &   curl localhost:8080
  edit manifests/examples/web-go/src/main.go (the message) or manifests/examples/web-static/www/index.html
  kubectl fastdev status -n $NS
Ctrl-C stops watching; \`make demo-down\` (kubectl fastdev down -n $NS) restores the Deployments.

MSG
cd manifests/examples
exec ../../bin/kubectl-fastdev -n "$NS" up web-static web-go
