package cmd

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
)

// findDeployments resolves the Deployments a command acts on: the named ones, those matching the
// selector, or by default every Deployment in the namespace for which want is true.
func findDeployments(ctx context.Context, c *kube.Client, names []string, selector string, want func(*appsv1.Deployment) bool, what string) ([]*appsv1.Deployment, error) {
	if len(names) > 0 && selector != "" {
		return nil, errors.New("give deployment names or --selector, not both")
	}
	var out []*appsv1.Deployment
	if len(names) > 0 {
		for _, n := range names {
			d, err := c.GetDeployment(ctx, n)
			if err != nil {
				return nil, fmt.Errorf("deployment %q in namespace %q: %w", n, c.Namespace, err)
			}
			out = append(out, d)
		}
		return out, nil
	}
	list, err := c.ListDeployments(ctx, selector)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if want(&list[i]) {
			out = append(out, &list[i])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(out) == 0 {
		where := fmt.Sprintf("namespace %q", c.Namespace)
		if selector != "" {
			where += fmt.Sprintf(" matching %q", selector)
		}
		return nil, fmt.Errorf("no %s Deployments in %s", what, where)
	}
	return out, nil
}

func selectorOf(d *appsv1.Deployment) (string, error) {
	s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return "", fmt.Errorf("deployment %q: selector: %w", d.Name, err)
	}
	return s.String(), nil
}

func names(ds []*appsv1.Deployment) string {
	var n []string
	for _, d := range ds {
		n = append(n, d.Name)
	}
	return strings.Join(n, " ")
}

// isStale reports a patch that failed because the object changed after we read it (the JSON patch's
// resourceVersion test failed, or the server reports a conflict).
func isStale(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsInvalid(err) || strings.Contains(err.Error(), "test operation")
}
