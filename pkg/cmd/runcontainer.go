package cmd

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// `run -c NAME` runs in one of the app containers the workload's rules develop, through that
// container's own supervisor: the first listed (the default) through the synclet's run path, any
// other through its per-container path (protocol.RunPathFor).

// devContainers are the app containers the rules in notes develop, in the rules' order, the first
// one named as the pod spec does when the rules leave it unnamed (orig: the original template).
func devContainers(notes map[string]string, orig *corev1.PodTemplateSpec) ([]string, error) {
	var apps []rules.App
	if text, ok := notes[rules.AnnotationKey]; ok {
		r, err := rules.Parse(text)
		if err != nil {
			return nil, err
		}
		apps = r.Apps()
	}
	if len(apps) == 0 {
		apps = []rules.App{{}}
	}
	out := make([]string, len(apps))
	for i, a := range apps {
		out[i] = a.Container
	}
	if out[0] == "" && len(orig.Spec.Containers) > 0 {
		out[0] = orig.Spec.Containers[0].Name
	}
	return out, nil
}

// runContainer checks -c against the containers the rules develop and returns what the synclet's
// run path names: "" for the first (also without -c), the name for another.
func runContainer(flag, workloadName string, devs []string) (string, error) {
	if flag == "" || len(devs) == 0 || flag == devs[0] {
		return "", nil
	}
	if slices.Contains(devs[1:], flag) {
		return flag, nil
	}
	what := fmt.Sprintf("container %s (the rules' container)", devs[0])
	if len(devs) > 1 {
		what = fmt.Sprintf("containers %s (the rules' containers: list)", strings.Join(devs, ", "))
	}
	return "", fmt.Errorf("-c %s: %s develops %s, and run reaches only those (through their supervisors): give one of them, or for another container use `kubectl exec -c %s`",
		flag, workloadName, what, flag)
}

// completeRunContainer offers, for -c, the app containers the rules of the workload named first
// among the arguments develop.
func completeRunContainer(flags *genericclioptions.ConfigFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := client(flags)
		if err != nil {
			cobra.CompDebugln(fmt.Sprintf("completing -c: %v", err), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, completionTimeout)
		defer cancel()
		ws, err := FindWorkloads(ctx, c, args[:1], "", nil, "")
		if err != nil {
			cobra.CompDebugln(fmt.Sprintf("completing -c: %v", err), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		t, err := readRunTarget(ws[0])
		if err != nil {
			cobra.CompDebugln(fmt.Sprintf("completing -c: %v", err), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, n := range t.containers {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
