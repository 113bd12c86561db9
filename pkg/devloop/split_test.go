package devloop

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// splitPlan is a plan of puts (root:path:size, root 0 when no root is given) and deletions
// (root:path), with one step and a restart.
func splitPlan(puts []string, deletes []string) *plan {
	p := &plan{deletes: make([][]string, 2), growth: make([]int64, 2)}
	for _, s := range puts {
		var root int
		var name string
		var size int64
		if _, err := fmt.Sscanf(strings.ReplaceAll(s, ":", " "), "%d %s %d", &root, &name, &size); err != nil {
			panic(s)
		}
		p.puts = append(p.puts, archive.Put{Root: root, Local: "/src/" + name, Entry: file(name, size)})
	}
	for _, s := range deletes {
		root, name, _ := strings.Cut(s, ":")
		i := int(root[0] - '0')
		p.deletes[i] = append(p.deletes[i], name)
		p.meta.Deletes = append(p.meta.Deletes, protocol.EntryName(i, name))
	}
	p.meta.Steps = []protocol.Step{{Argv: []string{"make"}, Display: "make"}}
	p.meta.Restart = protocol.RestartProcess
	p.meta.Apps = []protocol.AppRun{{Container: "worker", Restart: protocol.RestartContainer}}
	return p
}

// describe renders parts as "deletes|puts" per part, e.g. "0/x|0/a 1/b".
func describe(parts []*plan) string {
	var out []string
	for _, p := range parts {
		var puts []string
		for _, put := range p.puts {
			puts = append(puts, protocol.EntryName(put.Root, put.Entry.Path))
		}
		out = append(out, strings.Join(p.meta.Deletes, " ")+"|"+strings.Join(puts, " "))
	}
	return strings.Join(out, " ; ")
}

// TestSplit: an update over a request's caps (bytes, entries, deletion names) is cut into parts in its
// order, deletions first, each under the caps but a lone file larger than the byte cap; the steps and
// the restart go with the last part only; the parts' growth adds up to the whole plan's.
func TestSplit(t *testing.T) {
	c := caps{bytes: 10, entries: 3, deleteBytes: 20}
	cases := []struct {
		name    string
		puts    []string
		deletes []string
		want    string
	}{
		{"fits: one request", []string{"0:a:4", "0:b:6"}, []string{"0:x"}, "0/x|0/a 0/b"},
		{"at the caps exactly", []string{"0:a:4", "0:b:3", "1:c:3"}, nil, "|0/a 0/b 1/c"},
		{"over the entries", []string{"0:a:1", "0:b:1", "0:c:1", "0:d:1", "0:e:1", "0:f:1", "1:g:1"}, nil, "|0/a 0/b 0/c ; |0/d 0/e 0/f ; |1/g"},
		{"over the bytes", []string{"0:a:6", "0:b:6", "0:c:4"}, nil, "|0/a ; |0/b 0/c"},
		{"a file over the byte cap travels alone", []string{"0:a:3", "0:big:25", "0:c:3"}, nil, "|0/a ; |0/big ; |0/c"},
		{"deletions first, then entries", []string{"0:a:6", "0:b:6"}, []string{"0:x", "1:y"}, "0/x 1/y|0/a ; |0/b"},
		{"deletion names over their cap", []string{"0:a:1"}, []string{"0:one", "0:two", "1:three", "1:four"}, "0/one 0/two| ; 1/three 1/four|0/a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := splitPlan(tc.puts, tc.deletes)
			remote := []tree.Manifest{manifest(file("a", 2), file("x", 7)), manifest(file("y", 5))}
			whole := partGrowth(p, remote)
			p.growth = whole // as planUpdate sets it
			parts := split(p, c, remote)
			if got := describe(parts); got != tc.want {
				t.Fatalf("parts %q, want %q", got, tc.want)
			}
			if len(parts) == 1 && parts[0] != p {
				t.Error("a plan that fits is not sent as it is")
			}
			sum := make([]int64, 2)
			for k, part := range parts {
				last := k == len(parts)-1
				if got := len(part.meta.Steps) > 0 || part.meta.Restart != "" || len(part.meta.Apps) > 0; got != last {
					t.Errorf("part %d of %d carries steps or restart (of any app container): %v", k+1, len(parts), got)
				}
				if n := len(part.puts); n > c.entries {
					t.Errorf("part %d has %d entries", k+1, n)
				}
				for i := range sum {
					sum[i] += part.growth[i]
				}
			}
			if sum[0] != whole[0] || sum[1] != whole[1] {
				t.Errorf("the parts grow the roots by %v, the plan by %v", sum, whole)
			}
		})
	}
}

// TestWorkerSendsParts: a worker sends an update over the caps as several requests, in order, the last
// one running the steps; the pod ends with every file (the worker's view matches the local tree).
func TestWorkerSendsParts(t *testing.T) {
	defer func(c caps) { partCaps = c }(partCaps)
	partCaps = caps{bytes: 1 << 20, entries: 2, deleteBytes: 1 << 20}
	w, rep, _ := testWorker(t, buildFiles, buildRules) // index.html, main.go, sub/, sub/a.txt: 4 entries
	fake := buildPod()
	view := fetchView(t, w, fake)
	if err := w.send(context.Background(), fake, view, batch{paths: [][]string{{"."}}}); err != nil {
		t.Fatal(err)
	}
	if len(fake.updates) != 2 {
		t.Fatalf("sent %d requests, want 2", len(fake.updates))
	}
	first, last := fake.updates[0], fake.updates[1]
	if len(first.meta.Steps) != 0 || first.meta.Restart != "" || len(first.meta.Deletes) != 1 {
		t.Errorf("first request: steps %v, restart %q, deletes %v; want only the deletion", first.meta.Steps, first.meta.Restart, first.meta.Deletes)
	}
	if len(last.meta.Steps) != 1 || last.meta.Restart != protocol.RestartProcess {
		t.Errorf("last request: steps %v, restart %q; want the build and the restart", last.meta.Steps, last.meta.Restart)
	}
	if first.meta.ID == last.meta.ID {
		t.Error("both requests carry the same ID")
	}
	again, err := w.plan(view, [][]string{{"."}})
	if err != nil || !again.empty() {
		t.Errorf("after the parts the pod still lacks %d entries and %d deletions (%v)", len(again.puts), len(again.meta.Deletes), err)
	}
	if len(rep.updates) != 1 || rep.updates[0].Files != 4 {
		t.Errorf("reported %+v, want one update of 4 files", rep.updates)
	}
}
