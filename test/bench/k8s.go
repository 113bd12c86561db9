package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// nsSeq keeps the names of namespaces created at once (interleaved setups) apart.
var nsSeq atomic.Int64

// namespace creates a fresh bench-* namespace and returns it with a function deleting it (and
// waiting, bounded, until its pods are gone, so the next measure does not share the CPU with them).
func (e *env) namespace(ctx context.Context, what string) (string, func(), error) {
	name := fmt.Sprintf("bench-%s-%d-%d", what, time.Now().UnixNano()%100000, nsSeq.Add(1))
	_, err := e.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name, Labels: map[string]string{"fastdev.dev/bench": "true"}}}, metav1.CreateOptions{})
	if err != nil {
		return "", nil, fmt.Errorf("creating namespace %s: %w", name, err)
	}
	cleanup := func() {
		if e.o.keep {
			e.logf("keeping namespace %s (-keep)", name)
			return
		}
		bg := context.Background()
		_ = e.cs.CoreV1().Namespaces().Delete(bg, name, metav1.DeleteOptions{})
		_ = poll(bg, 60*time.Second, 250*time.Millisecond, func() (bool, error) {
			l, err := e.cs.CoreV1().Pods(name).List(bg, metav1.ListOptions{})
			return err == nil && len(l.Items) == 0, nil
		})
	}
	// pods need the "default" service account, which a controller creates
	err = poll(ctx, 30*time.Second, 100*time.Millisecond, func() (bool, error) {
		_, err := e.cs.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("namespace %s: no default service account: %w", name, err)
	}
	return name, cleanup, nil
}

// example reads the Deployment and Service of manifests/examples/<app>/deployment.yaml.
func (e *env) example(app string) (*appsv1.Deployment, *corev1.Service, error) {
	raw, err := os.ReadFile(filepath.Join(e.repo, "manifests/examples", app, "deployment.yaml"))
	if err != nil {
		return nil, nil, err
	}
	var dep *appsv1.Deployment
	var svc *corev1.Service
	dec := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for {
		doc, err := dec.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, nil, err
		}
		switch meta.Kind {
		case "Deployment":
			dep = &appsv1.Deployment{}
			err = yaml.UnmarshalStrict(doc, dep)
		case "Service":
			svc = &corev1.Service{}
			err = yaml.UnmarshalStrict(doc, svc)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", app, err)
		}
	}
	if dep == nil || svc == nil {
		return nil, nil, fmt.Errorf("manifests/examples/%s/deployment.yaml: want a Deployment and a Service", app)
	}
	return dep, svc, nil
}

// deploy creates the example app in ns after mutate (may be nil) changed its Deployment, and waits
// until it is rolled out.
func (e *env) deploy(ctx context.Context, ns, app string, mutate func(*appsv1.Deployment) error) (*appsv1.Deployment, error) {
	dep, svc, err := e.example(app)
	if err != nil {
		return nil, err
	}
	if mutate != nil {
		if err := mutate(dep); err != nil {
			return nil, err
		}
	}
	if _, err := e.cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating service: %w", err)
	}
	if dep, err = e.cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("creating deployment: %w", err)
	}
	return dep, e.rolledOut(ctx, ns, dep.Name, 3*time.Minute)
}

// rolledOut waits until every replica of the Deployment is updated and available, and no old pod is left.
func (e *env) rolledOut(ctx context.Context, ns, name string, timeout time.Duration) error {
	var last string
	err := poll(ctx, timeout, 200*time.Millisecond, func() (bool, error) {
		d, err := e.cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		s := d.Status
		last = fmt.Sprintf("generation %d/%d, updated %d, available %d, total %d, want %d", s.ObservedGeneration, d.Generation, s.UpdatedReplicas, s.AvailableReplicas, s.Replicas, want)
		if s.ObservedGeneration < d.Generation || s.UpdatedReplicas != want || s.AvailableReplicas != want || s.Replicas != want {
			return false, nil
		}
		pods, err := e.runningPods(ctx, ns, "app="+name)
		return err == nil && len(pods) == int(want), err
	})
	if err != nil {
		return fmt.Errorf("deployment %s/%s not rolled out (%s): %w", ns, name, last, err)
	}
	return nil
}

// runningPods returns the running, non-terminating pods matching selector, oldest first.
func (e *env) runningPods(ctx context.Context, ns, selector string) ([]corev1.Pod, error) {
	l, err := e.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			out = append(out, p)
		}
	}
	return out, nil
}

// rulesAnnotation rewrites one line of a Deployment's fastdev.dev/rules annotation ("restart: process"
// to "restart: none", for instance); it fails if the example no longer has that line.
func rulesAnnotation(d *appsv1.Deployment, old, new string) error {
	r := d.Annotations["fastdev.dev/rules"]
	if !strings.Contains(r, old) {
		return fmt.Errorf("the rules of example %s no longer contain %q: update test/bench", d.Name, old)
	}
	d.Annotations["fastdev.dev/rules"] = strings.Replace(r, old, new, 1)
	return nil
}

// poll calls f every interval until it reports done, fails, or timeout passes.
func poll(ctx context.Context, timeout, interval time.Duration, f func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, err := f()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
