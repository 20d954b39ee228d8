package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/storage/fsys/disktest"
)

func openT(t *testing.T, dir string, kind Kind) *Store {
	t.Helper()
	s, err := Open(dir, kind, Options{})
	if err != nil {
		t.Fatalf("Open(%s, %s): %v", dir, kind, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestIdentityPersistsAndGenerationBumps(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Manager)
	first := s.Identity()
	if len(first.ID) != 32 || first.Kind != Manager || first.Generation != 0 {
		t.Fatalf("new identity = %+v, want 32-hex id, kind manager, generation 0", first)
	}
	if g, err := s.BumpGeneration(); err != nil || g != 1 {
		t.Fatalf("BumpGeneration = %d, %v; want 1, nil", g, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, dir, Manager)
	got := s2.Identity()
	if got.ID != first.ID || got.Generation != 1 {
		t.Fatalf("after reopen identity = %+v, want id %s generation 1", got, first.ID)
	}
	other := openT(t, t.TempDir(), Manager)
	if other.Identity().ID == first.ID {
		t.Fatal("two new stores share one identity")
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	openT(t, dir, FileServer)
	_, err := Open(dir, FileServer, Options{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open error = %v, want ErrLocked", err)
	}
	if want := "is in use by another process"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestWrongKindRefused(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, FileServer)
	_ = s.Close()
	_, err := Open(dir, Manager, Options{})
	if !errors.Is(err, ErrWrongKind) {
		t.Fatalf("Open of a fileserver dir as manager: err = %v, want ErrWrongKind", err)
	}
}

type rec struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

func TestCollection(t *testing.T) {
	s := openT(t, t.TempDir(), Manager)
	users := NewCollection[rec]("user")
	other := NewCollection[rec]("userx") // shares a textual prefix with "user"

	err := s.Update(func(tx *Tx) error {
		for i, n := range []string{"carol", "alice", "bob"} {
			if err := users.Put(tx, n, rec{Name: n, N: i}); err != nil {
				return err
			}
		}
		return other.Put(tx, "zed", rec{Name: "zed"})
	})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		run  func(tx *Tx) (string, error)
		want string
	}{
		{"get", func(tx *Tx) (string, error) {
			r, err := users.Get(tx, "bob")
			return fmt.Sprint(r), err
		}, "{bob 2}"},
		{"scan order", func(tx *Tx) (string, error) {
			var ids []string
			err := users.Scan(tx, "", func(id string, _ rec) error { ids = append(ids, id); return nil })
			return strings.Join(ids, ","), err
		}, "alice,bob,carol"},
		{"scan prefix", func(tx *Tx) (string, error) {
			l, err := users.List(tx, "b")
			return fmt.Sprint(l), err
		}, "[{bob 2}]"},
		{"count", func(tx *Tx) (string, error) {
			n, err := users.Count(tx, "")
			return fmt.Sprint(n), err
		}, "3"},
		{"stop early", func(tx *Tx) (string, error) {
			n := 0
			err := users.Scan(tx, "", func(string, rec) error { n++; return ErrStop })
			return fmt.Sprint(n), err
		}, "1"},
		{"missing", func(tx *Tx) (string, error) {
			_, err := users.Get(tx, "dave")
			return fmt.Sprint(errors.Is(err, ErrNotFound)), nil
		}, "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			err := s.View(func(tx *Tx) error {
				var err error
				got, err = tt.run(tx)
				return err
			})
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	if err := s.Update(func(tx *Tx) error { return users.Delete(tx, "alice") }); err != nil {
		t.Fatal(err)
	}
	_ = s.View(func(tx *Tx) error {
		if ok, _ := users.Has(tx, "alice"); ok {
			t.Error("alice still there after Delete")
		}
		return nil
	})
}

// A bulk write far beyond one transaction's limit goes through a Batch and
// arrives whole; the same write as one Update fails with ErrTooLarge rather
// than Badger's internal error.
func TestBatchBeyondTransactionLimit(t *testing.T) {
	s := openT(t, t.TempDir(), Manager)
	const n = 20000
	val := bytes.Repeat([]byte("x"), 512) // 20000 × 512 B ≈ 10 MB > 15% of a 16 MB memtable

	err := s.Update(func(tx *Tx) error {
		for i := range n {
			if err := tx.Set(fmt.Appendf(nil, "big/%06d", i), val); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized Update err = %v, want ErrTooLarge", err)
	}

	b := s.NewBatch()
	for i := range n {
		if err := b.Set(fmt.Appendf(nil, "big/%06d", i), val); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Flush(); err != nil {
		t.Fatalf("batch flush: %v", err)
	}
	var count int
	_ = s.View(func(tx *Tx) error {
		return tx.ScanKeys([]byte("big/"), func([]byte) error { count++; return nil })
	})
	if count != n {
		t.Fatalf("batch wrote %d keys, want %d", count, n)
	}
}

func TestFileSetRoundTrip(t *testing.T) {
	s := openT(t, t.TempDir(), FileServer)
	want := FileSet{Count: 3, Bytes: 99, Digest: [32]byte{1, 2, 3}}
	if err := s.Update(func(tx *Tx) error { return tx.SetFileSet(want) }); err != nil {
		t.Fatal(err)
	}
	var got FileSet
	_ = s.View(func(tx *Tx) (err error) { got, err = tx.FileSet(); return })
	if got != want {
		t.Fatalf("FileSet = %+v, want %+v", got, want)
	}
}

// Overwritten values in the value log are reclaimed by RunGC.
func TestRunGCReclaimsSpace(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ~400 MB")
	}
	dir := t.TempDir()
	s := openT(t, dir, FileServer)
	val := bytes.Repeat([]byte{7}, 1<<20)
	// Badger learns what is garbage only when it compacts tables. Closing
	// flushes the memtable into a level-0 table; after more level-0 tables
	// than it allows, Badger compacts them, and the discard statistics
	// that RunGC relies on appear.
	for round := range 5 {
		b := s.NewBatch()
		for i := range 80 {
			val[0], val[1] = byte(i), byte(round)
			if err := b.Set(fmt.Appendf(nil, "chunk/%03d", i), val); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
		s = openT(t, dir, FileServer)
	}
	before := vlogBytes(t, s.Dir())
	var rewritten int
	for range 100 {
		n, err := s.RunGC(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if rewritten += n; rewritten > 0 {
			break
		}
		_ = s.db.Flatten(1)
		time.Sleep(100 * time.Millisecond)
	}
	after := vlogBytes(t, s.Dir())
	if rewritten == 0 || after >= before {
		t.Fatalf("RunGC rewrote %d files, value log %d → %d bytes; want space reclaimed", rewritten, before, after)
	}
	// Every value still reads back as last written.
	err := s.View(func(tx *Tx) error {
		for i := range 80 {
			v, err := tx.Get(fmt.Appendf(nil, "chunk/%03d", i))
			if err != nil {
				return err
			}
			if v[0] != byte(i) || v[1] != 4 || len(v) != 1<<20 {
				return fmt.Errorf("chunk %d changed by GC: got [%d %d] len %d", i, v[0], v[1], len(v))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func vlogBytes(t *testing.T, dir string) int64 {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
	var n int64
	for _, f := range m {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want error
	}{
		{&os.PathError{Op: "open", Path: "/x", Err: errNo("ENOSPC")}, ErrDiskFull},
		{&os.PathError{Op: "open", Path: "/x", Err: errNo("EACCES")}, ErrNotWritable},
		{&os.PathError{Op: "open", Path: "/x", Err: errNo("EROFS")}, ErrNotWritable},
		{fmt.Errorf("while opening memtables error: Cannot acquire directory lock on \"/x\""), ErrLocked},
		{errors.New("something else"), nil},
	}
	for _, tt := range tests {
		got := classify("/x", tt.err)
		if tt.want == nil {
			if got != nil {
				t.Errorf("classify(%v) = %v, want nil", tt.err, got)
			}
			continue
		}
		if !errors.Is(got, tt.want) {
			t.Errorf("classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestOpenOnFullDisk(t *testing.T) {
	dir := disktest.Mount(t, "size=2m")
	disktest.Fill(t, dir)

	_, err := Open(filepath.Join(dir, "manager"), Manager, Options{})
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Open on a full disk: err = %v, want ErrDiskFull", err)
	}
	if !strings.Contains(err.Error(), "is full; free some space") {
		t.Errorf("message %q is not the plain sentence", err)
	}
}

func TestOpenOnReadOnlyFolder(t *testing.T) {
	var dir string
	if os.Geteuid() == 0 {
		dir = disktest.Mount(t, "size=1m,ro")
	} else {
		dir = t.TempDir()
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	}
	_, err := Open(filepath.Join(dir, "manager"), Manager, Options{})
	if !errors.Is(err, ErrNotWritable) {
		t.Fatalf("Open in a read-only folder: err = %v, want ErrNotWritable", err)
	}
	if !strings.HasPrefix(err.Error(), "Plinth cannot write to folder ") {
		t.Errorf("message %q is not the plain sentence", err)
	}
}

// Concurrent read-modify-write transactions never lose an update: the
// invariant behind lockout counters, file-set digests and job records.
func TestConcurrentUpdatesKeepInvariant(t *testing.T) {
	s := openT(t, t.TempDir(), FileServer)
	counters := NewCollection[int]("counter")
	const writers, each = 8, 50
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				err := s.Update(func(tx *Tx) error {
					// Move one unit from a random counter to the total:
					// the sum of all counters must stay zero.
					from := fmt.Sprint((w + i) % 4)
					n, err := counters.Get(tx, from)
					if err != nil && !errors.Is(err, ErrNotFound) {
						return err
					}
					total, err := counters.Get(tx, "total")
					if err != nil && !errors.Is(err, ErrNotFound) {
						return err
					}
					if err := counters.Put(tx, from, n-1); err != nil {
						return err
					}
					return counters.Put(tx, "total", total+1)
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	sum, total := 0, 0
	_ = s.View(func(tx *Tx) error {
		return counters.Scan(tx, "", func(id string, v int) error {
			sum += v
			if id == "total" {
				total = v
			}
			return nil
		})
	})
	if sum != 0 || total != writers*each {
		t.Fatalf("sum %d total %d; want 0 and %d", sum, total, writers*each)
	}
}
