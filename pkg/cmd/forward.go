package cmd

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/forward"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/state"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// forwardOptions are up's forward flags.
type forwardOptions struct {
	Forward   []string // --forward [DEPLOYMENT=]LOCAL:REMOTE
	Address   []string // --address
	NoForward bool     // --no-forward

	specs []forward.Spec // resolved by validateForwards
}

func (f *forwardOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.Forward, "forward", nil, "forward a local port to a port of the workload's ready pods: LOCAL:REMOTE or PORT, as [TYPE/]NAME=LOCAL:REMOTE when up serves several (repeatable; replaces the rules' forward list of that workload)")
	fs.StringSliceVar(&f.Address, "address", []string{forward.DefaultAddress}, "addresses the forwards listen on (comma-separated IP addresses, or localhost), as in kubectl port-forward")
	fs.BoolVar(&f.NoForward, "no-forward", false, "open no forwards (neither the rules' forward list nor the containers' declared ports)")
}

// validateForwards resolves every forward of the targets: the flags, else the rules, else the
// containers' declared ports. Bad values are errors here, before anything is patched.
func (o *UpOptions) validateForwards() error {
	f := &o.forwards
	if f.NoForward {
		if len(f.Forward) > 0 {
			return fmt.Errorf("--forward and --no-forward together: give one")
		}
		return nil
	}
	if err := forward.CheckAddresses(f.Address); err != nil {
		return err
	}
	names := o.targetNames()
	flags := map[string][]rules.Forward{}
	for _, v := range f.Forward {
		dep, fw, err := forward.ParseFlag(canonicalForward(v), names)
		if err != nil {
			return err
		}
		flags[dep] = append(flags[dep], fw)
	}
	f.specs = nil
	for _, w := range o.targets {
		name := w.Ref().String()
		f.specs = append(f.specs, forward.SpecsFor(name, flags[name], o.rules[name], declaredPorts(w.Template(), o.rules[name]))...)
	}
	return forward.Check(f.specs)
}

// canonicalForward spells the target of a --forward value as up names it ("sts/db=5432" becomes
// "statefulset/db=5432", "deploy/web=8080" "web=8080"), so any kubectl spelling of a target works.
func canonicalForward(v string) string {
	name, ports, named := strings.Cut(v, "=")
	if !named {
		return v
	}
	if r, err := workload.ParseRef(name); err == nil {
		return r.String() + "=" + ports
	}
	return v
}

// declaredPorts returns the TCP containerPorts of every app container the rules develop, in the
// rules' order (the pod's first container when the rules leave it unnamed, or without rules).
func declaredPorts(t *corev1.PodTemplateSpec, r *rules.Rules) []forward.Declared {
	apps := []rules.App{{}}
	if r != nil {
		apps = r.Apps()
	}
	var out []forward.Declared
	for _, a := range apps {
		for i, c := range t.Spec.Containers {
			if a.Container != c.Name && (a.Container != "" || i > 0) {
				continue
			}
			d := forward.Declared{Container: c.Name}
			for _, p := range c.Ports {
				if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
					d.Ports = append(d.Ports, int(p.ContainerPort))
				}
			}
			out = append(out, d)
			break
		}
	}
	return out
}

// openForwards listens on every forward's local port (before anything is patched: a port in use
// is an error, and nothing changes).
func (o *UpOptions) openForwards() (*forward.Set, error) {
	set, err := forward.Open(o.forwards.specs, o.forwards.Address, net.Listen)
	if err != nil {
		return nil, fmt.Errorf("nothing was changed: %w (or leave the forwards out with --no-forward)", err)
	}
	return set, nil
}

// upView is where `up` shows what happens: the live view or plain lines, forwards included.
type upView interface {
	devloop.Reporter
	Forwarding(deployment, url string, remote int)
}

// startForwards serves the set's forwards to the targets' ready pods until the returned stop is
// called, showing and recording each forward.
func startForwards(ctx context.Context, cluster *kube.SharingClient, set *forward.Set, targets []devloop.Target, view upView, rec *state.Recorder) (stop func()) {
	if len(set.Listeners) == 0 {
		return func() {}
	}
	selectors := map[string]string{}
	for _, t := range targets {
		selectors[t.Name] = t.Selector
	}
	ctx, cancel := context.WithCancel(ctx)
	dialer := cluster.PodDialer()
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := forward.Run(ctx, cluster, dialer, forward.Config{Set: set, Selectors: selectors}, forwardReporter{upView: view, rec: rec})
		if err != nil {
			view.Warn(fmt.Sprintf("forwards stopped: %v", err))
		}
	}()
	return func() {
		cancel()
		<-done
		dialer.Close()
	}
}

// forwardReporter shows each forward in the view and records it for `status`.
type forwardReporter struct {
	upView
	rec *state.Recorder
}

var _ forward.Reporter = forwardReporter{}

func (r forwardReporter) Forwarding(dep, url string, remote int) {
	r.rec.Forwarding(dep, url, remote)
	r.upView.Forwarding(dep, url, remote)
}
