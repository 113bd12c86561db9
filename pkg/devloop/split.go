package devloop

import (
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// partCaps bound one request of an update: half the synclet's caps (archive.DefaultLimits: 8 GiB and
// 1 M entries), since a file is sent as it is when it is read, and one that grew after it was planned
// must not push its request over them. Deletions travel as names in the metadata entry, which the
// synclet caps at 64 MiB: 8 MiB of names stays under it even if every byte needed a six-byte JSON escape.
var partCaps = caps{bytes: archive.DefaultLimits.MaxTotal / 2, entries: archive.DefaultLimits.MaxEntries / 2, deleteBytes: 8 << 20}

// caps is what one request of an update may hold.
type caps struct {
	bytes       int64 // file content
	entries     int   // files, directories and links
	deleteBytes int   // names of deletions
}

// split cuts p into requests under c, in p's order: the deletions first (the synclet applies a
// request's deletions before its entries, so they stay ahead of every entry), then the entries. The
// steps and the restart go with the last part only, so they run once, after every file landed; a part
// that fails stops the rest (the retry sends what the pod then lacks). A single file larger than c.bytes
// travels alone (the synclet's own per-file limit judges it). remote is what the pod holds per sync
// root, for each part's growth; p itself is returned when it fits in one request.
func split(p *plan, c caps, remote []tree.Manifest) []*plan {
	if fits(p, c) {
		return []*plan{p}
	}
	var parts []*plan
	cur := newPart(len(p.deletes))
	var delBytes, entries int
	var bytes int64
	next := func() {
		parts = append(parts, cur)
		cur, delBytes, entries, bytes = newPart(len(p.deletes)), 0, 0, 0
	}
	for i, ds := range p.deletes {
		for _, q := range ds {
			name := protocol.EntryName(i, q)
			if len(cur.meta.Deletes) > 0 && delBytes+len(name)+3 > c.deleteBytes {
				next()
			}
			cur.meta.Deletes = append(cur.meta.Deletes, name)
			cur.deletes[i] = append(cur.deletes[i], q)
			delBytes += len(name) + 3 // quotes and a comma
		}
	}
	for _, put := range p.puts {
		if entries > 0 && (entries+1 > c.entries || bytes+put.Entry.Size > c.bytes) {
			next()
		}
		cur.puts = append(cur.puts, put)
		entries++
		bytes += put.Entry.Size
	}
	parts = append(parts, cur)
	last := parts[len(parts)-1]
	last.meta.Steps, last.meta.Restart, last.meta.Apps = p.meta.Steps, p.meta.Restart, p.meta.Apps
	for _, part := range parts {
		part.growth = partGrowth(part, remote)
	}
	return parts
}

// fits reports whether p goes in one request under c.
func fits(p *plan, c caps) bool {
	if len(p.puts) > c.entries {
		return false
	}
	var bytes int64
	for _, put := range p.puts {
		bytes += put.Entry.Size
	}
	names := 0
	for _, d := range p.meta.Deletes {
		names += len(d) + 3
	}
	return bytes <= c.bytes && names <= c.deleteBytes
}

func newPart(roots int) *plan {
	return &plan{deletes: make([][]string, roots), growth: make([]int64, roots)}
}

// partGrowth is how many bytes part adds under each sync root, as growth counts a whole plan.
func partGrowth(part *plan, remote []tree.Manifest) []int64 {
	diffs := make([]tree.Diff, len(part.deletes))
	for i, ds := range part.deletes {
		diffs[i].Delete = ds
	}
	for _, put := range part.puts {
		diffs[put.Root].Put = append(diffs[put.Root].Put, put.Entry)
	}
	out := make([]int64, len(diffs))
	for i, d := range diffs {
		out[i] = growth(d, remote[i])
	}
	return out
}

// mergeResults folds the result of a later part of an update into acc (nil before the first part):
// write times add up; the rest (error, steps, restart, free space, queued) is the later part's.
func mergeResults(acc, r *protocol.Event) *protocol.Event {
	if acc == nil || acc.Timings == nil || r.Timings == nil {
		return r
	}
	out := *r
	t := *r.Timings
	t.Files += acc.Timings.Files
	t.Deletes += acc.Timings.Deletes
	t.Receive += acc.Timings.Receive
	t.Write += acc.Timings.Write
	out.Timings = &t
	return &out
}
