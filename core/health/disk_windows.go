//go:build windows

package health

import (
	"fmt"
	"strings"

	"golang.org/x/sys/windows"
)

// diskOf names the volume holding path ("C:\", a mounted folder's volume,
// or a share's root), so that two places on one disk can be told apart
// from places on two. Unlike storage.DiskID it says when it cannot tell:
// an unreadable place is never taken for one on a disk of its own.
func diskOf(path string) (string, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return "", fmt.Errorf("find the disk of %s: %w", path, err)
	}
	buf := make([]uint16, max(windows.MAX_PATH, len(path)+2))
	if err := windows.GetVolumePathName(p, &buf[0], uint32(len(buf))); err != nil {
		return "", fmt.Errorf("find the disk of %s: %w", path, err)
	}
	return strings.ToUpper(windows.UTF16ToString(buf)), nil
}
