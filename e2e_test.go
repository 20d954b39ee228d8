package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The file-server issue's end-to-end run, through the real binary: import,
// back up, change, restore one store, check, synchronize, check, export.
func TestFileServerEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	src := t.TempDir()
	env := []string{"PLINTH_PASSWORD=master password"}
	run := func(args ...string) proc {
		t.Helper()
		p := plinth(t, env, "", append([]string{"-data", dir}, args...)...)
		if p.code != 0 {
			t.Fatalf("plinth %s: exit %d: %s%s", strings.Join(args, " "), p.code, p.stderr, p.out)
		}
		return p
	}
	jsonOf := func(p proc, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(p.out), v); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, p.out)
		}
	}
	write := func(rel string, n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		p := filepath.Join(src, rel)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return b
	}
	planA := write("Tower/plans/ground floor.pdf", 5<<20) // two chunks
	write("Tower/plans/roof.pdf", 1000)
	write("Tower/model.ifc", 70000)
	write("Extra/notes.txt", 10)
	write("Extra/sub/sketch.png", 2000)

	run("init")
	run("import", filepath.Join(src, "Tower"))
	var b struct {
		ID    string
		Level int
		Bytes int64
	}
	jsonOf(run("backup", "--level", "2", "--json"), &b)
	if b.ID == "" || b.Level != 2 || b.Bytes < 5<<20 {
		t.Fatalf("backup = %+v", b)
	}
	run("import", "--to", "/", filepath.Join(src, "Extra"))
	run("rm", "/Tower/plans/ground floor.pdf")

	// Restore the File Server alone: it gets back ground floor.pdf (which the
	// Manager deleted since) and loses the two Extra files.
	run("restore", b.ID, "--scope", "fileserver", "--yes")

	var c struct {
		Consistent                                   bool
		MissingOnServer, UnknownToManager, Differing int
	}
	jsonOf(run("check", "--json"), &c)
	if c.Consistent || c.MissingOnServer != 2 || c.UnknownToManager != 1 || c.Differing != 0 {
		t.Fatalf("check after restore = %+v, want 2 missing, 1 unknown", c)
	}

	// Only masteradmin may synchronize.
	pp := plinth(t, append(env, "PLINTH_NEW_PASSWORD=sam's password"), "", "-data", dir, "user", "add", "sam", "--role", "server-admin")
	if pp.code != 0 {
		t.Fatalf("user add: %+v", pp)
	}
	p := plinth(t, []string{"PLINTH_PASSWORD=sam's password"}, "", "-data", dir, "-user", "sam", "sync-files", "--yes")
	if p.code != 1 || p.stderr != "Only masteradmin can run the full file synchronization\n" {
		t.Fatalf("sync-files as sam = %+v", p)
	}

	var s struct {
		Deleted, Adopted, Updated int
		Folder                    string
	}
	jsonOf(run("sync-files", "--yes", "--json"), &s)
	if s.Deleted != 2 || s.Adopted != 1 || s.Updated != 0 || !strings.HasPrefix(s.Folder, "Synched from File Server (") {
		t.Fatalf("sync-files = %+v", s)
	}
	jsonOf(run("check", "--json"), &c)
	if !c.Consistent {
		t.Fatalf("check after sync = %+v", c)
	}
	// The adopted file sits in the dated folder under its original sub-folders.
	var ls struct {
		Entries []struct{ Name, Kind string }
	}
	jsonOf(run("ls", "/"+s.Folder+"/Tower/plans", "--json"), &ls)
	if len(ls.Entries) != 1 || ls.Entries[0].Name != "ground floor.pdf" {
		t.Fatalf("adopted folder holds %+v", ls.Entries)
	}
	out := t.TempDir()
	run("export", "/"+s.Folder+"/Tower/plans/ground floor.pdf", out)
	got, err := os.ReadFile(filepath.Join(out, "ground floor.pdf"))
	if err != nil || !bytes.Equal(got, planA) {
		t.Fatalf("exported file differs from the original (%v)", err)
	}
	// The entries whose content was lost are gone; their folders stay.
	jsonOf(run("ls", "/Extra/sub", "--json"), &ls)
	if len(ls.Entries) != 0 {
		t.Fatalf("/Extra/sub still lists %+v", ls.Entries)
	}
	// A second synchronization finds nothing to do.
	jsonOf(run("sync-files", "--yes", "--json"), &s)
	if s.Deleted+s.Adopted+s.Updated != 0 {
		t.Fatalf("second sync-files = %+v", s)
	}
	var hist struct {
		Runs []struct{ Deleted, Adopted int }
	}
	jsonOf(run("sync-history", "--json"), &hist)
	if len(hist.Runs) != 2 || hist.Runs[1].Deleted != 2 || hist.Runs[1].Adopted != 1 {
		t.Fatalf("history = %+v", hist)
	}
}
