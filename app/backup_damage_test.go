package app

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `plinth backup --level 2` over a damaged content pack exits 1 with one
// sentence naming the pack and the command that lists the affected files,
// and leaves nothing in the target (issue 10, items 5 and 15).
func TestBackupOfDamagedPackExitsNonZero(t *testing.T) {
	dir := initialised(t)
	src := filepath.Join(t.TempDir(), "plans.pdf")
	data := make([]byte, 300_000)
	_, _ = rand.Read(data)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run(t, dir, master, "", "import", "--to", "/Tower", src); r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	// Flip a byte inside the first chunk's data (8-byte magic, 36-byte
	// entry header).
	pack := filepath.Join(dir, "fileserver", "packs", "00000001.pack")
	b, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	b[8+36+1000] ^= 1
	if err := os.WriteFile(pack, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, dir, master, "", "backup", "--level", "2")
	if r.code != 1 || r.out != "" || strings.Count(r.err, "\n") != 1 ||
		!strings.HasPrefix(r.err, "Content pack 00000001.pack is damaged: the chunk at byte 8 does not match its checksum") ||
		!strings.Contains(r.err, "run plinth check --deep to list the affected files") {
		t.Fatalf("backup of a damaged pack = %+v", r)
	}
	target := filepath.Join(dir, "backups", "full")
	ents, _ := os.ReadDir(target)
	for _, e := range ents {
		if e.IsDir() && e.Name() != "keys" {
			t.Fatalf("the failed backup left %s in the target", e.Name())
		}
	}
}

// A folder in the target whose manifest names files outside it is listed
// as damaged, and verify and restore refuse it with one sentence.
func TestDamagedBackupFolderInCLI(t *testing.T) {
	dir := initialised(t)
	id := "20991231-000000-abcdef"
	folder := filepath.Join(dir, "backups", "full", id)
	if err := os.MkdirAll(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	manifest := `{"format":2,"id":"` + id + `","level":2,"type":"full","payloads":[{"kind":"fileserver","file":"../../../x"}]}`
	if err := os.WriteFile(filepath.Join(folder, "manifest.json"), []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	want := "Backup " + id + ` is damaged: its manifest cannot be trusted (its File Server part is in the file "../../../x")`
	r := run(t, dir, master, "", "backups")
	if r.code != 0 || !strings.HasSuffix(r.out, "\n"+want+".\n") {
		t.Fatalf("backups = %+v", r)
	}
	for _, args := range [][]string{{"verify", id}, {"restore", id, "--yes"}} {
		r := run(t, dir, master, "", args...)
		if r.code != 1 || r.err != want+"\n" {
			t.Fatalf("%v = %+v\nwant %q", args, r, want)
		}
	}
}
