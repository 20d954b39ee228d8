//go:build unix

package app

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockDir locks the data folder itself with flock. ok is false when
// another process holds it.
func lockDir(dataDir string) (*os.File, bool, error) {
	f, err := os.Open(dataDir)
	if err != nil {
		return nil, false, fmt.Errorf("lock data folder %s: %w", dataDir, err)
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
	return nil, false, fmt.Errorf("lock data folder %s: %w", dataDir, err)
}
