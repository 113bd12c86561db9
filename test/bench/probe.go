package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

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

	// behind the simulated remote link: the GETs leave from the developer's network namespace and
	// reach each pod through a delaying TCP forward on the host's end of the link, and are started
	// every interval without waiting for the previous one (each takes about two round trips)
	link   *netns
	relays map[string]*relay // by pod IP
}

func (e *env) newProber(ns, selector string) (*prober, error) {
	c, err := kube.New(e.rest, ns)
	if err != nil {
		return nil, err
	}
	p := &prober{e: e, ns: ns, sel: selector, client: c, interval: e.o.probeInterval, viaPF: e.o.probe == "port-forward",
		hc:  &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		fwd: map[string]*kube.Forward{}, relays: map[string]*relay{}}
	if e.remote != nil {
		p.link, p.viaPF = e.remote, false
		p.hc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, DialContext: nsDialer(e.remote.name)}}
	}
	return p, nil
}

// linkAddr returns the address, on the host's end of the simulated link, of a delaying forward to
// the pod's port 8080, starting one on first use.
func (p *prober) linkAddr(ip string) (string, error) {
	if r, ok := p.relays[ip]; ok {
		return r.ln.Addr().String(), nil
	}
	r, err := startRelay(hostIP+":0", net.JoinHostPort(ip, "8080"), p.e.o.rtt)
	if err != nil {
		return "", err
	}
	p.relays[ip] = r
	return r.ln.Addr().String(), nil
}

func (p *prober) close() {
	for ip, r := range p.relays {
		r.close()
		delete(p.relays, ip)
	}
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
	var mu sync.Mutex
	inflight := map[string]int{}
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
		var wg sync.WaitGroup
		var broken []string // pods whose port-forward failed a GET: reopened on the next poll
		for _, pod := range pods {
			mu.Lock()
			_, done := served[pod]
			busy := inflight[pod] >= 8
			mu.Unlock()
			if done || busy {
				continue
			}
			addr := net.JoinHostPort(ips[pod], "8080")
			if p.link != nil {
				a, err := p.linkAddr(ips[pod])
				if err != nil {
					return time.Time{}, err
				}
				addr = a
			}
			if p.viaPF {
				f, err := p.forward(ctx, pod)
				if err != nil {
					last = err.Error()
					continue
				}
				addr = f.Addr
			}
			wg.Add(1)
			mu.Lock()
			inflight[pod]++
			mu.Unlock()
			go func() {
				defer wg.Done()
				body, err := p.get(ctx, addr)
				now := time.Now()
				mu.Lock()
				defer mu.Unlock()
				inflight[pod]--
				switch {
				case err != nil && p.link != nil:
					last = err.Error() // a restart refused it, or the forward: the next GET is on its way
				case strings.Contains(body, want):
					if t, ok := served[pod]; !ok || now.Before(t) {
						served[pod] = now
					}
				case err != nil:
					last = err.Error()
					broken = append(broken, pod)
				default:
					last = fmt.Sprintf("pod %s answered %q", pod, strings.TrimSpace(body))
				}
			}()
		}
		if p.link == nil {
			wg.Wait()
		}
		mu.Lock()
		for _, pod := range broken {
			if f, ok := p.fwd[pod]; ok {
				f.Close()
				delete(p.fwd, pod)
			}
		}
		got, lastErr := len(served), last
		var latest time.Time
		for _, t := range served {
			if t.After(latest) {
				latest = t
			}
		}
		mu.Unlock()
		if got >= n {
			return latest, nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%d of %d pod(s) serve %q after %s (last: %s)", got, n, want, timeout, lastErr)
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

// nsDialer dials from inside the named network namespace: the socket is made on an OS thread
// switched into it (a socket stays in the namespace it was made in), and the thread switched back.
func nsDialer(name string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			return nil, err
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + name)
		if err != nil {
			runtime.UnlockOSThread()
			return nil, err
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			return nil, fmt.Errorf("entering network namespace %s: %w", name, err)
		}
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if rerr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); rerr == nil {
			runtime.UnlockOSThread() // else the thread stays locked and ends with this goroutine
		}
		return c, err
	}
}
