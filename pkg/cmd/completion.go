package cmd

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
)

// completionTimeout bounds the API call behind a Tab press: a shell that hangs on an unreachable
// cluster is worse than one that offers nothing.
const completionTimeout = 5 * time.Second

// completeDeployments is the ValidArgsFunction of commands that take Deployment names: it lists the
// Deployments in the namespace kubectl's flags select (-n, --context, --kubeconfig, as typed so far on
// the command line), leaving out names already given. It offers names only, never files.
func completeDeployments(flags *genericclioptions.ConfigFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		c, err := client(flags)
		if err != nil {
			cobra.CompDebugln(fmt.Sprintf("completing deployments: %v", err), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, completionTimeout)
		defer cancel()
		names, err := deploymentNames(ctx, c, args, toComplete)
		if err != nil {
			cobra.CompDebugln(fmt.Sprintf("completing deployments: %v", err), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// deploymentNames returns, sorted, the names of c's Deployments that start with prefix and are not in
// given.
func deploymentNames(ctx context.Context, c *kube.Client, given []string, prefix string) ([]string, error) {
	list, err := c.ListDeployments(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range list {
		if strings.HasPrefix(d.Name, prefix) && !slices.Contains(given, d.Name) {
			out = append(out, d.Name)
		}
	}
	sort.Strings(out)
	return out, nil
}
