//go:build unix

package state

import (
	"errors"
	"syscall"
)

// ProcessAlive reports whether a process with this pid runs on this machine (EPERM: it does, as
// another user).
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
