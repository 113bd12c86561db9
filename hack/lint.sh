#!/bin/bash
# `make lint`, and the lint phase of `make test`: golangci-lint at the version pinned here, with the
# committed .golangci.yml, over each module of the tree (the plugin and synclet; hack/mkimage and test/bench,
# which keep their own go.mod). The binary is built into the cache the first time, or when the version
# pinned here changes (a few minutes); later runs reuse it.
#   hack/lint.sh           report findings; exit non-zero if there are any
#   hack/lint.sh --fix     also apply the fixes golangci-lint knows (formatting, imports)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
VERSION=v2.15.0
TOOLS=${FASTDEV_CACHE:-$HOME/.cache/kubectl-fastdev}/tools
LINT=$TOOLS/golangci-lint
MODULES=(. hack/mkimage test/bench)

if ! "$LINT" version 2>/dev/null | grep -q "version ${VERSION#v} "; then
  echo "building golangci-lint $VERSION into $TOOLS (once; a few minutes)"
  GOBIN=$TOOLS go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$VERSION"
fi

rc=0
for m in "${MODULES[@]}"; do
  # each module is linted from its own directory (golangci-lint sees one module at a time); the config
  # is found by walking up to the repository root
  (cd "$m" && "$LINT" run "$@" ./...) || rc=1
done
exit $rc
