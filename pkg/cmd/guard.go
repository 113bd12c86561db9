package cmd

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/guard"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
)

// guardAPI is what up's revert guard needs of the cluster.
type guardAPI interface {
	// WatchDeployments calls onDeployment with every state of each named Deployment until ctx ends.
	WatchDeployments(ctx context.Context, names []string, onDeployment func(d *appsv1.Deployment, gone bool), onErr func(error)) error
	PatchPlanned(ctx context.Context, d *appsv1.Deployment, verb string, plan kube.PlanFunc) (*appsv1.Deployment, error)
	GetDeployment(ctx context.Context, name string) (*appsv1.Deployment, error)
}

var _ guardAPI = (*kube.Client)(nil)

// startGuard watches the injected targets while up runs (see runGuard); stop ends the watch and waits
// for it.
func (o *UpOptions) startGuard(ctx context.Context, targets []devloop.Target, opts inject.Options) (stop func()) {
	in := map[string]guard.Injection{}
	for _, t := range targets {
		withKeys := opts
		withKeys.Token, withKeys.Port = t.Token, t.Port
		in[t.Name] = guard.Injection{Rules: t.Rules, Options: withKeys}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := runGuard(ctx, o.client, in, o.warn); err != nil {
			o.warn(err.Error())
		}
	}()
	return func() { cancel(); <-done }
}

// runGuard follows each Deployment in targets until ctx ends. When its pod template loses or changes
// the injection, it says which field manager did it and how to pause that manager, then re-injects
// (with the same token and port, so the dev loop reaches the new pods as it reached the old ones),
// until pkg/guard's give-up rule says to stop; a rollout that cannot progress is reported once.
func runGuard(ctx context.Context, api guardAPI, targets map[string]guard.Injection, say func(string)) error {
	guards := map[string]*guard.Guard{}
	var names []string
	since := map[string]int64{}
	for name, in := range targets {
		guards[name] = guard.New(name, in, kube.FieldManager)
		names = append(names, name)
		since[name] = injectedGeneration(ctx, api, name)
	}
	var mu sync.Mutex
	lastErr := ""
	err := api.WatchDeployments(ctx, names, func(d *appsv1.Deployment, gone bool) {
		// one informer per Deployment calls this, in order: each guard is fed by one goroutine
		mu.Lock()
		stale := !gone && d.Generation < since[d.Name]
		if gone {
			since[d.Name] = 0 // a Deployment created again starts its generations anew
		}
		mu.Unlock()
		if stale {
			// an informer's first list may come from the API server's watch cache, which can still
			// hold the template from before up's own patch: that is no revert
			return
		}
		dec := guards[d.Name].Observe(d, gone, time.Now())
		for _, w := range dec.Warnings {
			say(w)
		}
		if dec.Reinject {
			say(reinject(ctx, api, d, targets[d.Name]))
		}
	}, func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if msg := err.Error(); msg != lastErr { // the informer retries with backoff: say each failure once
			lastErr = msg
			say(fmt.Sprintf("watching deployments for reverts (edits still sync): %v", err))
		}
	})
	if err != nil {
		return fmt.Errorf("watching deployments for reverts: %w", err)
	}
	return nil
}

// injectedGeneration is the Deployment's generation as up left it (a consistent read, after the
// injection); 0 when it cannot be read, so that every state counts.
func injectedGeneration(ctx context.Context, api guardAPI, name string) int64 {
	d, err := api.GetDeployment(ctx, name)
	if err != nil {
		return 0
	}
	return d.Generation
}

// reinject injects d again with one patch (or none, if it is intact again meanwhile), recording the
// template as its last writer left it as the original `down` restores, and says how it went.
func reinject(ctx context.Context, api guardAPI, d *appsv1.Deployment, in guard.Injection) string {
	patched, kind := false, guard.Intact
	_, err := api.PatchPlanned(ctx, d, "re-injecting", func(d *appsv1.Deployment) ([]byte, error) {
		patched = false
		var err error
		if kind, err = guard.Check(d, in); err == nil && kind == guard.Intact {
			return nil, nil
		}
		r, err := guard.Rebased(d)
		if err != nil {
			return nil, err
		}
		plan, err := inject.InjectPatch(r, in.Rules, in.Options)
		if err != nil {
			return nil, fmt.Errorf("deployment %q: %w", d.Name, err)
		}
		patched = plan.Patch != nil
		return plan.Patch, nil
	})
	switch {
	case err != nil:
		return fmt.Sprintf("%s: %v; edits do not reach its pods until `kubectl fastdev up %s` runs again", d.Name, err, d.Name)
	case !patched:
		return fmt.Sprintf("%s: injected again meanwhile, nothing to do", d.Name)
	case kind == guard.Edited:
		return fmt.Sprintf("%s: recorded the new pod template (the injection was intact: no rollout)", d.Name)
	}
	return fmt.Sprintf("%s: re-injected, rolling out (same token: the new pods are synced as they start)", d.Name)
}
