package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs/follow"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

var _ follow.API = (*kube.Client)(nil)

// LogsOptions are the settings of `kubectl fastdev logs`.
type LogsOptions struct {
	genericiooptions.IOStreams
	flags *genericclioptions.ConfigFlags

	Names       []string
	Selector    string
	Follow      bool
	Since       time.Duration
	Errors      bool
	Output      string
	NoColor     bool
	Dir         string
	GroupWindow time.Duration

	api     follow.API
	targets []follow.Target
	color   bool
}

// NewLogsOptions returns the defaults.
func NewLogsOptions(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *LogsOptions {
	return &LogsOptions{IOStreams: streams, flags: flags, Follow: true, Dir: ".", GroupWindow: follow.DefaultWindow}
}

// NewCmdLogs returns the logs command.
func NewCmdLogs(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewLogsOptions(flags, streams)
	cmd := &cobra.Command{
		Use:   "logs [[TYPE/]NAME...]",
		Short: "Follow every dev pod's logs with errors brought to the front",
		Long: templates.LongDesc(`
Follows every container of every pod of the named workloads (default: every Deployment,
StatefulSet and DaemonSet in the namespace with a fastdev.dev/rules annotation), new pods and restarted containers included, with
the pods' Warning events and their containers' failed exits.

Stack traces (Go, Python, Java, Node.js), Go compiler errors and failed build steps are shown as one
block each, with the local file for every path under a sync 'to' path. An error that several replicas
report is shown once with ×N. --errors leaves out everything else.`),
		Example: templates.Examples(`  kubectl fastdev logs
  kubectl fastdev logs web --errors
  kubectl fastdev logs -l team=payments --since 10m -f=false -o json`),
		ValidArgsFunction: completeTargets(flags),
		RunE:              runE(o, untilSignal),
	}
	f := cmd.Flags()
	f.StringVarP(&o.Selector, "selector", "l", "", "label selector of the workloads (Deployments, StatefulSets, DaemonSets)")
	f.BoolVarP(&o.Follow, "follow", "f", o.Follow, "keep following (-f=false prints what there is and exits)")
	f.DurationVar(&o.Since, "since", 0, "only lines, events and exits newer than this, e.g. 10m (default: everything)")
	f.BoolVar(&o.Errors, "errors", false, "only error blocks, failed exits, stuck containers and Warning events")
	f.StringVarP(&o.Output, "output", "o", "", "output format: json (one object per line)")
	f.BoolVar(&o.NoColor, "no-color", false, "no colours, even on a terminal")
	f.StringVar(&o.Dir, "dir", o.Dir, "local directory the rules' sync.from paths are relative to (for local file paths)")
	f.DurationVar(&o.GroupWindow, "group-window", o.GroupWindow, "how long an error waits for the same error from other replicas before it is shown")
	return cmd
}

// Validate checks the flags.
func (o *LogsOptions) Validate() error {
	if o.Output != "" && o.Output != "json" {
		return fmt.Errorf("--output %q: want json, or no --output for text", o.Output)
	}
	if o.Since < 0 {
		return fmt.Errorf("--since %s: want a positive duration such as 10m", o.Since)
	}
	if o.GroupWindow < 0 {
		return fmt.Errorf("--group-window %s: want a positive duration such as 2s", o.GroupWindow)
	}
	return nil
}

// Complete resolves the cluster and the Deployments, and whether to colour.
func (o *LogsOptions) Complete(ctx context.Context, args []string) error {
	o.Names = args
	c, err := client(o.flags)
	if err != nil {
		return err
	}
	if err := o.resolve(ctx, c); err != nil {
		return err
	}
	o.api = c
	f, ok := o.Out.(*os.File)
	o.color = ok && term.IsTerminal(int(f.Fd())) && !o.NoColor && o.Output == "" && os.Getenv("NO_COLOR") == ""
	return nil
}

// resolve finds the workloads to follow and their rules (for local paths).
func (o *LogsOptions) resolve(ctx context.Context, c *kube.Client) error {
	ws, err := FindAnnotated(ctx, c, o.Names, o.Selector)
	if err != nil {
		return err
	}
	o.targets = nil
	for _, w := range ws {
		sel, err := selectorOf(w)
		if err != nil {
			return err
		}
		t := follow.Target{Name: w.Ref().String(), Selector: sel}
		if text, ok := w.Meta().Annotations[rules.AnnotationKey]; ok {
			if t.Rules, err = rules.Parse(text); err != nil {
				fmt.Fprintf(o.ErrOut, "%s: no local paths: %v\n", t.Name, err)
			}
		}
		o.targets = append(o.targets, t)
	}
	return nil
}

// Run follows the targets (or reads what there is) and prints each item.
func (o *LogsOptions) Run(ctx context.Context) error {
	var since time.Time
	if o.Since > 0 {
		since = time.Now().Add(-o.Since)
	}
	var errMu sync.Mutex
	cfg := follow.Config{Targets: o.targets, Dir: o.Dir, Follow: o.Follow, Since: since, Window: o.GroupWindow,
		Exists: func(p string) bool { _, err := os.Stat(p); return err == nil },
		Warn: func(msg string) {
			errMu.Lock()
			defer errMu.Unlock()
			fmt.Fprintln(o.ErrOut, "warning: "+msg)
		}}
	show := o.printer()
	var werr error
	err := follow.Run(ctx, o.api, cfg, func(it logs.Item) {
		if werr != nil || (o.Errors && !it.Kind.IsError()) {
			return
		}
		werr = show(it)
	})
	if werr != nil {
		return fmt.Errorf("writing output: %w", werr)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// LogItem is one line of `logs -o json`.
type LogItem struct {
	Pod       string     `json:"pod"`
	Container string     `json:"container"`
	Kind      logs.Kind  `json:"kind"`
	Time      string     `json:"time,omitempty"`
	Text      string     `json:"text"`
	Type      string     `json:"type,omitempty"`
	ExitCode  int        `json:"exitCode,omitempty"`
	Count     int        `json:"count,omitempty"`
	Pods      []string   `json:"pods,omitempty"`
	Locations []Location `json:"locations,omitempty"`
}

// Location is an in-pod path:line of an error and the local file it was synced from.
type Location struct {
	Line   int    `json:"line"`
	Remote string `json:"remote"`
	Local  string `json:"local"`
}

func (o *LogsOptions) printer() func(logs.Item) error {
	if o.Output == "json" {
		enc := json.NewEncoder(o.Out)
		return func(it logs.Item) error { return enc.Encode(toJSON(it)) }
	}
	theme := logs.NewTheme(o.Out, o.color)
	return func(it logs.Item) error { return theme.Render(o.Out, it) }
}

func toJSON(it logs.Item) LogItem {
	j := LogItem{Pod: it.Pod, Container: it.Container, Kind: it.Kind, Text: it.Text, Type: it.Type, ExitCode: it.ExitCode}
	if !it.Time.IsZero() {
		j.Time = it.Time.UTC().Format(time.RFC3339Nano)
	}
	if it.Kind.IsError() {
		j.Count, j.Pods = it.Count(), it.Pods
	}
	for _, l := range it.Locations {
		j.Locations = append(j.Locations, Location(l))
	}
	return j
}
