# kubectl-fastdev. The two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
VERSION ?= $(shell cat VERSION)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
CACHE   ?= $(HOME)/.cache/kubectl-fastdev
K8S_VERSION ?= v1.33.13
export GOFLAGS := -buildvcs=false
export GOTOOLCHAIN := local
export FASTDEV_CACHE := $(CACHE)
LDFLAGS := -s -w -X github.com/kubectl-fastdev/kubectl-fastdev/pkg/cmd.Version=$(VERSION) \
  -X github.com/kubectl-fastdev/kubectl-fastdev/pkg/cmd.Commit=$(COMMIT) \
  -X github.com/kubectl-fastdev/kubectl-fastdev/pkg/synclet.Version=$(VERSION)
CLUSTER := hack/cluster/cluster.sh
GO_SOURCES := $(shell find cmd pkg synclet -name '*.go' -not -name '*_test.go') go.mod go.sum

.PHONY: all build deps images test-chaos test-multinode demo-down cluster-up cluster-down cluster-status kubeconfig demo test test-unit test-e2e vet lint fmt clean

all: build

build: bin/kubectl-fastdev bin/synclet

bin/kubectl-fastdev: $(GO_SOURCES)
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/kubectl-fastdev

# the synclet is static (CGO_ENABLED=0): it runs inside any app image, with or without a libc
bin/synclet: $(GO_SOURCES)
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./synclet

# images: docker-archive tarballs in $(CACHE)/images, each rebuilt only when its inputs change, and
# imported into the cluster when it runs (cluster.sh skips tarballs it already imported). The image
# builder, hack/mkimage, is its own module (go-containerregistry stays out of this one's go.mod): it is
# built into bin/mkimage and run from here, so its paths are relative to the repository root.
IMG := $(CACHE)/images
MKIMAGE_SRC := $(wildcard hack/mkimage/*.go hack/mkimage/image/*.go) hack/mkimage/go.mod hack/mkimage/go.sum
MKIMAGE = bin/mkimage -out $(IMG) -version $(VERSION) -synclet-bin bin/synclet \
  -pause-bin $(CACHE)/k8s-$(K8S_VERSION)/bin/pause -examples manifests/examples -cache $(CACHE) -only
K8S_BINS := $(CACHE)/k8s-$(K8S_VERSION)/bin/.complete

# deps: the Debian packages the cluster and the sample images need (a quick check once installed)
deps:
	@$(CLUSTER) deps

images: deps $(IMG)/pause.tar $(IMG)/synclet.tar $(IMG)/web-static.tar $(IMG)/web-go.tar \
  $(IMG)/web-node.tar $(IMG)/web-python.tar
	@if $(CLUSTER) status >/dev/null 2>&1; then $(CLUSTER) import $(IMG); fi

$(K8S_BINS):
	$(CLUSTER) build

bin/mkimage: $(MKIMAGE_SRC)
	go -C hack/mkimage build -o $(CURDIR)/$@ .

$(IMG)/pause.tar: $(K8S_BINS) bin/mkimage
	$(MKIMAGE) pause
# the synclet image also carries Delve, built from hack/tools/dlv and cached in $(CACHE)/tools (mkimage's delve.go)
DLV_SRC := hack/tools/dlv/go.mod hack/tools/dlv/go.sum hack/tools/dlv/main.go
$(IMG)/synclet.tar: bin/synclet bin/mkimage $(DLV_SRC)
	$(MKIMAGE) synclet
$(IMG)/web-static.tar: $(shell find manifests/examples/web-static -type f) bin/mkimage
	$(MKIMAGE) web-static
$(IMG)/web-go.tar: $(shell find manifests/examples/web-go -type f) bin/mkimage
	$(MKIMAGE) web-go
# web-node: npm downloads into $(CACHE)/npm on the first build only; web-python: Debian packages into $(CACHE)/debs
$(IMG)/web-node.tar: $(shell find manifests/examples/web-node -type f -not -path '*/node_modules/*') bin/mkimage
	$(MKIMAGE) web-node
$(IMG)/web-python.tar: $(shell find manifests/examples/web-python -type f -not -name '*.pyc') bin/mkimage
	$(MKIMAGE) web-python

cluster-up: images
	$(CLUSTER) up

cluster-down:
	$(CLUSTER) down

cluster-status:
	@$(CLUSTER) status

kubeconfig:
	@$(CLUSTER) kubeconfig

# demo: the local cluster (brought up if needed), the sample apps, and `kubectl fastdev up` on them
demo: build cluster-up
	hack/demo.sh

demo-down:
	KUBECONFIG=$$($(CLUSTER) kubeconfig) bin/kubectl-fastdev -n fastdev-demo down

test: build images
	hack/test.sh

test-unit:
	go test -short ./...
	go -C hack/mkimage test -short ./...

# test-chaos: the long chaos run (1000 seeded edits, bursts of 1000 files, failing, timed-out and
# 2 MB-line steps, reverts of the injection, under faults); CI runs an 80-edit form inside `make test`
test-chaos: build images
	@$(CLUSTER) status >/dev/null || { echo "the cluster is not running: make cluster-up"; exit 1; }
	eval "$$($(CLUSTER) env | sed 's/^/export /')" && FASTDEV_BIN=$$PWD/bin/kubectl-fastdev FASTDEV_CHAOS_EDITS=1000 \
	  go test -count=1 -timeout 60m -v -run TestChaos ./test/e2e/

test-e2e: build images
	hack/test.sh e2e

# test-multinode: the whole e2e suite on two nodes, the second one untainted so the scheduler spreads every
# test's pods over both (`make test` runs on two nodes too, but only the multi-node tests use the second)
test-multinode: build images
	NODES=2 NODE2_TAINT=0 hack/test.sh e2e

# test-compat: the core e2e tests against the newest Kubernetes release the module proxy serves (its
# binaries built by the same harness into $(CACHE)/k8s-$(K8S_COMPAT_VERSION), once), on one node. The
# cluster state is shared by every version, so a running cluster of another version is never reused nor
# taken down here: the target refuses, naming it (`make cluster-down` first, once nobody uses it). A
# cluster it brings up it tears down (hack/test.sh's trap) and checks it left nothing behind. Not part
# of `make test`: it builds and boots a second Kubernetes.
K8S_COMPAT_VERSION ?= v1.37.2
COMPAT_TESTS ?= TestClusterSmoke|TestStaticSite|TestGoApp|TestUpDownRestoresRawTemplate|TestRevertReinjects|TestStatefulSet$$|TestDaemonSet$$|TestUpTwiceAndDown|TestRestrictedNamespace
.PHONY: test-compat
test-compat: build images
	@v=$$(K8S_VERSION=$(K8S_COMPAT_VERSION) $(CLUSTER) version 2>/dev/null); if [ -n "$$v" ] && [ "$$v" != $(K8S_COMPAT_VERSION) ]; then \
	  echo "a cluster of Kubernetes $$v is running: test-compat needs $(K8S_COMPAT_VERSION); once nobody uses it, make cluster-down and run this again"; exit 1; fi
	K8S_VERSION=$(K8S_COMPAT_VERSION) $(CLUSTER) build
	K8S_VERSION=$(K8S_COMPAT_VERSION) NODES=1 E2E_RUN='$(COMPAT_TESTS)' hack/test.sh e2e

vet:
	go vet ./...
	go -C hack/mkimage vet ./...

# lint: golangci-lint (the version pinned in hack/lint.sh, built into $(CACHE)/tools on first use) with
# .golangci.yml, over every module of the tree; `make test` runs it after the unit tests
lint:
	hack/lint.sh

fmt:
	gofmt -l -w cmd pkg synclet test hack

clean:
	rm -rf bin dist

# dist: the release in $(DIST): for each platform krew serves, an archive (tar.gz; zip on windows) with the
# stamped binary, LICENSE and the kubectl_complete-fastdev helper; SHA256SUMS; and $(KREW_MANIFEST)
# regenerated from hack/krew/fastdev.yaml.tmpl with the archives' sums. Archives are reproducible: the
# same tree and SOURCE_DATE_EPOCH (default: the HEAD commit's time) give the same bytes.
DIST ?= dist
KREW_MANIFEST ?= krew.yaml
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 315532800)

# The binaries name the synclet image by the digest of the one `make images` built (mkimage writes it
# beside the tarball; pushing that tarball with `crane push` keeps it), unless SYNCLET_DIGEST says.
.PHONY: dist
dist: $(IMG)/synclet.tar
	go run ./hack/release -version $(VERSION) -ldflags "$(LDFLAGS)" -mtime $(SOURCE_DATE_EPOCH) \
	  -synclet-digest "$${SYNCLET_DIGEST:-$$(cat $(IMG)/synclet.tar.digest)}" -out $(DIST) -krew $(KREW_MANIFEST)

# fuzz: every native Go fuzz target (hack/fuzz.sh lists them) for FUZZTIME each, from its committed
# seed corpus under testdata/fuzz; CI runs the short form, hack/fuzz.sh alone (10s each)
FUZZTIME ?= 20s

.PHONY: fuzz
fuzz:
	FUZZTIME=$(FUZZTIME) hack/fuzz.sh

# bench: every contender (kubectl-fastdev, the vanilla image pipeline, exec+tar, Tilt, Skaffold) measured on the local
# cluster in one run, writing docs/BENCHMARKS.md and docs/bench-*.png (about half an hour; never part of `make test`).
# Tilt and Skaffold are built into $(CACHE)/tools on first use. test/bench is its own module (the plotting library
# stays out of this one); BENCH_FLAGS passes flags to it, e.g. BENCH_FLAGS="-only latency -edits 10".
# BENCH=quick is a short run for iterating (10 edits, 3 initial-sync rounds, no big tree, remote or debug).
BENCH_FLAGS ?=
BENCH ?=

.PHONY: bench
bench: build cluster-up
	cd test/bench && go build -o $(CURDIR)/bin/bench .
	bin/bench -repo . $(if $(filter quick,$(BENCH)),-quick) $(BENCH_FLAGS)
