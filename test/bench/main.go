// Command bench is kubectl-fastdev's benchmark driver, run by `make bench` (never by `make test`).
// It runs every contender (kubectl-fastdev, the vanilla image pipeline, raw exec+tar, Tilt and
// Skaffold) on the same local cluster, sample apps and machine in one run, and writes
// docs/BENCHMARKS.md and docs/bench-*.png from what it measured. See test/bench/README.md.
//
//	bench [flags]          run the measures (see -only) and write the report
//	bench tools            only build the peer tools into the cache
//	bench image [flags]    the custom image build the peers' configurations call back into
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/klog/v2"
)

// options are the driver's flags.
type options struct {
	repo          string
	fastdev       string
	out           string
	edits         int
	vanillaEdits  int
	gap           time.Duration
	probeInterval time.Duration
	probe         string
	only          map[string]bool
	series        map[string]bool // empty: every latency series
	keep          bool
	noBuild       bool
	verbose       bool
	// remote link shape
	rtt  time.Duration
	rate string
	// issue 19's method
	seed        uint64        // the interleaving seed
	idleWindow  time.Duration // how long every contender idles before a series (the API server's idle rate)
	quick       bool          // BENCH=quick: fewer edits and runs, for iterating (never a report to keep)
	rounds      int           // initial-sync rounds
	remoteEdits int           // edits per series behind the simulated link
}

// measures, in the order they run; -only selects some of them.
var measureNames = []string{"latency", "peers", "initial", "fanout", "bigtree", "debug", "workloads", "remote"}

// onlyDebug is true when the debug measure is the only one selected: it writes its own file
// (docs/bench-debug.md), and BENCHMARKS.md is then left as it is.
func (o options) onlyDebug() bool {
	for m := range o.only {
		if m != "debug" {
			return false
		}
	}
	return o.only["debug"]
}

func main() {
	// client-go logs every refused port-forward connection, and the prober makes many while an app
	// restarts: those are expected here, and the prober reports what matters
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	utilruntime.ErrorHandlers = nil
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "image" {
		return imageCommand(ctx, args[1:])
	}
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&o.repo, "repo", "../..", "repository root")
	fs.StringVar(&o.fastdev, "fastdev", "", "kubectl-fastdev binary to measure (default: bin/kubectl-fastdev under -repo)")
	fs.StringVar(&o.out, "out", "docs", "directory for BENCHMARKS.md and the charts, relative to -repo")
	fs.IntVar(&o.edits, "edits", 30, "edits per latency series")
	fs.IntVar(&o.vanillaEdits, "vanilla-edits", 10, "edits for the slow vanilla (image + rollout) baseline")
	fs.DurationVar(&o.gap, "gap", 200*time.Millisecond, "pause after an edit is served, before the next one (interleaved: usually another contender's)")
	fs.DurationVar(&o.probeInterval, "probe-interval", 10*time.Millisecond, "how often the app is polled")
	fs.StringVar(&o.probe, "probe", "pod-ip", "how the app is polled: pod-ip (the node's pod network) or port-forward (see probe.go)")
	series := fs.String("series", "", "comma-separated latency series ids to run (default all; for debugging)")
	only := fs.String("only", strings.Join(measureNames, ","), "comma-separated measures to run: "+strings.Join(measureNames, ",")+
		" (peers adds Tilt and Skaffold to latency and remote; remote repeats latency, and initial if selected;"+
		" debug writes docs/bench-debug.md, and alone leaves BENCHMARKS.md as it is)")
	fs.BoolVar(&o.noBuild, "no-build", false, "use only the peer tools already built in the cache (skip the others' series)")
	fs.BoolVar(&o.keep, "keep", false, "keep the bench-* namespaces (for debugging)")
	fs.BoolVar(&o.verbose, "v", false, "copy the contenders' output to the log")
	fs.DurationVar(&o.rtt, "rtt", 40*time.Millisecond, "round-trip time of the simulated remote link")
	fs.StringVar(&o.rate, "rate", "20mbit", "bandwidth of the simulated remote link (tc syntax)")
	fs.Uint64Var(&o.seed, "seed", 0, "seed of the random order the contenders' edits are interleaved in (default: from the clock; printed)")
	fs.DurationVar(&o.idleWindow, "idle-window", 5*time.Second, "idle time before each interleaved series, to measure the API server's background request rate")
	fs.BoolVar(&o.quick, "quick", false, "a quick run for iterating: 10 edits, 3 vanilla edits, 3 initial-sync rounds, no bigtree or remote (unless -only names them)")
	fs.IntVar(&o.remoteEdits, "remote-edits", 10, "edits per latency series behind the simulated remote link (measure 6)")
	fs.IntVar(&o.rounds, "rounds", 3, "initial-sync rounds (each: kubectl-fastdev, kubectl cp, in turn)")
	if len(args) > 0 && args[0] == "tools" {
		args = args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.seed == 0 {
		o.seed = newSeed()
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if o.quick {
		if !explicit["edits"] {
			o.edits = 10
		}
		if !explicit["vanilla-edits"] {
			o.vanillaEdits = 3
		}
		if !explicit["remote-edits"] {
			o.remoteEdits = 10
		}
		if !explicit["rounds"] {
			o.rounds = 3
		}
		if !explicit["idle-window"] {
			o.idleWindow = 3 * time.Second
		}
		if !explicit["only"] {
			*only = strings.Join(slices.DeleteFunc(slices.Clone(measureNames), func(m string) bool {
				return m == "bigtree" || m == "remote" || m == "debug"
			}), ",")
		}
	}
	o.only = map[string]bool{}
	for _, m := range strings.Split(*only, ",") {
		if m = strings.TrimSpace(m); m != "" {
			o.only[m] = true
		}
	}
	if o.probe != "pod-ip" && o.probe != "port-forward" {
		return fmt.Errorf("-probe %q: want pod-ip or port-forward", o.probe)
	}
	o.series = map[string]bool{}
	for _, id := range strings.Split(*series, ",") {
		if id = strings.TrimSpace(id); id != "" {
			o.series[id] = true
		}
	}
	e, err := newEnv(o)
	if err != nil {
		return err
	}
	if len(os.Args) > 1 && os.Args[1] == "tools" {
		_, err := e.tools(ctx)
		return err
	}
	return e.runAll(ctx)
}
