//go:build unix

package datadir

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

const isWindows = false

// lockDir is LockDir: the move takes the lock a running Plinth takes.
func lockDir(dir string) (*os.File, bool, error) { return LockDir(dir) }

// LockDir locks a data folder itself with flock: package app holds a
// folder this way while it runs, and a move takes the same lock, so the
// two can never both have the folder. ok is false when another process
// holds it. (Windows cannot lock a folder; the lock file does there.)
func LockDir(dir string) (*os.File, bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, false, fmt.Errorf("lock data folder %s: %w", dir, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	switch {
	case err == nil:
		return f, true, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		_ = f.Close()
		return nil, false, nil
	}
	_ = f.Close()
	return nil, false, fmt.Errorf("lock data folder %s: %w", dir, err)
}

// crossDevice reports whether a rename failed because its two paths lie
// on different file systems.
func crossDevice(err error) bool { return errors.Is(err, syscall.EXDEV) }

// errCrossDevice is what a rename across file systems fails with (tests).
var errCrossDevice error = syscall.EXDEV
