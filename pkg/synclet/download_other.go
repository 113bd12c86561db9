//go:build !unix

package synclet

import "io/fs"

// changeTime is the modification time where the platform keeps no ctime.
func changeTime(fi fs.FileInfo) int64 { return fi.ModTime().UnixNano() }
