package cmd

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// isAnnotated picks the default set of `up` and `logs`: workloads with rules.
func isAnnotated(w workload.Workload) bool {
	_, ok := w.Meta().Annotations[rules.AnnotationKey]
	return ok
}

// isInjected picks the default set of `down`: workloads with a recorded original.
func isInjected(w workload.Workload) bool {
	_, ok := w.Meta().Annotations[inject.AnnotationOriginal]
	return ok
}

// FindAnnotated resolves the targets of `up`, `logs` and the commands like them: the named ones
// (kubectl's `[TYPE/]NAME`, a bare NAME being a Deployment), those matching the selector, or by
// default every workload in the namespace with rules.
func FindAnnotated(ctx context.Context, c *kube.Client, args []string, selector string) ([]workload.Workload, error) {
	return FindWorkloads(ctx, c, args, selector, isAnnotated, "annotated ("+rules.AnnotationKey+")")
}

// FindWorkloads resolves the workloads a command acts on: the named ones (kubectl's
// `[TYPE/]NAME`), those of every kind matching the selector, or by default every workload in the
// namespace for which want is true (what names that set in the error when there is none).
func FindWorkloads(ctx context.Context, c *kube.Client, args []string, selector string, want func(workload.Workload) bool, what string) ([]workload.Workload, error) {
	if len(args) > 0 && selector != "" {
		return nil, errors.New("give targets or --selector, not both")
	}
	if len(args) > 0 {
		refs, err := workload.ParseRefs(args)
		if err != nil {
			return nil, err
		}
		var out []workload.Workload
		for _, r := range refs {
			w, err := c.GetWorkload(ctx, r)
			if err != nil {
				return nil, fmt.Errorf("%s %q in namespace %q: %w (targets are %s)", r.Kind.Lower(), r.Name, c.Namespace, err, workload.Forms)
			}
			out = append(out, w)
		}
		return out, nil
	}
	out, err := listWorkloads(ctx, c, selector, want)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		where := fmt.Sprintf("namespace %q", c.Namespace)
		if selector != "" {
			where += fmt.Sprintf(" matching %q", selector)
		}
		return nil, fmt.Errorf("no %s Deployments, StatefulSets or DaemonSets in %s", what, where)
	}
	return out, nil
}

// listWorkloads lists every kind and keeps what want picks, sorted by kind then name. A kind the
// user may not list (a Role of an older release grants Deployments only) is skipped: the others
// are still found, and naming a target of that kind says what to grant.
func listWorkloads(ctx context.Context, c *kube.Client, selector string, want func(workload.Workload) bool) ([]workload.Workload, error) {
	var out []workload.Workload
	for _, k := range workload.Kinds {
		list, err := c.ListWorkloads(ctx, k, selector)
		if err != nil && k != workload.Deployment && kube.IsForbidden(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var picked []workload.Workload
		for _, w := range list {
			if want(w) {
				picked = append(picked, w)
			}
		}
		sort.Slice(picked, func(i, j int) bool { return picked[i].Ref().Name < picked[j].Ref().Name })
		out = append(out, picked...)
	}
	return out, nil
}

// selectorOf is the label selector of w's pods.
func selectorOf(w workload.Workload) (string, error) { return workload.Selector(w) }

// names returns the targets as the commands print them ("web statefulset/db").
func names(ws []workload.Workload) string {
	var n []string
	for _, w := range ws {
		n = append(n, w.Ref().String())
	}
	return strings.Join(n, " ")
}

// describe names a target in a message: `deployment "web"`, `statefulset "db"`.
func describe(ref workload.Ref) string { return fmt.Sprintf("%s %q", ref.Kind.Lower(), ref.Name) }
