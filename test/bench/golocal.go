package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

// goLocalRules sync a locally built web-go binary into /app/bin and restart it: the alternative to
// sending the source edit and building in the pod.
const goLocalRules = `container: web
sync:
  - from: ./web-go/out
    to: /app/bin
restart: process
`

// goLocalBuild times web-go edits built on this machine (`go build`, warm cache, static binary)
// and sent as a binary by kubectl-fastdev, each timed from the source edit to served.
func (e *env) goLocalBuild(ctx context.Context, r *result) (_ *session, err error) {
	s := &session{r: r, pods: 1, timeout: 2 * time.Minute, selector: "app=web-go"}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	var dir string
	build := func(ctx context.Context) error {
		tmp := filepath.Join(dir, "web-go", "server.tmp")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, ".")
		cmd.Dir = filepath.Join(dir, "web-go", "src")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false", "GOTOOLCHAIN=local")
		out, err := cmd.CombinedOutput()
		s.addLocal(cmd.ProcessState)
		if err != nil {
			return fmt.Errorf("go build: %w: %s", err, out)
		}
		// renamed into place, so the watcher never sees a half-written binary
		return os.Rename(tmp, filepath.Join(dir, "web-go", "out", "server"))
	}
	ns, cleanup, err := e.namespace(ctx, "golocal")
	if err != nil {
		return nil, err
	}
	s.ns = ns
	s.onClose(cleanup)
	if dir, err = e.examples(ns); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "web-go", "out"), 0o755); err != nil {
		return nil, err
	}
	if err := build(ctx); err != nil { // the first build also warms the local cache
		return nil, err
	}
	if _, err := e.deploy(ctx, ns, "web-go", func(d *appsv1.Deployment) error {
		d.Annotations["fastdev.dev/rules"] = goLocalRules
		return nil
	}); err != nil {
		return nil, err
	}
	up, err := e.up(ctx, ns, "web-go", dir, 1)
	if err != nil {
		return nil, err
	}
	s.local = up
	s.onClose(up.stop)
	if err := e.rolledOut(ctx, ns, "web-go", 3*time.Minute); err != nil {
		return nil, err
	}
	if s.pr, err = e.newProber(ns, s.selector); err != nil {
		return nil, err
	}
	s.onClose(s.pr.close)
	if _, err := s.pr.wait(ctx, webGo.initial, 1, 2*time.Minute); err != nil {
		return nil, err
	}
	from := up.mark()
	s.edit = func(ctx context.Context, m string) error {
		if err := webGo.write(dir, m); err != nil {
			return err
		}
		start := time.Now()
		err := build(ctx)
		r.steps = append(r.steps, time.Since(start)) // here the build runs locally
		return err
	}
	s.after = func(ctx context.Context, m string, _, _ time.Time) error {
		var err error
		_, from, err = up.wait(ctx, from, time.Minute, "the update line of "+m, func(s string) bool {
			return strings.Contains(s, "edit->running") || strings.Contains(s, "FAILED")
		})
		return err
	}
	return s, nil
}
