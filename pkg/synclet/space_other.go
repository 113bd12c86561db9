//go:build !unix

package synclet

func freeBytes(string) int64 { return -1 }
