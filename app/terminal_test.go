package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Names that come from a backup target (a snapshot manifest's item name,
// written by anyone who can write the target) reach the terminal escaped,
// in every command's output, and JSON output still decodes to them.
func TestBackupNamesReachTheTerminalEscaped(t *testing.T) {
	dir := initialised(t)
	for _, args := range [][]string{{"mkdir", "/Tower", "--kind", "project"}, {"backup", "--level", "1", "--item", "/Tower"}} {
		if r := run(t, dir, master, "", args...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	manifests, _ := filepath.Glob(filepath.Join(dir, "backups", "snapshots", "items", "*", "*", "manifest.json"))
	if len(manifests) != 1 {
		t.Fatalf("manifests: %v", manifests)
	}
	raw, err := os.ReadFile(manifests[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	evil := "Tower\x1b]0;owned\x07\u202efdp.exe"
	m["itemName"] = evil
	raw, _ = json.Marshal(m)
	if err := os.WriteFile(manifests[0], raw, 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, dir, master, "", "backups")
	if r.code != 0 || strings.ContainsAny(r.out, "\x1b\x07\u202e") || !strings.Contains(r.out, `Tower\x1b]0;owned\x07\u202efdp.exe`) {
		t.Fatalf("backups printed %q", r.out)
	}
	r = run(t, dir, master, "", "backups", "--json")
	var l struct{ Backups []struct{ Item string } }
	if err := json.Unmarshal([]byte(r.out), &l); err != nil || len(l.Backups) != 1 || l.Backups[0].Item != evil || strings.ContainsAny(r.out, "\x1b\x07\u202e") {
		t.Fatalf("backups --json printed %q (%v)", r.out, err)
	}
}
