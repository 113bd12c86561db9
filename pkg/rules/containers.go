package rules

import (
	"fmt"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// App is one more app container of the pod the rules develop: the list form's second and later
// items. Its sync entries are in Rules.Sync, marked with its number (Sync.App).
type App struct {
	// Container names the container; the list form requires it.
	Container string
	// Run, Restart and Command are as Rules' own, for this container.
	Run     []Step
	Restart protocol.Restart
	Command []string
	// Line is where the item starts in the annotation, for error messages.
	Line int
}

// appKeys are the keys that describe one app container: at the top level in the single form, in
// each item of containers in the list form.
var appKeys = []string{"container", "sync", "run", "restart", "command"}

const containersExample = `containers: [{container: api, sync: [{from: ./api, to: /app}]}, {container: worker, sync: [{from: ./worker, to: /app}]}]`

// parseContainers reads the list form: `containers:` with one item per app container, each with its
// own container, sync, run, restart and command. The first item fills r's own fields (so code that
// reads one container sees the first), the others r.More; every item's sync entries go to r.Sync in
// order, marked with the item's number.
func (r *Rules) parseContainers(f field, top map[string]field) error {
	for _, k := range appKeys {
		if g, ok := top[k]; ok {
			return errorf(g.path, g.key.Line, "is given next to containers: with the list form, write %s inside each item (containers[].%s)", k, k)
		}
	}
	items, err := list(f.val, f.path, containersExample)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return errorf(f.path, f.val.Line, "is an empty list: list the containers to develop, as in %s", containersExample)
	}
	r.Listed = true
	seen := map[string]int{}
	for i, item := range items {
		at := fmt.Sprintf("%s[%d]", f.path, i)
		fields, err := mapping(item, at, appKeys)
		if err != nil {
			return err
		}
		if _, ok := fields["container"]; !ok {
			return errorf(at+".container", item.Line, "is required in the list form: name the pod spec's container this item develops")
		}
		a := &Rules{Restart: protocol.RestartProcess}
		if err := a.parseApp(fields, at, item.Line); err != nil {
			return err
		}
		if first, dup := seen[a.Container]; dup {
			return errorf(at+".container", fields["container"].val.Line, "%q is already described by containers[%d]: merge the two items", a.Container, first)
		}
		seen[a.Container] = i
		for _, s := range a.Sync {
			s.App = i
			r.Sync = append(r.Sync, s)
		}
		if i == 0 {
			r.Container, r.Run, r.Restart, r.Command = a.Container, a.Run, a.Restart, a.Command
			continue
		}
		r.More = append(r.More, App{Container: a.Container, Run: a.Run, Restart: a.Restart, Command: a.Command, Line: item.Line})
	}
	return nil
}

// Apps returns every app container the rules develop, the first one (r's own fields) included, so
// callers treat both forms alike; the first one's Container may be "" (the pod's first container).
func (r *Rules) Apps() []App {
	return append([]App{{Container: r.Container, Run: r.Run, Restart: r.Restart, Command: r.Command, Line: 1}}, r.More...)
}

// SyncKey is the key path of sync entry i (a Sync index) as the user wrote it, for messages:
// sync[i] in the single form, containers[k].sync[j] in the list form.
func (r *Rules) SyncKey(i int) string {
	if !r.Listed || i < 0 || i >= len(r.Sync) {
		return fmt.Sprintf("sync[%d]", i)
	}
	k, j := r.Sync[i].App, 0
	for _, s := range r.Sync[:i] {
		if s.App == k {
			j++
		}
	}
	return fmt.Sprintf("containers[%d].sync[%d]", k, j)
}

// Roots returns the numbers of the sync entries (Sync indexes) of app container app.
func (r *Rules) Roots(app int) []int {
	var out []int
	for i, s := range r.Sync {
		if s.App == app {
			out = append(out, i)
		}
	}
	return out
}
