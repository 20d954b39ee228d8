package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"codeberg.org/plinth/plinth/app/autostart"
	"codeberg.org/plinth/plinth/app/datadir"
	"codeberg.org/plinth/plinth/app/winexe"
	"codeberg.org/plinth/plinth/views"
)

// autostartCommands turn starting Plinth at login on and off. They work on
// this computer's user account, not on the data folder, so they neither
// open it nor log in.
var autostartCommands = []command{
	{"autostart on", "", "start Plinth hidden in the tray when you log in to this computer", cmdAutostartOn},
	{"autostart off", "", "stop starting Plinth when you log in", cmdAutostartOff},
	{"autostart status", "[--json]", "say whether Plinth starts when you log in, and what it runs", cmdAutostartStatus},
}

// autostartEntry is the command line that starts this Plinth with the data
// folder dataDir at login. -data is left out for the operating system's
// default folder only: PLINTH_DATA, set in a shell, is seldom set at
// login, so a folder it names is passed explicitly.
func autostartEntry(dataDir string) (autostart.Entry, error) {
	exe, err := os.Executable()
	if err != nil {
		return autostart.Entry{}, fmt.Errorf("find Plinth's program file: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	if gui := winexe.GUI(runtime.GOOS, exe); gui != "" {
		exe = gui // the console build registers Plinth.exe: no console window at login
	}
	e := autostart.Entry{Exe: exe}
	if dataDir == "" {
		return e, nil
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return autostart.Entry{}, fmt.Errorf("data folder %s: %w", dataDir, err)
	}
	if filepath.Clean(abs) == filepath.Clean(datadir.Default()) {
		return e, nil // DefaultDataDir without PLINTH_DATA
	}
	e.DataDir = abs
	return e, nil
}

// The window's check box and offer use autostart.Setting.
var _ views.Autostart = autostart.Setting{}

// autostartSetting is start at login for the window of the data folder
// dataDir (views.Services.Autostart).
func autostartSetting(dataDir string) autostart.Setting {
	return autostart.Setting{Entry: func() (autostart.Entry, error) { return autostartEntry(dataDir) }}
}

func cmdAutostartOn(_ context.Context, c *cli, args []string) error {
	if err := parseNone(newFlags("autostart on"), args); err != nil {
		return err
	}
	e, err := autostartEntry(c.g.DataDir)
	if err != nil {
		return err
	}
	if err := autostart.Enable(e); err != nil {
		return err
	}
	s, err := autostart.Current(e)
	if err != nil {
		return err
	}
	with := ""
	if e.DataDir != "" {
		with = " with the data folder " + e.DataDir
	}
	fmt.Fprintf(c.io.Out, "Plinth will start hidden in the tray%s when you log in (%s).\n", with, s.Where)
	if s.Problem != "" {
		fmt.Fprintf(c.io.Out, "But %s.\n", s.Problem)
	}
	return nil
}

func cmdAutostartOff(_ context.Context, c *cli, args []string) error {
	if err := parseNone(newFlags("autostart off"), args); err != nil {
		return err
	}
	before, _ := autostart.Current(autostart.Entry{}) // only for the sentence
	if err := autostart.Disable(); err != nil {
		return err
	}
	if before.Found {
		fmt.Fprintf(c.io.Out, "Plinth will no longer start when you log in (removed %s).\n", before.Where)
	} else {
		fmt.Fprintln(c.io.Out, "Plinth was not set to start when you log in; there was nothing to remove.")
	}
	return nil
}

func cmdAutostartStatus(_ context.Context, c *cli, args []string) error {
	fs := newFlags("autostart status")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	// Without the program's path the entry is still read; only whether
	// it points at this Plinth is not checked.
	e, _ := autostartEntry(c.g.DataDir)
	s, err := autostart.Current(e)
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(s)
	}
	switch {
	case s.Starts():
		fmt.Fprintln(c.io.Out, "Plinth starts hidden in the tray when you log in.")
	case s.Enabled:
		fmt.Fprintf(c.io.Out, "Plinth is set to start when you log in, but %s; 'plinth autostart on' sets it up for this Plinth and data folder.\n", s.Problem)
	case s.Found:
		fmt.Fprintf(c.io.Out, "Plinth does not start when you log in: %s; 'plinth autostart on' sets it up again.\n", s.Problem)
	default:
		fmt.Fprintln(c.io.Out, "Plinth does not start when you log in; 'plinth autostart on' sets it up.")
	}
	rows := [][]string{{"  Entry", s.Where}}
	if len(s.Command) > 0 {
		rows = append(rows, []string{"  Runs", autostart.Display(s.Command)})
	}
	c.table(rows)
	return nil
}
