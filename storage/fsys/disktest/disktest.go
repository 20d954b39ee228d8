// Package disktest gives tests real small disks: a tmpfs mounted at a new
// folder, removed when the test ends, and a way to fill one up. Mounting
// needs root (CI runs as root); elsewhere the test is skipped and says why.
// Only tests import it.
package disktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Mount mounts a tmpfs with the given mount options ("size=30m",
// "size=1m,ro") at a new folder and returns it.
func Mount(t testing.TB, opts string) string {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root on Linux")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// Sized mounts a tmpfs of size bytes (rounded down to KiB).
func Sized(t testing.TB, size int64) string {
	t.Helper()
	return Mount(t, fmt.Sprintf("size=%dk", size>>10))
}

// Fill writes a file into dir until the disk holding it is full.
func Fill(t testing.TB, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for buf := make([]byte, 64<<10); ; {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	_ = f.Close()
}
