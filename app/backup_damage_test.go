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
