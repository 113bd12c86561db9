package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// plan returns the injection options for this cluster after planning every Deployment's patch: a
// mistake in one leaves all of them untouched. It plans on each Deployment's JSON as the server sends
// it, as inject does: a typed copy lacks the fields newer than this client, and against the recorded
// original that has them, an injected Deployment would look changed.
func (o *UpOptions) plan(ctx context.Context) (inject.Options, error) {
	minor, err := o.client.ServerMinor()
	if err != nil {
		return inject.Options{}, err
	}
	key, err := devKey()
	if err != nil {
		return inject.Options{}, err
	}
	// only the public key goes into the cluster; an injection holding other keys keeps them
	opts := inject.Options{SyncletImage: o.SyncletImage, Port: o.SyncletPort, Keys: key.Public().String(), NativeSidecar: minor >= 29}
	var problems []string
	for _, w := range o.targets {
		raw, err := o.client.GetWorkloadRaw(ctx, w.Ref())
		if err == nil {
			_, err = inject.InjectPatchRaw(raw, o.rules[w.Ref().String()], opts)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", describe(w.Ref()), err))
		}
	}
	if len(problems) > 0 {
		return inject.Options{}, fmt.Errorf("nothing was changed:\n  %s", strings.Join(problems, "\n  "))
	}
	return opts, nil
}

// inject patches one workload (or finds it already injected) and returns its dev loop target.
func (o *UpOptions) inject(ctx context.Context, w workload.Workload, opts inject.Options) (*devloop.Target, error) {
	name := w.Ref().String()
	r := o.rules[name]
	key, err := devKey()
	if err != nil {
		return nil, err
	}
	var plan *inject.Plan
	// planned on the workload's JSON as the server sends it, not on w: a field newer than this
	// client's types is then kept by the patch and recorded for `down`
	err = o.client.PatchWorkloadRaw(ctx, w.Ref(), "patching", func(raw []byte) ([]byte, error) {
		p, err := inject.InjectPatchRaw(raw, r, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", describe(w.Ref()), err)
		}
		plan = p
		return p.Patch, nil
	})
	if err != nil {
		return nil, err
	}
	sel, err := selectorOf(w)
	if err != nil {
		return nil, err
	}
	switch {
	case plan.Patch == nil:
		fmt.Fprintf(o.ErrOut, "%s: already injected, unchanged\n", name)
	case plan.Already:
		fmt.Fprintf(o.ErrOut, "%s: re-injected (rules or synclet changed), rolling out\n", name)
	default:
		fmt.Fprintf(o.ErrOut, "%s: injected, rolling out\n", name)
	}
	if plan.Patch != nil {
		// what the controller waits for before the injected pods run, when it is more than a rollout
		if msg := workload.Rollout(w, sel); msg != "" {
			fmt.Fprintln(o.ErrOut, msg)
		}
	}
	return &devloop.Target{Name: name, Selector: sel, Rules: r, Keys: plan.Keys, Key: key, Port: plan.Port}, nil
}
