package app

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// fynePrefsPath is where Fyne keeps the preferences of the app with this
// id on this OS (mirroring fyne's internal/app rootConfigDir).
func fynePrefsPath(goos, id string) string {
	var root string
	switch goos {
	case "windows":
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, "AppData", "Roaming", "fyne")
	case "darwin":
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, "Library", "Preferences", "fyne")
	default:
		cfg, _ := os.UserConfigDir()
		root = filepath.Join(cfg, "fyne")
	}
	return filepath.Join(root, id, "preferences.json")
}

// tidyPreferences makes sure Fyne finds readable preferences for the app
// with this id. Fyne rewrites the file in place when it saves, so a window
// killed while it saves leaves it empty or cut off, and every later start
// prints "Preferences load error: EOF" on stderr. A damaged file holds
// nothing worth keeping (window size, the file dialog's last folder): it is
// moved aside as preferences.json.damaged, or, with drop, removed. It
// returns what it did, for the log ("" when the file was fine or absent).
func tidyPreferences(id string, drop bool) string {
	p := fynePrefsPath(runtime.GOOS, id)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && json.Valid(b)) {
		return ""
	}
	if drop {
		if err := os.Remove(p); err != nil {
			return "damaged window preferences " + p + " could not be removed: " + err.Error()
		}
		return "removed damaged window preferences " + p
	}
	if err := os.Rename(p, p+".damaged"); err != nil {
		return "damaged window preferences " + p + " could not be moved aside: " + err.Error()
	}
	return "moved damaged window preferences aside to " + p + ".damaged"
}
