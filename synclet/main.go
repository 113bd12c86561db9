// Command synclet is the in-pod half of kubectl-fastdev; see pkg/synclet.
package main

import (
	"os"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/synclet"
)

func main() { os.Exit(synclet.Main(os.Args[1:], os.Stderr)) }
