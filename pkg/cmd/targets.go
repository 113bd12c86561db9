package cmd

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// isAnnotated picks the default set of `up` and `logs`: Deployments with rules.
func isAnnotated(d *appsv1.Deployment) bool {
	_, ok := d.Annotations[rules.AnnotationKey]
	return ok
}

// findAnnotated resolves the Deployments of `up` and `logs`: the named ones, those matching the
// selector, or by default every Deployment in the namespace with rules.
func findAnnotated(ctx context.Context, c *kube.Client, names []string, selector string) ([]*appsv1.Deployment, error) {
	return findDeployments(ctx, c, names, selector, isAnnotated, "annotated ("+rules.AnnotationKey+")")
}

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
