#!/bin/bash
# Runs every native Go fuzz target for a bounded time each (FUZZTIME, default 10s: the CI form; `make
# fuzz` runs them longer). Each starts from its committed seed corpus (testdata/fuzz/<target>); a crash
# fails the script and go test writes the failing input under that directory, to commit as a regression.
#   hack/fuzz.sh              every target, 10s each
#   FUZZTIME=2m hack/fuzz.sh  longer
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
FUZZTIME=${FUZZTIME:-10s}
# package and target; one line per fuzz target in the tree (go test -fuzz takes one of each at a time)
TARGETS=(
  "./pkg/archive FuzzApply"
  "./pkg/protocol FuzzSplitEntryName"
  "./pkg/rules FuzzParse"
)
# every Fuzz function in the tree must be listed above, so that a new one is not silently left out
listed=$(printf '%s\n' "${TARGETS[@]}" | awk '{print $2}' | sort)
found=$(grep -rhoE '^func (Fuzz[A-Za-z0-9_]+)\(f \*testing\.F\)' --include='*_test.go' pkg cmd synclet test hack \
  | sed -E 's/^func (Fuzz[A-Za-z0-9_]+).*/\1/' | sort)
if [ "$listed" != "$found" ]; then
  echo "hack/fuzz.sh: TARGETS differs from the Fuzz functions in the tree (< listed, > found): add or remove the line in TARGETS" >&2
  diff <(echo "$listed") <(echo "$found") >&2 || true
  exit 1
fi
for t in "${TARGETS[@]}"; do
  read -r pkg fn <<<"$t"
  echo "== $fn ($pkg) for $FUZZTIME"
  # one worker (-parallel 1): the machine's cores are shared. No minimization of new inputs: the
  # applier's coverage is not deterministic (temp names, goroutines), so minimizing can stall a worker
  # for a minute; a crasher is still written in full.
  # Go 1.26's fuzz coordinator can end a clean run with "context deadline exceeded" when the -fuzztime
  # deadline races a worker (golang/go#75804, fixed in Go 1.27). A real failure writes its input under
  # testdata/fuzz/<target>; a deadline report that wrote none is that race, said as a warning.
  corpus="$pkg/testdata/fuzz/$fn"
  before=$(ls "$corpus" 2>/dev/null | sort)
  out=$(mktemp)
  if go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 0 -parallel 1 "$pkg" 2>&1 | tee "$out"; then
    rm -f "$out"; continue
  fi
  after=$(ls "$corpus" 2>/dev/null | sort)
  if [ "$before" = "$after" ] && grep -q '^    context deadline exceeded$' "$out" && [ "$(grep -c -- '^--- FAIL' "$out")" = 1 ]; then
    echo "warning: $fn ended with Go's fuzztime deadline race (golang/go#75804) and wrote no failing input: not a failure"
    rm -f "$out"; continue
  fi
  rm -f "$out"
  exit 1
done
