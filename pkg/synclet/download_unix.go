//go:build unix

package synclet

import (
	"io/fs"
	"syscall"
)

// changeTime is when fi's status last changed (ctime, unix nanoseconds): a tool can set a file's mtime
// back (cp -p, tar), never its ctime.
func changeTime(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ctim.Nano()
	}
	return fi.ModTime().UnixNano()
}
