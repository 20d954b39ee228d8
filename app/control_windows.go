//go:build windows

package app

import "os"

// privateDir makes dir, in the user's own temporary folder, which only
// the user (and administrators) can enter.
func privateDir(dir string) error { return os.MkdirAll(dir, 0o700) }
