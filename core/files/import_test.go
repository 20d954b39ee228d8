package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/progress"
)

const (
	cafeNFC = "caf\u00e9.txt"  // é as one character
	cafeNFD = "cafe\u0301.txt" // e and a combining accent
)

// clashFolder writes the folder: 13 files, of which Case.txt and
// case.txt are one name on the Projects page, and so are café.txt in NFC
// and in NFD.
func clashFolder(t *testing.T) (dir string, content map[string][]byte) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	content = map[string][]byte{}
	names := []string{"Case.txt", "case.txt", cafeNFC, cafeNFD}
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"} {
		names = append(names, n+".txt")
	}
	for _, n := range names {
		b := random(100 + len(content))
		content[n] = b
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, content
}

func (e *env) names(parent string) []string {
	e.t.Helper()
	ns, err := e.s.List(context.Background(), e.master, parent)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, n := range ns {
		out = append(out, n.Name)
	}
	return out
}

// Case.txt and case.txt, café.txt in NFC and NFD: within one import they
// clash and are reported, never stored as versions of each other; the
// count says what was stored.
func TestImportReportsNameClashes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir, content := clashFolder(t)
	st, err := e.s.Import(ctx, e.master, RootID, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 11 || st.Versions != 0 || st.Folders != 1 || len(st.Skipped) != 2 {
		t.Fatalf("import = %+v, want 11 files stored, 0 versions, 2 skipped", st)
	}
	// Sorted by bytes, Case.txt comes before case.txt and the NFD name
	// (plain e) before the NFC one.
	sort.Slice(st.Skipped, func(i, j int) bool { return st.Skipped[i].Path < st.Skipped[j].Path })
	want := []Skipped{
		{filepath.Join(dir, cafeNFC), "its name clashes with " + filepath.Join(dir, cafeNFD) +
			", which was imported: the two names have the same letters, with accents encoded differently (composed and decomposed Unicode); rename one of them and import it again"},
		{filepath.Join(dir, "case.txt"), "its name clashes with " + filepath.Join(dir, "Case.txt") +
			", which was imported: the Projects page does not tell upper and lower case apart; rename one of them and import it again"},
	}
	for i := range want {
		if st.Skipped[i] != want[i] {
			t.Errorf("skipped[%d] = %+v\nwant          %+v", i, st.Skipped[i], want[i])
		}
	}
	src, err := e.s.Lookup(ctx, e.master, "/src")
	if err != nil {
		t.Fatal(err)
	}
	got := e.names(src.ID)
	if len(got) != 11 {
		t.Fatalf("the folder lists %d entries, want 11: %q", len(got), got)
	}
	for _, name := range []string{"Case.txt", cafeNFC} {
		n, err := e.s.Lookup(ctx, e.master, "/src/"+name)
		if err != nil {
			t.Fatal(err)
		}
		if n.Versions != 1 {
			t.Errorf("%s has %d versions, want 1", name, n.Versions)
		}
		raw := name
		if name == cafeNFC {
			raw = cafeNFD // the one imported
		}
		if !bytes.Equal(e.read(n.ID, ""), content[raw]) {
			t.Errorf("%s does not hold the content of the file imported", name)
		}
	}
	var sum int64
	for _, b := range content {
		sum += int64(len(b))
	}
	sum -= int64(len(content["case.txt"]) + len(content[cafeNFC]))
	if st.Bytes != sum {
		t.Errorf("import reports %d bytes, stored %d", st.Bytes, sum)
	}
	e.consistent()

	// Importing the folder again later, on purpose, makes new versions.
	st, err = e.s.Import(ctx, e.master, RootID, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 11 || st.Versions != 11 || len(st.Skipped) != 2 {
		t.Fatalf("second import = %+v, want 11 files stored as 11 new versions, 2 skipped", st)
	}
	n, _ := e.s.Lookup(ctx, e.master, "/src/case.TXT")
	if n.Versions != 2 || !bytes.Equal(e.read(n.ID, ""), content["Case.txt"]) {
		t.Fatalf("Case.txt after the second import: %d versions", n.Versions)
	}
	e.consistent()
}

// Two source folders whose names clash: the second is not merged into the
// first (its files would become versions of the first's files).
func TestImportFolderClash(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "job")
	for _, p := range []string{"Plans/a.txt", "plans/a.txt", "plans/b.txt"} {
		_ = os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := e.s.Import(ctx, e.master, RootID, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 1 || len(st.Skipped) != 1 || st.Skipped[0].Path != filepath.Join(dir, "plans") ||
		!strings.HasSuffix(st.Skipped[0].Reason, "(nothing in this folder was imported)") {
		t.Fatalf("import = %+v", st)
	}
	n, err := e.s.Lookup(ctx, e.master, "/job/Plans/a.txt")
	if err != nil || n.Versions != 1 || string(e.read(n.ID, "")) != "Plans/a.txt" {
		t.Fatalf("Plans/a.txt = %+v, %v", n, err)
	}
}

// Several paths in one import clash with each other too.
func TestImportPathsClashAcrossArguments(t *testing.T) {
	e := newEnv(t)
	a, b := t.TempDir(), t.TempDir()
	_ = os.WriteFile(filepath.Join(a, "Report.pdf"), []byte("a"), 0o644)
	_ = os.WriteFile(filepath.Join(b, "report.pdf"), []byte("b"), 0o644)
	st, err := e.s.ImportPaths(context.Background(), e.master, RootID,
		[]string{filepath.Join(a, "Report.pdf"), filepath.Join(b, "report.pdf")}, nil)
	if err != nil || st.Files != 1 || len(st.Skipped) != 1 || st.Skipped[0].Path != filepath.Join(b, "report.pdf") {
		t.Fatalf("import = %+v, %v", st, err)
	}
}

// A file that changes while it is read is read again; if it changes again
// it is refused with a sentence. A torn file is never stored, and the size
// reported is the size stored.
func TestImportFileChangingWhileRead(t *testing.T) {
	const size = 3*ChunkSize + 1000
	tests := []struct {
		name   string
		always bool // change on every read, not only the first
		change func(t *testing.T, path string)
		why    string
	}{
		{"grows", false, func(t *testing.T, p string) { appendTo(t, p, random(5000)) }, ""},
		{"shrinks", false, func(t *testing.T, p string) { _ = os.Truncate(p, ChunkSize) }, ""},
		{"rewritten in place", false, func(t *testing.T, p string) { writeAt(t, p, random(100), 10) }, ""},
		{"replaced", false, func(t *testing.T, p string) {
			tmp := p + ".new"
			_ = os.WriteFile(tmp, random(size), 0o644)
			_ = os.Rename(tmp, p)
		}, ""},
		{"keeps growing", true, func(t *testing.T, p string) { appendTo(t, p, random(5000)) },
			"it changed while it was read, twice (it grew from 12,588,912 to 12,593,912 bytes); import it again when nothing is writing to it"},
		{"keeps shrinking", true, func(t *testing.T, p string) {
			fi, _ := os.Stat(p)
			_ = os.Truncate(p, fi.Size()-ChunkSize/2)
		}, "it changed while it was read, twice (it shrank from 10 MiB to 8.0 MiB); import it again when nothing is writing to it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "model.ifc")
			if err := os.WriteFile(path, random(size), 0o644); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour) // so that a rewrite shows in the modification time
			_ = os.Chtimes(path, old, old)
			// The writer acts when the first part of each read has been
			// stored (progress), while the rest is still being read.
			var mu sync.Mutex
			changes := 0
			prog := progress.Func(func(r progress.Report) {
				mu.Lock()
				defer mu.Unlock()
				// Each read reports the bytes stored so far once per part;
				// exactly one report of each read says one part or less.
				first := r.Done <= ChunkSize
				if first && (tt.always || changes == 0) {
					changes++
					tt.change(t, path)
				}
			})
			st, err := e.s.Import(ctx, e.master, RootID, path, prog)
			if err != nil {
				t.Fatal(err)
			}
			if tt.why != "" {
				if st.Files != 0 || len(st.Skipped) != 1 || st.Skipped[0].Reason != tt.why {
					t.Fatalf("import = %+v, want the file refused: %s", st, tt.why)
				}
				if _, err := e.s.Lookup(ctx, e.master, "/model.ifc"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("a file that kept changing was stored: %v", err)
				}
				if err := e.s.Recover(ctx); err != nil {
					t.Fatal(err)
				}
				e.consistent()
				return
			}
			if changes != 1 || st.Files != 1 || len(st.Skipped) != 0 {
				t.Fatalf("import = %+v after %d changes, want the file stored after one re-read", st, changes)
			}
			want, _ := os.ReadFile(path)
			n, err := e.s.Lookup(ctx, e.master, "/model.ifc")
			if err != nil {
				t.Fatal(err)
			}
			if got := e.read(n.ID, ""); !bytes.Equal(got, want) || n.Size != int64(len(want)) || st.Bytes != int64(len(want)) {
				t.Fatalf("stored %d bytes (reported %d, node %d); the file holds %d: torn", len(got), st.Bytes, n.Size, len(want))
			}
			e.consistent()
		})
	}
}

func appendTo(t *testing.T, path string, b []byte) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Error(err)
	}
}

func writeAt(t *testing.T, path string, b []byte, off int64) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Error(err)
	}
}

// An import commits its files in groups; a crash at any step of a group
// leaves all of the group or none of it once Recover has run.
func TestImportGroupCrashRecovers(t *testing.T) {
	crash := errors.New("killed")
	for _, step := range []string{"add:intent", "add:fileserver", "add:manager"} {
		t.Run(step, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			e.s.failAfter = func(s string) error {
				if s == step {
					return crash
				}
				return nil
			}
			if _, err := e.s.Import(ctx, e.master, RootID, importDir(t), nil); !errors.Is(err, crash) {
				t.Fatalf("the import did not reach %s: %v", step, err)
			}
			e.restart()
			if err := e.s.Recover(ctx); err != nil {
				t.Fatal(err)
			}
			e.consistent()
			dir, err := e.s.Lookup(ctx, e.master, "/drawings")
			if err != nil {
				t.Fatal(err)
			}
			want := 5
			if step == "add:intent" {
				want = 0 // no content reached the File Server
			}
			if got := len(e.names(dir.ID)); got != want {
				t.Fatalf("after recovery /drawings holds %d files, want %d", got, want)
			}
		})
	}
}

// More files than one group holds: every one is stored and counted.
func TestImportManyFilesInGroups(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(t.TempDir(), "many")
	_ = os.Mkdir(dir, 0o755)
	for i := range 2*batchFiles + 7 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.txt", i)), random(10+i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := e.s.Import(context.Background(), e.master, RootID, dir, nil)
	if err != nil || st.Files != 2*batchFiles+7 || len(st.Skipped) != 0 {
		t.Fatalf("import = %+v, %v", st, err)
	}
	n, _ := e.s.Lookup(context.Background(), e.master, "/many")
	if got := len(e.names(n.ID)); got != 2*batchFiles+7 {
		t.Fatalf("%d files listed", got)
	}
	e.consistent()
}

// smallFilesDir writes n small files into two folders below a folder
// named office and returns it with each file's content by its path below
// it, and the paths in the order an import reads them (folders and names
// sorted).
func smallFilesDir(t *testing.T, n int) (string, map[string][]byte, []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "office")
	content := map[string][]byte{}
	var order []string
	for i := range n {
		rel := fmt.Sprintf("part-%d/f%04d.dat", i*2/n, i)
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		b := random(100 + i%3000)
		if err := os.WriteFile(filepath.Join(dir, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
		content[rel] = b
		order = append(order, rel)
	}
	sort.Strings(order)
	return dir, content, order
}

// listed returns the files below /office on the Projects page, path below
// it → content as it reads back.
func (e *env) listed() map[string][]byte {
	e.t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	for _, part := range []string{"part-0", "part-1"} {
		dir, err := e.s.Lookup(ctx, e.master, "/office/"+part)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			e.t.Fatal(err)
		}
		kids, err := e.s.List(ctx, e.master, dir.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, k := range kids {
			r, _, err := e.s.Open(ctx, e.master, k.ID, "")
			if err != nil {
				e.t.Fatalf("%s/%s is listed but cannot be read: %v", part, k.Name, err)
			}
			var b bytes.Buffer
			if _, err := b.ReadFrom(r); err != nil {
				e.t.Fatalf("%s/%s is listed but cannot be read: %v", part, k.Name, err)
			}
			out[part+"/"+k.Name] = b.Bytes()
		}
	}
	return out
}

// A crash in the second group of an import of many small files, at each
// step of its commit: after Recover, the stores agree, every file is
// either there with its bytes or absent, and what is there is whole
// groups — the first group alone when the second one had only recorded
// its intents, both when its records had reached the File Server.
func TestImportSmallFilesCrashLeavesWholeGroups(t *testing.T) {
	n := 2*batchFiles + 50
	for _, c := range []struct {
		step string
		want int
	}{{"add:intent", batchFiles}, {"add:fileserver", 2 * batchFiles}, {"add:manager", 2 * batchFiles}} {
		t.Run(c.step, func(t *testing.T) {
			dir, content, order := smallFilesDir(t, n)
			e := newEnv(t)
			ctx := context.Background()
			crash := errors.New("killed")
			seen := 0
			e.s.failAfter = func(s string) error {
				if s == c.step {
					if seen++; seen == 2 {
						return crash
					}
				}
				return nil
			}
			if _, err := e.s.Import(ctx, e.master, RootID, dir, nil); !errors.Is(err, crash) {
				t.Fatalf("the import did not reach %s of its second group: %v", c.step, err)
			}
			e.restart()
			if err := e.s.Recover(ctx); err != nil {
				t.Fatal(err)
			}
			e.consistent()
			got := e.listed()
			if len(got) != c.want {
				t.Errorf("after recovery %d files are listed, want %d (whole groups of %d)", len(got), c.want, batchFiles)
			}
			for i, rel := range order {
				b, ok := got[rel]
				switch {
				case ok && !bytes.Equal(b, content[rel]):
					t.Errorf("%s reads back %d bytes that differ from the %d imported", rel, len(b), len(content[rel]))
				case ok != (i < c.want):
					t.Errorf("%s (file %d in import order) listed = %v, want the first %d files listed and no others", rel, i+1, ok, c.want)
				}
			}
			// The import, run again, brings in the rest and agrees.
			st, err := e.s.Import(ctx, e.master, RootID, dir, nil)
			if err != nil || len(st.Skipped) != 0 {
				t.Fatalf("import again = %+v, %v", st, err)
			}
			e.consistent()
			if got := e.listed(); len(got) != n {
				t.Errorf("after importing again %d files are listed, want %d", len(got), n)
			}
		})
	}
}
