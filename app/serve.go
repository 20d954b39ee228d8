package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"codeberg.org/plinth/plinth/core/text"
)

var hostCommands = []command{
	{"serve", "", "run Plinth without its window: scheduled backups, checks, syncs, notifications and the control endpoint, until Ctrl+C, SIGTERM or 'plinth quit'", cmdServe},
	{"quit", "[--force]", "close the running Plinth (window, tray or service) cleanly; --force also while it works", cmdQuit},
}

// serviceRunner, when set (the OS service wrapper), runs serve under the
// OS's service manager; otherwise serve runs in the foreground.
var serviceRunner func(ctx context.Context, dataDir string, serve func(ctx context.Context) error) error

func cmdServe(ctx context.Context, c *cli, args []string) error {
	if err := parseNone(newFlags("serve"), args); err != nil {
		return err
	}
	run := func(ctx context.Context) error { return serve(ctx, c.g, c.io) }
	if serviceRunner != nil {
		return serviceRunner(ctx, c.g.DataDir, run)
	}
	return run(ctx)
}

// errServiceHasNoWindow is what a second start of the window hears from
// plinth serve.
var errServiceHasNoWindow = errors.New("plinth is running in the background without a window ('plinth serve', or the Plinth service) with this data folder, so the window cannot open now; stop it with 'plinth quit' (or 'plinth service stop' for the service) and open Plinth again — its commands work meanwhile")

// serve holds the data folder without a window until ctx ends or plinth
// quit asks: the scheduler, notifications and the control endpoint run;
// then everything closes in order.
func serve(ctx context.Context, g Global, stdio IO) error {
	a, err := Open(ctx, Config{DataDir: g.DataDir, MustExist: true, LogToStderr: true, Announce: func(msg string) {
		fmt.Fprintln(stdio.Err, text.Safe(msg))
	}})
	if errors.Is(err, ErrAlreadyRunning) {
		return fmt.Errorf("%w; 'plinth quit' closes it, then start 'plinth serve' again", err)
	}
	if err != nil {
		return err
	}
	ctx, quit := context.WithCancel(ctx)
	defer quit()
	if err := a.ReadOnly(); err != nil {
		fmt.Fprintln(stdio.Err, sentence(err))
	}
	if err := a.StartBackground(nil); err != nil {
		a.Log.Error("start background jobs", "err", err)
	}
	err = a.ServeControl(Holder{Kind: "plinth serve",
		Show: func() error { return errServiceHasNoWindow },
		Quit: quit,
	})
	if err != nil {
		_ = a.Close()
		return err
	}
	a.Log.Info("serving without a window")
	fmt.Fprintf(stdio.Err, "Plinth is serving data folder %s; Ctrl+C, SIGTERM or 'plinth quit' stops it.\n", text.Safe(a.DataDir))
	<-ctx.Done()
	a.Log.Info("stopping", "why", context.Cause(ctx))
	if err := a.Close(); err != nil {
		return fmt.Errorf("close the data folder: %w", err)
	}
	return nil
}

func cmdQuit(_ context.Context, c *cli, args []string) error {
	fs := newFlags("quit")
	force := fs.Bool("force", false, "quit even while Plinth works: the work stops at a safe point and is finished or rolled back at the next start")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	if c.session == nil {
		// Nothing answered on the control endpoint.
		dir, err := filepath.Abs(c.g.DataDir)
		if err != nil {
			return err
		}
		if _, err := os.Stat(dir); err == nil {
			lock, ok, err := lockFolder(dir)
			if err != nil {
				return err
			}
			if !ok {
				return errHeld
			}
			_ = lock.release()
		}
		return fmt.Errorf("plinth is not running with data folder %s; there is nothing to quit", dir)
	}
	return c.session.srv.quit(c.session, *force, c)
}

// quit closes the holder once the quit command has answered; while work
// runs it refuses unless forced, and says what stops.
func (s *controlServer) quit(sess *session, force bool, c *cli) error {
	if s.h.Quit == nil {
		return errors.New("this Plinth cannot be closed from the command line")
	}
	busy := s.busy(sess)
	if len(busy) > 0 && !force {
		return fmt.Errorf("plinth is busy with %s; run 'plinth quit' again when that has finished, or 'plinth quit --force' to stop it now (work stopped part-way is finished or rolled back at the next start)", strings.Join(busy, ", "))
	}
	if len(busy) > 0 {
		fmt.Fprintf(c.io.Out, "Stopping %s at a safe point; the next start finishes or rolls it back.\n", strings.Join(busy, ", "))
	}
	fmt.Fprintf(c.io.Out, "Plinth (%s) is closing.\n", s.h.Kind)
	s.a.Log.Info("quit requested over the control endpoint", "force", force, "busy", busy)
	sess.after = s.h.Quit
	return nil
}

// releaseWait is how long plinth quit waits for the holder to let go.
var releaseWait = 2 * time.Minute

// waitReleased waits until the Plinth that was asked to quit has let go
// of the data folder, so that 'plinth quit && plinth …' works.
func waitReleased(dir string, stderr interface{ Write([]byte) (int, error) }) {
	deadline := time.Now().Add(releaseWait)
	for time.Now().Before(deadline) {
		if lock, ok, err := lockFolder(dir); err == nil && ok {
			_ = lock.release()
			return
		} else if err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintln(stderr, "Plinth is still closing; it lets go of the data folder once its work has stopped.")
}
