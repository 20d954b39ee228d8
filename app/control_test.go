package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/account"
)

// holding opens dir as the running Plinth does and serves its control
// endpoint; quits counts the holder's Quit calls.
func holding(t *testing.T, dir string, h Holder) *App {
	t.Helper()
	a, err := Open(context.Background(), Config{DataDir: dir, MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.StartBackground(nil); err != nil {
		t.Fatal(err)
	}
	if h.Kind == "" {
		h.Kind = "the test holder"
	}
	if err := a.ServeControl(h); err != nil {
		_ = a.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	// The checks every start runs once have finished.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		idle := true
		for _, j := range a.Scheduler.Jobs() {
			idle = idle && !j.Running && (j.Name != "filesync.detect" || j.Runs > 0)
		}
		if idle {
			break
		}
	}
	return a
}

// stamps are the times in JSON output: they differ from run to run.
var stamps = regexp.MustCompile(`"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)"`)

func someFiles(t *testing.T, n, size int) string {
	t.Helper()
	src := t.TempDir()
	for i := range n {
		b := make([]byte, size)
		_, _ = rand.Read(b)
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("model-%03d.ifc", i)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// Commands sent to the running Plinth print what they print headless,
// byte for byte, and exit with the same codes.
func TestForwardedCommandsMatchHeadless(t *testing.T) {
	dir := initialised(t)
	if r := run(t, dir, master, "", "import", "--to", "Projects/Tower", someFiles(t, 3, 1000)); r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	cmds := [][]string{
		{"user", "list", "--json"},
		{"ls", "Projects/Tower", "--json"},
		{"check", "--json"},
		{"versions", "Projects/Tower/model-001.ifc", "--json"},
		{"ls", "Projects/Nowhere"},
		{"user", "role", "nobody"},
		{"status", "--bogus"},
	}
	headless := make([]result, len(cmds))
	for i, args := range cmds {
		headless[i] = run(t, dir, master, "", args...)
	}
	holding(t, dir, Holder{})
	for i, args := range cmds {
		got := run(t, dir, master, "", args...)
		got.out, headless[i].out = stamps.ReplaceAllString(got.out, `"TIME"`), stamps.ReplaceAllString(headless[i].out, `"TIME"`)
		if got != headless[i] {
			t.Errorf("%v\nforwarded: %+v\nheadless:  %+v", args, got, headless[i])
		}
	}
	// status reads the same stores through the running Plinth.
	r := run(t, dir, nil, "", "status", "--json")
	var st Status
	if err := json.Unmarshal([]byte(r.out), &st); r.code != 0 || err != nil || st.DataFolder != dir || !st.Initialised {
		t.Fatalf("forwarded status --json = %+v (%v)", r, err)
	}
}

// The caller's password sources travel with the command: the terminal
// prompt and -password-stdin are the caller's, not the holder's.
func TestForwardedCommandAsksOnTheCallersTerminal(t *testing.T) {
	dir := initialised(t)
	holding(t, dir, Holder{})
	var asked []string
	var out, errb bytes.Buffer
	code := RunCommand(context.Background(), Global{DataDir: dir}, []string{"user", "list"}, IO{
		In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" },
		Prompt: func(p string) (string, error) { asked = append(asked, p); return "master password", nil },
	})
	if code != 0 || len(asked) != 1 || asked[0] != "Password for masteradmin: " || !strings.Contains(out.String(), "masteradmin") {
		t.Fatalf("prompted login: code %d, asked %q, out %q, err %q", code, asked, out.String(), errb.String())
	}
	r := run(t, dir, nil, "master password\n", "-password-stdin", "user", "list")
	if r.code != 0 || !strings.Contains(r.out, "masteradmin") {
		t.Fatalf("-password-stdin over the endpoint: %+v", r)
	}
	r = run(t, dir, nil, "", "user", "list")
	if r.code != 1 || !strings.Contains(r.err, "No password given: set PLINTH_PASSWORD") {
		t.Fatalf("no password source over the endpoint: %+v", r)
	}
}

// Wrong passwords sent to the running Plinth count toward the same
// lockout as the window's and the headless commands'.
func TestForwardedWrongPasswordCountsTowardLockout(t *testing.T) {
	dir := initialised(t)
	holding(t, dir, Holder{})
	wrong := map[string]string{"PLINTH_PASSWORD": "not the password"}
	for i := range account.MaxFailedLogins {
		r := run(t, dir, wrong, "", "user", "list")
		if r.code != 1 || r.out != "" {
			t.Fatalf("wrong password %d: %+v", i+1, r)
		}
	}
	r := run(t, dir, master, "", "user", "list")
	if r.code != 1 || !strings.Contains(r.err, "locked for") {
		t.Fatalf("right password after %d wrong ones = %+v, want the lockout", account.MaxFailedLogins, r)
	}
}

// Ctrl+C on a command running in the holder stops it there with exit
// code 130, and a full backup stopped part-way leaves nothing behind.
func TestCtrlCCancelsForwardedBackup(t *testing.T) {
	dir := initialised(t)
	if r := run(t, dir, master, "", "import", "--to", "Projects/Big", someFiles(t, 24, 8<<20)); r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	a := holding(t, dir, Holder{})
	before, err := a.Backups.List()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- RunCommand(ctx, Global{DataDir: dir}, []string{"backup", "--level", "2", "--json"},
			IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(k string) string { return master[k] }})
	}()
	waitRunning(t, a, "backup")
	time.Sleep(30 * time.Millisecond)
	cancel()
	var code int
	select {
	case code = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the forwarded backup did not stop within a minute of Ctrl+C")
	}
	if code != ExitInterrupted || out.Len() != 0 || !strings.Contains(errb.String(), "Stopped") {
		t.Fatalf("Ctrl+C on a forwarded backup: code %d, out %q, err %q", code, out.String(), errb.String())
	}
	after, err := a.Backups.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("a cancelled backup left a backup behind: %d before, %d after", len(before), len(after))
	}
	// Nothing half-written lies in the target either.
	l2, _ := a.Backups.Level2()
	var leftovers []string
	_ = filepath.WalkDir(l2.Target, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".lock") && filepath.Base(p) != "format.json" {
			leftovers = append(leftovers, p)
		}
		return nil
	})
	if len(leftovers) > 0 {
		t.Fatalf("the cancelled backup left files in the target: %v", leftovers)
	}
	// And the holder goes on: the next command works.
	if r := run(t, dir, master, "", "user", "list"); r.code != 0 {
		t.Fatalf("after the cancel: %+v", r)
	}
}

func waitRunning(t *testing.T, a *App, name string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		a.control.mu.Lock()
		var found bool
		for _, n := range a.control.running {
			found = found || n == name
		}
		a.control.mu.Unlock()
		if found {
			return
		}
	}
	t.Fatalf("%q never ran in the holder", name)
}

// A caller that goes away (its terminal closed, the process killed)
// cancels its command in the holder.
func TestDroppedConnectionCancelsTheCommand(t *testing.T) {
	dir := initialised(t)
	if r := run(t, dir, master, "", "import", "--to", "Projects/Big", someFiles(t, 24, 8<<20)); r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	a := holding(t, dir, Holder{})
	conn, br, err := dialHolder(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(request{Protocol: controlProtocol, Args: []string{"backup", "--level", "2"}, User: "masteradmin",
		Env: map[string]string{"PLINTH_PASSWORD": "master password"}})
	if err := writeFrame(conn, frameRequest, body); err != nil {
		t.Fatal(err)
	}
	_ = br
	waitRunning(t, a, "backup")
	_ = conn.Close()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		a.control.mu.Lock()
		n := len(a.control.running)
		a.control.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the command of a caller that went away still runs after a minute")
		}
	}
	list, err := a.Backups.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("the backup of a caller that went away finished anyway: %d backups", len(list))
	}
	log, _ := os.ReadFile(filepath.Join(dir, "logs", "plinth.log"))
	if !strings.Contains(string(log), "command=backup user=masteradmin exit=130") {
		t.Fatalf("the log does not say the backup was stopped:\n%s", log)
	}
}

// plinth quit closes the holder; while work runs it refuses and says
// what runs, unless forced.
func TestQuitAsksWhileBusy(t *testing.T) {
	dir := initialised(t)
	var quits atomic.Int32
	var busy atomic.Bool
	busy.Store(true)
	holding(t, dir, Holder{Quit: func() { quits.Add(1) }, Busy: func() []string {
		if busy.Load() {
			return []string{"restore of backup 20261201-020000-abcdef (in the window)"}
		}
		return nil
	}})
	shortPatience(t)
	r := run(t, dir, nil, "", "quit")
	if r.code != 1 || !strings.Contains(r.err, "Plinth is busy with restore of backup 20261201-020000-abcdef (in the window); run 'plinth quit' again when that has finished, or 'plinth quit --force'") || quits.Load() != 0 {
		t.Fatalf("quit while busy = %+v, quits %d", r, quits.Load())
	}
	// Forced: the holder is told to close (this test holder does not
	// let go of the folder, so the caller says it is still closing).
	old := releaseWait
	releaseWait = 200 * time.Millisecond
	defer func() { releaseWait = old }()
	r = run(t, dir, nil, "", "quit", "--force")
	if r.code != 0 || !strings.Contains(r.out, "Stopping restore of backup") || !strings.Contains(r.out, "is closing") {
		t.Fatalf("quit --force = %+v", r)
	}
	for deadline := time.Now().Add(5 * time.Second); quits.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if quits.Load() != 1 {
		t.Fatalf("the holder was asked to quit %d times", quits.Load())
	}
}

// plinth quit with nothing running says so; plinth serve then quit
// closes cleanly and lets the next command run headless.
func TestServeAndQuit(t *testing.T) {
	dir := initialised(t)
	r := run(t, dir, nil, "", "quit")
	if r.code != 1 || !strings.Contains(r.err, "Plinth is not running with data folder "+dir+"; there is nothing to quit") {
		t.Fatalf("quit with nothing running = %+v", r)
	}
	served := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		code := RunCommand(context.Background(), Global{DataDir: dir}, []string{"serve"}, IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }})
		served <- result{code, out.String(), errb.String()}
	}()
	var st result
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(socketPath(dir)); err == nil {
			break
		}
	}
	st = run(t, dir, master, "", "user", "list")
	if st.code != 0 || !strings.Contains(st.out, "masteradmin") {
		t.Fatalf("user list while plinth serve runs = %+v", st)
	}
	if r := run(t, dir, nil, "", "quit"); r.code != 0 || r.out != "Plinth (plinth serve) is closing.\n" {
		t.Fatalf("quit = %+v", r)
	}
	// quit returns once the folder is free: a headless command runs at once.
	if r := run(t, dir, master, "", "user", "list"); r.code != 0 {
		t.Fatalf("user list right after quit = %+v", r)
	}
	select {
	case s := <-served:
		if s.code != 0 || !strings.Contains(s.err, "Plinth is serving data folder "+dir) {
			t.Fatalf("serve = %+v", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after quit")
	}
	if _, err := os.Stat(socketPath(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the control endpoint is left behind: %v", err)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "logs", "plinth.log"))
	if !strings.Contains(string(log), "msg=closed") {
		t.Fatal("the log does not show a clean close")
	}
}

// A data folder deep enough that its socket path would not fit in a
// socket address gets its endpoint in a private folder.
func TestLongDataFolderPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("a-very-long-folder-name-", 4), "Plinth data")
	if r := run(t, dir, master, "", "init"); r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	holding(t, dir, Holder{})
	p := socketPath(dir)
	if filepath.Dir(p) == dir || len(p) > maxSocketPath {
		t.Fatalf("socket path for a long folder = %s", p)
	}
	fi, err := os.Stat(filepath.Dir(p))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket folder %s: %v, mode %v", filepath.Dir(p), err, fi.Mode())
	}
	if r := run(t, dir, master, "", "user", "list"); r.code != 0 {
		t.Fatalf("user list over the endpoint of a long folder = %+v", r)
	}
}

// Every command answers --help with its usage and flags, exits 0 and
// touches no data folder; plinth help COMMAND says the same.
func TestEveryCommandAnswersHelp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not here")
	for _, cmd := range commands {
		args := append(strings.Fields(cmd.name), "--help")
		r := run(t, dir, nil, "", args...)
		want := "usage: plinth " + strings.TrimSpace(cmd.name+" "+cmd.args) + "\n"
		if r.code != 0 || !strings.HasPrefix(r.out, want) || r.err != "" {
			t.Errorf("plinth %s --help = %+v", cmd.name, r)
			continue
		}
		if cmd.name == "help" {
			continue
		}
		h := run(t, dir, nil, "", append([]string{"help"}, strings.Fields(cmd.name)...)...)
		if h != r {
			t.Errorf("plinth help %s = %+v, want what --help says", cmd.name, h)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("--help created the data folder")
	}
	if r := run(t, dir, nil, "", "help", "no-such-command"); r.code != 2 {
		t.Fatalf("help of an unknown command = %+v", r)
	}
}

// Ctrl+C before or during a headless command ends it with 130 and one
// sentence.
func TestCtrlCExits130(t *testing.T) {
	dir := initialised(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := RunCommand(ctx, Global{DataDir: dir}, []string{"backup", "--level", "2"},
		IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(k string) string { return master[k] }})
	if code != ExitInterrupted || strings.Count(errb.String(), "\n") != 1 || !strings.HasPrefix(errb.String(), "Stopped") {
		t.Fatalf("Ctrl+C = code %d, out %q, err %q", code, out.String(), errb.String())
	}
}

// Plinth started a second time: a window in the tray comes forward; a
// plinth serve has no window and says why, in the words the second
// window shows.
func TestSecondStartShowsTheRunningWindow(t *testing.T) {
	dir := initialised(t)
	var shown atomic.Int32
	holding(t, dir, Holder{Show: func() error { shown.Add(1); return nil }})
	code, err := showRunning(context.Background(), Global{DataDir: dir}, 0)
	if err != nil || code != ExitOK || shown.Load() != 1 {
		t.Fatalf("second start beside a window: %d, %v, shown %d", code, err, shown.Load())
	}
	// Started at login while Plinth runs already: nothing is shown.
	if code, err := showRunning(context.Background(), Global{DataDir: dir, Background: true}, 0); err != nil || code != ExitOK || shown.Load() != 1 {
		t.Fatalf("second start with -background: %d, %v, shown %d", code, err, shown.Load())
	}

	served := initialised(t)
	holding(t, served, Holder{Kind: "plinth serve", Show: func() error { return errServiceHasNoWindow }})
	_, err = showRunning(context.Background(), Global{DataDir: served}, 0)
	if !errors.Is(err, ErrAlreadyRunning) || !strings.HasPrefix(err.Error(), "Plinth is running in the background without a window") ||
		!strings.Contains(err.Error(), "'plinth quit'") {
		t.Fatalf("second start beside plinth serve: %v", err)
	}
	if _, err := showRunning(context.Background(), Global{DataDir: t.TempDir()}, 0); err != errNoAnswer {
		t.Fatalf("nothing running: %v", err)
	}
}

// A command started while another command holds the folder for a moment
// waits for it, then runs on its own.
func TestCommandWaitsForAnotherCommand(t *testing.T) {
	dir := initialised(t)
	a, err := Open(context.Background(), Config{DataDir: dir, MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(time.Second, func() { _ = a.Close() })
	start := time.Now()
	r := run(t, dir, master, "", "user", "list")
	if r.code != 0 || !strings.Contains(r.out, "masteradmin") || time.Since(start) < time.Second {
		t.Fatalf("user list while another command held the folder for a second = %+v after %v", r, time.Since(start))
	}
}
