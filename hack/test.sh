#!/bin/bash
# `make test`: unit tests and lint, then the end-to-end suite on the real local cluster. The cluster is brought
# up if it is not running, and then torn down again (trap) and checked to have left nothing behind.
# A cluster that was already running is reused and left running. Prints how long each phase took.
#   hack/test.sh        unit + e2e
#   hack/test.sh e2e    e2e only
# E2E_RUN (e2e only): a go test -run pattern, e.g. the core tests of `make test-compat`; K8S_VERSION and
# NODES choose the cluster brought up (hack/cluster/cluster.sh).
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

# A tracked file over 1 MB outside testdata/ is almost always a build output committed by mistake (a 74 MB
# Windows binary once was): fail before anything else runs, naming each file. Sizes are those of the
# blobs in the index, so what counts is what a commit would hold, not what lies in the work tree.
large_files() {
  local big
  big=$(git ls-files -s -z | tr '\0' '\n' | sed -n 's/^1[02][0-7]\{4\} \([0-9a-f]*\) [0-9]\t/\1 /p' |
    git cat-file --batch-check='%(objectsize) %(rest)' |
    awk -v max=1048576 '$1 > max { size = $1; sub(/^[0-9]+ /, "")
      if ($0 !~ /(^|\/)testdata\//) printf "  %s (%.1f MB)\n", $0, size / 1048576 }')
  if [ -n "$big" ]; then
    echo "tracked files over 1 MB outside testdata/ (build outputs go to bin/ or dist/, which git ignores;"
    echo "remove each with git rm --cached FILE):"
    echo "$big"
    return 1
  fi
}

if [ "${1:-all}" != e2e ]; then
  phase "tracked files under 1 MB" large_files
  phase "unit tests" go test -short -count=1 ./...
  # the image builder is a module of its own (its dependencies stay out of the plugin's go.mod)
  phase "unit tests (hack/mkimage)" go -C hack/mkimage test -short -count=1 ./...
  phase "lint" hack/lint.sh
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

# two nodes: the second one tainted, so only the multi-node tests (test/e2e/multinode_test.go) use it and
# the rest of the suite runs as on one node; `make test-multinode` lifts the taint and runs all of it on both
export NODES=${NODES:-2}
if ! $CLUSTER status >/dev/null 2>&1; then
  STARTED=$(mktemp)
  sysctl kernel.panic kernel.panic_on_oops vm.overcommit_memory net.ipv4.ip_forward net.ipv4.conf.all.route_localnet > "$STARTED"
  phase "cluster up" $CLUSTER up
elif [ "$NODES" = 2 ] && [ -z "$($CLUSTER env | sed -n 's/^FASTDEV_NODE2=//p')" ]; then
  phase "second node up" $CLUSTER up   # a running one-node cluster gets its second node
fi
eval "$($CLUSTER env | sed 's/^/export /')"
if [ "${NODE2_TAINT:-1}" = 0 ] && [ -n "$FASTDEV_NODE2" ]; then   # make test-multinode
  "$FASTDEV_KUBECTL" --kubeconfig "$FASTDEV_KUBECONFIG" taint nodes "$FASTDEV_NODE2" fastdev.dev/node2- 2>/dev/null || true
fi
export FASTDEV_BIN=$PWD/bin/kubectl-fastdev
if [ -n "${E2E_RUN:-}" ]; then   # make test-compat: the core tests only (a -run pattern), no packaging
  phase "e2e tests ($E2E_RUN)" go test -count=1 -timeout 60m -v -run "$E2E_RUN" ./test/e2e/
  exit
fi
phase "e2e tests" go test -count=1 -timeout 60m -v ./test/e2e/
# packaging: make dist, krew validation and an offline krew install (krew is built once into the cache)
phase "krew install test" go test -count=1 -timeout 30m ./test/krew/
