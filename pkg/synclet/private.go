package synclet

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// The run directory holds what the supervisor trusts: its socket and the pending steps it runs before
// starting the app. It is made by the seed container, as the app's user, private to that user (0700),
// and mounted on its own into the sidecar and the app container (the rest of the tools volume is
// read-only there), so no other user of the app container, nor a rename of the directory, can put a
// socket or a pending file of theirs in its place.

// privateDir makes dir a directory of this process's user with mode 0700. An existing one is made
// private again; one that is not a directory, or belongs to another user, is refused (someone else
// made it first: its content cannot be trusted).
func privateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating the run directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("the run directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("the run directory %s is not a directory (%s): delete the pod so that a new one starts clean", dir, fi.Mode().Type())
	}
	if err := ownedByMe(fi); err != nil {
		return fmt.Errorf("the run directory %s: %w: delete the pod so that a new one starts clean", dir, err)
	}
	return os.Chmod(dir, 0o700)
}

// readOwned reads file, refusing a symlink (O_NOFOLLOW), anything but a regular file, and a file of
// another user or one others may write: the supervisor runs what it says. A missing file's error
// wraps fs.ErrNotExist.
func readOwned(file string) ([]byte, error) {
	f, err := openNoFollow(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", file)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("%s may be written by others (mode %04o)", file, fi.Mode().Perm())
	}
	if err := ownedByMe(fi); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return io.ReadAll(io.LimitReader(f, 64<<20))
}

// writeAtomic replaces file with b through a temporary file of a random name created in file's
// directory (O_EXCL, 0600: never one someone else prepared), renamed into place.
func writeAtomic(file string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+"-*.tmp")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(b)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), file)
	}
	if werr != nil {
		// the temporary file is ours and useless now; the write's error is the one to report
		_ = os.Remove(tmp.Name())
	}
	return werr
}
