package cmd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/guard"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// guardAPI is what up's revert guard needs of the cluster.
type guardAPI interface {
	// WatchWorkloads calls onWorkload with every state of each workload in refs until ctx ends.
	WatchWorkloads(ctx context.Context, refs []workload.Ref, onWorkload func(w workload.Workload, gone bool), onErr func(error)) error
	PatchWorkloadRaw(ctx context.Context, ref workload.Ref, verb string, plan kube.RawPlanFunc) error
	GetWorkload(ctx context.Context, ref workload.Ref) (workload.Workload, error)
}

var _ guardAPI = (*kube.Client)(nil)

// startGuard watches the injected targets while up runs (see runGuard); stop ends the watch and waits
// for it.
func (o *UpOptions) startGuard(ctx context.Context, targets []devloop.Target, opts inject.Options) (stop func()) {
	in := map[workload.Ref]guard.Injection{}
	for i, t := range targets {
		withKeys := opts
		withKeys.Keys, withKeys.Port = t.Keys, t.Port
		in[o.targets[i].Ref()] = guard.Injection{Rules: t.Rules, Options: withKeys}
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

// runGuard follows each workload in targets until ctx ends. When its pod template loses or changes
// the injection, it says which field manager did it and how to pause that manager, then re-injects
// (with the same keys and port, so the dev loop reaches the new pods as it reached the old ones),
// until pkg/guard's give-up rule says to stop; a rollout that cannot progress is reported once.
func runGuard(ctx context.Context, api guardAPI, targets map[workload.Ref]guard.Injection, say func(string)) error {
	guards := map[workload.Ref]*guard.Guard{}
	var refs []workload.Ref
	since := map[workload.Ref]int64{}
	for ref, in := range targets {
		guards[ref] = guard.New(ref, in, kube.FieldManager)
		refs = append(refs, ref)
		since[ref] = injectedGeneration(ctx, api, ref)
	}
	var mu sync.Mutex
	lastErr := ""
	err := api.WatchWorkloads(ctx, refs, func(d workload.Workload, gone bool) {
		// one informer per workload calls this, in order: each guard is fed by one goroutine
		ref := d.Ref()
		mu.Lock()
		stale := !gone && d.Meta().Generation < since[ref]
		if gone {
			since[ref] = 0 // a workload created again starts its generations anew
		}
		mu.Unlock()
		if stale {
			// an informer's first list may come from the API server's watch cache, which can still
			// hold the template from before up's own patch: that is no revert
			return
		}
		dec := guards[ref].Observe(d, gone, time.Now())
		for _, w := range dec.Warnings {
			say(w)
		}
		switch {
		case dec.Reinject:
			say(reinject(ctx, api, d, targets[ref]))
		case dec.Verify != "":
			if msg := recordUnknown(ctx, api, ref, targets[ref], dec.Verify); msg != "" {
				say(msg)
			}
		}
	}, func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if msg := err.Error(); msg != lastErr { // the informer retries with backoff: say each failure once
			lastErr = msg
			say(fmt.Sprintf("watching workloads for reverts (edits still sync): %v", err))
		}
	})
	if err != nil {
		return fmt.Errorf("watching workloads for reverts: %w", err)
	}
	return nil
}

// injectedGeneration is the workload's generation as up left it (a consistent read, after the
// injection); 0 when it cannot be read, so that every state counts.
func injectedGeneration(ctx context.Context, api guardAPI, ref workload.Ref) int64 {
	w, err := api.GetWorkload(ctx, ref)
	if err != nil {
		return 0
	}
	return w.Meta().Generation
}

// reinject injects d again with one patch (or none, if it is intact again meanwhile), recording the
// template as its last writer left it as the original `down` restores, and says how it went. The
// patch is planned on the workload's JSON as the API server sends it (d, the informer's typed copy,
// lacks fields newer than this client's types), so such fields stay in the template and the record.
func reinject(ctx context.Context, api guardAPI, d workload.Workload, in guard.Injection) string {
	name := d.Ref().String()
	re, err := reinjectRaw(ctx, api, d.Ref(), in)
	switch {
	case err != nil:
		return fmt.Sprintf("%s: %v; edits do not reach its pods until `kubectl fastdev up %s` runs again", name, err, name)
	case re.Patch == nil:
		return fmt.Sprintf("%s: injected again meanwhile, nothing to do", name)
	case !re.Rollout:
		return fmt.Sprintf("%s: recorded the new pod template (the injection was intact: no rollout)", name)
	}
	return fmt.Sprintf("%s: re-injected, rolling out (same keys: the new pods are synced as they start)", name)
}

// recordUnknown re-records the original of ref when its template, intact as this client's types see
// it, changed in fields they do not know (guard.Decision.Verify names who wrote it): nothing to say
// when it did not.
func recordUnknown(ctx context.Context, api guardAPI, ref workload.Ref, in guard.Injection, who string) string {
	name := ref.String()
	re, err := reinjectRaw(ctx, api, ref, in)
	switch {
	case err != nil:
		return fmt.Sprintf("%s: %v; edits do not reach its pods until `kubectl fastdev up %s` runs again", name, err, name)
	case re.Patch == nil:
		return ""
	case !re.Rollout:
		return fmt.Sprintf("%s: %s changed the pod template around the injection (fields this client does not know): "+
			"recording the new template as the one `kubectl fastdev down` restores", name, who)
	}
	return fmt.Sprintf("%s: %s changed the pod template: re-injected, rolling out (same keys: the new pods are synced as they start)", name, who)
}

// reinjectRaw plans the re-injection of ref on its JSON as the API server sends it and applies it:
// one patch, or none when it is injected as wanted.
func reinjectRaw(ctx context.Context, api guardAPI, ref workload.Ref, in guard.Injection) (*inject.Reinjection, error) {
	var re *inject.Reinjection
	err := api.PatchWorkloadRaw(ctx, ref, "re-injecting", func(raw []byte) ([]byte, error) {
		var err error
		re, err = inject.ReinjectPatchRaw(raw, in.Rules, in.Options)
		switch {
		case errors.Is(err, inject.ErrMixed):
			return nil, fmt.Errorf("%s: %w: run `kubectl fastdev down --force %s`, re-apply your manifest, then `up` again", describe(ref), err, ref)
		case err != nil:
			return nil, fmt.Errorf("%s: %w", describe(ref), err)
		}
		return re.Patch, nil
	})
	return re, err
}
