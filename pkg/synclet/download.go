package synclet

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// serveFile answers protocol.PathFile: the bytes of one regular file under a sync root, for `up`'s
// download patterns. The file is opened inside the root's os.Root (no path or link leads out of it)
// and must be a regular file no larger than protocol.MaxDownload. It takes no lock: `up` checks the
// bytes against the manifest's hash, so a file a step rewrites meanwhile is simply asked for later.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	root, err := strconv.Atoi(q.Get("root"))
	if err != nil {
		http.Error(w, fmt.Sprintf("root %q is not a sync root number", q.Get("root")), http.StatusBadRequest)
		return
	}
	// SplitEntryName refuses what could leave the root: absolute, "..", not canonical, unknown root
	i, rel, err := protocol.SplitEntryName(protocol.EntryName(root, q.Get("path")), len(s.cfg.Roots))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f, err := openRegular(s.applier.Root(i), rel)
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, fmt.Sprintf("%s/%s does not exist", s.cfg.To[i], rel), http.StatusGone) // 404 means an older synclet
		return
	}
	if errors.Is(err, errNotRegular) {
		http.Error(w, fmt.Sprintf("%s/%s is not a regular file", s.cfg.To[i], rel), http.StatusConflict)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	switch {
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	case !st.Mode().IsRegular():
		http.Error(w, fmt.Sprintf("%s/%s is not a regular file", s.cfg.To[i], rel), http.StatusConflict)
		return
	case st.Size() > protocol.MaxDownload:
		http.Error(w, fmt.Sprintf("%s/%s has %d bytes, over the %d a download may have", s.cfg.To[i], rel, st.Size(), protocol.MaxDownload), http.StatusRequestEntityTooLarge)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	if _, err := io.CopyN(w, f, st.Size()); err != nil {
		// the CLI sees a short body and checks the hash: it asks again later
		s.cfg.Log.Printf("download of %s/%s not delivered: %v", s.cfg.To[i], rel, err)
	}
}

// changed answers protocol.PathChanged: what changed under each sync root since the given moment. It
// walks the roots (no link is followed) and hashes only those files; it holds busy like a manifest
// scan, so no update is half-written while it looks.
func (s *Server) changed(w http.ResponseWriter, r *http.Request) {
	var since int64
	raw, have := r.URL.Query().Get("since"), r.URL.Query().Has("since")
	if have {
		var err error
		if since, err = strconv.ParseInt(raw, 10, 64); err != nil {
			http.Error(w, fmt.Sprintf("since %q is not a time in unix nanoseconds", raw), http.StatusBadRequest)
			return
		}
	}
	if !s.acquire(w, r) {
		return
	}
	defer s.release()
	c := protocol.Changed{Now: time.Now().UnixNano()}
	for i := range s.cfg.Roots {
		if !have {
			break
		}
		entries, err := changedUnder(s.cfg.Roots[i], since)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		c.Roots = append(c.Roots, protocol.RootManifest{Root: i, To: s.cfg.To[i], Entries: entries})
	}
	s.reply(w, "changed files", c)
}

// changedUnder lists the regular files and directories under root whose ctime is since or later.
// What vanishes during the walk is left out.
func changedUnder(root string, since int64) ([]tree.Entry, error) {
	var out []tree.Entry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil && p == root:
			return err
		case err != nil, p == root, !d.IsDir() && !d.Type().IsRegular():
			return nil
		}
		fi, err := d.Info()
		if err != nil || changeTime(fi) < since {
			return nil //nolint:nilerr // gone since the directory was read: nothing changed to report
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		// an entry that vanished or changed type since the directory was read is left out, as above
		if e, err := tree.Stat(p, filepath.ToSlash(rel)); err == nil && e.Kind != "" {
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// openRegular opens rel inside root when it is a regular file, not a link: a FIFO a step left there
// would block the open; the check after opening catches a file swapped in between.
func openRegular(root *os.Root, rel string) (*os.File, error) {
	st, err := root.Lstat(rel)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errNotRegular
	}
	return root.Open(rel)
}

var errNotRegular = errors.New("not a regular file")

// countRuns counts each `run` command that ends (protocol.Status.Runs), so `up` learns that the sync
// roots may hold files its download patterns name.
func (s *Server) countRuns(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			s.statusMu.Lock()
			s.status.Runs++
			s.statusMu.Unlock()
		}()
		next(w, r)
	}
}
