package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
)

// prober tells when the app serves an edit: it polls GET / of every running pod of a Deployment and
// reports when enough pods answer with the edit's marker. It always runs on the host (the cluster's
// node), never behind the simulated remote link: it measures when the cluster serves the edit.
//
// By default it GETs each pod's IP on the node's pod network. With -probe=port-forward it goes through
// a port-forward per pod (kept open, so a poll costs one stream), as a developer's browser would; but
// client-go drops a whole port-forward as soon as the app's port refuses one connection, which it does
// during every process restart, and a new forward then takes about a second to open here: that
// measures the prober, not the contender, for every edit with a restart.
type prober struct {
	e        *env
	ns, sel  string
	client   *kube.Client
	interval time.Duration
	hc       *http.Client
	viaPF    bool

	fwd map[string]*kube.Forward // by pod, with -probe=port-forward
}

func (e *env) newProber(ns, selector string) (*prober, error) {
	c, err := kube.New(e.rest, ns)
	if err != nil {
		return nil, err
	}
	return &prober{e: e, ns: ns, sel: selector, client: c, interval: e.o.probeInterval, viaPF: e.o.probe == "port-forward",
		hc:  &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		fwd: map[string]*kube.Forward{}}, nil
}

func (p *prober) close() {
	for name, f := range p.fwd {
		f.Close()
		delete(p.fwd, name)
	}
}

// wait polls until n distinct pods have answered a body containing want, and returns when the last
// of them first did. Pods that are not running, or are terminating, are not polled.
func (p *prober) wait(ctx context.Context, want string, n int, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	served := map[string]time.Time{}
	var pods []string
	ips := map[string]string{}
	var listed time.Time
	var last string
	for {
		if time.Since(listed) > 100*time.Millisecond {
			ps, err := p.e.runningPods(ctx, p.ns, p.sel)
			if err != nil {
				return time.Time{}, err
			}
			pods = pods[:0]
			live := map[string]bool{}
			for _, pod := range ps {
				if pod.Status.PodIP == "" && !p.viaPF {
					continue
				}
				pods = append(pods, pod.Name)
				ips[pod.Name] = pod.Status.PodIP
				live[pod.Name] = true
			}
			for name, f := range p.fwd {
				if !live[name] {
					f.Close()
					delete(p.fwd, name)
				}
			}
			listed = time.Now()
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		var broken []string // pods whose port-forward failed a GET: reopened on the next poll
		for _, pod := range pods {
			if _, ok := served[pod]; ok {
				continue
			}
			addr := net.JoinHostPort(ips[pod], "8080")
			if p.viaPF {
				f, err := p.forward(ctx, pod)
				if err != nil {
					last = err.Error()
					continue
				}
				addr = f.Addr
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				body, err := p.get(ctx, addr)
				now := time.Now()
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					last = err.Error()
					broken = append(broken, pod)
				case strings.Contains(body, want):
					served[pod] = now
				default:
					last = fmt.Sprintf("pod %s answered %q", pod, strings.TrimSpace(body))
				}
			}()
		}
		wg.Wait()
		for _, pod := range broken {
			if f, ok := p.fwd[pod]; ok {
				f.Close()
				delete(p.fwd, pod)
			}
		}
		if len(served) >= n {
			var latest time.Time
			for _, t := range served {
				if t.After(latest) {
					latest = t
				}
			}
			return latest, nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%d of %d pod(s) serve %q after %s (last: %s)", len(served), n, want, timeout, last)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(p.interval):
		}
	}
}

// forward returns the pod's open port-forward to 8080, opening it if needed.
func (p *prober) forward(ctx context.Context, pod string) (*kube.Forward, error) {
	if f, ok := p.fwd[pod]; ok {
		select {
		case err := <-f.Done:
			_ = err // the forward ended (its error was reported when it did): open a new one
			delete(p.fwd, pod)
		default:
			return f, nil
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	f, err := p.client.PortForward(fctx, pod, 8080)
	if err != nil {
		return nil, err
	}
	p.fwd[pod] = f
	return f, nil
}

func (p *prober) get(ctx context.Context, addr string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	resp, err := p.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET / answered %d", resp.StatusCode)
	}
	return string(b), err
}
