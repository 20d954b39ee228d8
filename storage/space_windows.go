//go:build windows

package storage

import (
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// Space reports the size of the disk holding dir and how much of it is
// free for Plinth, in bytes.
func Space(dir string) (total, free uint64, err error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, 0, err
	}
	var avail, tot, totFree uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &tot, &totFree); err != nil {
		return 0, 0, fmt.Errorf("free space of %s: %w", dir, err)
	}
	return tot, avail, nil
}

// DiskID names the disk (volume) holding dir.
func DiskID(dir string) string {
	if v := filepath.VolumeName(dir); v != "" {
		return strings.ToUpper(v)
	}
	return dir
}
