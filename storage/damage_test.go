package storage

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/storage/fsys/disktest"
)

// storeWithTables makes a closed store of the given kind whose records lie
// in at least two tables on disk, and returns its folder.
func storeWithTables(t *testing.T, kind Kind) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), string(kind))
	// Each close flushes the memtable into a table of its own.
	for round := range 2 {
		s, err := Open(dir, kind, Options{})
		if err != nil {
			t.Fatal(err)
		}
		b := s.NewBatch()
		for i := range 5_000 {
			if err := b.Set(fmt.Appendf(nil, "rec/%d/%06d", round, i), []byte("a value long enough to fill a block or two")); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if tables(t, dir) < 2 {
		t.Fatalf("the store has %d tables; the test needs two", tables(t, dir))
	}
	return dir
}

func tables(t *testing.T, dir string) int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	return len(m)
}

// snapshot is every file of a folder with the SHA-256 of its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func firstTable(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	sort.Strings(m)
	return m[0]
}

// flip overwrites 8 bytes in the middle of a file.
func flip(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	if _, err := f.WriteAt([]byte{0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef}, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}

// A store folder that holds data but cannot be read as it is is refused
// with a sentence naming the store, and left exactly as it was: Badger
// would have deleted the tables its MANIFEST does not list and started an
// empty store with a new identity.
func TestDamagedStoreIsNotOpened(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		reason string
	}{
		{"MANIFEST cut to 20 bytes", func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, "MANIFEST"), 20); err != nil {
				t.Fatal(err)
			}
		}, "its MANIFEST file is cut short and lists no tables, but"},
		{"MANIFEST cut to its header", func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, "MANIFEST"), 8); err != nil {
				t.Fatal(err)
			}
		}, "its MANIFEST file lists no tables, but"},
		{"MANIFEST deleted", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "MANIFEST")); err != nil {
				t.Fatal(err)
			}
		}, "its MANIFEST file is missing"},
		{"MANIFEST garbled", func(t *testing.T, dir string) {
			flip(t, filepath.Join(dir, "MANIFEST"))
		}, "its MANIFEST file cannot be read"},
		{"a table deleted", func(t *testing.T, dir string) {
			if err := os.Remove(firstTable(t, dir)); err != nil {
				t.Fatal(err)
			}
		}, "000001.sst listed in its MANIFEST is missing"},
		{"8 bytes flipped in a table", func(t *testing.T, dir string) {
			flip(t, firstTable(t, dir))
		}, "its table 000001.sst does not match its checksums"},
		{"value-log header garbled", func(t *testing.T, dir string) {
			m, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
			if err := os.WriteFile(m[0], []byte("garbage garbage garb"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "its file 000001.vlog cannot be read (its header is damaged)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := storeWithTables(t, Manager)
			tt.damage(t, dir)
			before := snapshot(t, dir)
			for range 2 { // and again: the first refusal changed nothing
				s, err := Open(dir, Manager, Options{})
				if err == nil {
					_ = s.Close()
					t.Fatalf("a damaged store opened; identity %+v", s.Identity())
				}
				want := "the Manager store in " + dir + " is damaged: " + tt.reason
				if !errors.Is(err, ErrDamaged) || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "; restore it from a backup") {
					t.Fatalf("Open = %v\nwant ErrDamaged, %q…; restore it from a backup", err, want)
				}
			}
			if after := snapshot(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("the refused open changed the folder:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// What a crash leaves is not damage: a table the MANIFEST does not list
// yet, and a MANIFEST whose last entry was cut off.
func TestCrashLeftoversStillOpen(t *testing.T) {
	dir := storeWithTables(t, Manager)
	s := openT(t, dir, Manager)
	want := s.Identity()
	_ = s.Close()

	tbl, err := os.ReadFile(firstTable(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "000099.sst"), tbl, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "MANIFEST"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write([]byte{0, 0, 0, 40, 1, 2, 3, 4, 5}) // a header promising 40 bytes, then 1
	_ = f.Close()

	s = openT(t, dir, Manager)
	if got := s.Identity(); got.ID != want.ID {
		t.Fatalf("identity %s after a crash's leftovers, want %s", got.ID, want.ID)
	}
	var n int
	_ = s.View(func(tx *Tx) error {
		return tx.ScanKeys([]byte("rec/"), func([]byte) error { n++; return nil })
	})
	if n != 10_000 {
		t.Fatalf("%d records after reopening, want 10000", n)
	}
}

// A store with tables whose identity record is gone is damaged, never a
// new store with a new identity.
func TestStoreWithoutIdentityIsDamaged(t *testing.T) {
	dir := storeWithTables(t, FileServer)
	s := openT(t, dir, FileServer)
	if err := s.Update(func(tx *Tx) error { return tx.Delete(identityKey) }); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	_, err := Open(dir, FileServer, Options{})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "the File Server store in "+dir+" is damaged: its identity record is missing") {
		t.Fatalf("Open = %v, want the File Server store damaged", err)
	}
}

// A table damaged while the store is open is found by Healthy, and from
// then on the store refuses to be read rather than answer "not found".
func TestHealthyFindsDamagedTable(t *testing.T) {
	dir := storeWithTables(t, Manager)
	s := openT(t, dir, Manager)
	if err := s.Healthy(); err != nil {
		t.Fatalf("Healthy on a sound store: %v", err)
	}
	flip(t, firstTable(t, dir))
	if err := s.Readable(); err != nil {
		t.Fatalf("Readable, which reads no table, after damage = %v", err)
	}
	err := s.Healthy()
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "the Manager store in "+dir+" is damaged: its table 000001.sst does not match its checksums") {
		t.Fatalf("Healthy after damage = %v", err)
	}
	if err := s.Readable(); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Readable of a store found damaged = %v, want ErrDamaged", err)
	}
	if err := s.View(func(tx *Tx) error { _, err := tx.Get([]byte("rec/0/000001")); return err }); !errors.Is(err, ErrDamaged) {
		t.Fatalf("reading a store found damaged = %v, want ErrDamaged", err)
	}
	if err := s.Update(func(tx *Tx) error { return tx.Set([]byte("x"), []byte("y")) }); !errors.Is(err, ErrDamaged) {
		t.Fatalf("writing a store found damaged = %v, want ErrDamaged", err)
	}
}

// An error of the caller's own that says "permission denied" (a user's
// missing permission) comes back as it is; only an OS refusal is a folder
// Plinth cannot write.
func TestCallerPermissionErrorIsNotAFolderError(t *testing.T) {
	s := openT(t, t.TempDir(), Manager)
	denied := errors.New("permission denied")
	err := s.Update(func(tx *Tx) error {
		if err := tx.Set([]byte("k"), []byte("v")); err != nil {
			return err
		}
		return fmt.Errorf("rename the project: %w", denied)
	})
	if !errors.Is(err, denied) || errors.Is(err, ErrNotWritable) || err.Error() != "rename the project: permission denied" {
		t.Fatalf("Update = %v, want the caller's own error", err)
	}
	if c := classify("/x", fmt.Errorf("check: %w", denied)); c != nil {
		t.Fatalf("classify(a user's permission error) = %v, want nil", c)
	}
	if c := classify("/x", &os.PathError{Op: "open", Path: "/x/MANIFEST", Err: errNo("EACCES")}); !errors.Is(c, ErrNotWritable) {
		t.Fatalf("classify(EACCES) = %v, want ErrNotWritable", c)
	}
}

// A store opened read-only reads as usual and refuses every change with a
// sentence; a change that writes nothing still succeeds.
func TestReadOnlyStore(t *testing.T) {
	dir := storeWithTables(t, FileServer)
	before := snapshot(t, dir)
	s, err := Open(dir, FileServer, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.ReadOnly() == nil {
		t.Fatal("ReadOnly() = nil for a store opened read-only")
	}
	var n int
	if err := s.View(func(tx *Tx) error {
		return tx.ScanKeys([]byte("rec/"), func([]byte) error { n++; return nil })
	}); err != nil || n != 10_000 {
		t.Fatalf("read-only scan: %d records, %v", n, err)
	}
	if err := s.Update(func(tx *Tx) error { _, err := tx.Has([]byte("rec/0/000001")); return err }); err != nil {
		t.Fatalf("an Update that writes nothing: %v", err)
	}
	err = s.Update(func(tx *Tx) error { return tx.Set([]byte("x"), []byte("y")) })
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write to a read-only store = %v, want ErrReadOnly", err)
	}
	if _, err := s.Blobs().Append([32]byte{1}, []byte("content")); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("append to a pack of a read-only store = %v, want ErrReadOnly", err)
	}
	if n, err := s.RunGC(context.Background()); n != 0 || err != nil {
		t.Fatalf("RunGC on a read-only store = %d, %v", n, err)
	}
	if err := s.Healthy(); err != nil {
		t.Fatalf("Healthy: %v", err)
	}
	_ = s.Close()
	if after := snapshot(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("the read-only store changed its folder:\nbefore %v\nafter  %v", before, after)
	}
}

// On a disk below Reserve a store opens read-only by itself: Badger writes
// through memory maps, and a write through a map onto a full disk kills the
// process with SIGBUS.
func TestLowDiskOpensReadOnly(t *testing.T) {
	src := storeWithTables(t, Manager)
	disk := disktest.Mount(t, "size=64m")
	dir := filepath.Join(disk, "manager")
	if out, err := exec.Command("cp", "-a", src, dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	s, err := Open(dir, Manager, Options{})
	if err != nil {
		t.Fatalf("Open below the reserve: %v", err)
	}
	defer s.Close()
	if err := s.ReadOnly(); !errors.Is(err, ErrReadOnly) || !errors.Is(err, ErrNoSpace) {
		t.Fatalf("ReadOnly() = %v", err)
	}
	if err := s.View(func(tx *Tx) error { _, err := tx.Get([]byte("rec/1/000007")); return err }); err != nil {
		t.Fatalf("read below the reserve: %v", err)
	}
	err = s.Update(func(tx *Tx) error { return tx.Set([]byte("x"), []byte("y")) })
	if !errors.Is(err, ErrNoSpace) || !strings.HasPrefix(err.Error(), "the disk holding "+dir+" has ") ||
		!strings.HasSuffix(err.Error(), "so Plinth opened its data read-only; free some space and try again") {
		t.Fatalf("write below the reserve = %v", err)
	}
	// A new store is not set up on such a disk at all.
	_, err = Open(filepath.Join(disk, "fileserver"), FileServer, Options{})
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "setting up the File Server store needs at least 256 MiB free") {
		t.Fatalf("new store below the reserve = %v", err)
	}
}

// A store that was not closed (its memtable log holds writes) cannot be
// opened read-only: Badger must replay and truncate that log first. It gets
// a sentence, not Badger's "Log truncate required".
func TestReadOnlyAfterCrashSaysWhy(t *testing.T) {
	live := filepath.Join(t.TempDir(), "manager")
	s := openT(t, live, Manager)
	if err := s.Update(func(tx *Tx) error { return tx.Set([]byte("rec/1"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	// A copy taken while the store is open looks like a store whose
	// process died.
	crashed := filepath.Join(t.TempDir(), "manager")
	if out, err := exec.Command("cp", "-a", live, crashed).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	_ = os.Remove(filepath.Join(crashed, "LOCK"))
	_, err := Open(crashed, Manager, Options{ReadOnly: true})
	want := "the Manager store in " + crashed + " was not closed cleanly and needs free space to recover: "
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only Open of a crashed store = %v\nwant %s…", err, want)
	}
	// With space, it opens and has the write.
	s2 := openT(t, crashed, Manager)
	if err := s2.View(func(tx *Tx) error { _, err := tx.Get([]byte("rec/1")); return err }); err != nil {
		t.Fatalf("the crashed store's write: %v", err)
	}
}

// A file the OS will not let Plinth read is a folder Plinth cannot use,
// not a damaged store.
func TestUnreadableFileIsNotDamage(t *testing.T) {
	denied := &os.PathError{Op: "open", Path: "/x/000001.sst", Err: errNo("EACCES")}
	if err := refused(Manager, "/x", denied, "its table %s does not match its checksums", "000001.sst"); !errors.Is(err, ErrNotWritable) || errors.Is(err, ErrDamaged) {
		t.Fatalf("refused(EACCES) = %v, want ErrNotWritable", err)
	}
	if os.Geteuid() == 0 {
		return // root reads every file; the rest needs an ordinary user
	}
	dir := storeWithTables(t, Manager)
	if err := os.Chmod(firstTable(t, dir), 0); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, Manager, Options{})
	if !errors.Is(err, ErrNotWritable) || errors.Is(err, ErrDamaged) {
		t.Fatalf("Open with an unreadable table = %v, want ErrNotWritable", err)
	}
}
