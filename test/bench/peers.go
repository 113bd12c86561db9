package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// peerApp writes the plain web-static Deployment (see plainStatic) with image and namespace set,
// for a peer tool to deploy itself, into dir/app.yaml.
func (e *env) peerApp(dir, ns, img string, pull corev1.PullPolicy) error {
	dep, svc, err := e.example("web-static")
	if err != nil {
		return err
	}
	if err := plainStatic(false)(dep); err != nil {
		return err
	}
	dep.Namespace, svc.Namespace = ns, ns
	dep.APIVersion, dep.Kind = "apps/v1", "Deployment"
	svc.APIVersion, svc.Kind = "v1", "Service"
	c := &dep.Spec.Template.Spec.Containers[0]
	c.Image, c.ImagePullPolicy = img, pull
	var docs []string
	for _, o := range []any{dep, svc} {
		b, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		docs = append(docs, string(b))
	}
	return os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(strings.Join(docs, "---\n")), 0o644)
}

// freePort asks the kernel for a free loopback port (for the peers' own API/UI servers).
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// peerRun deploys with a peer tool started by startTool in dir (which holds www/ and app.yaml) and
// waits until the app serves; each edit rewrites www/index.html (sync only).
func (e *env) peerRun(ctx context.Context, r *result, what string, setup func(ns, dir string) (*proc, error)) (_ *session, err error) {
	s := &session{r: r, pods: 1, timeout: time.Minute, selector: "app=web-static"}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	ns, cleanup, err := e.namespace(ctx, what)
	if err != nil {
		return nil, err
	}
	s.ns = ns
	s.onClose(cleanup)
	dir := filepath.Join(e.work, ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := copyDir(filepath.Join(e.repo, "manifests/examples/web-static/www"), filepath.Join(dir, "www")); err != nil {
		return nil, err
	}
	p, err := setup(ns, dir)
	if err != nil {
		return nil, err
	}
	s.local = p
	s.onClose(p.stop)
	if err := poll(ctx, 3*time.Minute, 500*time.Millisecond, func() (bool, error) {
		select {
		case <-p.done:
			return false, fmt.Errorf("%s exited (%v):\n%s", p.name, p.err, tail(p.output(), 20))
		default:
		}
		if out := p.output(); strings.Contains(strings.ToLower(out), "build failed") {
			return false, fmt.Errorf("%s: the image build failed:\n%s", p.name, tail(out, 20))
		}
		pods, err := e.runningPods(ctx, ns, s.selector)
		return err == nil && len(pods) == 1, nil
	}); err != nil {
		return nil, fmt.Errorf("%s did not deploy: %w", what, err)
	}
	if s.pr, err = e.newProber(ns, s.selector); err != nil {
		return nil, err
	}
	s.onClose(s.pr.close)
	if _, err := s.pr.wait(ctx, webStatic.initial, 1, 2*time.Minute); err != nil {
		return nil, err
	}
	// let the tool finish what it does after a deploy (status checks, starting its sync) first
	time.Sleep(5 * time.Second)
	s.treeDir, s.treeDest, s.treeContainer = filepath.Join(dir, "www"), "/www", "web"
	www := filepath.Join(dir, "www", "index.html")
	s.edit = func(_ context.Context, m string) error {
		return os.WriteFile(www, webStatic.content(nil, m), 0o644)
	}
	return s, nil
}

// tiltDebounce is Tilt's file-event batching: it waits until 200 ms pass without an event
// (BufferMinRestDuration in v0.33.21's internal/controllers/core/filewatch/fsevent), then acts.
const tiltDebounce = 200 * time.Millisecond

// tilt runs `tilt up` with live_update syncing www/ to /www. The image comes from a custom_build
// that imports into containerd, as Tilt cannot build without Docker or push without a registry here.
func (e *env) tilt(ctx context.Context, r *result) (*session, error) {
	s, err := e.peerRun(ctx, r, "tilt", func(ns, dir string) (*proc, error) {
		if err := e.peerApp(dir, ns, "fastdev.local/bench-tilt", corev1.PullNever); err != nil {
			return nil, err
		}
		tiltfile := fmt.Sprintf(`allow_k8s_contexts(k8s_context())
k8s_yaml('app.yaml')
custom_build('fastdev.local/bench-tilt', '%s image -repo %s -www www -ref $EXPECTED_REF',
    deps=['www'], skips_local_docker=True, disable_push=True,
    live_update=[sync('www', '/www')])
`, e.self, e.repo)
		if err := os.WriteFile(filepath.Join(dir, "Tiltfile"), []byte(tiltfile), 0o644); err != nil {
			return nil, err
		}
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		home := filepath.Join(dir, "home")
		cmd := e.cmd(ctx, e.toolBin["tilt"], "up", "--stream", "--port", strconv.Itoa(port), "--host", "127.0.0.1", "--file", "Tiltfile")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+home, "KUBECONFIG="+e.cliKubeconfig(), "TILT_DISABLE_ANALYTICS=1",
			"PATH="+filepath.Dir(e.kubectl)+":"+os.Getenv("PATH"))
		return e.start("tilt", cmd)
	})
	if s != nil {
		s.debounce = func(int) time.Duration { return tiltDebounce }
	}
	return s, err
}

// skaffold runs `skaffold dev` with manual file sync of www/ to /www. Without Docker Skaffold only
// builds when it pushes: the custom build pushes to the bench's in-memory registry on this machine
// and has containerd pull from it. debounceMs > 0 sets --watch-poll-interval: with Skaffold v2's
// default `notify` trigger that is not a poll but a debounce (v2.13.2 pkg/skaffold/trigger/fsnotify: every file event
// resets a timer of that length, which then triggers the sync); the default is 1000 ms.
func (e *env) skaffold(ctx context.Context, r *result, debounceMs int) (*session, error) {
	if e.registry == nil {
		return nil, fmt.Errorf("no registry for Skaffold")
	}
	s, err := e.peerRun(ctx, r, "skaffold", func(ns, dir string) (*proc, error) {
		img := e.registry.public + "/bench-skaffold"
		if err := e.peerApp(dir, ns, img, corev1.PullIfNotPresent); err != nil {
			return nil, err
		}
		cfg := fmt.Sprintf(`apiVersion: skaffold/v4beta11
kind: Config
build:
  tagPolicy:
    sha256: {}
  local:
    push: true
  artifacts:
  - image: %s
    custom:
      buildCommand: %s image -repo %s -www www -push
      dependencies:
        paths: ["www/**"]
    sync:
      manual:
      - src: "www/**"
        dest: /www
        strip: "www/"
manifests:
  rawYaml: [app.yaml]
deploy:
  kubectl: {}
`, img, e.self, e.repo)
		if err := os.WriteFile(filepath.Join(dir, "skaffold.yaml"), []byte(cfg), 0o644); err != nil {
			return nil, err
		}
		home := filepath.Join(dir, "home")
		if err := os.MkdirAll(filepath.Join(home, ".skaffold"), 0o755); err != nil {
			return nil, err
		}
		global := "global:\n  collect-metrics: false\n  update-check: false\n  survey:\n    disable-prompt: true\n"
		if err := os.WriteFile(filepath.Join(home, ".skaffold", "config"), []byte(global), 0o644); err != nil {
			return nil, err
		}
		args := []string{"dev", "--filename", "skaffold.yaml", "--port-forward=off", "--cleanup=false",
			"--insecure-registry", e.registry.public, "--namespace", ns, "--interactive=false", "--update-check=false"}
		if debounceMs > 0 {
			args = append(args, fmt.Sprintf("--watch-poll-interval=%d", debounceMs))
		}
		cmd := e.cmd(ctx, e.toolBin["skaffold"], args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+home, "KUBECONFIG="+e.cliKubeconfig(), "SKAFFOLD_UPDATE_CHECK=false",
			"SKAFFOLD_COLLECT_METRICS=false", "PATH="+filepath.Dir(e.kubectl)+":"+os.Getenv("PATH"))
		return e.start("skaffold", cmd)
	})
	if s != nil {
		d := time.Duration(debounceMs) * time.Millisecond
		if debounceMs <= 0 {
			d = skaffoldDefaultDebounce
		}
		s.debounce = func(int) time.Duration { return d }
	}
	return s, err
}

// skaffoldDefaultDebounce is Skaffold v2's default --watch-poll-interval, the notify trigger's debounce.
const skaffoldDefaultDebounce = time.Second

// copyDir copies a directory of regular files (the sample's www/).
func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, de := range ents {
		b, err := os.ReadFile(filepath.Join(src, de.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, de.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
