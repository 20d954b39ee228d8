//go:build unix

package storage

import "syscall"

func errNo(name string) error {
	return map[string]syscall.Errno{"ENOSPC": syscall.ENOSPC, "EACCES": syscall.EACCES, "EROFS": syscall.EROFS}[name]
}
