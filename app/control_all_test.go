package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// With the window (or plinth serve) holding the folder, every documented
// command works from a terminal: each one in the command table runs here
// through the control endpoint, in an order an admin might, and ends as
// it would headless. A new command fails this test until it is added.
func TestEveryCommandWorksThroughTheRunningPlinth(t *testing.T) {
	dir := initialised(t)
	a := holding(t, dir, Holder{Quit: func() {}})
	old := releaseWait // this holder does not let go of the folder when asked to quit
	releaseWait = 100 * time.Millisecond
	defer func() { releaseWait = old }()
	src := t.TempDir()
	sample, err := os.ReadFile(filepath.Join("..", "testdata", "ifc", "samples", "Sample_entities.ifc"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "grid.ifc"), sample, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "notes.txt"), []byte("site notes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	// Relative paths are the caller's: run from the folder with the files.
	t.Chdir(src)

	env := map[string]string{"PLINTH_PASSWORD": "master password", "PLINTH_NEW_PASSWORD": "anna's password"}
	var level1, level2 string
	idOf := func(r result) string {
		var v struct{ ID string }
		_ = json.Unmarshal([]byte(r.out), &v)
		return v.ID
	}
	steps := []struct {
		args []string
		code int    // the exit code it ends with (as headless)
		out  string // a part of what it prints
	}{
		{[]string{"init"}, 1, ""},
		{[]string{"status", "--json"}, 0, `"initialised": true`},
		{[]string{"user", "add", "anna", "--role", "project-admin", "--email", "anna@office.example"}, 0, "anna"},
		{[]string{"user", "list", "--json"}, 0, `"anna"`},
		{[]string{"user", "role", "anna", "server-admin"}, 0, ""},
		{[]string{"user", "reset-password", "anna"}, 0, ""},
		{[]string{"user", "email", "anna", "anna.berg@office.example"}, 0, ""},
		{[]string{"mkdir", "/Tower", "--kind", "project"}, 0, ""},
		{[]string{"import", "--to", "/Tower", "notes.txt", "grid.ifc"}, 0, "Imported 2 files"},
		{[]string{"ls", "/Tower", "--json"}, 0, "notes.txt"},
		{[]string{"export", "/Tower/notes.txt", filepath.Join(out, "notes.txt")}, 0, "Exported 1 file"},
		{[]string{"versions", "/Tower/notes.txt", "--json"}, 0, ""},
		{[]string{"check", "--json"}, 0, `"consistent": true`},
		{[]string{"sync-files", "--yes", "--json"}, 0, ""},
		{[]string{"sync-history", "--json"}, 0, ""},
		{[]string{"notifications", "--json"}, 0, ""},
		{[]string{"smtp", "set", "--host", "127.0.0.1", "--port", "1", "--security", "none", "--from", "plinth@office.example"}, 0, ""},
		{[]string{"smtp", "test", "--to", "anna@office.example"}, 1, ""},
		{[]string{"backup", "--level", "1", "--item", "/Tower", "--json"}, 0, `"level": 1`},
		{[]string{"target", "add", "usb", "--folder", filepath.Join(out, "usb")}, 0, "Added backup target usb"},
		{[]string{"target", "ls", "--json"}, 0, `"usb"`},
		{[]string{"target", "test", "usb"}, 0, "works"},
		{[]string{"target", "secret", "usb"}, 2, ""}, // no PLINTH_S3_SECRET (and a folder has none)
		{[]string{"backup", "into", "usb"}, 0, "straight into usb"},
		{[]string{"backup", "--level", "2", "--copy-to", "usb"}, 1, ""}, // into usb, and a copy to itself makes no sense
		{[]string{"backup", "into", "folder"}, 0, "into the backup folder"},
		{[]string{"backup", "copy-to", "usb"}, 0, "copied to usb"},
		{[]string{"backup", "--level", "2", "--json"}, 0, `"state": "copied"`},
		{[]string{"backup", "copy"}, 0, "in the copy target already"},
		{[]string{"snapshot", "copy-to", "usb"}, 0, "Every snapshot is copied to usb"},
		{[]string{"snapshot", "copy", "--json"}, 0, `"state": "copied"`},
		{[]string{"backup", "--level", "3"}, 1, ""}, // no OS snapshot command set up
		{[]string{"backups", "--json"}, 0, `"backups"`},
		{[]string{"verify", "LEVEL2", "--json"}, 0, ""},
		{[]string{"verify", "LEVEL2", "--target", "usb"}, 0, "is sound"},
		{[]string{"snapshot-export", "LEVEL1", "tower.plinthsnap"}, 0, "Snapshot written"},
		{[]string{"snapshot-import", "tower.plinthsnap", "--as", "Tower copy"}, 0, ""},
		{[]string{"snapshot", "schedule", "/Tower", "daily", "--at", "03:00", "--keep", "5"}, 0, ""},
		{[]string{"restore", "LEVEL1", "--as-new", "Tower restored", "--yes", "--json"}, 0, ""},
		{[]string{"prune", "--dry-run"}, 0, ""},
		{[]string{"backup", "copy-to", "none"}, 0, "not copied"},
		{[]string{"target", "rm", "usb"}, 1, ""}, // snapshots are still copied there
		{[]string{"snapshot", "copy-to", "none"}, 0, "not copied"},
		{[]string{"target", "rm", "usb"}, 0, "forgotten"},
		{[]string{"backup", "retention", "--newest", "5"}, 0, "the newest 5"},
		{[]string{"backup", "schedule", "daily", "02:30"}, 0, "the next one starts"},
		{[]string{"backup", "passphrase"}, 0, "not encrypted"},
		{[]string{"imodel", "create", "/Tower", "Coordination"}, 0, ""},
		{[]string{"imodel", "ls", "--json"}, 0, "Coordination"},
		{[]string{"connection", "add", "/Tower/Coordination", "Grid", "--source", ".", "--map", "grid.ifc", "--schedule", "manual"}, 0, ""},
		{[]string{"connection", "ls", "/Tower/Coordination", "--json"}, 0, "Grid"},
		{[]string{"connection", "sync", "/Tower/Coordination", "Grid", "--json"}, 0, `"inserted"`},
		{[]string{"imodel", "sync", "/Tower/Coordination", "--json"}, 0, ""},
		{[]string{"imodel", "stats", "/Tower/Coordination", "--json"}, 0, ""},
		{[]string{"imodel", "changesets", "/Tower/Coordination", "--json"}, 0, ""},
		{[]string{"imodel", "search", "/Tower/Coordination", "grid", "--json"}, 0, ""},
		{[]string{"connection", "runs", "/Tower/Coordination", "Grid", "--json"}, 0, ""},
		{[]string{"connection", "report", "/Tower/Coordination", "Grid", "--csv"}, 0, ""},
		{[]string{"connection", "rename", "/Tower/Coordination", "Grid", "Structural grid"}, 0, ""},
		{[]string{"connection", "schedule", "/Tower/Coordination", "Structural grid", "daily", "01:00"}, 0, ""},
		{[]string{"connection", "owner", "/Tower/Coordination", "Structural grid", "anna"}, 1, ""},                        // anna has not worked with it
		{[]string{"connection", "map", "/Tower/Coordination", "Structural grid", "notes.txt"}, 1, ""},                     // not an IFC file
		{[]string{"connection", "unmap", "/Tower/Coordination", "Structural grid", "grid.ifc", "--keep-elements"}, 0, ""}, // its last file: it goes
		{[]string{"connection", "add", "/Tower/Coordination", "Grid again", "--source", ".", "--map", "grid.ifc"}, 0, ""},
		{[]string{"connection", "rm", "/Tower/Coordination", "Grid again", "--delete-elements"}, 0, ""},
		{[]string{"rm", "/Tower/notes.txt"}, 0, ""},
		{[]string{"user", "rm", "anna"}, 0, ""},
		{[]string{"quit"}, 0, "is closing"},
	}
	ran := map[string]bool{}
	for _, s := range steps {
		args := append([]string(nil), s.args...)
		for i, a := range args {
			args[i] = strings.NewReplacer("LEVEL1", level1, "LEVEL2", level2).Replace(a)
		}
		cmd, _ := findCommand(args)
		if cmd == nil {
			t.Fatalf("no command for %v", args)
		}
		ran[cmd.name] = true
		r := run(t, dir, env, "", args...)
		if r.code != s.code || !strings.Contains(r.out, s.out) {
			t.Errorf("plinth %s through the running Plinth: %+v; want exit %d and %q in the output", strings.Join(args, " "), r, s.code, s.out)
		}
		if r.code != 0 && strings.Count(r.err, "\n") == 0 {
			t.Errorf("plinth %s failed without a sentence: %+v", strings.Join(args, " "), r)
		}
		switch {
		case len(args) > 2 && args[0] == "backup" && args[2] == "1":
			level1 = idOf(r)
		case len(args) > 2 && args[0] == "backup" && args[2] == "2":
			level2 = idOf(r)
		}
	}
	if !regexp.MustCompile(`^\d{8}-\d{6}-`).MatchString(level2) {
		t.Fatalf("no level-2 backup id: %q", level2)
	}
	for _, c := range commands {
		if !c.local() && !ran[c.name] {
			t.Errorf("plinth %s is not tried through the running Plinth", c.name)
		}
	}
	// Every one of them ran in the holder: the log says so.
	log, _ := os.ReadFile(filepath.Join(a.DataDir, "logs", "plinth.log"))
	if n := strings.Count(string(log), "command from the control endpoint"); n != len(steps) {
		t.Errorf("the holder's log shows %d commands, want %d", n, len(steps))
	}
}
