package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/app"
)

// binary is the plinth executable built once for the tests in this package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "plinth-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "plinth")
	build := exec.Command("go", "build", "-tags", "migrated_fynedo", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build plinth:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	code        int
	out, stderr string
}

// plinth runs the real binary with a Debian-container locale, the case in
// which Fyne would otherwise print to stderr at start-up.
func plinth(t *testing.T, env []string, stdin string, args ...string) proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "LC_ALL=", "DISPLAY=")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return proc{code, out.String(), errb.String()}
}

// The "done when": init and status --json on an empty folder, and a
// second process getting the one-sentence error while the first holds the lock.
func TestInitStatusAndSecondProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "office data")
	p := plinth(t, []string{"PLINTH_PASSWORD=master password"}, "", "-data", dir, "init")
	if p.code != 0 || p.stderr != "" {
		t.Fatalf("plinth init = %+v", p)
	}
	p = plinth(t, nil, "", "-data", dir, "status", "--json")
	if p.code != 0 || p.stderr != "" {
		t.Fatalf("plinth status --json = %+v", p)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(p.out), &st); err != nil {
		t.Fatalf("status --json printed no single JSON object: %v\n%s", err, p.out)
	}
	if st["dataFolder"] != dir || st["users"] != float64(1) || st["initialised"] != true {
		t.Fatalf("status = %v", st)
	}

	// PLINTH_DATA chooses the folder when -data is not given.
	p = plinth(t, []string{"PLINTH_DATA=" + dir}, "", "status")
	if p.code != 0 || !strings.Contains(p.out, dir) {
		t.Fatalf("status with PLINTH_DATA = %+v", p)
	}

	// This test process holds the lock; the binary is the second process.
	a, err := app.Open(context.Background(), app.Config{DataDir: dir, MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	p = plinth(t, nil, "", "-data", dir, "status")
	_ = a.Close()
	if want := "Plinth is already running with data folder " + dir + ", and it did not answer"; p.code != 1 || !strings.HasPrefix(p.stderr, want) ||
		strings.Count(p.stderr, "\n") != 1 || p.out != "" {
		t.Fatalf("second process = %+v, want exit 1 and one sentence starting %q", p, want)
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		code int
		err  string // first line of stderr, "" for none
	}{
		{[]string{"-data", dir, "version"}, 0, ""},
		{[]string{"-data", dir, "help"}, 0, ""},
		{[]string{"-data", dir, "status"}, 1, "Data folder " + dir + " is not set up yet; run 'plinth init' or start the window to set it up"},
		{[]string{"-data", dir, "status", "extra"}, 2, "Status takes no arguments"},
		{[]string{"-data", dir, "nonsense"}, 2, `Unknown command "nonsense"; 'plinth help' lists the commands`},
		{[]string{"-no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
	}
	for _, tt := range tests {
		p := plinth(t, nil, "", tt.args...)
		first, _, _ := strings.Cut(p.stderr, "\n")
		if p.code != tt.code || first != tt.err {
			t.Errorf("plinth %v = code %d stderr %q; want %d %q", tt.args, p.code, p.stderr, tt.code, tt.err)
		}
	}
}

// mustRun returns a function that runs plinth on the data folder dir with
// env and fails the test unless it exits 0.
func mustRun(t *testing.T, dir string, env []string) func(args ...string) proc {
	return func(args ...string) proc {
		t.Helper()
		p := plinth(t, env, "", append([]string{"-data", dir}, args...)...)
		if p.code != 0 {
			t.Fatalf("plinth %s: exit %d: %s%s", strings.Join(args, " "), p.code, p.stderr, p.out)
		}
		return p
	}
}

// jsonOf decodes a command's --json output into v.
func jsonOf(t *testing.T, p proc, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(p.out), v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, p.out)
	}
}
