//go:build windows

package datadir

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

const isWindows = true

// lockDir does nothing on Windows: a folder cannot be locked there (the
// lock file is held instead). It still says whether the folder is there.
func lockDir(dir string) (*os.File, bool, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, false, fmt.Errorf("lock data folder %s: %w", dir, err)
	}
	return nil, true, nil
}

// crossDevice reports whether a rename failed because its two paths lie
// on different volumes.
func crossDevice(err error) bool { return errors.Is(err, windows.ERROR_NOT_SAME_DEVICE) }

// errCrossDevice is what a rename across volumes fails with (tests).
var errCrossDevice error = windows.ERROR_NOT_SAME_DEVICE
