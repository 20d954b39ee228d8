//go:build windows

package app

import "os"

// restrictSocket: on Windows a socket file takes the access list of its
// folder, the user's own (%LOCALAPPDATA%); chmod would only touch the
// read-only attribute.
func restrictSocket(string) error { return nil }

// privateDir makes dir, in the user's own temporary folder, which only
// the user (and administrators) can enter.
func privateDir(dir string) error { return os.MkdirAll(dir, 0o700) }
