package main

import (
	"bytes"
	"crypto/rand"
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
	run := mustRun(t, dir, env)
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
	jsonOf(t, run("backup", "--level", "2", "--json"), &b)
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
	jsonOf(t, run("check", "--json"), &c)
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
	jsonOf(t, run("sync-files", "--yes", "--json"), &s)
	if s.Deleted != 2 || s.Adopted != 1 || s.Updated != 0 || !strings.HasPrefix(s.Folder, "Synched from File Server (") {
		t.Fatalf("sync-files = %+v", s)
	}
	jsonOf(t, run("check", "--json"), &c)
	if !c.Consistent {
		t.Fatalf("check after sync = %+v", c)
	}
	// The adopted file sits in the dated folder under its original sub-folders.
	var ls struct {
		Entries []struct{ Name, Kind string }
	}
	jsonOf(t, run("ls", "/"+s.Folder+"/Tower/plans", "--json"), &ls)
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
	jsonOf(t, run("ls", "/Extra/sub", "--json"), &ls)
	if len(ls.Entries) != 0 {
		t.Fatalf("/Extra/sub still lists %+v", ls.Entries)
	}
	// A second synchronization finds nothing to do.
	jsonOf(t, run("sync-files", "--yes", "--json"), &s)
	if s.Deleted+s.Adopted+s.Updated != 0 {
		t.Fatalf("second sync-files = %+v", s)
	}
	var hist struct {
		Runs []struct{ Deleted, Adopted int }
	}
	jsonOf(t, run("sync-history", "--json"), &hist)
	if len(hist.Runs) != 2 || hist.Runs[1].Deleted != 2 || hist.Runs[1].Adopted != 1 {
		t.Fatalf("history = %+v", hist)
	}
}

// The backups issue's command contract, through the real binary: level 1
// and 2 backups with their JSON, where they lie, verify, a portable
// snapshot moved to another Plinth, encryption with a wrong passphrase
// refused and nothing changed, one project out of a full backup, prune.
func TestBackupCommandsEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	src := t.TempDir()
	env := []string{"PLINTH_PASSWORD=master password"}
	try := func(extra []string, args ...string) proc {
		t.Helper()
		return plinth(t, append(env, extra...), "", append([]string{"-data", dir}, args...)...)
	}
	run := mustRun(t, dir, env)
	model := make([]byte, 3<<20)
	_, _ = rand.Read(model)
	_ = os.WriteFile(filepath.Join(src, "model.ifc"), model, 0o644)
	_ = os.WriteFile(filepath.Join(src, "notes.txt"), []byte("first notes"), 0o644)

	run("init")
	run("mkdir", "/Tower", "--kind", "project")
	run("import", "--to", "/Tower", filepath.Join(src, "model.ifc"), filepath.Join(src, "notes.txt"))

	type taken struct {
		ID      string
		Level   int
		Bytes   int64
		Seconds float64
		Path    string
	}
	var snap, full taken
	jsonOf(t, run("backup", "--level", "1", "--item", "/Tower", "--json"), &snap)
	jsonOf(t, run("backup", "--level", "2", "--json"), &full)
	if snap.Level != 1 || snap.Bytes < 3<<20 || full.Level != 2 || full.Bytes < 3<<20 || full.Seconds <= 0 {
		t.Fatalf("backups taken: %+v %+v", snap, full)
	}
	var list struct {
		Backups []struct {
			ID       string
			Level    int
			Bytes    int64
			Verified bool
			Path     string
		}
	}
	jsonOf(t, run("backups", "--json"), &list)
	if len(list.Backups) != 2 {
		t.Fatalf("backups: %+v", list)
	}
	for _, b := range list.Backups {
		if !strings.HasPrefix(b.Path, filepath.Join(dir, "backups")+string(filepath.Separator)) {
			t.Errorf("backup %s lies at %s, not under the data folder's backups", b.ID, b.Path)
		}
		if _, err := os.Stat(filepath.Join(b.Path, "manifest.json")); err != nil {
			t.Errorf("backup %s: %v", b.ID, err)
		}
	}
	var v struct {
		Checksums, Restored bool
	}
	jsonOf(t, run("verify", full.ID, "--json"), &v)
	if !v.Checksums || !v.Restored {
		t.Fatalf("verify = %+v", v)
	}

	// A snapshot moves to another Plinth as one file.
	archive := filepath.Join(t.TempDir(), "Tower.plinth-snapshot")
	run("snapshot-export", snap.ID, archive)
	other := filepath.Join(t.TempDir(), "other")
	if p := plinth(t, env, "", "-data", other, "init"); p.code != 0 {
		t.Fatal(p)
	}
	if p := plinth(t, env, "", "-data", other, "snapshot-import", archive); p.code != 0 {
		t.Fatal(p)
	}
	exp := t.TempDir()
	if p := plinth(t, env, "", "-data", other, "export", "/Tower/model.ifc", exp); p.code != 0 {
		t.Fatal(p)
	}
	if got, _ := os.ReadFile(filepath.Join(exp, "model.ifc")); !bytes.Equal(got, model) {
		t.Fatal("the imported snapshot's model.ifc differs")
	}

	// Encrypted backups: a wrong passphrase is one sentence and changes nothing.
	if p := try([]string{"PLINTH_NEW_BACKUP_PASSPHRASE=correct horse battery"}, "backup", "passphrase"); p.code != 0 {
		t.Fatal(p)
	}
	var enc taken
	jsonOf(t, run("backup", "--level", "2", "--json"), &enc)
	_ = os.WriteFile(filepath.Join(src, "notes.txt"), []byte("second notes"), 0o644)
	run("import", "--to", "/Tower", filepath.Join(src, "notes.txt"))
	before := run("ls", "/Tower", "--json").out
	p := try([]string{"PLINTH_BACKUP_PASSPHRASE=wrong"}, "restore", enc.ID, "--scope", "all", "--yes")
	if p.code != 1 || p.stderr != "The passphrase does not open backup "+enc.ID+"; nothing was changed\n" {
		t.Fatalf("wrong passphrase: %+v", p)
	}
	p = try(nil, "restore", enc.ID, "--scope", "all", "--yes")
	if p.code != 1 || !strings.Contains(p.stderr, "give its passphrase in PLINTH_BACKUP_PASSPHRASE") {
		t.Fatalf("no passphrase: %+v", p)
	}
	if after := run("ls", "/Tower", "--json").out; after != before {
		t.Fatalf("a refused restore changed /Tower:\n%s\n%s", before, after)
	}

	// One project out of the encrypted full backup, in place.
	if p := try(nil, "restore", enc.ID, "--scope", "item"); p.code != 2 {
		t.Fatalf("--scope item without --item: %+v", p)
	}
	p = try([]string{"PLINTH_BACKUP_PASSPHRASE=correct horse battery"}, "restore", enc.ID, "--scope", "item", "--item", "/Tower", "--yes")
	if p.code != 0 || !strings.HasPrefix(p.out, "Tower restored from backup") {
		t.Fatalf("item restore: %+v", p)
	}
	run("export", "/Tower/notes.txt", exp)
	if got, _ := os.ReadFile(filepath.Join(exp, "notes.txt")); string(got) != "first notes" {
		t.Fatalf("notes.txt after the item restore: %q", got)
	}
	var c struct{ Consistent bool }
	jsonOf(t, run("check", "--json"), &c)
	if !c.Consistent {
		t.Fatal("the stores disagree after an item restore")
	}
	// A dry run removes nothing.
	jsonOf(t, run("backups", "--json"), &list)
	n := len(list.Backups)
	if p := run("prune", "--dry-run"); !strings.HasPrefix(p.out, "Nothing to remove") && !strings.HasPrefix(p.out, "Would remove") {
		t.Fatalf("prune --dry-run: %q", p.out)
	}
	jsonOf(t, run("backups", "--json"), &list)
	if len(list.Backups) != n {
		t.Fatalf("prune --dry-run removed backups: %d → %d", n, len(list.Backups))
	}
}
