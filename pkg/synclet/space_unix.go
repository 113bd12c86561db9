//go:build unix

package synclet

import "golang.org/x/sys/unix"

// freeBytes returns the bytes an unprivileged writer may still use on the file system holding dir, or
// -1 when it cannot be told. For a memory-backed emptyDir that is the tmpfs size left, which the kubelet
// sets from the volume's sizeLimit.
func freeBytes(dir string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
