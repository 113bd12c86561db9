package cmd

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/events"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs/follow"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/web"
)

// webFlag is --web: an address on loopback, or false to serve no web view.
type webFlag struct {
	addr string // "" is web.DefaultAddress
	off  bool
}

// String implements pflag.Value.
func (f *webFlag) String() string {
	switch {
	case f.off:
		return "false"
	case f.addr == "":
		return web.DefaultAddress
	}
	return f.addr
}

// Set implements pflag.Value: true or false, or HOST:PORT with a loopback host.
func (f *webFlag) Set(v string) error {
	switch strings.ToLower(v) {
	case "false", "off", "no", "0":
		*f = webFlag{off: true}
		return nil
	case "true", "on", "yes", "1":
		*f = webFlag{}
		return nil
	}
	host, _, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("want HOST:PORT on loopback such as %s, or false: %w", web.DefaultAddress, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("the web view listens on loopback only: use 127.0.0.1:PORT, [::1]:PORT or localhost:PORT")
	}
	*f = webFlag{addr: v}
	return nil
}

// Type implements pflag.Value.
func (f *webFlag) Type() string { return "ADDR" }

// followView is a view that also shows the pods' phases and their logs' error items (the live view).
type followView interface {
	Phase(deployment, pod, phase string, gone bool)
	Item(it logs.Item)
}

// startWeb starts what the views of `up` see besides the dev loop's and the forwards' reports: the
// shared model with its web view (unless --web=false), and one follower of the pods' phases and logs
// for the model and the live view. It returns the view to report to (the model and view together)
// and a function that stops them.
func (o *UpOptions) startWeb(ctx context.Context, api follow.API, targets []devloop.Target, view upView) (upView, func()) {
	mv := &modelView{upView: view}
	var names []string
	for _, t := range targets {
		names = append(names, t.Name)
	}
	var srv *web.Server
	if !o.web.off {
		// local paths in error blocks are --dir as given joined with the rules' paths: relative to here
		cwd, err := os.Getwd()
		if err != nil {
			cwd = o.absDir
		}
		mv.m = events.New("kubectl fastdev up · namespace "+o.client.Namespace, cwd, names)
		s, err := web.Listen(o.web.String(), mv.m)
		if err != nil {
			view.Warn(fmt.Sprintf("web view: %v; up goes on without it", err))
			mv.m = nil
		} else {
			srv = s
		}
	}
	_, live := view.(followView)
	if mv.m == nil && !live {
		return view, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if srv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(); err != nil {
				mv.Warn(err.Error())
			}
		}()
		mv.announce(srv.URL())
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		o.followPods(ctx, api, targets, mv)
	}()
	return mv, func() {
		cancel()
		if srv != nil {
			if err := srv.Close(); err != nil {
				fmt.Fprintf(o.ErrOut, "stopping the web view: %v\n", err)
			}
		}
		wg.Wait()
	}
}

// followPods feeds the views the pods' phases and the error items of their logs since now.
func (o *UpOptions) followPods(ctx context.Context, api follow.API, targets []devloop.Target, mv *modelView) {
	var ts []follow.Target
	for _, t := range targets {
		ts = append(ts, follow.Target{Name: t.Name, Selector: t.Selector, Rules: t.Rules})
	}
	fc := follow.Config{Targets: ts, Dir: o.Dir, Follow: true, Since: time.Now(),
		Exists: func(p string) bool { _, err := os.Stat(p); return err == nil },
		OnPod:  func(dep string, pod *corev1.Pod, gone bool) { mv.Phase(dep, pod.Name, follow.Phase(pod), gone) },
		Warn:   mv.Warn}
	if err := follow.Run(ctx, api, fc, mv.Item); err != nil && ctx.Err() == nil {
		mv.Warn(fmt.Sprintf("following the pods' logs: %v", err))
	}
}

// modelView tells the view and the shared model (when the web view is on) the same things, so both
// show the same facts.
type modelView struct {
	upView
	m *events.Model // nil without the web view
}

var (
	_ upView                   = (*modelView)(nil)
	_ devloop.ConvergeReporter = (*modelView)(nil)
	_ followView               = (*modelView)(nil)
	_ devloop.ProgressReporter = (*modelView)(nil)
)

// announce says where the web view is, once: under the live view's title, or as a plain line.
func (v *modelView) announce(url string) {
	if w, ok := v.upView.(interface{ WebURL(string) }); ok {
		w.WebURL(url)
		return
	}
	v.upView.Info("web view: " + url)
}

func (v *modelView) PodState(dep, pod string, connected bool, err error) {
	v.upView.PodState(dep, pod, connected, err)
	if v.m != nil {
		v.m.PodState(dep, pod, connected, err)
	}
}

func (v *modelView) PodGone(dep, pod string) {
	v.upView.PodGone(dep, pod)
	if v.m != nil {
		v.m.PodGone(dep, pod)
	}
}

func (v *modelView) StepLine(dep, pod, step, line string) {
	v.upView.StepLine(dep, pod, step, line)
	if v.m != nil {
		v.m.StepLine(dep, pod, step, line)
	}
}

func (v *modelView) Updated(u devloop.Update) {
	v.upView.Updated(u)
	if v.m != nil {
		v.m.Updated(modelUpdate(u))
	}
}

// modelUpdate is an update as the model keeps it.
func modelUpdate(u devloop.Update) events.Update {
	return events.Update{Workload: u.Deployment, Pod: u.Pod, Files: u.Files, Deletes: u.Deletes, Convergence: u.Convergence,
		Err: u.Err, LatencyMs: events.Ms(u.Latency), QuietMs: events.Ms(u.Quiet), SendMs: events.Ms(u.Send),
		WriteMs: events.Ms(u.Write), StepsMs: events.Ms(u.StepsTime), RestartMs: events.Ms(u.Restart), Line: u.Line()}
}

func (v *modelView) Info(msg string) {
	v.upView.Info(msg)
	if v.m != nil {
		v.m.Info(msg)
	}
}

func (v *modelView) Warn(msg string) {
	v.upView.Warn(msg)
	if v.m != nil {
		v.m.Warn(msg)
	}
}

func (v *modelView) Forwarding(dep, url string, remote int) {
	v.upView.Forwarding(dep, url, remote)
	if v.m != nil {
		v.m.Forwarding(dep, url, remote)
	}
}

// Converged implements devloop.ConvergeReporter.
func (v *modelView) Converged(dep, pod string) {
	if c, ok := v.upView.(devloop.ConvergeReporter); ok {
		c.Converged(dep, pod)
	}
	if v.m != nil {
		v.m.Converged(dep, pod)
	}
}

// Phase shows a pod's phase (from the follower).
func (v *modelView) Phase(dep, pod, phase string, gone bool) {
	if f, ok := v.upView.(followView); ok {
		f.Phase(dep, pod, phase, gone)
	}
	if v.m != nil {
		v.m.Phase(dep, pod, phase, gone)
	}
}

// Item shows an item of the pods' logs (from the follower).
func (v *modelView) Item(it logs.Item) {
	if f, ok := v.upView.(followView); ok {
		f.Item(it)
	}
	if v.m != nil {
		v.m.Item(it)
	}
}

// Progressed shows how far a large update has come.
func (v *modelView) Progressed(dep, pod string, p devloop.Progress) {
	if pr, ok := v.upView.(devloop.ProgressReporter); ok {
		pr.Progressed(dep, pod, p)
	}
	if v.m != nil {
		v.m.Progressed(dep, pod, p.Files, p.TotalFiles, p.Bytes, p.TotalBytes, p.Started)
	}
}
