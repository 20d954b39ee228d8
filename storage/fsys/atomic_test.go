package fsys_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"codeberg.org/plinth/plinth/storage/fsys"
	"codeberg.org/plinth/plinth/storage/fsys/faultfs"
)

// leftovers lists what is in dir besides want.
func leftovers(t *testing.T, dir string, want ...string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		keep := false
		for _, w := range want {
			keep = keep || e.Name() == w
		}
		if !keep {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.json")
	if err := fsys.WriteFile(nil, p, []byte("one"), fsys.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := fsys.WriteFile(nil, p, []byte("two"), fsys.Options{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Fatalf("got %q, want two", b)
	}
	if l := leftovers(t, dir, "a.json"); len(l) > 0 {
		t.Fatalf("left behind %v", l)
	}
}

// Every fault on the way (write, short write, fsync, close, rename, full
// disk, folder sync) is returned, and the old content stays.
func TestWriteFileReturnsEveryError(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 1<<20)
	for _, tc := range []struct {
		name string
		set  func(f *faultfs.FS)
	}{
		{"write", func(f *faultfs.FS) { f.Add(faultfs.Rule{Op: faultfs.OpWrite}) }},
		{"short write", func(f *faultfs.FS) { f.Add(faultfs.Rule{Op: faultfs.OpWrite, Short: true}) }},
		{"second write", func(f *faultfs.FS) { f.Add(faultfs.Rule{Op: faultfs.OpWrite, Skip: 1}) }},
		{"disk fills", func(f *faultfs.FS) { f.FillAfter(1000) }},
		{"fsync", func(f *faultfs.FS) { f.Add(faultfs.Rule{Op: faultfs.OpSync}) }},
		{"close", func(f *faultfs.FS) { f.Add(faultfs.Rule{Op: faultfs.OpClose}) }},
		{"rename", func(f *faultfs.FS) { f.Add(faultfs.Rule{Op: faultfs.OpRename}) }},
		{"create", func(f *faultfs.FS) { f.Add(faultfs.Rule{Op: faultfs.OpCreate, Err: syscall.EACCES}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "data")
			if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			ffs := faultfs.New(nil)
			tc.set(ffs)
			err := fsys.WriteFile(ffs, p, big, fsys.Options{})
			if err == nil {
				t.Fatal("the write succeeded under a fault")
			}
			if b, _ := os.ReadFile(p); string(b) != "old" {
				t.Fatalf("the old content is gone: %.20q", b)
			}
			if l := leftovers(t, dir, "data"); len(l) > 0 {
				t.Fatalf("left behind %v", l)
			}
		})
	}
	// A failed fsync of the folder comes back too (the file is in place).
	dir := t.TempDir()
	ffs := faultfs.New(nil).Add(faultfs.Rule{Op: faultfs.OpSyncDir})
	if err := fsys.WriteFile(ffs, filepath.Join(dir, "d"), big, fsys.Options{}); err == nil {
		t.Fatal("a failed folder sync was not returned")
	}
}

func TestNoReplace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.tar")
	if err := os.WriteFile(p, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := fsys.WriteFile(nil, p, []byte("new"), fsys.Options{NoReplace: true})
	if !errors.Is(err, fsys.ErrExists) {
		t.Fatalf("got %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "mine" {
		t.Fatalf("overwritten: %q", b)
	}
}

// A link planted where a predictable temporary name would be is never
// followed: temporary names are random and created exclusively.
func TestTempIsExclusive(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "out")
	for _, planted := range []string{p + ".part", p + ".tmp", filepath.Join(dir, ".out.tmp")} {
		if err := os.Symlink(victim, planted); err != nil {
			t.Fatal(err)
		}
	}
	if err := fsys.WriteFile(nil, p, []byte("data"), fsys.Options{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("the link was followed: %q", b)
	}
}

func TestWriteFromStopsOnReadError(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	r := io.MultiReader(strings.NewReader("part"), errReader{})
	if _, err := fsys.WriteFrom(nil, p, r, fsys.Options{}); err == nil {
		t.Fatal("a read error did not stop the write")
	}
	if l := leftovers(t, dir); len(l) > 0 {
		t.Fatalf("left behind %v", l)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("the source went away") }

func TestFillAfterCounts(t *testing.T) {
	dir := t.TempDir()
	ffs := faultfs.New(nil).FillAfter(10)
	err := fsys.WriteFile(ffs, filepath.Join(dir, "f"), []byte("0123456789abc"), fsys.Options{})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got %v, want ENOSPC", err)
	}
	if ffs.Written() != 10 {
		t.Fatalf("wrote %d bytes, want 10", ffs.Written())
	}
}

func TestIsTemp(t *testing.T) {
	dir := t.TempDir()
	p, err := fsys.Create(nil, filepath.Join(dir, "x"), fsys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	l := leftovers(t, dir)
	if len(l) != 1 || !fsys.IsTemp(l[0]) {
		t.Fatalf("temporary file %v not recognised", l)
	}
	if fsys.IsTemp("x") {
		t.Fatal("a plain name taken for a temporary one")
	}
}

func TestPermIsApplied(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	p := filepath.Join(t.TempDir(), "export.pdf")
	if err := fsys.WriteFile(nil, p, []byte("x"), fsys.Options{Perm: 0o644}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, %v; want 0644", fi.Mode().Perm(), err)
	}
}

// A long name is cut for the temporary file at a character boundary, so
// the temporary name is valid UTF-8 (APFS refuses others).
func TestLongNameTempIsUTF8(t *testing.T) {
	dir := t.TempDir()
	name := strings.Repeat("a", 179) + "é" + strings.Repeat("b", 60) // é spans bytes 179–180
	p, err := fsys.Create(nil, filepath.Join(dir, name), fsys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	l := leftovers(t, dir)
	if len(l) != 1 || !utf8.ValidString(l[0]) {
		t.Fatalf("temporary name %q is not UTF-8", l)
	}
}
