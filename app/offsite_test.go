package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/core/backup/target/s3test"
)

// The admin's way to an encrypted, locked copy off site and back, with the
// commands alone, against a real S3 server: refused without a passphrase,
// one sentence for a wrong key, the copy after each full backup, the
// backups listed with their copies, and a new machine restored from the
// bucket.
func TestOffsiteWithCommands(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket("office-offsite", true)
	dir := initialised(t)
	env := map[string]string{"PLINTH_PASSWORD": "master password", "PLINTH_S3_SECRET": s3test.Secret}
	add := []string{"target", "add", "offsite", "--s3", srv.Endpoint, "--bucket", "office-offsite", "--prefix", "plinth",
		"--access-key", s3test.Access, "--lock-days", "14"}
	if r := run(t, dir, env, "", add...); r.code != 1 || !strings.Contains(r.err, "set a backup passphrase first") {
		t.Fatalf("an offsite target without a passphrase: %+v", r)
	}
	env["PLINTH_NEW_BACKUP_PASSPHRASE"] = "office passphrase 2026"
	if r := run(t, dir, env, "", "backup", "passphrase"); r.code != 0 {
		t.Fatalf("passphrase: %+v", r)
	}
	wrong := map[string]string{"PLINTH_PASSWORD": "master password", "PLINTH_S3_SECRET": "not the secret at all"}
	if r := run(t, dir, wrong, "", add...); r.code != 1 || !strings.Contains(r.err, "the secret key is wrong for access key "+s3test.Access) ||
		strings.Count(r.err, "\n") != 1 {
		t.Fatalf("a wrong secret: %+v", r)
	}
	if r := run(t, dir, env, "", add...); r.code != 0 || !strings.Contains(r.out, "locked for 14 days (governance)") {
		t.Fatalf("add: %+v", r)
	}
	if r := run(t, dir, env, "", "target", "ls", "--json"); r.code != 0 || !strings.Contains(r.out, `"lockDays": 14`) || strings.Contains(r.out, s3test.Secret) {
		t.Fatalf("ls: %+v", r)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "plan.dwg"), []byte(strings.Repeat("plan ", 50_000)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"mkdir", "/Tower", "--kind", "project"}, {"import", "--to", "/Tower", filepath.Join(src, "plan.dwg")}, {"backup", "copy-to", "offsite"}} {
		if r := run(t, dir, env, "", args...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	r := run(t, dir, env, "", "backup", "--level", "2", "--json")
	var taken struct {
		ID     string
		Copies []struct{ Target, State string }
	}
	if err := json.Unmarshal([]byte(r.out), &taken); err != nil || r.code != 0 || len(taken.Copies) != 1 || taken.Copies[0].State != "copied" {
		t.Fatalf("backup with its copy: %+v %v", r, err)
	}
	var listed struct {
		Backups []struct {
			ID, Target string
			Copies     []struct {
				Target, State string
				LockedUntil   string
			}
		}
	}
	r = run(t, dir, env, "", "backups", "--json")
	if err := json.Unmarshal([]byte(r.out), &listed); err != nil || len(listed.Backups) != 1 || listed.Backups[0].Target != "" ||
		len(listed.Backups[0].Copies) != 1 || listed.Backups[0].Copies[0].LockedUntil == "" {
		t.Fatalf("backups: %+v %v", r, err)
	}
	if r := run(t, dir, env, "", "prune", "--dry-run"); r.code != 0 || !strings.Contains(r.out, "In offsite:") || !strings.Contains(r.out, taken.ID) {
		t.Fatalf("prune --dry-run says nothing of the bucket: %+v", r)
	}
	if r := run(t, dir, env, "", "status", "--json"); !strings.Contains(r.out, "copied off site (offsite), locked until") {
		t.Fatalf("the overview does not say the copy is locked: %s", r.out)
	}

	// A new machine: Plinth, the same bucket, the passphrase; nothing else.
	fresh := initialised(t)
	env2 := map[string]string{"PLINTH_PASSWORD": "master password", "PLINTH_S3_SECRET": s3test.Secret,
		"PLINTH_NEW_BACKUP_PASSPHRASE": "office passphrase 2026", "PLINTH_BACKUP_PASSPHRASE": "office passphrase 2026"}
	for _, args := range [][]string{{"backup", "passphrase"}, {"target", "add", "offsite", "--s3", srv.Endpoint, "--bucket", "office-offsite", "--prefix", "plinth", "--access-key", s3test.Access}} {
		if r := run(t, fresh, env2, "", args...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	r = run(t, fresh, env2, "", "backups", "--json")
	if err := json.Unmarshal([]byte(r.out), &listed); err != nil || len(listed.Backups) != 1 || listed.Backups[0].ID != taken.ID || listed.Backups[0].Target != "offsite" {
		t.Fatalf("the new machine lists: %+v %v", r, err)
	}
	if r := run(t, fresh, env2, "", "restore", taken.ID, "--scope", "all", "--yes"); r.code != 0 {
		t.Fatalf("restore from the bucket: %+v", r)
	}
	if r := run(t, fresh, env2, "", "ls", "/Tower"); r.code != 0 || !strings.Contains(r.out, "plan.dwg") {
		t.Fatalf("after the restore: %+v", r)
	}
	// The restored settings name the bucket, but its secret key was kept
	// on the old machine: Plinth says so and how to give it again.
	if r := run(t, fresh, env2, "", "target", "test", "offsite"); r.code != 1 || !strings.Contains(r.err, "give it again with plinth target secret offsite") {
		t.Fatalf("the restored target without its secret: %+v", r)
	}
	if r := run(t, fresh, env2, "", "target", "secret", "offsite"); r.code != 0 {
		t.Fatalf("target secret: %+v", r)
	}

	// The server goes down: one sentence, and the listing says what it
	// could not read instead of showing nothing.
	srv.Kill()
	if r := run(t, dir, env, "", "target", "test", "offsite"); r.code != 1 || !strings.Contains(r.err, "the connection was refused") || strings.Count(r.err, "\n") != 1 {
		t.Fatalf("test with the server down: %+v", r)
	}
	if r := run(t, fresh, env2, "", "backups"); r.code != 0 || !strings.Contains(r.out, "Target offsite could not be read: could not reach 127.0.0.1") {
		t.Fatalf("backups with the server down: %+v", r)
	}
}

// Snapshots off site with the commands alone: each one copied after it
// is taken and listed with its copy; a new machine that names the bucket
// lists it and restores the project from there, byte for byte.
func TestSnapshotsOffsiteWithCommands(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket("office-offsite", false)
	dir := initialised(t)
	env := map[string]string{"PLINTH_PASSWORD": "master password", "PLINTH_S3_SECRET": s3test.Secret,
		"PLINTH_NEW_BACKUP_PASSPHRASE": "office passphrase 2026", "PLINTH_BACKUP_PASSPHRASE": "office passphrase 2026"}
	src := t.TempDir()
	plan := []byte(strings.Repeat("plan ", 50_000))
	if err := os.WriteFile(filepath.Join(src, "plan.dwg"), plan, 0o600); err != nil {
		t.Fatal(err)
	}
	add := []string{"target", "add", "offsite", "--s3", srv.Endpoint, "--bucket", "office-offsite", "--prefix", "plinth", "--access-key", s3test.Access}
	for _, args := range [][]string{{"backup", "passphrase"}, add, {"mkdir", "/Tower", "--kind", "project"},
		{"import", "--to", "/Tower", filepath.Join(src, "plan.dwg")}, {"snapshot", "copy-to", "offsite"}} {
		if r := run(t, dir, env, "", args...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	r := run(t, dir, env, "", "backup", "--level", "1", "--item", "/Tower", "--json")
	var taken struct{ ID string }
	if err := json.Unmarshal([]byte(r.out), &taken); err != nil || r.code != 0 {
		t.Fatalf("snapshot: %+v %v", r, err)
	}
	var listed struct {
		Backups []struct {
			ID, Target string
			Level      int
			Copies     []struct{ Target, State string }
		}
	}
	r = run(t, dir, env, "", "backups", "--json")
	if err := json.Unmarshal([]byte(r.out), &listed); err != nil || len(listed.Backups) != 1 || len(listed.Backups[0].Copies) != 1 ||
		listed.Backups[0].Copies[0].State != "copied" || listed.Backups[0].Copies[0].Target != "offsite" {
		t.Fatalf("the snapshot and its copy: %+v %v", r, err)
	}
	if r := run(t, dir, env, "", "snapshot", "copy"); r.code != 0 || !strings.Contains(r.out, "Every snapshot is in offsite already") {
		t.Fatalf("snapshot copy with nothing to copy: %+v", r)
	}
	// A new machine: Plinth, the same bucket, the passphrase; nothing else.
	fresh := initialised(t)
	for _, args := range [][]string{{"backup", "passphrase"}, add, {"snapshot", "copy-to", "offsite"}} {
		if r := run(t, fresh, env, "", args...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	r = run(t, fresh, env, "", "backups", "--json")
	if err := json.Unmarshal([]byte(r.out), &listed); err != nil || len(listed.Backups) != 1 || listed.Backups[0].ID != taken.ID ||
		listed.Backups[0].Target != "offsite" || listed.Backups[0].Level != 1 {
		t.Fatalf("the new machine lists: %+v %v", r, err)
	}
	if r := run(t, fresh, env, "", "restore", taken.ID, "--as-new", "Tower", "--yes"); r.code != 0 {
		t.Fatalf("restore from the bucket: %+v", r)
	}
	out := filepath.Join(t.TempDir(), "plan.dwg")
	if r := run(t, fresh, env, "", "export", "/Tower/plan.dwg", out); r.code != 0 {
		t.Fatalf("export: %+v", r)
	}
	if got, err := os.ReadFile(out); err != nil || string(got) != string(plan) {
		t.Fatalf("the restored file differs (%d bytes, %v)", len(got), err)
	}
}
