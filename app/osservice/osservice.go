// Package osservice registers 'plinth serve' with the operating system's
// service manager — a systemd unit on Linux, a launchd daemon on macOS, a
// Windows service — and runs it under that manager, through
// github.com/kardianos/service, so that Plinth keeps an office server's
// data safe from startup without anyone logged in.
//
// The service runs as the OS user who owns the data folder (Linux and
// macOS), so that what it writes there stays that user's and its control
// endpoint answers that user's commands; on Windows it runs as LocalSystem
// unless an account and its password are given. The data folder is always
// passed explicitly: the service account's default folder is another one.
package osservice

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/kardianos/service"
)

const (
	// DisplayName is the service's name in the OS's service lists.
	DisplayName = "Plinth"
	// Description says what the service does, where the OS shows it.
	Description = "Keeps the office's BIM data safe: scheduled backups, checks and syncs (plinth serve)"
)

// Platforms as kardianos/service names them.
const (
	Systemd = "linux-systemd"
	Upstart = "linux-upstart"
	Launchd = "darwin-launchd"
	Windows = "windows-service"
)

// Name is the service's name on this OS.
func Name() string { return nameFor(runtime.GOOS) }

// nameFor is the name each OS expects: a short unit name on Linux
// (plinth.service, 'systemctl status plinth') and a service key name on
// Windows ('sc query plinth'); a reverse-DNS label on macOS, where
// org.plinth.console is already the launch agent that starts the window
// at login (package autostart) — 'launchctl list org.plinth.console' would
// find that one.
func nameFor(goos string) string {
	if goos == "darwin" {
		return "org.plinth.service"
	}
	return "plinth"
}

// Config is the service that runs 'exe -data dataDir serve' as the OS
// user account (see Account), with the options this OS's manager offers
// for a server: start at boot, restart after a failure, not after a clean
// stop ('plinth quit', 'plinth service stop'). dataDir and exe must be
// absolute.
func Config(dataDir, exe, account string) *service.Config {
	return configFor(runtime.GOOS, dataDir, exe, account)
}

func configFor(goos, dataDir, exe, account string) *service.Config {
	c := &service.Config{
		Name:        nameFor(goos),
		DisplayName: DisplayName,
		Description: Description,
		UserName:    account,
		Executable:  exe,
		Arguments:   []string{"-data", dataDir, "serve"},
		Option:      service.KeyValue{},
	}
	switch goos {
	case "windows":
		// A local account is .\NAME to the service manager.
		if account != "" && !strings.ContainsAny(account, `\@`) {
			c.UserName = `.\` + account
		}
		c.Option["StartType"] = "automatic"
		// Started once the network is up (syncs, mail, network targets).
		c.Option["DelayedAutoStart"] = true
		c.Option["OnFailure"] = "restart"
		c.Option["OnFailureDelayDuration"] = "1m"
		c.Option["OnFailureResetPeriod"] = 24 * 60 * 60 // seconds: a day without failure forgets them
	case "darwin":
		// A launch daemon (not an agent: those run only while their user
		// is logged in), started at boot and started again when it exits.
		c.Option["RunAtLoad"] = true
		c.Option["KeepAlive"] = true
		// Its standard output and error, beside Plinth's own log, in a
		// folder the service's user can write to.
		c.Option["LogDirectory"] = filepath.Join(dataDir, "logs")
	default:
		// systemd; kardianos' unit has RestartSec=120. Exit 0 (plinth
		// quit, plinth service stop) leaves it stopped.
		c.Option["Restart"] = "on-failure"
		c.Dependencies = []string{"After=network-online.target", "Wants=network-online.target"}
	}
	return c
}

// New is the service cfg describes, as this OS's service manager knows
// it: to install, start, stop and ask about, not to run (Run does that).
func New(cfg *service.Config) (*Service, error) {
	s, err := service.New(idle{}, cfg)
	if errors.Is(err, service.ErrNoServiceSystemDetected) {
		return nil, ErrNoManager
	}
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", cfg.Name, err)
	}
	return &Service{Service: s, name: cfg.Name}, nil
}

// ErrNoManager means kardianos/service knows no service manager here.
var ErrNoManager = errors.New("this computer has no service manager Plinth can register with")

// Service is the Plinth service in the OS's service manager.
type Service struct {
	service.Service
	name string
}

// DataDir is the data folder the installed service serves, read from its
// registration; "" when it is not installed or cannot be read.
func (s *Service) DataDir() string { return dataDirOf(registeredArgs(s.Platform(), s.name)) }

// Where names the service as its manager does, for sentences.
func (s *Service) Where() string { return Where(s.Platform(), s.name) }

// Where names the service name of platform as an admin would look for it.
func Where(platform, name string) string {
	switch platform {
	case Systemd:
		return "systemd unit " + name + ".service"
	case Upstart:
		return "Upstart job " + name
	case Launchd:
		return "launchd daemon " + name
	case Windows:
		return "Windows service " + name
	}
	return platform + " service " + name
}

// RunsAs says whether the service manager of platform runs a service as
// the account it is given; the others run it as root, which would leave
// root's files in the data folder and make its control endpoint root's.
func RunsAs(platform string) bool {
	switch platform {
	case Systemd, Upstart, Launchd, Windows:
		return true
	}
	return false
}

// idle is the service's program where it is only installed or asked
// about: Run uses its own.
type idle struct{}

func (idle) Start(service.Service) error { return nil }
func (idle) Stop(service.Service) error  { return nil }

// Install registers the service with the OS's service manager.
func (s *Service) Install() error {
	if err := s.Service.Install(); err != nil {
		return err
	}
	return afterInstall(s.name)
}
