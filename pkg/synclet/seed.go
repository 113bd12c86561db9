package synclet

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Install copies the running synclet binary to dest (in the shared emptyDir), read-only (0555): the
// sidecar and the app container mount that volume read-only besides. The run directory is the seed
// container's to make, as the app's user (privateDir).
func Install(dest string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the synclet binary to install: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	if err := copyFile(self, dest, 0o555); err != nil {
		return fmt.Errorf("installing synclet: %w", err)
	}
	return installDelve(self, filepath.Dir(dest)) // for `up --debug` (debug.go)
}

// Seed copies what the image has under src into dst (an emptyDir that is then mounted over src), so
// mounting the sync volume hides nothing the image had. It runs once per pod: marker records that it
// ran, because the emptyDir (with synced edits) outlives a rerun of the init container.
func Seed(src, dst, marker string) error {
	if err := privateDir(filepath.Dir(marker)); err != nil {
		return err
	}
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	fi, err := os.Stat(src)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// the image has nothing there: the first sync brings everything
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("sync target %s is a file in the image, not a directory: sync its parent directory instead", src)
	default:
		if err := copyTree(src, dst); err != nil {
			return fmt.Errorf("seeding %s: %w", src, err)
		}
	}
	return os.WriteFile(marker, nil, 0o644)
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil // dst is the volume itself: its owner and mode are the kubelet's
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			return os.Chmod(target, info.Mode().Perm())
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			// a seed cut short (the init container killed, the node rebooted) left this link behind;
			// the rerun, which has no marker yet, must not fail on it forever
			if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			if err := copyFile(p, target, info.Mode().Perm()); err != nil {
				if errors.Is(err, fs.ErrPermission) {
					fmt.Fprintf(os.Stderr, "seed: skipping %s: not readable by the app's user\n", p)
					return nil
				}
				return err
			}
		}
		return nil
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".fastdev-seed.tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
