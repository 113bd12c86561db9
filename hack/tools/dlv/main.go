// Command dlv is Delve's command line (github.com/go-delve/delve/cmd/dlv, at the version go.mod pins)
// as kubectl-fastdev ships it in the synclet image: built static by hack/mkimage for `up --debug`.
// It is Delve's own cmds package without the golang.org/x/telemetry start of Delve's main, which
// forks a crash-reporting child beside every debugger in the pod and writes under the app user's
// home directory. A module of its own, so Delve's dependencies stay out of kubectl-fastdev's go.mod.
package main

import "github.com/go-delve/delve/cmd/dlv/cmds"

func main() {
	cmds.New(false).Execute()
}
