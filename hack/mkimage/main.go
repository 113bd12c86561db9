// Command mkimage writes the images of kubectl-fastdev's local cluster and demo as docker-archive
// tarballs, ready for `ctr -n k8s.io images import` (hack/cluster/cluster.sh import DIR):
//
//	go -C hack/mkimage build -o "$PWD/bin/mkimage" .
//	bin/mkimage -out DIR [-only pause,synclet,web-static,web-go,web-node,web-python] -version v0.1.0 \
//	    -synclet-bin PATH -pause-bin PATH -examples manifests/examples -cache ~/.cache/kubectl-fastdev
//
// It is a module of its own, so that go-containerregistry stays out of the plugin's go.mod; `make images`
// builds and runs it from the repository root as above.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
)

func main() {
	var o options
	var only string
	flag.StringVar(&o.out, "out", "", "directory to write <name>.tar into (created if missing)")
	flag.StringVar(&only, "only", "", "comma-separated images to build (default all: "+strings.Join(names(), ",")+")")
	flag.StringVar(&o.version, "version", "", "kubectl-fastdev version, the synclet image's tag (for example v0.1.0)")
	flag.StringVar(&o.syncletBin, "synclet-bin", "", "static synclet binary for the synclet image")
	flag.StringVar(&o.pauseBin, "pause-bin", "", "static pause binary for the sandbox image")
	flag.StringVar(&o.examples, "examples", "manifests/examples", "directory holding the sample apps (web-static/www, web-go/src)")
	flag.StringVar(&o.busybox, "busybox", "/bin/busybox", "static busybox for the web-static image (Debian package busybox-static)")
	flag.StringVar(&o.dlvModule, "dlv-module", "hack/tools/dlv", "Go module whose main package is Delve, built static into the synclet image (empty: no Delve)")
	flag.StringVar(&o.cache, "cache", "", "directory keeping downloads between builds (npm packages, Debian packages for web-python)")
	flag.Parse()
	for _, n := range strings.Split(only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			o.only = append(o.only, n)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}
