package osservice

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kardianos/service"
)

// stopWait bounds how long a stop request waits for serve to close the
// data folder: below systemd's default TimeoutStopSec (90 s), so that the
// log says so before systemd kills. launchd kills after 20 s (ExitTimeOut)
// and Windows, at shutdown, after WaitToKillServiceTimeout; Plinth's work
// survives that (it is finished or rolled back at the next start).
var stopWait = 80 * time.Second

// errStopped is why serve stops when the service manager stops the
// service; serve's log says it.
var errStopped = errors.New("the service manager stopped the Plinth service")

// Run runs serve (package app's serviceRunner): under the service manager
// when that started this process as the service, otherwise (a terminal, a
// script, a container, a test) in the foreground, where ctx — Ctrl+C,
// SIGTERM — ends it.
func Run(ctx context.Context, _ string, serve func(ctx context.Context) error) error {
	sys := service.ChosenSystem()
	if sys == nil || service.Interactive() {
		return serve(ctx)
	}
	return RunManaged(ctx, sys, Name(), serve)
}

// RunManaged runs serve as the service name of the service manager sys:
// until the manager stops it (SIGTERM on Linux and macOS, a stop request
// on Windows), ctx ends, or serve returns by itself ('plinth quit', a
// failure). A stop cancels serve's context and waits, at most stopWait,
// for it to close the data folder. serve's error is returned and also
// goes to the manager's log (the journal, syslog, the Windows event log),
// where an admin looks when a service does not run.
func RunManaged(ctx context.Context, sys service.System, name string, serve func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The stop request on Linux and macOS: caught from before serve
	// starts, so that none goes unheard.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)

	var (
		done     = make(chan struct{})
		serveErr error // set before done closes
		stopping atomic.Bool
		logger   service.Logger = service.ConsoleLogger
	)
	prg := program{
		start: func(s service.Service) error {
			go func() {
				serveErr = serve(ctx)
				if serveErr != nil {
					_ = logger.Errorf("plinth serve stopped: %v", serveErr)
				}
				close(done)
				if !stopping.Load() && runtime.GOOS == "windows" {
					endService(s, serveErr, logger)
				}
			}()
			return nil
		},
		stop: func(service.Service) error {
			stopping.Store(true)
			cancel(errStopped)
			select {
			case <-done:
				return serveErr
			case <-time.After(stopWait):
				err := fmt.Errorf("plinth did not close the data folder within %s of the stop request", stopWait)
				_ = logger.Error(err)
				return err
			}
		},
	}
	cfg := &service.Config{Name: name, DisplayName: DisplayName, Option: service.KeyValue{
		// Linux and macOS: Run starts serve, waits for this, stops serve.
		"RunWait": func() {
			select {
			case <-sigs:
			case <-done:
			case <-ctx.Done():
			}
		},
	}}
	s, err := sys.New(prg, cfg)
	if err != nil {
		return fmt.Errorf("run as service %s: %w", name, err)
	}
	if l, err := s.Logger(nil); err == nil {
		logger = l
	}
	return s.Run()
}

// endService ends the Windows service whose serve returned by itself: a
// stop request to its own service manager, which then asks Stop — it
// answers serve's error, and an error counts as a failure (restarted). A
// service that may not stop itself ends its process: serve has closed
// the data folder already, and the manager restarts it.
func endService(s service.Service, serveErr error, logger service.Logger) {
	if err := s.Stop(); err != nil {
		_ = logger.Errorf("the Plinth service could not stop itself: %v", err)
		code := 0
		if serveErr != nil {
			code = 1
		}
		os.Exit(code)
	}
}

// program is what the service manager starts and stops.
type program struct {
	start, stop func(service.Service) error
}

func (p program) Start(s service.Service) error { return p.start(s) }
func (p program) Stop(s service.Service) error  { return p.stop(s) }
