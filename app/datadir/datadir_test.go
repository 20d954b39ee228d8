package datadir

import (
	"path/filepath"
	"runtime"
	"testing"
)

func TestDefaultFor(t *testing.T) {
	tests := []struct {
		name string
		goos string
		env  map[string]string
		want string
	}{
		{"windows local app data", "windows",
			map[string]string{"LOCALAPPDATA": `C:\Users\ann\AppData\Local`, "APPDATA": `C:\Users\ann\AppData\Roaming`, "USERPROFILE": `C:\Users\ann`},
			`C:\Users\ann\AppData\Local\Plinth`},
		{"windows trailing separator", "windows", map[string]string{"LOCALAPPDATA": `D:\`}, `D:\Plinth`},
		{"windows without LOCALAPPDATA", "windows",
			map[string]string{"APPDATA": `C:\Users\ann\AppData\Roaming`, "USERPROFILE": `C:\Users\ann`},
			`C:\Users\ann\AppData\Local\Plinth`},
		{"windows without a profile", "windows", map[string]string{}, "Plinth"},
		{"macos", "darwin", map[string]string{"HOME": "/Users/ann", "XDG_DATA_HOME": "/elsewhere"},
			"/Users/ann/Library/Application Support/Plinth"},
		{"macos without HOME", "darwin", map[string]string{}, "Plinth"},
		{"linux", "linux", map[string]string{"HOME": "/home/ann"}, "/home/ann/.local/share/plinth"},
		{"linux XDG_DATA_HOME", "linux", map[string]string{"HOME": "/home/ann", "XDG_DATA_HOME": "/data/ann"}, "/data/ann/plinth"},
		{"linux XDG_DATA_HOME with a slash", "linux", map[string]string{"HOME": "/home/ann", "XDG_DATA_HOME": "/data/ann/"}, "/data/ann/plinth"},
		{"linux relative XDG_DATA_HOME is ignored", "linux", map[string]string{"HOME": "/home/ann", "XDG_DATA_HOME": "data"}, "/home/ann/.local/share/plinth"},
		{"linux XDG_CONFIG_HOME plays no part", "linux", map[string]string{"HOME": "/home/ann", "XDG_CONFIG_HOME": "/cfg"}, "/home/ann/.local/share/plinth"},
		{"linux without HOME", "linux", map[string]string{}, "plinth"},
		{"freebsd", "freebsd", map[string]string{"HOME": "/home/ann"}, "/home/ann/.local/share/plinth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := defaultFor(tt.goos, func(k string) string { return tt.env[k] })
			if got != tt.want {
				t.Errorf("defaultFor(%s, %v) = %q, want %q", tt.goos, tt.env, got, tt.want)
			}
		})
	}
}

// Old and Default read the environment of the running process.
func TestOldAndDefault(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		t.Skip("the XDG folders are for Linux and the BSDs")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_DATA_HOME", "")
	if got, want := Old(), filepath.Join(home, ".config", "Plinth"); got != want {
		t.Errorf("Old() = %q, want %q", got, want)
	}
	if got, want := Default(), filepath.Join(home, ".local", "share", "plinth"); got != want {
		t.Errorf("Default() = %q, want %q", got, want)
	}
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "cfg"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
	if got, want := Old(), filepath.Join(home, "cfg", "Plinth"); got != want {
		t.Errorf("Old() = %q, want %q", got, want)
	}
	if got, want := Default(), filepath.Join(home, "data", "plinth"); got != want {
		t.Errorf("Default() = %q, want %q", got, want)
	}
	// A relative XDG_CONFIG_HOME: the OS names no old folder.
	t.Setenv("XDG_CONFIG_HOME", "cfg")
	if got := Old(); got != "" {
		t.Errorf("Old() with a relative XDG_CONFIG_HOME = %q, want \"\"", got)
	}
}

func TestOSName(t *testing.T) {
	for goos, want := range map[string]string{"windows": "Windows", "darwin": "macOS", "linux": "Linux", "freebsd": "FreeBSD", "plan9": "this system"} {
		if got := osName(goos); got != want {
			t.Errorf("osName(%s) = %q, want %q", goos, got, want)
		}
	}
}

func TestRebase(t *testing.T) {
	from, to := filepath.FromSlash("/home/ann/.config/Plinth"), filepath.FromSlash("/home/ann/.local/share/plinth")
	if runtime.GOOS == "windows" {
		from, to = `C:\Users\ann\AppData\Roaming\Plinth`, `C:\Users\ann\AppData\Local\Plinth`
	}
	tests := []struct {
		p, want string
		ok      bool
	}{
		{filepath.Join(from, "backups", "full"), filepath.Join(to, "backups", "full"), true},
		{from, to, true},
		{from + string(filepath.Separator), to, true},
		{from + "2", from + "2", false},
		{filepath.Join(filepath.Dir(from), "backups"), filepath.Join(filepath.Dir(from), "backups"), false},
		{"backups", "backups", false},
	}
	for _, tt := range tests {
		got, ok := Rebase(tt.p, from, to)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Rebase(%q) = %q, %v; want %q, %v", tt.p, got, ok, tt.want, tt.ok)
		}
	}
}
