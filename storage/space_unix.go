//go:build unix

package storage

import (
	"fmt"
	"syscall"
)

// Space reports the size of the disk holding dir and how much of it is
// free for Plinth, in bytes.
func Space(dir string) (total, free uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("free space of %s: %w", dir, err)
	}
	return uint64(st.Blocks) * uint64(st.Bsize), uint64(st.Bavail) * uint64(st.Bsize), nil
}

// DiskID names the disk (device) holding dir, so that places on one disk
// can be told about together.
func DiskID(dir string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return dir
	}
	return fmt.Sprint(st.Dev)
}
