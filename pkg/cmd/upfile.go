package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aymanbagabas/go-udiff"
	"github.com/spf13/pflag"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// AnnotationRulesBefore records, on a workload whose rules `up -f` wrote, the rules annotation it
// had before (JSON: {"rules": TEXT} or {"rules": null} when it had none), so `down` puts that back
// and leaves the workload exactly as it was before `up -f`.
const AnnotationRulesBefore = "fastdev.dev/rules-before-file"

// priorRules is the value of AnnotationRulesBefore.
type priorRules struct {
	Rules *string `json:"rules"`
}

// fileOptions are up's flags for rules from a file.
type fileOptions struct {
	// Name is -f: a rules file mapping workloads to their rules.
	Name string
	// DryRun shows what up -f would write and changes nothing.
	DryRun bool

	// texts holds, by target (workload.Ref.String()), the file's rules text for that workload.
	texts map[string]string
	// before holds, by target, the rules annotation the workload had (nil: none).
	before map[string]*string
}

func (f *fileOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&f.Name, "filename", "f", "", "rules file: a YAML mapping from each workload ([TYPE/]NAME) to its rules, written into the workloads' annotations before injecting")
	fs.BoolVar(&f.DryRun, "dry-run", false, "with -f: show how each workload's rules annotation would change, and change nothing")
}

// findTargets resolves up's workloads: without -f as always (named, selected or annotated); with
// -f, the file's workloads (or those of them named), with the file's rules laid over their
// annotations in memory, so the rest of up reads them as if they were in the cluster already.
func (o *UpOptions) findTargets(ctx context.Context) ([]workload.Workload, error) {
	f := &o.file
	if f.Name == "" {
		if f.DryRun {
			return nil, errors.New("--dry-run shows what -f would write: give a rules file with -f")
		}
		return FindAnnotated(ctx, o.client, o.Names, o.Selector)
	}
	if o.Selector != "" {
		return nil, errors.New("give -f or --selector, not both: -f names its workloads")
	}
	entries, err := rules.LoadFile(f.Name)
	if err != nil {
		return nil, err
	}
	picked, err := pickEntries(f.Name, entries, o.Names)
	if err != nil {
		return nil, err
	}
	var args []string
	for _, e := range picked {
		args = append(args, e.Target)
	}
	targets, err := FindWorkloads(ctx, o.client, args, "", nil, "")
	if err != nil {
		return nil, err
	}
	f.texts, f.before = map[string]string{}, map[string]*string{}
	for i, w := range targets {
		key := w.Ref().String()
		notes := w.Meta().Annotations
		if old, ok := notes[rules.AnnotationKey]; ok {
			f.before[key] = &old
		}
		if notes == nil {
			notes = map[string]string{}
			w.Meta().Annotations = notes
		}
		notes[rules.AnnotationKey] = picked[i].Text
		f.texts[key] = picked[i].Text
	}
	return targets, nil
}

// pickEntries checks the file's targets (each a workload once) and keeps those named on the
// command line, or all of them.
func pickEntries(file string, entries []rules.FileEntry, names []string) ([]rules.FileEntry, error) {
	byRef := map[workload.Ref]rules.FileEntry{}
	for _, e := range entries {
		ref, err := workload.ParseRef(e.Target)
		if err != nil {
			return nil, &rules.FileError{File: file, Line: e.Line, Target: e.Target, Msg: err.Error()}
		}
		if first, dup := byRef[ref]; dup {
			return nil, &rules.FileError{File: file, Line: e.Line, Target: e.Target,
				Msg: fmt.Sprintf("names the same workload as %s on line %d: keep one entry", first.Target, first.Line)}
		}
		byRef[ref] = e
	}
	if len(names) == 0 {
		return entries, nil
	}
	refs, err := workload.ParseRefs(names)
	if err != nil {
		return nil, err
	}
	var out []rules.FileEntry
	for _, r := range refs {
		e, ok := byRef[r]
		if !ok {
			return nil, fmt.Errorf("%s is not in %s: add its rules there, or leave the name out to develop every workload the file names", r, file)
		}
		out = append(out, e)
	}
	return out, nil
}

// showFileRules is --dry-run: it prints how each workload's rules annotation would change (after
// up planned every injection, so a mistake there is reported too) and changes nothing.
func (o *UpOptions) showFileRules() error {
	for _, w := range o.targets {
		key := w.Ref().String()
		showRulesChange(o.Out, w.Ref(), o.file.before[key], o.file.texts[key])
	}
	fmt.Fprintf(o.ErrOut, "--dry-run: nothing was changed\n")
	return nil
}

// writeFileRules, with -f, writes the file's rules into each workload's annotation, recording the
// one it had for `down`. Up calls it once it holds the workloads' leases, before injecting.
func (o *UpOptions) writeFileRules(ctx context.Context) error {
	f := &o.file
	if f.Name == "" {
		return nil
	}
	for _, w := range o.targets {
		key := w.Ref().String()
		if old, text := f.before[key], f.texts[key]; old != nil && *old == text {
			continue
		}
		if err := writeRules(ctx, o.client, w.Ref(), f.texts[key]); err != nil {
			return err
		}
		fmt.Fprintf(o.ErrOut, "%s: rules from %s written to annotation %s\n", key, f.Name, rules.AnnotationKey)
	}
	return nil
}

// showRulesChange prints how ref's rules annotation would change: a unified diff, the new text
// when there is none yet, or that it stays.
func showRulesChange(out io.Writer, ref workload.Ref, old *string, text string) {
	switch {
	case old == nil:
		fmt.Fprintf(out, "%s: would add annotation %s:\n%s", ref, rules.AnnotationKey, indent(text))
	case *old == text:
		fmt.Fprintf(out, "%s: annotation %s unchanged\n", ref, rules.AnnotationKey)
	default:
		fmt.Fprintf(out, "%s: would change annotation %s:\n%s", ref, rules.AnnotationKey, rulesDiff(*old, text))
	}
}

// rulesDiff is a unified diff from the rules in the cluster to the new ones.
func rulesDiff(old, text string) string {
	return udiff.Unified("annotation (in the cluster)", "proposed", withNewline(old), withNewline(text))
}

func withNewline(s string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		return s + "\n"
	}
	return s
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return "    " + strings.Join(lines, "\n    ") + "\n"
}

// writeRules sets ref's rules annotation to text, recording the annotation it had the first time
// (a later `up -f` keeps that first record, which is what `down` must restore).
func writeRules(ctx context.Context, c *kube.Client, ref workload.Ref, text string) error {
	return c.PatchWorkloadRaw(ctx, ref, "writing the rules of", func(raw []byte) ([]byte, error) {
		return rulesPatch(raw, text, true)
	})
}

// injectedOrFromFile picks the default set of `down`: injected workloads, and those whose rules
// `up -f` wrote (also when its injection then failed).
func injectedOrFromFile(w workload.Workload) bool {
	_, ok := w.Meta().Annotations[AnnotationRulesBefore]
	return ok || isInjected(w)
}

// restoreFileRules puts back the rules annotation w had before `up -f` wrote its own, and removes
// the record; a workload `up -f` never wrote is left alone. Down calls it after restoring the
// template, so a workload down could not restore keeps the rules its injection runs with.
func (o *DownOptions) restoreFileRules(ctx context.Context, w workload.Workload) error {
	restored := false
	err := o.client.PatchWorkloadRaw(ctx, w.Ref(), "restoring the rules of", func(raw []byte) ([]byte, error) {
		p, err := rulesRestorePatch(raw)
		restored = p != nil
		return p, err
	})
	if err == nil && restored {
		fmt.Fprintf(o.Out, "%s: annotation %s put back as it was before up -f\n", w.Ref(), rules.AnnotationKey)
	}
	return err
}

// notes reads a workload's JSON: its resourceVersion and annotations.
func notes(raw []byte) (string, map[string]string, error) {
	var head struct {
		Metadata struct {
			ResourceVersion string            `json:"resourceVersion"`
			Annotations     map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return "", nil, fmt.Errorf("reading the workload's metadata: %w", err)
	}
	return head.Metadata.ResourceVersion, head.Metadata.Annotations, nil
}

// jsonOp is one JSON patch operation; a nil Value (a remove) is left out, an empty string is not.
type jsonOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// annotationPath is the JSON pointer of annotation key (RFC 6901: "~" and "/" escaped).
func annotationPath(key string) string {
	return "/metadata/annotations/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
}

// rulesPatch is the JSON patch that sets the rules annotation to text; nil when it holds text
// already. With record (up -f), it also records the annotation before, unless a record exists.
func rulesPatch(raw []byte, text string, record bool) ([]byte, error) {
	rv, have, err := notes(raw)
	if err != nil {
		return nil, err
	}
	old, had := have[rules.AnnotationKey]
	if had && old == text {
		return nil, nil
	}
	ops := []jsonOp{{Op: "test", Path: "/metadata/resourceVersion", Value: rv}}
	if have == nil {
		ops = append(ops, jsonOp{Op: "add", Path: "/metadata/annotations", Value: map[string]string{}})
	}
	if _, recorded := have[AnnotationRulesBefore]; record && !recorded {
		prior := priorRules{}
		if had {
			prior.Rules = &old
		}
		b, err := json.Marshal(prior)
		if err != nil {
			return nil, fmt.Errorf("recording the rules before: %w", err)
		}
		ops = append(ops, jsonOp{Op: "add", Path: annotationPath(AnnotationRulesBefore), Value: string(b)})
	}
	ops = append(ops, jsonOp{Op: "add", Path: annotationPath(rules.AnnotationKey), Value: text})
	return json.Marshal(ops)
}

// rulesRestorePatch is the JSON patch that puts back the rules annotation recorded by rulesPatch
// and removes the record; nil when there is no record.
func rulesRestorePatch(raw []byte) ([]byte, error) {
	rv, have, err := notes(raw)
	if err != nil {
		return nil, err
	}
	rec, ok := have[AnnotationRulesBefore]
	if !ok {
		return nil, nil
	}
	var prior priorRules
	if err := json.Unmarshal([]byte(rec), &prior); err != nil {
		return nil, fmt.Errorf("annotation %s is not what up -f writes (%v): set %s as you want it and remove %s", AnnotationRulesBefore, err, rules.AnnotationKey, AnnotationRulesBefore)
	}
	ops := []jsonOp{{Op: "test", Path: "/metadata/resourceVersion", Value: rv}, {Op: "remove", Path: annotationPath(AnnotationRulesBefore)}}
	_, has := have[rules.AnnotationKey]
	switch {
	case prior.Rules != nil:
		ops = append(ops, jsonOp{Op: "add", Path: annotationPath(rules.AnnotationKey), Value: *prior.Rules})
	case has:
		ops = append(ops, jsonOp{Op: "remove", Path: annotationPath(rules.AnnotationKey)})
	}
	return json.Marshal(ops)
}
