package app

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type cliBackups struct {
	Backups []struct {
		ID      string
		Level   int
		Item    string
		Trigger string
	}
}

// Taking a snapshot needs Modify content on the item: role none is
// refused, 24 snapshots by a Project Administrator do not push out the
// snapshot that holds a deleted file, and prune keeps it.
func TestSnapshotCommandsPermissionAndRetention(t *testing.T) {
	dir := initialised(t)
	src := t.TempDir()
	_ = os.WriteFile(filepath.Join(src, "deleted.txt"), []byte("only in the first snapshot"), 0o644)
	for _, r := range [][]string{
		{"mkdir", "/Tower", "--kind", "project"},
		{"import", "--to", "/Tower", filepath.Join(src, "deleted.txt")},
	} {
		if res := run(t, dir, master, "", r...); res.code != 0 {
			t.Fatalf("%v: %+v", r, res)
		}
	}
	for name, role := range map[string]string{"nobody": "none", "pat": "project-admin"} {
		env := map[string]string{"PLINTH_PASSWORD": "master password", "PLINTH_NEW_PASSWORD": name + " password"}
		if res := run(t, dir, env, "", "user", "add", name, "--role", role); res.code != 0 {
			t.Fatalf("user add: %+v", res)
		}
	}
	nobody := map[string]string{"PLINTH_PASSWORD": "nobody password"}
	pat := map[string]string{"PLINTH_PASSWORD": "pat password"}
	if res := run(t, dir, master, "", "snapshot", "schedule", "/Tower", "hourly", "--keep", "1"); res.code != 0 {
		t.Fatalf("schedule: %+v", res)
	}
	first := run(t, dir, master, "", "backup", "--level", "1", "--item", "/Tower", "--json")
	if first.code != 0 {
		t.Fatalf("first snapshot: %+v", first)
	}
	var snap struct{ ID string }
	_ = json.Unmarshal([]byte(first.out), &snap)
	if res := run(t, dir, master, "", "rm", "/Tower/deleted.txt"); res.code != 0 {
		t.Fatalf("rm: %+v", res)
	}
	res := run(t, dir, nobody, "", "-user", "nobody", "backup", "--level", "1", "--item", "/Tower")
	if res.code != 1 || !strings.Contains(res.err, `does not have the "Modify content" permission`) || strings.Count(res.err, "\n") != 1 {
		t.Fatalf("role none: %+v", res)
	}
	for range 24 {
		if res := run(t, dir, pat, "", "-user", "pat", "backup", "--level", "1", "--item", "/Tower"); res.code != 0 {
			t.Fatalf("project admin: %+v", res)
		}
	}
	if res := run(t, dir, master, "", "prune"); res.code != 0 {
		t.Fatalf("prune: %+v", res)
	}
	var list cliBackups
	_ = json.Unmarshal([]byte(run(t, dir, master, "", "backups", "--json").out), &list)
	found, manual := false, 0
	for _, b := range list.Backups {
		if b.ID == snap.ID {
			found = true
		}
		if b.Level == 1 && b.Trigger == "manual" {
			manual++
		}
	}
	if !found || manual != 25 {
		t.Fatalf("after prune: first snapshot kept %v, %d manual snapshots", found, manual)
	}
	if res := run(t, dir, master, "", "restore", snap.ID, "--as-new", "Tower before", "--yes"); res.code != 0 {
		t.Fatalf("restore: %+v", res)
	}
	out := t.TempDir()
	if res := run(t, dir, master, "", "export", "/Tower before/deleted.txt", out); res.code != 0 {
		t.Fatalf("export: %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "deleted.txt")); string(b) != "only in the first snapshot" {
		t.Fatalf("the deleted file came back as %q", b)
	}
}

// snapshot-export refuses an existing FILE unless --force, never follows
// a link planted at FILE.part, and an encrypted snapshot file needs the
// passphrase to be imported.
func TestSnapshotExportImportFiles(t *testing.T) {
	dir := initialised(t)
	src := t.TempDir()
	secret := make([]byte, 1<<20)
	_, _ = rand.Read(secret)
	_ = os.WriteFile(filepath.Join(src, "tender.bin"), secret, 0o644)
	for _, r := range [][]string{
		{"mkdir", "/Tower", "--kind", "project"},
		{"import", "--to", "/Tower", filepath.Join(src, "tender.bin")},
	} {
		if res := run(t, dir, master, "", r...); res.code != 0 {
			t.Fatalf("%v: %+v", r, res)
		}
	}
	env := map[string]string{"PLINTH_PASSWORD": "master password", "PLINTH_NEW_BACKUP_PASSPHRASE": "correct horse battery"}
	if res := run(t, dir, env, "", "backup", "passphrase"); res.code != 0 || !strings.Contains(res.out, "snapshots are encrypted") {
		t.Fatalf("passphrase: %+v", res)
	}
	taken := run(t, dir, master, "", "backup", "--level", "1", "--item", "/Tower", "--json")
	var snap struct{ ID string }
	if err := json.Unmarshal([]byte(taken.out), &snap); err != nil || taken.code != 0 {
		t.Fatalf("snapshot: %+v", taken)
	}
	outDir := t.TempDir()
	file := filepath.Join(outDir, "tower.plinth-snapshot")
	_ = os.WriteFile(file, []byte("keep me"), 0o644)
	victim := filepath.Join(outDir, "victim")
	_ = os.WriteFile(victim, []byte("victim"), 0o644)
	if err := os.Symlink(victim, file+".part"); err != nil {
		t.Fatal(err)
	}
	res := run(t, dir, master, "", "snapshot-export", snap.ID, file)
	if res.code != 1 || res.err != file+" already exists; choose another file name or replace it (--force)\n" {
		t.Fatalf("export onto an existing file: %+v", res)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Fatal("the existing file was replaced")
	}
	if res := run(t, dir, master, "", "snapshot-export", snap.ID, file, "--force"); res.code != 0 {
		t.Fatalf("export --force: %+v", res)
	}
	if b, _ := os.ReadFile(victim); string(b) != "victim" {
		t.Fatal("the export followed the link at FILE.part")
	}
	if fi, err := os.Lstat(file + ".part"); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the link at FILE.part was replaced")
	}
	if raw, _ := os.ReadFile(file); bytes.Contains(raw, secret[:64]) {
		t.Fatal("the snapshot file holds the content in the clear")
	}
	other := initialised(t)
	res = run(t, other, master, "", "snapshot-import", file, "--as", "Imported")
	if res.code != 1 || !strings.Contains(res.err, "is encrypted; give the backup passphrase it was made with in PLINTH_BACKUP_PASSPHRASE") {
		t.Fatalf("import without the passphrase: %+v", res)
	}
	withPass := map[string]string{"PLINTH_PASSWORD": "master password", "PLINTH_BACKUP_PASSPHRASE": "correct horse battery"}
	if res := run(t, other, withPass, "", "snapshot-import", file, "--as", "Imported"); res.code != 0 {
		t.Fatalf("import: %+v", res)
	}
	exp := t.TempDir()
	if res := run(t, other, master, "", "export", "/Imported/tender.bin", exp); res.code != 0 {
		t.Fatalf("export: %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(exp, "tender.bin")); !bytes.Equal(b, secret) {
		t.Fatal("imported bytes differ")
	}
	// Restoring the encrypted snapshot says where the passphrase goes.
	res = run(t, dir, master, "", "restore", snap.ID, "--as-new", "Copy", "--yes")
	if res.code != 1 || !strings.Contains(res.err, "give the backup passphrase in PLINTH_BACKUP_PASSPHRASE") {
		t.Fatalf("restore without the passphrase: %+v", res)
	}
}
