package devloop

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sync"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// downloadResult is what saveDownload did with a file from the pod.
type downloadResult int

const (
	alreadyLocal downloadResult = iota // the local file already has the pod's content
	downloaded                         // written over the local file, which was as last synced
	conflicted                         // the local file changed since: the pod's is beside it
)

// downloads serializes the writes of a Deployment's pod workers into its local tree: with several
// replicas, the first pod that reports a file writes it and the others find it there.
type downloads struct{ mu sync.Mutex }

// saveDownload writes body, the pod's content of entry e under root i, into the local tree. The local
// file is replaced only when it is as it was last synced with the pod (last, when synced) or absent
// and never synced; otherwise the pod's version goes beside it (rules.ConflictSuffix). The file is
// written to a temporary name and renamed into place; nothing is followed out of the root (os.Root),
// and no parent may be a symlink. podDirs gives the pod's directories, whose modes new local ones take.
func (l *local) saveDownload(i int, e tree.Entry, body []byte, last tree.Entry, synced bool, podDirs tree.Manifest) (downloadResult, error) {
	l.down.mu.Lock()
	defer l.down.mu.Unlock()
	root, err := os.OpenRoot(l.roots[i].dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	cur, exists, err := localFile(root, e.Path)
	if err != nil {
		return 0, err
	}
	result, target := downloaded, e.Path
	switch {
	case exists && cur.Kind == tree.File && cur.Hash == e.Hash:
		return alreadyLocal, nil
	case !exists && !synced, exists && synced && cur.Kind == tree.File && cur.Hash == last.Hash:
		// as last synced: the pod's version replaces it
	default:
		result, target = conflicted, e.Path+rules.ConflictSuffix
	}
	if err := makeParents(root, target, podDirs); err != nil {
		return 0, err
	}
	if err := writeAtomic(root, target, body, e.Mode.Perm()); err != nil {
		return 0, err
	}
	if result == downloaded {
		// the manifest holds it before the watcher's event comes: that event then finds nothing to send
		if err := l.rescan(i, []string{e.Path}); err != nil {
			return 0, err
		}
	}
	return result, nil
}

// localFile reads what the local tree has at rel, without following a final symlink.
func localFile(root *os.Root, rel string) (tree.Entry, bool, error) {
	st, err := root.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return tree.Entry{}, false, nil
	}
	if err != nil {
		return tree.Entry{}, false, err
	}
	if !st.Mode().IsRegular() {
		return tree.Entry{Path: rel, Kind: tree.Symlink}, true, nil // not a file: never replaced
	}
	f, err := root.Open(rel)
	if err != nil {
		return tree.Entry{}, false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return tree.Entry{}, false, err
	}
	e := tree.Entry{Path: rel, Kind: tree.File, Mode: tree.LocalMode(st.Mode(), runtime.GOOS), Size: st.Size()} // as the local scan records it
	copy(e.Hash[:], h.Sum(nil))
	return e, true, nil
}

// makeParents creates the missing directories above rel with the pod's modes (so the new directory
// is not sent back as a mode change), and refuses a parent that is a symlink or not a directory.
func makeParents(root *os.Root, rel string, podDirs tree.Manifest) error {
	dir := path.Dir(rel)
	if dir == "." {
		return nil
	}
	if err := makeParents(root, dir, podDirs); err != nil {
		return err
	}
	st, err := root.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		mode := fs.FileMode(0o755)
		if d, ok := podDirs[dir]; ok && d.Kind == tree.Dir {
			mode = d.Mode.Perm() | 0o700
		}
		if err := root.Mkdir(dir, mode); err != nil {
			return err
		}
		return root.Chmod(dir, mode) // Mkdir's mode went through the umask
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("%s is not a directory here (a symlink or a file): the download is not written through it", dir)
	}
	return nil
}

// writeAtomic writes body to rel through a temporary file in the same directory and a rename, so a
// reader (an editor, a build) sees the old file or the new one, never half of it.
func writeAtomic(root *os.Root, rel string, body []byte, mode fs.FileMode) error {
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := path.Join(path.Dir(rel), ".fastdev-download-"+hex.EncodeToString(rnd[:]))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(body)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, rel)
	}
	if err != nil {
		if rerr := root.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return fmt.Errorf("%w (and %s is left behind: %v)", err, tmp, rerr)
		}
		return err
	}
	return nil
}
