package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// netns is the simulated remote cluster: a network namespace for the CLI side, joined to the host by
// a veth pair whose both ends are shaped with tc (tbf: the bandwidth). This machine's kernel has no
// netem (CONFIG_NET_SCH_NETEM is off), so the latency is added by a delaying TCP relay on the host's
// end, in front of the API server (and the bench registry): half the RTT each way, and one more RTT
// before a connection's first bytes for the TCP handshake. The addresses are from 198.18.0.0/15, the
// range set aside for network benchmarks, and exist only on this machine; the namespace has no
// other route, so nothing it sends can leave the machine.
type netns struct {
	name       string
	kubeconfig string // the admin kubeconfig with the server behind the relay
	relays     []*relay
}

const (
	nsName   = "fastdev-bench"
	vethHost = "fdbench-h"
	vethNS   = "fdbench-n"
	hostIP   = "198.18.0.1"
	nsIP     = "198.18.0.2"
)

// setupRemote creates the namespace, link and API server relay; the returned function removes them.
func (e *env) setupRemote(ctx context.Context) (*netns, func(), error) {
	n := &netns{name: nsName}
	teardown := func() {
		for _, r := range n.relays {
			r.close()
		}
		_ = exec.Command("ip", "link", "del", vethHost).Run()
		_ = exec.Command("ip", "netns", "del", nsName).Run()
	}
	teardown() // an earlier run that was killed may have left them
	tbf := []string{"root", "tbf", "rate", e.o.rate, "burst", "32kb", "latency", "500ms"}
	steps := [][]string{
		{"ip", "netns", "add", nsName},
		{"ip", "link", "add", vethHost, "type", "veth", "peer", "name", vethNS},
		{"ip", "link", "set", vethNS, "netns", nsName},
		{"ip", "addr", "add", hostIP + "/30", "dev", vethHost},
		{"ip", "link", "set", vethHost, "up"},
		{"nsenter", "--net=/run/netns/" + nsName, "--", "ip", "addr", "add", nsIP + "/30", "dev", vethNS},
		{"nsenter", "--net=/run/netns/" + nsName, "--", "ip", "link", "set", vethNS, "up"},
		{"nsenter", "--net=/run/netns/" + nsName, "--", "ip", "link", "set", "lo", "up"},
		append([]string{"tc", "qdisc", "add", "dev", vethHost}, tbf...),
		append([]string{"nsenter", "--net=/run/netns/" + nsName, "--", "tc", "qdisc", "add", "dev", vethNS}, tbf...),
	}
	for _, s := range steps {
		if out, err := exec.CommandContext(ctx, s[0], s[1:]...).CombinedOutput(); err != nil {
			teardown()
			return nil, nil, fmt.Errorf("%s: %w: %s", strings.Join(s, " "), err, out)
		}
	}
	api, err := e.relay(n, "127.0.0.1:6443")
	if err != nil {
		teardown()
		return nil, nil, err
	}
	cfg, err := clientcmd.LoadFromFile(e.kubeconfig)
	if err != nil {
		teardown()
		return nil, nil, err
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://" + api
		c.TLSServerName = "kubernetes" // a name the API server's certificate carries
	}
	n.kubeconfig = filepath.Join(e.work, "remote.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, n.kubeconfig); err != nil {
		teardown()
		return nil, nil, err
	}
	return n, teardown, nil
}

// relay starts a delaying relay to upstream on the host's end of the link and returns its address.
func (e *env) relay(n *netns, upstream string) (string, error) {
	r, err := startRelay(hostIP+":0", upstream, e.o.rtt)
	if err != nil {
		return "", err
	}
	n.relays = append(n.relays, r)
	return r.ln.Addr().String(), nil
}

// relay is a TCP relay that delays every chunk by half the RTT in each direction, keeping order and
// pipelining (so it adds latency, not a bandwidth cap), and delays a connection's first bytes by one
// more RTT, the handshake a real link would cost.
type relay struct {
	ln       net.Listener
	upstream string
	rtt      time.Duration
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]bool
}

func startRelay(listen, upstream string, rtt time.Duration) (*relay, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	r := &relay{ln: ln, upstream: upstream, rtt: rtt, conns: map[net.Conn]bool{}}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

func (r *relay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", r.upstream)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		r.conns[c], r.conns[u] = true, true
		r.mu.Unlock()
		r.wg.Add(2)
		go func() { defer r.wg.Done(); r.pipe(u, c, r.rtt) }()
		go func() { defer r.wg.Done(); r.pipe(c, u, 0) }()
	}
}

type chunk struct {
	data []byte
	due  time.Time
}

// pipe copies src to dst, each chunk written half an RTT after it was read (the first one extra later).
func (r *relay) pipe(dst, src net.Conn, first time.Duration) {
	q := make(chan chunk, 1<<14)
	go func() {
		defer close(q)
		extra := first
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{buf[:n], time.Now().Add(r.rtt/2 + extra)}
				extra = 0
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.data); err != nil {
			_ = src.Close() // ends the reader, which closes q
			for range q {
			}
			return
		}
	}
	// src said EOF: pass it on, keeping the other direction open (a half-close, as TCP would)
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

func (r *relay) close() {
	r.ln.Close()
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// requestRTT measures one request/response through the API server relay on an open connection (the
// best of five): the round trip the link adds, plus the API server's time for /readyz.
func (e *env) requestRTT(ctx context.Context, kubeconfig string) (time.Duration, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return 0, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return 0, err
	}
	var best time.Duration
	for i := range 6 {
		start := time.Now()
		if _, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
			return 0, fmt.Errorf("GET /readyz through the relay: %w", err)
		}
		if d := time.Since(start); i > 0 && (best == 0 || d < best) { // the first one also pays the handshakes
			best = d
		}
	}
	return best, nil
}

// remoteSuite is measure 6: measures 1 and 3 again with the CLI side behind the shaped link.
func (e *env) remoteSuite(ctx context.Context, rep *report, peers bool) {
	n, teardown, err := e.setupRemote(ctx)
	if err != nil {
		rep.problems = append(rep.problems, fmt.Sprintf("simulated remote cluster: %v", err))
		return
	}
	defer teardown()
	rtt, err := e.requestRTT(ctx, n.kubeconfig)
	if err != nil {
		rep.problems = append(rep.problems, fmt.Sprintf("simulated remote cluster: %v", err))
		return
	}
	rep.remoteRTT = rtt
	rep.remoteNote = fmt.Sprintf("%s RTT (a delaying relay: this kernel has no netem) and %s (tc tbf on both ends of the veth pair); "+
		"one request on an open connection through the link takes %s", e.o.rtt, e.o.rate, fmtDur(rtt))
	e.logf("simulated remote link up: %s", rep.remoteNote)
	if peers && e.registry != nil {
		// Skaffold's build pushes from inside the namespace: the registry is reached through the link too
		addr, err := e.relay(n, e.registry.addr)
		if err != nil {
			rep.problems = append(rep.problems, fmt.Sprintf("registry relay: %v", err))
			peers = false
		} else {
			saved := e.registry.public
			e.registry.public = addr
			defer func() { e.registry.public = saved }()
		}
	}
	rep.remoteProbe = "The prober is on the developer's side too: its GETs leave from the same network namespace and reach each " +
		"pod through a TCP forward on the host's end of the link (the same delaying relay as the API server's, and tc tbf on " +
		"both ends), as a browser through a port-forward or a load balancer would; each GET opens a new connection (busybox " +
		"httpd closes it), so it pays about two round trips, and a new GET starts every probe interval without waiting for " +
		"the previous one."
	e.remote = n
	defer func() { e.remote = nil }()
	rep.remote = e.latencySuite(ctx, rep, peers, true)
	if ctx.Err() == nil && e.o.only["initial"] {
		rep.remoteInitial = e.initialRuns(ctx, rep, max(1, min(3, e.o.rounds)), false)
	}
}
