package cmd

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// completionTimeout bounds the API call behind a Tab press: a shell that hangs on an unreachable
// cluster is worse than one that offers nothing.
const completionTimeout = 5 * time.Second

// completeTargets is the ValidArgsFunction of commands that take targets in kubectl's
// `[TYPE/]NAME` form: it lists the workloads in the namespace kubectl's flags select (-n,
// --context, --kubeconfig, as typed so far on the command line), leaving out those already given.
// It offers names only, never files.
func completeTargets(flags *genericclioptions.ConfigFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		c, err := client(flags)
		if err != nil {
			cobra.CompDebugln(fmt.Sprintf("completing targets: %v", err), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, completionTimeout)
		defer cancel()
		names, err := targetNames(ctx, c, args, toComplete)
		if err != nil {
			cobra.CompDebugln(fmt.Sprintf("completing targets: %v", err), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// targetNames returns, sorted, the targets in c's namespace that start with prefix and are not in
// given: Deployments by name, the other kinds as "statefulset/NAME". A prefix with a type
// ("sts/we") offers that kind's names with the type as typed ("sts/web").
func targetNames(ctx context.Context, c *kube.Client, given []string, prefix string) ([]string, error) {
	kinds, typ := workload.Kinds, ""
	if t, _, typed := strings.Cut(prefix, "/"); typed {
		k, err := workload.ParseKind(t)
		if err != nil {
			return nil, err
		}
		kinds, typ = []workload.Kind{k}, t+"/"
	}
	done := map[workload.Ref]bool{}
	if refs, err := workload.ParseRefs(given); err == nil {
		for _, r := range refs {
			done[r] = true
		}
	}
	var out []string
	for _, k := range kinds {
		list, err := c.ListWorkloads(ctx, k, "")
		if err != nil && k != workload.Deployment && kube.IsForbidden(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, w := range list {
			name := w.Ref().String()
			if typ != "" {
				name = typ + w.Ref().Name
			}
			if strings.HasPrefix(name, prefix) && !done[w.Ref()] {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
