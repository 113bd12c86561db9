#!/bin/bash
# `make test`: unit tests, then the end-to-end suite on the real local cluster. The cluster is brought
# up if it is not running, and then torn down again (trap) and checked to have left nothing behind.
# A cluster that was already running is reused and left running. Prints how long each phase took.
#   hack/test.sh        unit + e2e
#   hack/test.sh e2e    e2e only
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
CLUSTER=hack/cluster/cluster.sh
T0=$(date +%s)
declare -a PHASES=()
phase() { local s=$1; shift; local t=$(date +%s); "$@"; local rc=$?; PHASES+=("$(printf '%-28s %4ds' "$s" $(( $(date +%s) - t )))"); return $rc; }
summary() {
  echo "== phases =="; for p in "${PHASES[@]}"; do echo "  $p"; done
  echo "  total                        $(( $(date +%s) - T0 ))s"
}

if [ "${1:-all}" != e2e ]; then
  phase "unit tests" go test -short -count=1 ./...
  # the image builder is a module of its own (its dependencies stay out of the plugin's go.mod)
  phase "unit tests (hack/mkimage)" go -C hack/mkimage test -short -count=1 ./...
  phase "fuzz (10s per target)" env FUZZTIME=10s hack/fuzz.sh
fi

STARTED=""
teardown() {
  local rc=$?
  if [ -n "$STARTED" ]; then
    before=$(mktemp); cp "$STARTED" "$before"
    phase "cluster down" $CLUSTER down || rc=1
    # the harness must leave no process, mount, cgroup, link, iptables rule or changed sysctl behind
    FASTDEV_AFTER_DOWN=1 FASTDEV_SYSCTL_BEFORE=$before phase "cluster left nothing" \
      go test -count=1 -run 'TestClusterLeftNothing' ./test/e2e/after/ || rc=1
  fi
  summary
  exit $rc
}
trap teardown EXIT

if ! $CLUSTER status >/dev/null 2>&1; then
  STARTED=$(mktemp)
  sysctl kernel.panic kernel.panic_on_oops vm.overcommit_memory net.ipv4.ip_forward net.ipv4.conf.all.route_localnet > "$STARTED"
  phase "cluster up" $CLUSTER up
fi
eval "$($CLUSTER env | sed 's/^/export /')"
export FASTDEV_BIN=$PWD/bin/kubectl-fastdev
phase "e2e tests" go test -count=1 -timeout 60m -v ./test/e2e/
# packaging: make dist, krew validation and an offline krew install (krew is built once into the cache)
phase "krew install test" go test -count=1 -timeout 30m ./test/krew/
