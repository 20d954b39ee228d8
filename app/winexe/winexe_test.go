package winexe

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestGUI(t *testing.T) {
	// Each case is a folder: the files in it, the program that runs, and
	// the system it runs on.
	cases := []struct {
		name  string
		files []string // "name" a file, "name/" a folder
		link  string   // a hard link to Plinth.exe under this name
		exe   string
		goos  string
		want  string // file name beside exe, or ""
	}{
		{"console build beside the GUI build", []string{"Plinth.exe", "plinth.com"}, "", "plinth.com", "windows", "Plinth.exe"},
		{"any other name beside the GUI build", []string{"Plinth.exe", "plinth-cli.exe"}, "", "plinth-cli.exe", "windows", "Plinth.exe"},
		{"the GUI build itself", []string{"Plinth.exe", "plinth.com"}, "", "Plinth.exe", "windows", ""},
		{"the GUI build under another name", []string{"Plinth.exe"}, "plinth.com", "plinth.com", "windows", ""},
		{"no GUI build beside it", []string{"plinth.exe"}, "", "plinth.exe", "windows", ""},
		{"Plinth.exe is a folder", []string{"Plinth.exe/", "plinth.com"}, "", "plinth.com", "windows", ""},
		{"not Windows", []string{"Plinth.exe", "plinth"}, "", "plinth", "linux", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range c.files {
				p := filepath.Join(dir, f)
				var err error
				if strings.HasSuffix(f, "/") {
					err = os.Mkdir(p, 0o755)
				} else {
					err = os.WriteFile(p, []byte(f), 0o755)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if c.link != "" {
				if err := os.Link(filepath.Join(dir, "Plinth.exe"), filepath.Join(dir, c.link)); err != nil {
					t.Skipf("no hard links here: %v", err)
				}
			}
			got := GUI(c.goos, filepath.Join(dir, c.exe))
			want := ""
			if c.want != "" {
				want = filepath.Join(dir, c.want)
			}
			if got != want {
				t.Errorf("GUI(%s, %s) = %q, want %q", c.goos, c.exe, got, want)
			}
		})
	}
}

// TestStart starts a stand-in for Plinth.exe that writes down its
// arguments and standard input: Start returns before it ends, hands
// it the arguments unchanged and, when asked, standard input.
func TestStart(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the stand-in is a shell script")
	}
	for _, withStdin := range []bool{true, false} {
		dir := t.TempDir()
		gui := filepath.Join(dir, "gui")
		out := filepath.Join(dir, "out")
		script := "#!/bin/sh\nsleep 0.2\n{ printf '%s\\n' \"$@\"; cat; } > '" + out + ".tmp'\nmv '" + out + ".tmp' '" + out + "'\n"
		if err := os.WriteFile(gui, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		var stdin *os.File
		if withStdin {
			in := filepath.Join(dir, "in")
			if err := os.WriteFile(in, []byte("secret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(in)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			stdin = f
		}
		args := []string{"-data", `C:\Plinth data`, "-page", "backups"}
		if err := Start(gui, args, stdin); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("Start waited for the window to finish")
		}
		var got []byte
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if b, err := os.ReadFile(out); err == nil {
				got = b
				break
			}
		}
		want := strings.Join(args, "\n") + "\n"
		if withStdin {
			want += "secret\n"
		}
		if string(got) != want {
			t.Errorf("stdin %v: the window got %q, want %q", withStdin, got, want)
		}
	}
}
