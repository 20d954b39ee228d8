package storage

import "golang.org/x/sys/windows"

// errNo is the Windows error a Unix errno name stands for in tests.
func errNo(name string) error {
	return map[string]windows.Errno{
		"ENOSPC": windows.ERROR_DISK_FULL,
		"EACCES": windows.ERROR_ACCESS_DENIED,
		"EROFS":  windows.ERROR_WRITE_PROTECT,
	}[name]
}
