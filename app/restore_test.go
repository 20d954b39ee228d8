package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/core/files"
)

func openInit(t *testing.T) (*App, func()) {
	t.Helper()
	a, err := Open(context.Background(), Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Accounts.Bootstrap(context.Background(), "master password"); err != nil {
		t.Fatal(err)
	}
	return a, func() { _ = a.Close() }
}

// A damaged backup is refused before anything is touched.
func TestRestoreRefusesDamagedBackup(t *testing.T) {
	a, done := openInit(t)
	defer done()
	ctx := context.Background()
	master, _ := a.Accounts.ActAs(ctx, "masteradmin")
	if _, err := a.Files.Upload(ctx, master, files.RootID, "a.bin", bytes.NewReader(bytes.Repeat([]byte("x"), 5000)), 5000, nil); err != nil {
		t.Fatal(err)
	}
	m, err := a.Backups.Full(ctx, master, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Backups.Verify(ctx, m); err != nil {
		t.Fatalf("fresh backup does not verify: %v", err)
	}
	_, _ = a.Files.Upload(ctx, master, files.RootID, "b.bin", strings.NewReader("later"), 5, nil)
	before, _, _ := a.Files.Digests()

	damage := func(m backup.Manifest, name string) {
		p := filepath.Join(m.Path, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 1
		_ = os.WriteFile(p, b, 0o600)
	}
	damage(m, "manager.badger.zst")
	_, err = a.Restore(ctx, master, m.ID, ScopeAll, nil)
	if !errors.Is(err, backup.ErrDamaged) || !strings.Contains(err.Error(), "Manager part of backup") {
		t.Fatalf("restore of a damaged backup: %v", err)
	}
	after, _, _ := a.Files.Digests()
	if before != after {
		t.Fatal("a refused restore changed the live data")
	}
	if _, err := a.Files.Lookup(ctx, master, "/b.bin"); err != nil {
		t.Fatalf("live data lost: %v", err)
	}
	// A pack flipped inside the backup is caught too.
	m2, _ := a.Backups.Full(ctx, master, nil)
	pk, _ := m2.Payload("fileserver")
	damage(m2, filepath.Join("packs", pk.Packs[0].Name))
	if err := a.Backups.Verify(ctx, m2); !errors.Is(err, backup.ErrDamaged) {
		t.Fatalf("verify of a damaged pack: %v", err)
	}
	// A folder without manifest is not a backup.
	_ = os.Remove(filepath.Join(m2.Path, "manifest.json"))
	if _, err := a.Backups.Get(m2.ID); !errors.Is(err, backup.ErrNotFound) {
		t.Fatalf("backup without manifest: %v", err)
	}
}

// A whole restore brings back exactly the backed-up files, bumps the
// generations, keeps a safety copy, and leaves the stores consistent.
func TestRestoreAll(t *testing.T) {
	a, done := openInit(t)
	defer done()
	ctx := context.Background()
	master, _ := a.Accounts.ActAs(ctx, "masteradmin")
	content := bytes.Repeat([]byte("plan"), 3<<20) // 12 MiB, three chunks
	if _, err := a.Files.Upload(ctx, master, files.RootID, "plan.pdf", bytes.NewReader(content), int64(len(content)), nil); err != nil {
		t.Fatal(err)
	}
	m, err := a.Backups.Full(ctx, master, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := a.Files.Lookup(ctx, master, "/plan.pdf")
	_ = a.Files.Delete(ctx, master, n.ID, nil)
	_, _ = a.Files.Upload(ctx, master, files.RootID, "other.txt", strings.NewReader("x"), 1, nil)

	res, err := a.Restore(ctx, master, m.ID, ScopeAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Check.Consistent {
		t.Fatalf("after a whole restore: %+v", res.Check)
	}
	if a.Manager.Identity().Generation != 1 || a.FileServer.Identity().Generation != 1 {
		t.Fatal("restore did not bump the generations")
	}
	if _, err := os.Stat(filepath.Join(res.SafetyCopy, "manager")); err != nil {
		t.Fatalf("no safety copy: %v", err)
	}
	master, _ = a.Accounts.ActAs(ctx, "masteradmin")
	n, err = a.Files.Lookup(ctx, master, "/plan.pdf")
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := a.Files.Open(ctx, master, n.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := got.ReadFrom(r); err != nil || !bytes.Equal(got.Bytes(), content) {
		t.Fatalf("restored content differs (%v)", err)
	}
	if _, err := a.Files.Lookup(ctx, master, "/other.txt"); !errors.Is(err, files.ErrNotFound) {
		t.Fatal("a file from after the backup survived a whole restore")
	}
}
