package autostart

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// fakeExe makes an executable file at a path with a space and a %, as
// Plinth unpacked into an awkward folder.
func fakeExe(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "My Apps", "plinth 100%")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "plinth")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// tempHome points HOME and XDG_CONFIG_HOME at a temporary folder.
func tempHome(t *testing.T) (home, config string) {
	t.Helper()
	home = t.TempDir()
	config = filepath.Join(home, "xdg config")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", config)
	return home, config
}

// Enable, Current and Disable on this system, in a temporary HOME: the
// desktop entry is written where XDG says, read back as the same command
// line, reported stale when Plinth moved, and removed.
func TestEnableDisableLinux(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("XDG autostart is for Linux and the BSDs")
	}
	_, config := tempHome(t)
	exe := fakeExe(t)
	e := Entry{Exe: exe, DataDir: `/srv/plinth "office" $data\1`}
	path := filepath.Join(config, "autostart", "org.plinth.console.desktop")

	s, err := Current(e)
	if err != nil {
		t.Fatal(err)
	}
	if s.Found || s.Enabled || s.Where != path {
		t.Fatalf("before Enable: %+v, want nothing found at %s", s, path)
	}
	if err := Disable(); err != nil {
		t.Fatalf("Disable with no entry: %v", err)
	}

	for range 2 { // a second Enable replaces the first
		if err := Enable(e); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("entry permission %v, want 0644", fi.Mode().Perm())
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("autostart folder: %v, %v; want made with 0700", fi.Mode(), err)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("autostart folder holds %d files, want only the entry", len(ents))
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "\nExec=\""+strings.ReplaceAll(exe, "%", "%%")+"\" -data ") {
		t.Errorf("entry's Exec line does not quote the program:\n%s", data)
	}

	s, err = Current(e)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Found || !s.Enabled || s.Stale || s.Problem != "" || !s.Starts() {
		t.Fatalf("after Enable: %+v", s)
	}
	if want := e.Argv(); !slices.Equal(s.Command, want) {
		t.Fatalf("command read back %q, want %q", s.Command, want)
	}

	// Another Plinth, another data folder: stale.
	other := fakeExe(t)
	if s, _ := Current(Entry{Exe: other, DataDir: e.DataDir}); !s.Stale || !strings.Contains(s.Problem, "not this Plinth") {
		t.Errorf("status for another executable: %+v", s)
	}
	if s, _ := Current(Entry{Exe: exe}); !s.Stale || s.Problem != `it opens the data folder /srv/plinth "office" $data\1, not the default data folder` {
		t.Errorf("status for the default data folder: %+v", s)
	}

	// Plinth moved away: stale, and the setting shows off.
	if err := os.Rename(exe, exe+".old"); err != nil {
		t.Fatal(err)
	}
	s, _ = Current(e)
	if !s.Enabled || !s.Stale || !strings.Contains(s.Problem, "which does not exist") {
		t.Errorf("status after Plinth moved: %+v", s)
	}
	on, err := Setting{Entry: func() (Entry, error) { return e, nil }}.Enabled()
	if on || err != nil {
		t.Errorf("Setting.Enabled after Plinth moved = %v, %v; want false", on, err)
	}
	if err := os.Rename(exe+".old", exe); err != nil {
		t.Fatal(err)
	}

	// GNOME's Startup Applications turn it off in the same file.
	off := strings.Replace(string(data), "X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false", 1)
	if err := os.WriteFile(path, []byte(off), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ = Current(e)
	if s.Enabled || !s.Found || s.Stale || s.Problem != "it is turned off in the desktop's startup settings" {
		t.Errorf("status of an entry turned off: %+v", s)
	}

	// Something that is not a desktop entry: found, stale, replaced by Enable.
	if err := os.WriteFile(path, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := Current(e); err != nil || !s.Found || !s.Stale || s.Problem != "the entry cannot be read: it has no Exec line" {
		t.Errorf("status of garbage: %+v, %v", s, err)
	}

	if err := Disable(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("entry still there after Disable: %v", err)
	}
	if s, _ := Current(e); s.Found || s.Enabled {
		t.Fatalf("after Disable: %+v", s)
	}
}

func TestSettingLinux(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("XDG autostart is for Linux and the BSDs")
	}
	tempHome(t)
	exe := fakeExe(t)
	s := Setting{Entry: func() (Entry, error) { return Entry{Exe: exe}, nil }}
	for _, on := range []bool{true, false, true} {
		if err := s.SetEnabled(on); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Enabled(); got != on || err != nil {
			t.Fatalf("after SetEnabled(%v): Enabled = %v, %v", on, got, err)
		}
	}
	failing := Setting{Entry: func() (Entry, error) { return Entry{}, errors.New("no executable") }}
	if err := failing.SetEnabled(true); err == nil {
		t.Fatal("SetEnabled without an executable succeeded")
	}
}

func TestEnableRefusesRelativePaths(t *testing.T) {
	tempHome(t)
	for _, e := range []Entry{{}, {Exe: "plinth"}, {Exe: fakeExe(t), DataDir: "data"}} {
		if err := Enable(e); err == nil {
			t.Errorf("Enable(%+v) succeeded", e)
		}
	}
}

// The XDG folder: XDG_CONFIG_HOME when absolute, else ~/.config.
func TestXDGPlace(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix paths and permissions")
	}
	for _, tc := range []struct{ xdg, want string }{
		{"/x/conf", "/x/conf/autostart/org.plinth.console.desktop"},
		{"", "/home/ann/.config/autostart/org.plinth.console.desktop"},
		{"relative/conf", "/home/ann/.config/autostart/org.plinth.console.desktop"},
	} {
		env := map[string]string{"HOME": "/home/ann", "XDG_CONFIG_HOME": tc.xdg}
		p, err := xdgPlace(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		if got := filepath.ToSlash(p.where()); got != tc.want {
			t.Errorf("XDG_CONFIG_HOME=%q: entry at %s, want %s", tc.xdg, got, tc.want)
		}
	}
	if _, err := xdgPlace(func(string) string { return "" }); err == nil {
		t.Error("no HOME and no XDG_CONFIG_HOME gave a place")
	}
}

// The macOS writer on this system's files: the launch agent is written
// under ~/Library/LaunchAgents, read back, and removed.
func TestLaunchAgentPlace(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix paths and permissions")
	}
	home := t.TempDir()
	p, err := launchAgentPlace(func(k string) string { return map[string]string{"HOME": home}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, "Library", "LaunchAgents", "org.plinth.console.plist"); p.where() != want {
		t.Fatalf("agent at %s, want %s", p.where(), want)
	}
	e := Entry{Exe: fakeExe(t), DataDir: "/Users/ann/Plinth & <co>"}
	if err := p.write(e.Argv()); err != nil {
		t.Fatal(err)
	}
	s, err := status(p, e)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Starts() || !slices.Equal(s.Command, e.Argv()) {
		t.Fatalf("status %+v, want it to run %q", s, e.Argv())
	}
	if fi, err := os.Stat(p.where()); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("agent file: %v, %v; want 0644", fi.Mode(), err)
	}
	for range 2 {
		if err := p.remove(); err != nil {
			t.Fatal(err)
		}
	}
	if s, _ := status(p, e); s.Found {
		t.Fatalf("after remove: %+v", s)
	}
}

func TestDisplay(t *testing.T) {
	got := Display([]string{"/opt/My Apps/plinth", "-data", "", "-background"})
	if want := `"/opt/My Apps/plinth" -data "" -background`; got != want {
		t.Errorf("Display = %s, want %s", got, want)
	}
}

func TestDataDirFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-background"}, ""},
		{[]string{"-data", "/d", "-background"}, "/d"},
		{[]string{"--data=/e"}, "/e"},
		{[]string{"-data"}, ""},
		{[]string{"data", "/x"}, ""},
	} {
		if got := dataDir(tc.args); got != tc.want {
			t.Errorf("dataDir(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}
