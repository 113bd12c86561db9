package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The peers on the workloads. Both deploy the plain variant of the sample (wlPlain: the app under
// the bench's restart wrapper) with the sample's own image, re-tagged by their custom build (no
// Docker here; Skaffold also pushes it to the bench's registry), and after each sync run in the
// container what exec+tar runs: the install when the manifest changed, the build, the restart.

// wlPeerTools returns the Tilt and Skaffold contenders when their binaries are in the cache.
func (e *env) wlPeerTools() []wlTool {
	var ts []wlTool
	if e.wlPeerBin("tilt") != "" {
		ts = append(ts, wlTool{tool: "Tilt", title: "Tilt v0.33.21: live_update sync + run (install when the manifest changed, build) + run (restart through the bench's wrapper)",
			setup: e.wlTilt})
	}
	if e.wlPeerBin("skaffold") != "" {
		ts = append(ts, wlTool{tool: "Skaffold", title: "Skaffold v2.13.2: manual file sync + an after-sync hook in the container (install if the manifest changed, build, restart)",
			setup: func(ctx context.Context, a *wlApp, r *result, w *wlSeries, res *wlResult) (*session, error) {
				return e.wlSkaffold(ctx, a, r, w, res, 0)
			}},
			wlTool{tool: wlSkaffold20, matched: true, title: "Skaffold v2.13.2 as above, `--watch-poll-interval=20` (a 20 ms debounce, kubectl-fastdev's)",
				setup: func(ctx context.Context, a *wlApp, r *result, w *wlSeries, res *wlResult) (*session, error) {
					return e.wlSkaffold(ctx, a, r, w, res, 20)
				}})
	}
	return ts
}

// wlPeerBin finds a peer tool: the one the run built or found, else one already in the cache (the
// workloads never build the tools themselves).
func (e *env) wlPeerBin(name string) string {
	if b := e.toolBin[name]; b != "" {
		return b
	}
	for _, t := range peers {
		if t.name == name {
			if _, err := os.Stat(t.path(e.cache)); err == nil {
				return t.path(e.cache)
			}
		}
	}
	return ""
}

// wlPeerNotes describes the peers' set-up in the report.
func wlPeerNotes() string {
	return "- The peers run as shipped (Tilt's 200 ms event batching, Skaffold's default `notify` trigger and its debounce),\n" +
		"  kubectl-fastdev with its default quiet window; and with matched debounce, as in measure 1: kubectl-fastdev with\n" +
		"  `--quiet 200ms --settle 0` against Tilt, Skaffold with `--watch-poll-interval=20` against kubectl-fastdev.\n" +
		"- **Tilt**: `tilt up` with `custom_build` (the sample's image re-tagged with `ctr`, no Docker) and\n" +
		"  `live_update=[sync(src, /app/src), run(install, trigger=[manifest]), run(build), run('kill $(cat /tmp/app.pid)')]`:\n" +
		"  the kill restarts the app under the bench's wrapper, standing in for Tilt's restart_process extension, which\n" +
		"  cannot be fetched here.\n" +
		"- **Skaffold**: `skaffold dev` with manual `sync` of the source and a `sync.hooks.after` container command:\n" +
		"  `cmp -s MANIFEST /tmp/.manifest || { INSTALL && cp MANIFEST /tmp/.manifest; }`, the build, then the same kill;\n" +
		"  without the hook Skaffold's sync only copies files, and neither sample reloads its code by itself. Its custom\n" +
		"  build re-tags the sample's image and pushes it to the bench's in-memory registry.\n" +
		"- The peers' series on the Go service and the burst start after the bench sent the whole tree and built it\n" +
		"  (untimed), as for exec+tar: neither tool syncs files its image build did not change.\n"
}

// skaffoldConfig is the workload's skaffold.yaml: the custom build (build.sh), manual sync of the
// source and the after-sync hook in the container.
func skaffoldConfig(a *wlApp, img string) ([]byte, error) {
	hook := "cd " + a.dest
	if a.dep != nil {
		hook += fmt.Sprintf(" && { cmp -s %s /tmp/.manifest || { %s && cp %s /tmp/.manifest; }; }", a.dep.manifest, a.dep.install, a.dep.manifest)
	}
	if a.build != "" {
		hook += " && " + a.build
	}
	hook += " && " + wlKill
	cfg := map[string]any{
		"apiVersion": "skaffold/v4beta11", "kind": "Config",
		"build": map[string]any{
			"tagPolicy": map[string]any{"sha256": map[string]any{}},
			"local":     map[string]any{"push": true},
			"artifacts": []any{map[string]any{
				"image":  img,
				"custom": map[string]any{"buildCommand": "sh build.sh", "dependencies": map[string]any{"paths": []string{a.src + "/**"}}},
				"sync": map[string]any{
					"manual": []any{map[string]any{"src": a.src + "/**", "dest": a.dest, "strip": a.src + "/"}},
					"hooks":  map[string]any{"after": []any{map[string]any{"container": map[string]any{"command": []string{"sh", "-c", hook}}}}},
				},
			}},
		},
		"manifests": map[string]any{"rawYaml": []string{"app.yaml"}},
		"deploy":    map[string]any{"kubectl": map[string]any{}},
	}
	return yaml.Marshal(cfg)
}

// wlPeerYAML writes the plain Deployment and Service of the sample with image and namespace set
// into dir/app.yaml.
func (e *env) wlPeerYAML(a *wlApp, dir, ns, img string, pull corev1.PullPolicy) error {
	dep, svc, err := e.example(a.example)
	if err != nil {
		return err
	}
	if err := a.wlPlain(dep); err != nil {
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

// wlPeerSession starts a peer in a fresh namespace (start writes its configuration into dir, the
// examples copy, and runs it), waits for its pod, primes it when needed, and wires the edits.
func (e *env) wlPeerSession(ctx context.Context, a *wlApp, r *result, w *wlSeries, res *wlResult, what string,
	start func(ns, dir string) (*proc, error)) (_ *session, err error) {
	s := &session{r: r, pods: 1, timeout: wlTimeout, selector: "app=" + a.example}
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
	dir, src, err := e.wlTree(ns, a)
	if err != nil {
		return nil, err
	}
	w.src = src
	p, err := start(ns, dir)
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
		pods, err := e.runningPods(ctx, ns, s.selector)
		return err == nil && len(pods) == 1, nil
	}); err != nil {
		return nil, fmt.Errorf("%s did not deploy: %w", what, err)
	}
	if err := e.rolledOut(ctx, ns, a.example, 2*time.Minute); err != nil {
		return nil, err
	}
	if err := e.wlPeerPrime(ctx, a, w, s); err != nil {
		return nil, err
	}
	if err := e.wlProbe(ctx, s, a.initial, 5*time.Minute); err != nil {
		return nil, err
	}
	time.Sleep(5 * time.Second) // let the tool finish what it does after a deploy
	e.wlCheckOnClose(s, a, "web", src, res)
	s.edit = func(_ context.Context, m string) error {
		_, err := w.next(m)
		return err
	}
	s.after = e.wlAfter(s, w, src, nil, nil)
	return s, nil
}

// wlPeerPrime records the dependency manifest the pod starts with (Skaffold's hook installs when it
// changes) and, for the Go service and the burst, sends the whole tree and builds it, untimed.
func (e *env) wlPeerPrime(ctx context.Context, a *wlApp, w *wlSeries, s *session) error {
	pods, err := e.runningPods(ctx, s.ns, s.selector)
	if err != nil || len(pods) != 1 {
		return fmt.Errorf("want 1 running pod: %v", err)
	}
	kc := e.kubectl + " --kubeconfig " + e.cliKubeconfig() + " -n " + s.ns
	prime := "cd " + a.dest
	if a.dep != nil {
		prime += " && cp " + a.dep.manifest + " /tmp/.manifest"
	}
	script := fmt.Sprintf("%s exec %s -c web -- sh -c %s", kc, pods[0].Name, shQuote(prime))
	if w.prime() {
		script = fmt.Sprintf("tar c -C %s . | %s exec -i %s -c web -- tar x -C %s && %s exec %s -c web -- sh -c %s",
			w.src, kc, pods[0].Name, a.dest, kc, pods[0].Name, shQuote(a.postCommand(wlUpdate{install: true})+" ; "+prime))
	}
	if out, err := e.cmd(ctx, "sh", "-c", script).CombinedOutput(); err != nil {
		return fmt.Errorf("priming the pod: %w: %s", err, tail(string(out), 10))
	}
	return nil
}

// wlPeerEnv is the environment the peers run with: their own HOME, the cluster's kubeconfig and kubectl.
func (e *env) wlPeerEnv(dir string) []string {
	return append(os.Environ(), "HOME="+filepath.Join(dir, "home"), "KUBECONFIG="+e.cliKubeconfig(), "TILT_DISABLE_ANALYTICS=1",
		"SKAFFOLD_UPDATE_CHECK=false", "SKAFFOLD_COLLECT_METRICS=false", "PATH="+filepath.Dir(e.kubectl)+":"+os.Getenv("PATH"))
}

// wlTilt runs `tilt up` on the workload.
func (e *env) wlTilt(ctx context.Context, a *wlApp, r *result, w *wlSeries, res *wlResult) (*session, error) {
	return e.wlPeerSession(ctx, a, r, w, res, "wl-tilt", func(ns, dir string) (*proc, error) {
		ref := "fastdev.local/bench-tilt-" + a.id
		if err := e.wlPeerYAML(a, dir, ns, ref, corev1.PullNever); err != nil {
			return nil, err
		}
		tf := tiltfile(a, ref, os.Getenv("FASTDEV_CONTAINERD_SOCK"))
		if err := os.WriteFile(filepath.Join(dir, "Tiltfile"), []byte(tf), 0o644); err != nil {
			return nil, err
		}
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd := e.cmd(ctx, e.wlPeerBin("tilt"), "up", "--stream", "--port", strconv.Itoa(port), "--host", "127.0.0.1", "--file", "Tiltfile")
		cmd.Dir, cmd.Env = dir, e.wlPeerEnv(dir)
		return e.start("tilt", cmd)
	})
}

// tiltfile is the workload's Tiltfile: the sample's image re-tagged as the build, and live_update's
// sync, the install when the manifest changed, the build and the restart.
func tiltfile(a *wlApp, ref, sock string) string {
	steps := []string{fmt.Sprintf("sync('%s', '%s')", a.src, a.dest)}
	if a.dep != nil {
		steps = append(steps, fmt.Sprintf("run('cd %s && %s', trigger=['%s/%s'])", a.dest, a.dep.install, a.src, a.dep.manifest))
	}
	if a.build != "" {
		steps = append(steps, fmt.Sprintf("run('cd %s && %s')", a.dest, a.build))
	}
	steps = append(steps, fmt.Sprintf("run('%s')", wlKill))
	return fmt.Sprintf(`allow_k8s_contexts(k8s_context())
k8s_yaml('app.yaml')
custom_build('%s', 'ctr -a %s -n k8s.io images tag --force fastdev.local/%s:dev $EXPECTED_REF',
    deps=['%s'], skips_local_docker=True, disable_push=True,
    live_update=[%s])
`, ref, sock, a.example, a.src, strings.Join(steps, ", "))
}

// wlSkaffold runs `skaffold dev` on the workload.
func (e *env) wlSkaffold(ctx context.Context, a *wlApp, r *result, w *wlSeries, res *wlResult, debounceMs int) (*session, error) {
	if e.registry == nil {
		return nil, fmt.Errorf("no registry for Skaffold")
	}
	return e.wlPeerSession(ctx, a, r, w, res, "wl-skaffold", func(ns, dir string) (*proc, error) {
		img := e.registry.public + "/bench-skaffold-" + a.id
		if err := e.wlPeerYAML(a, dir, ns, img, corev1.PullIfNotPresent); err != nil {
			return nil, err
		}
		sock := os.Getenv("FASTDEV_CONTAINERD_SOCK")
		ctr := "ctr -a " + sock + " -n k8s.io images"
		// re-tag the sample, push it, and name it by digest too (Skaffold deploys repo:tag@digest; see pushImage)
		build := fmt.Sprintf(`%s tag --force fastdev.local/%s:dev "$IMAGE" && %s push --plain-http "$IMAGE" >/dev/null && `+
			`d=$(%s ls "name==$IMAGE" | awk 'NR==2 {print $3}') && %s tag --force "$IMAGE" "${IMAGE%%:*}@$d"`,
			ctr, a.example, ctr, ctr, ctr)
		if err := os.WriteFile(filepath.Join(dir, "build.sh"), []byte(build+"\n"), 0o755); err != nil {
			return nil, err
		}
		b, err := skaffoldConfig(a, img)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "skaffold.yaml"), b, 0o644); err != nil {
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
		cmd := e.cmd(ctx, e.wlPeerBin("skaffold"), args...)
		cmd.Dir, cmd.Env = dir, e.wlPeerEnv(dir)
		return e.start("skaffold", cmd)
	})
}
