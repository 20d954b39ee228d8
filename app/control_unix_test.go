//go:build unix

package app

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// The endpoint is the folder owner's alone: the socket file is 0600, and
// another OS user cannot connect even when the data folder is opened up.
func TestOtherUserCannotConnect(t *testing.T) {
	dir := initialised(t)
	holding(t, dir, Holder{})
	fi, err := os.Stat(socketPath(dir))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("control endpoint: %v, mode %v", err, fi.Mode())
	}
	if os.Getuid() != 0 {
		t.Skip("connecting as a second user needs root to switch users")
	}
	// Run this test binary as nobody, from a folder nobody can read.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "dial.test")
	raw, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	for p := filepath.Dir(bin); p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		_ = os.Chmod(p, 0o755)
	}
	dial := func() (int, string) {
		cmd := exec.Command(bin, "-test.run", "^TestDialAsAnotherUser$")
		cmd.Env = []string{"PLINTH_TEST_DIAL=" + socketPath(dir)}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	// As Plinth makes the folder (0700): nobody cannot even reach it.
	if code, out := dial(); code != 4 {
		t.Fatalf("another user dialling the endpoint: exit %d (4 is refused): %s", code, out)
	}
	// An admin opened the folder up: the socket's own mode still refuses.
	for p := dir; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		_ = os.Chmod(p, 0o755)
	}
	if code, out := dial(); code != 4 {
		t.Fatalf("another user dialling the endpoint of an opened-up folder: exit %d (4 is refused): %s", code, out)
	}
}

// TestDialAsAnotherUser is the child of TestOtherUserCannotConnect: it
// exits 3 if it could connect, 4 if refused.
func TestDialAsAnotherUser(t *testing.T) {
	p := os.Getenv("PLINTH_TEST_DIAL")
	if p == "" {
		t.Skip("runs as the child of TestOtherUserCannotConnect")
	}
	conn, err := net.Dial("unix", p)
	if err == nil {
		_, _, ferr := readFrame(bufio.NewReader(conn))
		fmt.Println("connected; hello:", ferr)
		os.Exit(3)
	}
	fmt.Println(err)
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
		os.Exit(4)
	}
	os.Exit(5)
}
