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

.PHONY: all build images cluster-up cluster-down cluster-status kubeconfig demo test test-unit test-e2e vet fmt clean

all: build

build: bin/kubectl-fastdev bin/synclet

bin/kubectl-fastdev: $(GO_SOURCES)
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/kubectl-fastdev

# the synclet is static (CGO_ENABLED=0): it runs inside any app image, with or without a libc
bin/synclet: $(GO_SOURCES)
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./synclet

# images: docker-archive tarballs in $(CACHE)/images, imported into the cluster when it runs
images: bin/synclet
	@$(CLUSTER) build
	go run ./hack/mkimage -out $(CACHE)/images -version $(VERSION) -synclet-bin bin/synclet \
	  -pause-bin $(CACHE)/k8s-$(K8S_VERSION)/bin/pause -examples manifests/examples
	@if $(CLUSTER) status >/dev/null 2>&1; then $(CLUSTER) import $(CACHE)/images; fi

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

test: build images
	hack/test.sh

test-unit:
	go test -short ./...

test-e2e: build images
	hack/test.sh e2e

vet:
	go vet ./...

fmt:
	gofmt -l -w cmd pkg synclet test hack

clean:
	rm -rf bin dist
