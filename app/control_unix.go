//go:build unix

package app

import (
	"fmt"
	"os"
	"syscall"
)

// restrictSocket lets only the owner connect: connecting needs write
// permission on the socket file.
func restrictSocket(path string) error { return os.Chmod(path, 0o600) }

// privateDir makes dir (the socket's folder when the data folder's path
// is too long for a socket) a folder only this user can enter.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s is not a folder of this user", dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}
