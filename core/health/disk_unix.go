//go:build unix

package health

import (
	"fmt"
	"strconv"
	"syscall"
)

// diskOf names the disk (device) holding path, so that two places on one
// disk can be told apart from places on two. Unlike storage.DiskID it
// says when it cannot tell: an unreadable place is never taken for one
// on a disk of its own.
func diskOf(path string) (string, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return "", fmt.Errorf("find the disk of %s: %w", path, err)
	}
	return strconv.FormatUint(uint64(st.Dev), 10), nil // Dev is uint64 on Linux, int32 on macOS
}
