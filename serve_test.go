package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// 'plinth serve' as a child process, as a service manager starts it: a
// scheduled backup fires, commands from other processes are forwarded to
// it, and SIGTERM (the manager's stop) closes the stores cleanly.
func TestServeChildProcess(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows stops a service with a service control request, not SIGTERM")
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "office data")
	env := []string{"PLINTH_PASSWORD=master password"}
	cli := mustRun(t, dir, env)
	cli("init")

	serve := exec.Command(binary, "-data", dir, "serve")
	serve.Env = append(os.Environ(), "LANG=C.UTF-8", "LC_ALL=", "DISPLAY=")
	var stderr lockedBuffer
	serve.Stderr = &stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	var exitErr error
	exited := make(chan struct{}) // closed once exitErr is set
	go func() { exitErr = serve.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = serve.Process.Kill()
		<-exited
	})
	sock := filepath.Join(dir, "plinth.sock")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		select {
		case <-exited:
			t.Fatalf("plinth serve ended at start: %v; stderr %s", exitErr, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("plinth serve opened no control endpoint within 20 s; stderr %s", stderr.String())
		}
	}

	// Commands run inside plinth serve: it holds the folder, so no other
	// process could open it.
	var st struct {
		DataFolder  string `json:"dataFolder"`
		Initialised bool   `json:"initialised"`
	}
	jsonOf(t, cli("status", "--json"), &st)
	if st.DataFolder != dir || !st.Initialised {
		t.Fatalf("status --json forwarded to plinth serve = %+v", st)
	}
	if p := cli("user", "list"); !strings.Contains(p.out, "masteradmin") {
		t.Fatalf("user list forwarded to plinth serve = %+v", p)
	}

	// A full backup scheduled for the next minute fires.
	at := time.Now().Add(time.Minute)
	if at.Second() > 45 {
		at = at.Add(time.Minute)
	}
	if p := cli("backup", "schedule", "daily", at.Format("15:04")); !strings.Contains(p.out, "the next one starts") {
		t.Fatalf("backup schedule = %+v", p)
	}
	backups := func() int {
		var l struct{ Backups []struct{ ID string } }
		jsonOf(t, cli("backups", "--json"), &l)
		return len(l.Backups)
	}
	deadline := at.Truncate(time.Minute).Add(60 * time.Second) // the scheduled minute + 60 s
	for backups() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled backup by %s; stderr %s", deadline.Format("15:04:05"), stderr.String())
		}
		time.Sleep(2 * time.Second)
	}

	// SIGTERM: the stores close, the endpoint goes, the exit is clean.
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if exitErr != nil {
			t.Fatalf("plinth serve after SIGTERM: %v; stderr %s", exitErr, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("plinth serve still runs 30 s after SIGTERM")
	}
	log, err := os.ReadFile(filepath.Join(dir, "logs", "plinth.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "msg=closed") {
		t.Errorf("the log ends with %q, not a clean close", last)
	}
	if opened, closed := strings.Count(string(log), "msg=opening"), strings.Count(string(log), "msg=closed"); opened != closed {
		t.Errorf("the log shows %d opens and %d clean closes", opened, closed)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the control endpoint is left behind: %v", err)
	}
	// The folder is free again: a headless command opens it.
	cli("user", "list")
}

// lockedBuffer is a child's output, read while the child writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
