package app

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestFynePrefsPath(t *testing.T) {
	t.Setenv("HOME", "/home/ann")
	t.Setenv("XDG_CONFIG_HOME", "/home/ann/.config")
	if runtime.GOOS == "windows" {
		t.Skip("paths are checked with Unix separators")
	}
	for goos, want := range map[string]string{
		"linux":   "/home/ann/.config/fyne/org.plinth.console/preferences.json",
		"darwin":  "/home/ann/Library/Preferences/fyne/org.plinth.console/preferences.json",
		"windows": "/home/ann/AppData/Roaming/fyne/org.plinth.console/preferences.json",
	} {
		if got := fynePrefsPath(goos, ID); got != want {
			t.Errorf("%s: %s, want %s", goos, got, want)
		}
	}
}

// A preferences file a killed window left empty or cut off is moved aside
// (the main window) or removed (the window that only says why it cannot
// open), so Fyne never prints "Preferences load error: EOF"; a good one is
// left alone.
func TestTidyPreferences(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	p := fynePrefsPath(runtime.GOOS, ID)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if msg := tidyPreferences(ID, false); msg != "" {
		t.Fatalf("no file: %q", msg)
	}
	good := `{"fyne:fileDialogLastFolder":"file:///srv/ifc"}`
	_ = os.WriteFile(p, []byte(good), 0o600)
	if msg := tidyPreferences(ID, false); msg != "" {
		t.Fatalf("good file: %q", msg)
	}
	for _, damaged := range []string{"", `{"fyne:fileDialogLast`} {
		_ = os.WriteFile(p, []byte(damaged), 0o600)
		if msg := tidyPreferences(ID, false); !strings.HasPrefix(msg, "moved damaged window preferences aside") {
			t.Fatalf("damaged %q: %q", damaged, msg)
		}
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatal("the damaged file is still where Fyne reads it")
		}
		_ = os.WriteFile(p, []byte(damaged), 0o600)
		if msg := tidyPreferences(ID, true); !strings.HasPrefix(msg, "removed damaged") {
			t.Fatalf("drop %q: %q", damaged, msg)
		}
	}
}
