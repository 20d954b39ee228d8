package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gofrs/flock"
	"github.com/kardianos/service"

	"codeberg.org/plinth/plinth/app/osservice"
	"codeberg.org/plinth/plinth/storage"
)

// serviceCommands register 'plinth serve' with the OS's service manager,
// for an office server where nobody stays logged in. They run in the
// caller's process (localCommands): they work on the computer's service
// manager, not in the data folder — a command run with sudo must leave
// no root's file there.
var serviceCommands = []command{
	{"service install", "[--user NAME]", "run Plinth without its window from startup, whoever is logged in: registers 'plinth serve' with this data folder as a systemd unit, launchd daemon or Windows service (needs administrator rights)", cmdServiceInstall},
	{"service uninstall", "", "stop the Plinth service and remove it from the service manager; the data folder stays as it is", cmdServiceUninstall},
	{"service start", "", "start the Plinth service now", cmdServiceStart},
	{"service stop", "", "stop the Plinth service; it closes the data folder cleanly and starts again at the next startup", cmdServiceStop},
	{"service status", "[--json]", "say whether the Plinth service is installed and running, and which data folder it serves", cmdServiceStatus},
}

// While this process is the service, the service manager drives serve.
func init() { serviceRunner = osservice.Run }

// serviceControl is what the service commands ask of the OS's service
// manager (*osservice.Service; tests pass a fake).
type serviceControl interface {
	Install() error
	Uninstall() error
	Start() error
	Stop() error
	Status() (service.Status, error)
	Platform() string
	// Where names the service as its manager does.
	Where() string
	// DataDir is the data folder the installed service serves, "" when
	// unknown.
	DataDir() string
}

var (
	// newServiceControl is the Plinth service that cfg describes.
	newServiceControl = func(cfg *service.Config) (serviceControl, error) { return osservice.New(cfg) }
	// isAdmin says whether this process may register services.
	isAdmin = osservice.IsAdmin
)

// errServiceNotInstalled is the refusal of start and stop before install.
var errServiceNotInstalled = errors.New("the Plinth service is not installed; 'plinth service install' sets it up")

// serviceState is the service as 'plinth service status --json' prints it.
type serviceState struct {
	Installed bool   `json:"installed"`
	Running   bool   `json:"running"`
	Status    string `json:"status"` // running, stopped, failed or not installed
	Name      string `json:"name"`
	Platform  string `json:"platform"`
	// DataFolder is the folder the installed service serves; before it
	// is installed, the one 'plinth service install' would register.
	DataFolder string `json:"dataFolder"`
}

// serviceAt is the Plinth service of the data folder dir (absolute).
func serviceAt(dir string) (serviceControl, error) {
	return newServiceControl(osservice.Config(dir, "", ""))
}

// state asks the service manager how the service is.
func state(s serviceControl, dir string) (serviceState, error) {
	st := serviceState{Name: osservice.Name(), Platform: s.Platform(), DataFolder: dir}
	status, err := s.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		st.Status = "not installed"
		return st, nil
	case err != nil && strings.Contains(err.Error(), "failed state"):
		// systemd: the unit failed (kardianos has no sentinel for it).
		st.Installed, st.Status = true, "failed"
	case err != nil:
		return st, fmt.Errorf("ask the service manager about the Plinth service: %w", err)
	case status == service.StatusRunning:
		st.Installed, st.Running, st.Status = true, true, "running"
	case status == service.StatusStopped:
		st.Installed, st.Status = true, "stopped"
	default:
		return st, errors.New("the service manager does not say how the Plinth service is")
	}
	if d := s.DataDir(); d != "" {
		st.DataFolder = d
	}
	return st, nil
}

// adminError is the refusal for want of rights to do what ("installing");
// retry, when given, is the command to run with sudo.
func adminError(what, retry string) error {
	if runtime.GOOS == "windows" {
		return fmt.Errorf("%s the Plinth service needs administrator rights: run the command again in a PowerShell opened as administrator", what)
	}
	if retry != "" {
		return fmt.Errorf("%s the Plinth service needs administrator rights: run it with sudo and name the data folder, which under sudo would be root's: sudo %s", what, retry)
	}
	return fmt.Errorf("%s the Plinth service needs administrator rights: run it with sudo", what)
}

// managerError turns what the service manager answered into a sentence:
// a refusal for want of rights is said as such.
func managerError(s serviceControl, what string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return adminError(what, "")
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && s.Platform() == osservice.Systemd {
		// kardianos keeps systemctl's own words to itself.
		return fmt.Errorf("%s the Plinth service failed (systemctl: %w); 'systemctl status %s' says why", what, err, osservice.Name())
	}
	return fmt.Errorf("%s the Plinth service failed: %w", what, err)
}

func absDataDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("data folder %s: %w", dir, err)
	}
	return abs, nil
}

// folderSetUp says whether dir holds Plinth's stores, without opening them.
func folderSetUp(dir string) bool {
	return storage.Exists(storage.Path(dir, storage.Manager)) || storage.Exists(storage.Path(dir, storage.FileServer))
}

// folderInUse says whether a Plinth holds the data folder dir, without
// creating anything in it.
func folderInUse(dir string) bool {
	d, ok, err := lockDir(dir)
	if err != nil {
		return false
	}
	if !ok {
		return true
	}
	if d != nil {
		defer d.Close()
	}
	// Windows, and Plinths older than the folder lock: the lock file,
	// only where there is one.
	path := filepath.Join(dir, lockName)
	if _, err := os.Lstat(path); err != nil {
		return false
	}
	f := flock.New(path, flock.SetFlag(os.O_RDWR))
	held, err := f.TryLock()
	if err != nil {
		return false
	}
	if !held {
		return true
	}
	_ = f.Close()
	return false
}

func cmdServiceInstall(_ context.Context, c *cli, args []string) error {
	flags := newFlags("service install")
	user := flags.String("user", "", "the OS account the service runs as: on Linux and macOS the data folder's owner, which is also the default; on Windows an account whose password is in PLINTH_SERVICE_PASSWORD or asked for (default: LocalSystem)")
	if err := parseNone(flags, args); err != nil {
		return err
	}
	dir, err := absDataDir(c.g.DataDir)
	if err != nil {
		return err
	}
	if !folderSetUp(dir) {
		msg := fmt.Sprintf("data folder %s is not set up yet, so the service would have nothing to serve; run 'plinth init' first", dir)
		if c.io.Getenv("SUDO_USER") != "" {
			// sudo gives Plinth root's default folder (and drops PLINTH_DATA).
			msg += ", or name your data folder with -data: 'plinth status' without sudo says which it is"
		}
		return errors.New(msg)
	}
	if !isAdmin() {
		return adminError("installing", fmt.Sprintf("plinth -data %q service install", dir))
	}
	account, err := osservice.Account(dir, *user)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find Plinth's program file: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	cfg := osservice.Config(dir, exe, account)
	s, err := newServiceControl(cfg)
	if err != nil {
		return err
	}
	if !osservice.RunsAs(s.Platform()) && account != "root" {
		return fmt.Errorf("this computer's service manager (%s) would run Plinth as root, not as %s, who owns data folder %s; start 'plinth -data %q serve' as %s from its own startup script instead", s.Platform(), account, dir, dir, account)
	}
	st, err := state(s, dir)
	if err != nil {
		return err
	}
	if st.Installed {
		return fmt.Errorf("the Plinth service is installed already (%s, data folder %s); 'plinth service uninstall' removes it, then install it again", s.Where(), st.DataFolder)
	}
	if runtime.GOOS == "windows" && account != "" {
		pw, err := c.secret("PLINTH_SERVICE_PASSWORD", fmt.Sprintf("Windows password of %s: ", account))
		if err != nil {
			return err
		}
		cfg.Option["Password"] = pw
	}
	if err := s.Install(); err != nil {
		return managerError(s, "installing", err)
	}
	as := "as " + account
	if account == "" {
		as = "as LocalSystem"
	}
	fmt.Fprintf(c.io.Out, "The Plinth service is installed (%s): from startup it runs 'plinth serve' with data folder %s %s, whoever is logged in; 'plinth service start' starts it now.\n", s.Where(), dir, as)
	return nil
}

// managedService is the first steps of uninstall, start and stop: the
// command takes no arguments, needs administrator rights (for action, in
// the refusal), and asks the service manager how the Plinth service of
// the data folder is.
func (c *cli) managedService(name, action string, args []string) (serviceControl, serviceState, error) {
	if err := parseNone(newFlags(name), args); err != nil {
		return nil, serviceState{}, err
	}
	dir, err := absDataDir(c.g.DataDir)
	if err != nil {
		return nil, serviceState{}, err
	}
	if !isAdmin() {
		return nil, serviceState{}, adminError(action, "")
	}
	s, err := serviceAt(dir)
	if err != nil {
		return nil, serviceState{}, err
	}
	st, err := state(s, dir)
	return s, st, err
}

func cmdServiceUninstall(_ context.Context, c *cli, args []string) error {
	s, st, err := c.managedService("service uninstall", "removing", args)
	if err != nil {
		return err
	}
	if !st.Installed {
		fmt.Fprintln(c.io.Out, "The Plinth service is not installed; there is nothing to remove.")
		return nil
	}
	if st.Running {
		// systemd would go on running a unit removed while it runs.
		if err := s.Stop(); err != nil {
			return managerError(s, "stopping", err)
		}
	}
	if err := s.Uninstall(); err != nil {
		return managerError(s, "removing", err)
	}
	fmt.Fprintf(c.io.Out, "The Plinth service is removed (%s); data folder %s is as it was, and Plinth no longer runs at startup.\n", s.Where(), st.DataFolder)
	return nil
}

func cmdServiceStart(_ context.Context, c *cli, args []string) error {
	s, st, err := c.managedService("service start", "starting", args)
	if err != nil {
		return err
	}
	switch {
	case !st.Installed:
		return errServiceNotInstalled
	case st.Running:
		fmt.Fprintf(c.io.Out, "The Plinth service is running already, with data folder %s.\n", st.DataFolder)
		return nil
	case folderInUse(st.DataFolder):
		return fmt.Errorf("plinth is running with data folder %s already (the window or 'plinth serve'), so the service cannot take it; close that Plinth with 'plinth quit', then start the service", st.DataFolder)
	}
	if err := s.Start(); err != nil {
		return managerError(s, "starting", err)
	}
	fmt.Fprintf(c.io.Out, "The Plinth service has started with data folder %s; Plinth's commands run in it, and the window says so while it runs.\n", st.DataFolder)
	return nil
}

func cmdServiceStop(_ context.Context, c *cli, args []string) error {
	s, st, err := c.managedService("service stop", "stopping", args)
	if err != nil {
		return err
	}
	switch {
	case !st.Installed:
		return errServiceNotInstalled
	case !st.Running:
		fmt.Fprintln(c.io.Out, "The Plinth service is not running.")
		return nil
	}
	if err := s.Stop(); err != nil {
		return managerError(s, "stopping", err)
	}
	fmt.Fprintf(c.io.Out, "The Plinth service has stopped and let go of data folder %s; it starts again at the next startup, or with 'plinth service start'.\n", st.DataFolder)
	return nil
}

func cmdServiceStatus(_ context.Context, c *cli, args []string) error {
	flags := newFlags("service status")
	asJSON := flags.Bool("json", false, "print one JSON object: installed, running, status, name, platform, dataFolder")
	if err := parseNone(flags, args); err != nil {
		return err
	}
	dir, err := absDataDir(c.g.DataDir)
	if err != nil {
		return err
	}
	s, err := serviceAt(dir)
	if err != nil {
		return err
	}
	st, err := state(s, dir)
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(st)
	}
	switch st.Status {
	case "not installed":
		fmt.Fprintln(c.io.Out, "The Plinth service is not installed; 'plinth service install' makes Plinth run from startup, whoever is logged in.")
	case "running":
		fmt.Fprintf(c.io.Out, "The Plinth service is running (%s), with data folder %s.\n", s.Where(), st.DataFolder)
	case "failed":
		fmt.Fprintf(c.io.Out, "The Plinth service has failed and is not running (%s); its log says why, and 'plinth service start' starts it again.\n", s.Where())
	default:
		hint := ""
		if runtime.GOOS == "darwin" && !isAdmin() {
			hint = " (run with sudo to see a running launch daemon)"
		}
		fmt.Fprintf(c.io.Out, "The Plinth service is installed but not running%s (%s, data folder %s); 'plinth service start' starts it.\n", hint, s.Where(), st.DataFolder)
	}
	return nil
}
