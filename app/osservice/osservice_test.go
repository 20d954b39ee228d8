package osservice

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kardianos/service"

	"codeberg.org/plinth/plinth/app/autostart"
)

// The service each OS gets: the same program, arguments and account, and
// the options its manager has for a server.
func TestConfig(t *testing.T) {
	tests := []struct {
		goos, dir, exe, account string
		name, userName          string
		options                 service.KeyValue
		deps                    []string
	}{
		{"linux", "/srv/office data/plinth", "/opt/plinth/bin/plinth", "alice", "plinth", "alice",
			service.KeyValue{"Restart": "on-failure"},
			[]string{"After=network-online.target", "Wants=network-online.target"}},
		{"darwin", "/Users/alice/Library/Application Support/Plinth", "/Applications/Plinth.app/Contents/MacOS/plinth", "alice", "org.plinth.service", "alice",
			service.KeyValue{"RunAtLoad": true, "KeepAlive": true, "LogDirectory": "/Users/alice/Library/Application Support/Plinth/logs"}, nil},
		{"windows", `C:\Users\Office Admin\AppData\Local\Plinth`, `C:\Program Files\Plinth\plinth.exe`, "", "plinth", "",
			service.KeyValue{"StartType": "automatic", "DelayedAutoStart": true, "OnFailure": "restart",
				"OnFailureDelayDuration": "1m", "OnFailureResetPeriod": 86400}, nil},
		{"windows", `D:\Plinth`, `C:\Program Files\Plinth\plinth.exe`, "alice", "plinth", `.\alice`, nil, nil},
		{"windows", `D:\Plinth`, `C:\Program Files\Plinth\plinth.exe`, `OFFICE\alice`, "plinth", `OFFICE\alice`, nil, nil},
	}
	for _, tt := range tests {
		c := configFor(tt.goos, tt.dir, tt.exe, tt.account)
		if c.Name != tt.name || c.DisplayName != "Plinth" || c.Description != Description || c.Executable != tt.exe || c.UserName != tt.userName {
			t.Errorf("%s: config = %+v; want name %q, user %q, program %q", tt.goos, c, tt.name, tt.userName, tt.exe)
		}
		if want := []string{"-data", tt.dir, "serve"}; !reflect.DeepEqual(c.Arguments, want) {
			t.Errorf("%s: arguments = %q, want %q", tt.goos, c.Arguments, want)
		}
		if tt.options != nil && !reflect.DeepEqual(c.Option, tt.options) {
			t.Errorf("%s: options = %v, want %v", tt.goos, c.Option, tt.options)
		}
		if !reflect.DeepEqual(c.Dependencies, tt.deps) {
			t.Errorf("%s: dependencies = %q, want %q", tt.goos, c.Dependencies, tt.deps)
		}
	}
	if Name() != nameFor(runtime.GOOS) || Config("/d", "/p", "u").Name != Name() {
		t.Errorf("Name() = %q on %s", Name(), runtime.GOOS)
	}
}

// systemdSystem is kardianos' systemd, whatever init system this machine has.
func systemdSystem(t *testing.T) service.System {
	t.Helper()
	for _, s := range service.AvailableSystems() {
		if s.String() == Systemd {
			return s
		}
	}
	t.Skipf("kardianos has no %s on %s", Systemd, runtime.GOOS)
	return nil
}

// The unit kardianos writes for the config, rendered by its own Install:
// as a user unit under a temporary HOME, with a stand-in systemctl first
// (and alone) on PATH, so nothing reaches this machine's systemd.
func TestSystemdUnit(t *testing.T) {
	sys := systemdSystem(t)
	home, bin := t.TempDir(), t.TempDir()
	calls := filepath.Join(t.TempDir(), "calls")
	script := "#!/bin/sh\necho \"$@\" >> '" + calls + "'\n"
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("PATH", bin)

	dir := "/srv/office data/Plinth \"main\""
	cfg := Config(dir, "/opt/plinth tools/plinth", "alice")
	cfg.Option["UserService"] = true // the unit goes to $HOME/.config/systemd/user
	s, err := sys.New(idle{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Install(); err != nil {
		t.Fatalf("install the unit under a temporary HOME: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(home, ".config/systemd/user/plinth.service"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "plinth.service"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("unit =\n%s\nwant (testdata/plinth.service)\n%s", got, want)
	}
	log, _ := os.ReadFile(calls)
	for line := range strings.Lines(string(log)) {
		if !strings.Contains(line, "--user") {
			t.Errorf("systemctl called without --user: %q", line)
		}
	}
	// The unit's command line, as systemd reads it, is the config's.
	args, err := unitExecStart(got)
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]string{"/opt/plinth tools/plinth"}, cfg.Arguments...); !reflect.DeepEqual(args, want) {
		t.Errorf("ExecStart = %q, want %q", args, want)
	}
	if d := dataDirOf(args); d != dir {
		t.Errorf("data folder read back = %q, want %q", d, dir)
	}
}

func TestSplitExec(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`/usr/bin/plinth "-data" "/srv/a b" "serve"`, []string{"/usr/bin/plinth", "-data", "/srv/a b", "serve"}},
		{`/opt/x\x20y/plinth "-data" "/srv/say \"hi\"" serve`, []string{"/opt/x y/plinth", "-data", `/srv/say "hi"`, "serve"}},
		{`/p 'single quoted' a\ b  c`, []string{"/p", "single quoted", "a b", "c"}},
	}
	for _, tt := range tests {
		got, err := splitExec(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitExec(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`/p "open`, `/p \`, `/p \x4`} {
		if _, err := splitExec(bad); err == nil {
			t.Errorf("splitExec(%q) took it", bad)
		}
	}
	if _, err := unitExecStart([]byte("[Unit]\nDescription=x\n")); err == nil {
		t.Error("a unit without ExecStart was read")
	}
}

// A launch daemon's property list as kardianos writes it (its template,
// with its escaping: &#39; and &#34;), and the Windows service's command
// line as the service manager keeps it: both give the data folder back.
func TestRegisteredDataFolder(t *testing.T) {
	plist, err := os.ReadFile(filepath.Join("testdata", "org.plinth.service.plist"))
	if err != nil {
		t.Fatal(err)
	}
	args, err := plistArguments(plist)
	want := []string{"/Applications/Plinth.app/Contents/MacOS/plinth", "-data", `/Users/alice/Office's "BIM" data`, "serve"}
	if err != nil || !reflect.DeepEqual(args, want) {
		t.Errorf("ProgramArguments = %q, %v; want %q", args, err, want)
	}
	if _, err := plistArguments([]byte("<plist><dict><key>Label</key><string>x</string></dict></plist>")); err == nil {
		t.Error("a property list without ProgramArguments was read")
	}

	dir := `C:\Users\Office Admin\AppData\Local\Plinth`
	line, err := autostart.WindowsCommandLine([]string{`C:\Program Files\Plinth\plinth.exe`, "-data", dir, "serve"})
	if err != nil {
		t.Fatal(err)
	}
	args, err = autostart.SplitWindowsCommandLine(line)
	if err != nil || dataDirOf(args) != dir {
		t.Errorf("data folder of %s = %q, %v", line, dataDirOf(args), err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{{[]string{"plinth", "serve"}, ""}, {[]string{"plinth", "--data=/x", "serve"}, "/x"}, {[]string{"plinth", "-data"}, ""}} {
		if got := dataDirOf(tt.args); got != tt.want {
			t.Errorf("dataDirOf(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestWhereAndRunsAs(t *testing.T) {
	for platform, want := range map[string]string{
		Systemd: "systemd unit plinth.service", Launchd: "launchd daemon plinth",
		Windows: "Windows service plinth", "unix-systemv": "unix-systemv service plinth",
	} {
		if got := Where(platform, "plinth"); got != want {
			t.Errorf("Where(%s) = %q, want %q", platform, got, want)
		}
	}
	if !RunsAs(Systemd) || !RunsAs(Launchd) || !RunsAs(Windows) || RunsAs("unix-systemv") || RunsAs("linux-openrc") {
		t.Error("RunsAs says the wrong managers run a service as its account")
	}
}

// The service runs as the data folder's owner; --user names that owner
// or is refused.
func TestAccount(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows: the account is whatever --user says")
	}
	me, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	if got, err := Account(dir, ""); err != nil || got != me.Username {
		t.Errorf("Account = %q, %v; want %q", got, err, me.Username)
	}
	if got, err := Account(dir, me.Username); err != nil || got != me.Username {
		t.Errorf("Account(--user %s) = %q, %v", me.Username, got, err)
	}
	other := "nobody"
	if me.Username == other {
		other = "root"
	}
	if _, err := user.Lookup(other); err == nil {
		_, err := Account(dir, other)
		if err == nil || !strings.Contains(err.Error(), "belongs to "+me.Username+", so the service must run as "+me.Username) {
			t.Errorf("Account(--user %s) on %s's folder = %v", other, me.Username, err)
		}
	}
	if _, err := Account(dir, "no-such-user-plinth"); err == nil || !strings.Contains(err.Error(), `there is no user "no-such-user-plinth"`) {
		t.Errorf("Account(--user no-such-user-plinth) = %v", err)
	}
	if _, err := Account(filepath.Join(dir, "missing"), ""); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Account of a missing folder = %v", err)
	}
}

// runManaged runs serve as the service under kardianos' systemd (its Run:
// Start, wait, Stop) and returns what RunManaged returned.
func runManaged(t *testing.T, ctx context.Context, serve func(ctx context.Context) error) <-chan error {
	t.Helper()
	sys := systemdSystem(t)
	done := make(chan error, 1)
	go func() { done <- RunManaged(ctx, sys, "plinth-test", serve) }()
	return done
}

func waitFor(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("RunManaged did not return within 20 s")
		return nil
	}
}

// Under the service manager: a stop request (SIGTERM) cancels serve's
// context with the reason, and the service ends when serve has returned;
// serve ending by itself ends the service with its error.
func TestRunManaged(t *testing.T) {
	t.Run("SIGTERM", func(t *testing.T) {
		started := make(chan struct{})
		var why error
		done := runManaged(t, context.Background(), func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			why = context.Cause(ctx)
			time.Sleep(100 * time.Millisecond) // closing the stores
			return nil
		})
		<-started
		if err := sigterm(); err != nil {
			t.Fatal(err)
		}
		if err := waitFor(t, done); err != nil || !errors.Is(why, errStopped) {
			t.Fatalf("RunManaged after SIGTERM = %v, serve stopped because %v", err, why)
		}
	})
	t.Run("serve ends", func(t *testing.T) {
		failed := errors.New("data folder is not set up")
		if err := waitFor(t, runManaged(t, context.Background(), func(context.Context) error { return failed })); !errors.Is(err, failed) {
			t.Fatalf("RunManaged = %v, want serve's error", err)
		}
		if err := waitFor(t, runManaged(t, context.Background(), func(context.Context) error { return nil })); err != nil {
			t.Fatalf("RunManaged after plinth quit = %v", err)
		}
	})
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := runManaged(t, ctx, func(ctx context.Context) error { <-ctx.Done(); return nil })
		cancel()
		if err := waitFor(t, done); err != nil {
			t.Fatalf("RunManaged after its context ended = %v", err)
		}
	})
	t.Run("stop is bounded", func(t *testing.T) {
		defer func(d time.Duration) { stopWait = d }(stopWait)
		stopWait = 200 * time.Millisecond
		release := make(chan struct{})
		defer close(release)
		ctx, cancel := context.WithCancel(context.Background())
		done := runManaged(t, ctx, func(context.Context) error { <-release; return nil })
		cancel()
		if err := waitFor(t, done); err == nil || !strings.Contains(err.Error(), "did not close the data folder within 200ms") {
			t.Fatalf("RunManaged with a serve that does not stop = %v", err)
		}
	})
}

// In a terminal, a script or a container Run is serve in the foreground.
func TestRunInteractive(t *testing.T) {
	if !service.Interactive() {
		t.Skip("this test runs under a service manager")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var got error
	if err := Run(ctx, "/d", func(ctx context.Context) error { got = ctx.Err(); return got }); !errors.Is(err, context.Canceled) || got == nil {
		t.Fatalf("Run = %v; serve saw %v", err, got)
	}
}

// sigterm is the service manager's stop request on Linux and macOS, to
// this process.
func sigterm() error {
	p, err := os.FindProcess(os.Getpid())
	if err != nil {
		return err
	}
	return p.Signal(syscall.SIGTERM)
}
