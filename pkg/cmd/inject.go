package cmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
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
	opts := inject.Options{SyncletImage: o.SyncletImage, Port: o.SyncletPort, NativeSidecar: minor >= 29}
	var problems []string
	for _, d := range o.targets {
		raw, err := o.client.GetDeploymentRaw(ctx, d.Name)
		if err == nil {
			_, err = inject.InjectPatchRaw(raw, o.rules[d.Name], withToken(opts))
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("deployment %q: %v", d.Name, err))
		}
	}
	if len(problems) > 0 {
		return inject.Options{}, fmt.Errorf("nothing was changed:\n  %s", strings.Join(problems, "\n  "))
	}
	return opts, nil
}

// inject patches one Deployment (or finds it already injected) and returns its dev loop target.
func (o *UpOptions) inject(ctx context.Context, d *appsv1.Deployment, opts inject.Options) (*devloop.Target, error) {
	r := o.rules[d.Name]
	var plan *inject.Plan
	// planned on the Deployment's JSON as the server sends it, not on d: a field newer than this
	// client's types is then kept by the patch and recorded for `down`
	err := o.client.PatchPlannedRaw(ctx, d.Name, "patching", func(raw []byte) ([]byte, error) {
		p, err := inject.InjectPatchRaw(raw, r, withToken(opts))
		if err != nil {
			return nil, fmt.Errorf("deployment %q: %w", d.Name, err)
		}
		plan = p
		return p.Patch, nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case plan.Patch == nil:
		fmt.Fprintf(o.ErrOut, "%s: already injected, unchanged\n", d.Name)
	case plan.Already:
		fmt.Fprintf(o.ErrOut, "%s: re-injected (rules or synclet changed), rolling out\n", d.Name)
	default:
		fmt.Fprintf(o.ErrOut, "%s: injected, rolling out\n", d.Name)
	}
	sel, err := selectorOf(d)
	if err != nil {
		return nil, err
	}
	return &devloop.Target{Name: d.Name, Selector: sel, Rules: r, Token: plan.Token, Port: plan.Port}, nil
}

// withToken gives a new injection its own random token (an existing injection keeps its own).
func withToken(o inject.Options) inject.Options {
	b := make([]byte, 24)
	// crypto/rand.Read never returns an error: it crashes the program if the system cannot supply
	// randomness (Go 1.24 and later)
	_, _ = rand.Read(b)
	o.Token = hex.EncodeToString(b)
	return o
}
