//go:build windows

package app

import "os"

// lockDir does nothing on Windows: a folder cannot be locked there, and
// the lock file, held open, cannot be deleted.
func lockDir(string) (*os.File, bool, error) { return nil, true, nil }
