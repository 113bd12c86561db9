// Command kubectl-fastdev is the kubectl plugin; see pkg/cmd.
package main

import (
	"context"
	"errors"
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
		// `run` passes on the exit code of the command it ran, explained when the code says more
		var exit *cmd.ExitError
		if errors.As(err, &exit) {
			if exit.Msg != "" {
				fmt.Fprintln(os.Stderr, "error:", exit.Msg)
			}
			os.Exit(exit.Code)
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
