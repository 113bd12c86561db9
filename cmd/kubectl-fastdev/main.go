// Command kubectl-fastdev is the kubectl plugin; see pkg/cmd.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/cmd"
)

func main() {
	// client-go logs port-forward hiccups through klog; kubectl-fastdev reports (and retries) them itself
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if err := cmd.NewCmdRoot(streams).ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
