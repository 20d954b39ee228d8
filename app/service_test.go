package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kardianos/service"

	"codeberg.org/plinth/plinth/app/osservice"
)

// where is how the sentences name the fake (systemd) service.
var where = osservice.Where(osservice.Systemd, osservice.Name())

// fakeService stands in for the OS's service manager: it says what it is
// told and records what it is asked to do.
type fakeService struct {
	status    service.Status
	statusErr error
	platform  string
	dataDir   string
	errs      map[string]error // by call: Install, Start, …
	calls     []string
	cfgs      []*service.Config // what newServiceControl was given
}

func (f *fakeService) call(name string) error { f.calls = append(f.calls, name); return f.errs[name] }
func (f *fakeService) Install() error         { return f.call("Install") }
func (f *fakeService) Uninstall() error       { return f.call("Uninstall") }
func (f *fakeService) Start() error           { return f.call("Start") }
func (f *fakeService) Stop() error            { return f.call("Stop") }
func (f *fakeService) Status() (service.Status, error) {
	return f.status, f.statusErr
}
func (f *fakeService) Platform() string { return f.platform }
func (f *fakeService) Where() string    { return osservice.Where(f.platform, osservice.Name()) }
func (f *fakeService) DataDir() string  { return f.dataDir }

// withService makes the service commands talk to f, run by an
// administrator or not. Nothing reaches kardianos or this machine.
func withService(t *testing.T, f *fakeService, admin bool) {
	t.Helper()
	if f.platform == "" {
		f.platform = osservice.Systemd
	}
	oldNew, oldAdmin := newServiceControl, isAdmin
	newServiceControl = func(cfg *service.Config) (serviceControl, error) {
		f.cfgs = append(f.cfgs, cfg)
		return f, nil
	}
	isAdmin = func() bool { return admin }
	t.Cleanup(func() { newServiceControl, isAdmin = oldNew, oldAdmin })
}

// svc runs one of serviceCommands as RunCommand would once it is in the
// command table.
func svc(t *testing.T, dir string, env map[string]string, args ...string) result {
	t.Helper()
	var cmd *command
	var rest []string
	for i := range serviceCommands {
		words := strings.Fields(serviceCommands[i].name)
		if len(args) >= len(words) && reflect.DeepEqual(args[:len(words)], words) {
			cmd, rest = &serviceCommands[i], args[len(words):]
		}
	}
	if cmd == nil {
		t.Fatalf("no service command %q", args)
	}
	var out, errb bytes.Buffer
	c := newCLI(Global{DataDir: dir}, IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(k string) string { return env[k] }})
	code, _ := c.run(context.Background(), cmd, rest)
	return result{code, out.String(), errb.String()}
}

func TestServiceCommandsAreLocal(t *testing.T) {
	for _, cmd := range serviceCommands {
		if !cmd.local() {
			t.Errorf("%s would be forwarded to the running Plinth", cmd.name)
		}
	}
	if serviceRunner == nil {
		t.Error("plinth serve does not run under the service manager")
	}
	// --help says what a command does before it asks anything.
	withService(t, &fakeService{}, false)
	for _, cmd := range serviceCommands {
		r := svc(t, t.TempDir(), nil, append(strings.Fields(cmd.name), "--help")...)
		if r.code != 0 || !strings.HasPrefix(r.out, "usage: plinth "+cmd.name) || r.err != "" {
			t.Errorf("%s --help = %+v", cmd.name, r)
		}
	}
}

func TestServiceInstallRefusals(t *testing.T) {
	empty := t.TempDir()
	dir := initialised(t)

	// Not set up: said before anything asks the service manager.
	f := &fakeService{statusErr: service.ErrNotInstalled}
	withService(t, f, true)
	r := svc(t, empty, nil, "service", "install")
	if want := "Data folder " + empty + " is not set up yet, so the service would have nothing to serve; run 'plinth init' first\n"; r.code != 1 || r.err != want || r.out != "" {
		t.Errorf("install on an empty folder = %+v; want exit 1, %q", r, want)
	}
	r = svc(t, empty, map[string]string{"SUDO_USER": "alice"}, "service", "install")
	if !strings.HasSuffix(r.err, "run 'plinth init' first, or name your data folder with -data: 'plinth status' without sudo says which it is\n") {
		t.Errorf("install under sudo on an empty folder = %+v", r)
	}
	if len(f.cfgs) != 0 {
		t.Errorf("the service manager was asked about a folder that is not set up")
	}

	// Without administrator rights.
	withService(t, f, false)
	r = svc(t, dir, nil, "service", "install")
	want := fmt.Sprintf("Installing the Plinth service needs administrator rights: run it with sudo and name the data folder, which under sudo would be root's: sudo plinth -data %q service install\n", dir)
	if runtime.GOOS == "windows" {
		want = "Installing the Plinth service needs administrator rights: run the command again in a PowerShell opened as administrator\n"
	}
	if r.code != 1 || r.err != want {
		t.Errorf("install without rights = %+v; want %q", r, want)
	}

	// Installed already.
	f = &fakeService{status: service.StatusRunning, dataDir: "/srv/plinth"}
	withService(t, f, true)
	r = svc(t, dir, nil, "service", "install")
	if want := "The Plinth service is installed already (" + where + ", data folder /srv/plinth); 'plinth service uninstall' removes it, then install it again\n"; r.code != 1 || r.err != want {
		t.Errorf("install when installed = %+v; want %q", r, want)
	}
	if len(f.calls) != 0 {
		t.Errorf("calls = %q, want none", f.calls)
	}

	// The service manager refuses for want of rights after all.
	f = &fakeService{statusErr: service.ErrNotInstalled, errs: map[string]error{
		"Install": &fs.PathError{Op: "open", Path: "/etc/systemd/system/plinth.service", Err: syscall.EACCES}}}
	withService(t, f, true)
	r = svc(t, dir, nil, "service", "install")
	if r.code != 1 || !strings.HasPrefix(r.err, "Installing the Plinth service needs administrator rights: run ") || strings.Count(r.err, "\n") != 1 {
		t.Errorf("install refused by the service manager = %+v", r)
	}

	// A service manager that would run Plinth as root, for a folder of
	// another user.
	if runtime.GOOS != "windows" {
		owned := initialised(t)
		owner := currentUser(t)
		if owner == "root" {
			nobody, err := user.Lookup("nobody")
			if err != nil {
				t.Skip("no user nobody to own the folder")
			}
			uid, _ := strconv.Atoi(nobody.Uid)
			if err := os.Chown(owned, uid, -1); err != nil {
				t.Fatal(err)
			}
			owner = nobody.Username
		}
		f = &fakeService{statusErr: service.ErrNotInstalled, platform: "unix-systemv"}
		withService(t, f, true)
		r = svc(t, owned, nil, "service", "install")
		if want := "This computer's service manager (unix-systemv) would run Plinth as root, not as " + owner + ", who owns data folder " + owned; r.code != 1 || !strings.HasPrefix(r.err, want) || len(f.calls) != 0 {
			t.Errorf("install with a manager that runs services as root = %+v, calls %q; want %q…", r, f.calls, want)
		}
	}

	if r := svc(t, dir, nil, "service", "install", "extra"); r.code != 2 {
		t.Errorf("install with an argument = %+v, want exit 2", r)
	}
}

func currentUser(t *testing.T) string {
	t.Helper()
	me, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	return me.Username
}

// install registers serve with the absolute data folder, this program
// and the folder's owner.
func TestServiceInstall(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows: LocalSystem, see TestConfig")
	}
	parent := t.TempDir()
	dir := filepath.Join(parent, "office data")
	if r := run(t, dir, master, "", "init"); r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	t.Chdir(parent)
	f := &fakeService{statusErr: service.ErrNotInstalled}
	withService(t, f, true)
	r := svc(t, "office data", nil, "service", "install")
	owner := currentUser(t)
	want := "The Plinth service is installed (" + where + "): from startup it runs 'plinth serve' with data folder " + dir + " as " + owner + ", whoever is logged in; 'plinth service start' starts it now.\n"
	if r.code != 0 || r.out != want || r.err != "" {
		t.Fatalf("install = %+v; want %q", r, want)
	}
	if !reflect.DeepEqual(f.calls, []string{"Install"}) || len(f.cfgs) != 1 {
		t.Fatalf("calls = %q with %d configs", f.calls, len(f.cfgs))
	}
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	cfg := f.cfgs[0]
	if cfg.Name != osservice.Name() || cfg.Executable != exe || cfg.UserName != owner ||
		!reflect.DeepEqual(cfg.Arguments, []string{"-data", dir, "serve"}) {
		t.Errorf("config = %+v; want %s running %s -data %q serve as %s", cfg, osservice.Name(), exe, dir, owner)
	}
}

func TestServiceStatus(t *testing.T) {
	dir := t.TempDir()
	darwinHint := ""
	if runtime.GOOS == "darwin" {
		darwinHint = " (run with sudo to see a running launch daemon)"
	}
	tests := []struct {
		f      fakeService
		code   int
		out    string
		status string
		folder string
	}{
		{fakeService{statusErr: service.ErrNotInstalled}, 0,
			"The Plinth service is not installed; 'plinth service install' makes Plinth run from startup, whoever is logged in.\n", "not installed", dir},
		{fakeService{status: service.StatusRunning, dataDir: "/srv/office data"}, 0,
			"The Plinth service is running (" + where + "), with data folder /srv/office data.\n", "running", "/srv/office data"},
		{fakeService{status: service.StatusStopped, dataDir: "/srv/x"}, 0,
			"The Plinth service is installed but not running" + darwinHint + " (" + where + ", data folder /srv/x); 'plinth service start' starts it.\n", "stopped", "/srv/x"},
		{fakeService{statusErr: errors.New("service in failed state")}, 0,
			"The Plinth service has failed and is not running (" + where + "); its log says why, and 'plinth service start' starts it again.\n", "failed", dir},
		{fakeService{statusErr: errors.New("boom")}, 1, "", "", ""},
	}
	for _, tt := range tests {
		withService(t, &tt.f, false) // status needs no rights
		r := svc(t, dir, nil, "service", "status")
		if r.code != tt.code || r.out != tt.out {
			t.Errorf("status (%v, %v) = %+v; want exit %d, %q", tt.f.status, tt.f.statusErr, r, tt.code, tt.out)
		}
		if tt.code != 0 {
			if r.err != "Ask the service manager about the Plinth service: boom\n" {
				t.Errorf("status stderr = %q", r.err)
			}
			continue
		}
		r = svc(t, dir, nil, "service", "status", "--json")
		var st serviceState
		if err := json.Unmarshal([]byte(r.out), &st); err != nil || r.code != 0 {
			t.Fatalf("status --json = %+v: %v", r, err)
		}
		want := serviceState{Installed: tt.status != "not installed", Running: tt.status == "running", Status: tt.status,
			Name: osservice.Name(), Platform: osservice.Systemd, DataFolder: tt.folder}
		if st != want {
			t.Errorf("status --json = %+v, want %+v", st, want)
		}
	}
	// The keys scripts read.
	withService(t, &fakeService{statusErr: service.ErrNotInstalled}, false)
	var raw map[string]any
	_ = json.Unmarshal([]byte(svc(t, dir, nil, "service", "status", "--json").out), &raw)
	for _, k := range []string{"installed", "running", "status", "name", "dataFolder"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("status --json has no %q: %v", k, raw)
		}
	}
}

func TestServiceStartStopUninstall(t *testing.T) {
	dir := initialised(t)
	exitErr := exec.Command("sh", "-c", "exit 1").Run()
	tests := []struct {
		name   string
		f      fakeService
		admin  bool
		args   []string
		code   int
		out    string // or stderr, when code is not 0
		calls  []string
		prefix bool // out is a prefix
	}{
		{"start without rights", fakeService{status: service.StatusStopped}, false, []string{"start"}, 1,
			"Starting the Plinth service needs administrator rights: ", nil, true},
		{"start before install", fakeService{statusErr: service.ErrNotInstalled}, true, []string{"start"}, 1,
			"The Plinth service is not installed; 'plinth service install' sets it up\n", nil, false},
		{"start when running", fakeService{status: service.StatusRunning, dataDir: dir}, true, []string{"start"}, 0,
			"The Plinth service is running already, with data folder " + dir + ".\n", nil, false},
		{"start", fakeService{status: service.StatusStopped, dataDir: dir}, true, []string{"start"}, 0,
			"The Plinth service has started with data folder " + dir + "; Plinth's commands run in it, and the window says so while it runs.\n", []string{"Start"}, false},
		{"start refused by systemctl", fakeService{status: service.StatusStopped, dataDir: dir, errs: map[string]error{"Start": exitErr}}, true, []string{"start"}, 1,
			"Starting the Plinth service failed (systemctl: exit status 1); 'systemctl status " + osservice.Name() + "' says why\n", []string{"Start"}, false},
		{"stop without rights", fakeService{status: service.StatusRunning}, false, []string{"stop"}, 1,
			"Stopping the Plinth service needs administrator rights: ", nil, true},
		{"stop before install", fakeService{statusErr: service.ErrNotInstalled}, true, []string{"stop"}, 1,
			"The Plinth service is not installed; 'plinth service install' sets it up\n", nil, false},
		{"stop when stopped", fakeService{status: service.StatusStopped}, true, []string{"stop"}, 0,
			"The Plinth service is not running.\n", nil, false},
		{"stop", fakeService{status: service.StatusRunning, dataDir: dir}, true, []string{"stop"}, 0,
			"The Plinth service has stopped and let go of data folder " + dir + "; it starts again at the next startup, or with 'plinth service start'.\n", []string{"Stop"}, false},
		{"uninstall without rights", fakeService{status: service.StatusRunning}, false, []string{"uninstall"}, 1,
			"Removing the Plinth service needs administrator rights: ", nil, true},
		{"uninstall before install", fakeService{statusErr: service.ErrNotInstalled}, true, []string{"uninstall"}, 0,
			"The Plinth service is not installed; there is nothing to remove.\n", nil, false},
		{"uninstall while running", fakeService{status: service.StatusRunning, dataDir: dir}, true, []string{"uninstall"}, 0,
			"The Plinth service is removed (" + where + "); data folder " + dir + " is as it was, and Plinth no longer runs at startup.\n", []string{"Stop", "Uninstall"}, false},
		{"uninstall when stopped", fakeService{status: service.StatusStopped, dataDir: dir}, true, []string{"uninstall"}, 0,
			"The Plinth service is removed (" + where + "); data folder " + dir + " is as it was, and Plinth no longer runs at startup.\n", []string{"Uninstall"}, false},
	}
	for _, tt := range tests {
		withService(t, &tt.f, tt.admin)
		r := svc(t, dir, nil, append([]string{"service"}, tt.args...)...)
		got := r.out
		if tt.code != 0 {
			got = r.err
		}
		if r.code != tt.code || (tt.prefix && !strings.HasPrefix(got, tt.out)) || (!tt.prefix && got != tt.out) || !reflect.DeepEqual(tt.f.calls, tt.calls) {
			t.Errorf("%s = %+v, calls %q; want exit %d, %q, calls %q", tt.name, r, tt.f.calls, tt.code, tt.out, tt.calls)
		}
	}

	// The window (or plinth serve) holds the folder: the service could
	// not take it.
	holding(t, dir, Holder{})
	f := &fakeService{status: service.StatusStopped, dataDir: dir}
	withService(t, f, true)
	r := svc(t, dir, nil, "service", "start")
	if want := "Plinth is running with data folder " + dir + " already (the window or 'plinth serve'), so the service cannot take it; close that Plinth with 'plinth quit', then start the service\n"; r.code != 1 || r.err != want || len(f.calls) != 0 {
		t.Errorf("start beside the window = %+v, calls %q; want %q", r, f.calls, want)
	}
}

// folderInUse leaves nothing behind in the folder it looks at (a command
// run with sudo must not leave root's files there).
func TestFolderInUseWritesNothing(t *testing.T) {
	dir := t.TempDir()
	if folderInUse(dir) {
		t.Fatal("an empty folder is in use")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("folderInUse left %v", entries)
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

// Under a service manager (kardianos' systemd, driven as systemd drives
// it): commands are forwarded to the service, and SIGTERM closes the
// stores cleanly — the log ends with msg=closed.
func TestServeUnderServiceManager(t *testing.T) {
	var sys service.System
	for _, s := range service.AvailableSystems() {
		if s.String() == osservice.Systemd {
			sys = s
		}
	}
	if sys == nil {
		t.Skipf("kardianos has no systemd on %s", runtime.GOOS)
	}
	dir := initialised(t)
	var errb bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- osservice.RunManaged(context.Background(), sys, "plinth-test", func(ctx context.Context) error {
			return serve(ctx, Global{DataDir: dir}, IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &errb, Getenv: func(string) string { return "" }})
		})
	}()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(socketPath(dir)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the service opened no control endpoint within 20 s")
		}
	}
	if r := run(t, dir, master, "", "user", "list"); r.code != 0 || !strings.Contains(r.out, "masteradmin") {
		t.Fatalf("user list forwarded to the service = %+v", r)
	}
	if err := sigterm(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the service ended with %v; stderr %s", err, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the service still runs 30 s after SIGTERM")
	}
	log, _ := os.ReadFile(filepath.Join(dir, "logs", "plinth.log"))
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "msg=closed") {
		t.Errorf("the log ends with %q, not a clean close", last)
	}
	if !strings.Contains(string(log), `why="the service manager stopped the Plinth service"`) {
		t.Errorf("the log does not say the service manager stopped Plinth:\n%s", log)
	}
	if _, err := os.Stat(socketPath(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the control endpoint is left behind: %v", err)
	}
}
