package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/app/autostart"
)

// runAutostart runs one autostart command the way RunCommand would,
// without needing it registered in commands.
func runAutostart(t *testing.T, g Global, args ...string) (string, error) {
	t.Helper()
	name := "autostart " + args[0]
	for _, cmd := range autostartCommands {
		if cmd.name == name {
			var out, errOut bytes.Buffer
			c := &cli{g: g, io: IO{Out: &out, Err: &errOut, Getenv: os.Getenv}}
			err := cmd.run(context.Background(), c, args[1:])
			return out.String(), err
		}
	}
	t.Fatalf("no command %q", name)
	return "", nil
}

func TestAutostartCommands(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("this test writes the XDG autostart entry of Linux and the BSDs")
	}
	home := t.TempDir()
	config := filepath.Join(home, "config")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", config)
	t.Setenv("PLINTH_DATA", "")
	entry := filepath.Join(config, "autostart", "org.plinth.console.desktop")
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)

	data := filepath.Join(home, "office data")
	g := Global{DataDir: data}
	out, err := runAutostart(t, g, "status")
	if err != nil || !strings.HasPrefix(out, "Plinth does not start when you log in; 'plinth autostart on' sets it up.\n") || !strings.Contains(out, entry) {
		t.Fatalf("status before: %q, %v", out, err)
	}

	out, err = runAutostart(t, g, "on")
	if want := "Plinth will start hidden in the tray with the data folder " + data + " when you log in (" + entry + ").\n"; err != nil || out != want {
		t.Fatalf("on: %q, %v; want %q", out, err, want)
	}
	b, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nExec="+exe+` -data "`+data+`" -background`+"\n") {
		t.Errorf("entry does not run this test binary with the data folder:\n%s", b)
	}

	out, err = runAutostart(t, g, "status")
	if err != nil || !strings.HasPrefix(out, "Plinth starts hidden in the tray when you log in.\n") ||
		!strings.Contains(out, "Runs   "+exe+` -data "`+data+`" -background`) {
		t.Fatalf("status: %q, %v", out, err)
	}
	out, err = runAutostart(t, g, "status", "--json")
	var s autostart.Status
	if err != nil || json.Unmarshal([]byte(out), &s) != nil || !s.Enabled || s.Stale || s.Where != entry || len(s.Command) != 4 {
		t.Fatalf("status --json: %s, %v", out, err)
	}
	// Asked for another data folder, the entry is stale.
	out, _ = runAutostart(t, Global{DataDir: filepath.Join(home, "other")}, "status")
	if !strings.HasPrefix(out, "Plinth is set to start when you log in, but it opens the data folder "+data+", not the data folder ") {
		t.Errorf("status for another folder: %q", out)
	}

	// The default data folder is left out of the command line; a folder
	// named by PLINTH_DATA is not.
	if _, err := runAutostart(t, Global{DataDir: DefaultDataDir()}, "on"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(entry); !strings.Contains(string(b), "\nExec="+exe+" -background\n") {
		t.Errorf("default data folder in the entry:\n%s", b)
	}
	t.Setenv("PLINTH_DATA", data)
	if e, err := autostartEntry(DefaultDataDir()); err != nil || e.DataDir != data {
		t.Errorf("PLINTH_DATA=%s: entry %+v, %v; want -data", data, e, err)
	}

	out, err = runAutostart(t, g, "off")
	if want := "Plinth will no longer start when you log in (removed " + entry + ").\n"; err != nil || out != want {
		t.Fatalf("off: %q, %v; want %q", out, err, want)
	}
	if _, err := os.Stat(entry); !os.IsNotExist(err) {
		t.Fatalf("entry still there: %v", err)
	}
	out, err = runAutostart(t, g, "off")
	if err != nil || !strings.HasPrefix(out, "Plinth was not set to start") {
		t.Fatalf("off again: %q, %v", out, err)
	}

	if _, err := runAutostart(t, g, "on", "extra"); err == nil {
		t.Error("autostart on took an argument")
	}

	// The window's setting goes through the same entry.
	set := autostartSetting(data)
	if err := set.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	if on, err := set.Enabled(); !on || err != nil {
		t.Fatalf("setting after SetEnabled(true): %v, %v", on, err)
	}
}

// The default data folder (where the OS keeps application data) is not
// written into the entry: it follows the OS's rule at login.
func TestAutostartDefaultFolderHasNoDataFlag(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("this test writes the XDG autostart entry of Linux and the BSDs")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
	t.Setenv("PLINTH_DATA", "")
	if _, err := runAutostart(t, Global{DataDir: filepath.Join(home, "data", "plinth")}, "on"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(home, "config", "autostart", "org.plinth.console.desktop"))
	if err != nil || strings.Contains(string(b), "-data") || !strings.Contains(string(b), " -background\n") {
		t.Fatalf("entry for the default folder: %v\n%s", err, b)
	}
}
