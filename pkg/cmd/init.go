package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/detect"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// InitOptions are the settings of `kubectl fastdev init`.
type InitOptions struct {
	genericiooptions.IOStreams
	flags *genericclioptions.ConfigFlags

	// Target is the workload, [TYPE/]NAME.
	Target string
	// Dir is the local directory the code is in.
	Dir string
	// Apply writes the proposal into the workload's rules annotation.
	Apply bool

	client *kube.Client
	ref    workload.Ref
	from   string
}

// NewInitOptions returns the defaults.
func NewInitOptions(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *InitOptions {
	return &InitOptions{IOStreams: streams, flags: flags, Dir: "."}
}

// NewCmdInit returns the init command.
func NewCmdInit(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewInitOptions(flags, streams)
	cmd := &cobra.Command{
		Use:   "init [TYPE/]NAME",
		Short: "Propose the rules of a workload from its pod template and the local code",
		Long: templates.LongDesc(`
Reads the workload's pod template (containers, command, working directory, ports, security
context) and the local directory (go.mod, package.json and its lockfile, requirements.txt or
pyproject.toml, static files) and prints the rules it proposes, each guessed value with a comment
saying why. What it cannot tell, such as where the image keeps the code when the pod spec has no
workingDir, is left as a placeholder in angle brackets naming what to write: up refuses the rules
until it is replaced.

sync.from is written relative to the directory init runs in: run up from the same directory.
--apply writes the rules into the workload's fastdev.dev/rules annotation, showing the diff first
when it already has rules.`),
		Example: templates.Examples(`  kubectl fastdev init web --dir ./web
  kubectl fastdev init statefulset/db --dir ./db > db.fastdev.yaml
  kubectl fastdev init web --dir ./web --apply && kubectl fastdev up web`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeTargets(flags),
		RunE:              runE(o, false),
	}
	cmd.Flags().StringVar(&o.Dir, "dir", o.Dir, "local directory the workload's code is in")
	cmd.Flags().BoolVar(&o.Apply, "apply", false, "write the proposed rules into the workload's "+rules.AnnotationKey+" annotation")
	return cmd
}

// Complete resolves the cluster, the workload and how up will name the local directory.
func (o *InitOptions) Complete(_ context.Context, args []string) error {
	o.Target = args[0]
	var err error
	if o.ref, err = workload.ParseRef(o.Target); err != nil {
		return err
	}
	if o.from, err = fromOf(o.Dir); err != nil {
		return err
	}
	o.client, err = client(o.flags)
	return err
}

// fromOf is dir as the rules' sync.from names it: relative to the directory init (and then up)
// runs in, slash-separated.
func fromOf(dir string) (string, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("--dir %s: %w (give the directory the workload's code is in)", dir, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("--dir %s is a file: give the directory the workload's code is in", dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the current directory: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("--dir %s: %w", dir, err)
	}
	rel, err := filepath.Rel(wd, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("--dir %s is outside the current directory, and sync.from must be below the directory up runs in: run init from %s or a parent of it", dir, dir)
	}
	return filepath.ToSlash(rel), nil
}

// Validate checks fields: init has none that can be wrong once resolved.
func (o *InitOptions) Validate() error { return nil }

// Run prints the proposal, and with --apply writes it.
func (o *InitOptions) Run(ctx context.Context) error {
	w, err := o.client.GetWorkload(ctx, o.ref)
	if err != nil {
		return fmt.Errorf("%s in namespace %q: %w (targets are %s)", describe(o.ref), o.client.Namespace, err, workload.Forms)
	}
	tmpl, err := templateOf(w)
	if err != nil {
		return err
	}
	p, err := detect.Propose(detect.Input{Tree: os.DirFS(o.Dir), From: o.from, Workload: o.ref.Kind.Lower() + "/" + o.ref.Name, Template: *tmpl})
	if err != nil {
		return fmt.Errorf("proposing rules for %s: %w", describe(o.ref), err)
	}
	text := p.YAML()
	old, had := w.Meta().Annotations[rules.AnnotationKey]
	if !o.Apply {
		fmt.Fprint(o.Out, text)
		return nil
	}
	if len(p.Asks) > 0 {
		fmt.Fprint(o.Out, text)
		return fmt.Errorf("nothing was written: init could not guess %s; fill in each <placeholder> above, then write the rules with `kubectl annotate` or `kubectl fastdev up -f FILE`", strings.Join(p.Asks, "; "))
	}
	if _, err := rules.Parse(text); err != nil {
		return fmt.Errorf("nothing was written: the proposal does not parse (%w); please report it", err)
	}
	switch {
	case had && old == text:
		fmt.Fprintf(o.ErrOut, "%s: annotation %s already holds these rules, unchanged\n", o.ref, rules.AnnotationKey)
		return nil
	case had:
		fmt.Fprint(o.Out, rulesDiff(old, text))
	default:
		fmt.Fprint(o.Out, text)
	}
	err = o.client.PatchWorkloadRaw(ctx, o.ref, "writing the rules of", func(raw []byte) ([]byte, error) {
		return rulesPatch(raw, text, false) // the user's own rules: down leaves them
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "%s: rules written to annotation %s; `kubectl fastdev up %s` develops it\n", o.ref, rules.AnnotationKey, o.Target)
	return nil
}

// templateOf is the workload's pod template as its owner wrote it: the one recorded before
// injection when up injected it (the injected one runs the app under the synclet).
func templateOf(w workload.Workload) (*corev1.PodTemplateSpec, error) {
	rec, ok := w.Meta().Annotations[inject.AnnotationOriginal]
	if !ok {
		return w.Template(), nil
	}
	var t corev1.PodTemplateSpec
	if err := json.Unmarshal([]byte(rec), &t); err != nil {
		return nil, fmt.Errorf("annotation %s is not a pod template (%v): run `kubectl fastdev down` first", inject.AnnotationOriginal, err)
	}
	return &t, nil
}
