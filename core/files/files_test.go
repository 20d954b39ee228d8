package files

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

type env struct {
	t      *testing.T
	s      *Service
	acc    *account.Service
	master account.Actor
	mgrDir string
	fsDir  string
	mgr    *storage.Store
	fs     *storage.Store
	// fsOpt opens the fileserver store (its FS puts faults in the packs);
	// disk, when set, is what exports are written through.
	fsOpt storage.Options
	disk  fsys.FS
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, mgrDir: t.TempDir(), fsDir: t.TempDir()}
	e.open()
	m, err := e.acc.Bootstrap(context.Background(), "master password")
	if err != nil {
		t.Fatal(err)
	}
	e.master = m
	return e
}

func (e *env) open() {
	e.t.Helper()
	var err error
	if e.mgr, err = storage.Open(e.mgrDir, storage.Manager, storage.Options{}); err != nil {
		e.t.Fatal(err)
	}
	if e.fs, err = storage.Open(e.fsDir, storage.FileServer, e.fsOpt); err != nil {
		e.t.Fatal(err)
	}
	e.acc = account.NewService(e.mgr)
	e.s = NewService(e.mgr, e.fs, e.acc, nil)
	if e.disk != nil {
		e.s.SetFS(e.disk)
	}
	e.t.Cleanup(e.close)
}

func (e *env) close() {
	_ = e.mgr.Close()
	_ = e.fs.Close()
}

// restart closes the stores as a killed process would leave them (nothing
// more is written) and opens them again.
func (e *env) restart() {
	e.t.Helper()
	e.close()
	e.open()
	if m, err := e.acc.ActAs(context.Background(), account.MasterAdmin); err == nil {
		e.master = m
	}
}

func (e *env) upload(parent, name string, data []byte) Node {
	e.t.Helper()
	n, err := e.s.Upload(context.Background(), e.master, parent, name, bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		e.t.Fatalf("upload %s: %v", name, err)
	}
	return n
}

func (e *env) read(id, version string) []byte {
	e.t.Helper()
	r, _, err := e.s.Open(context.Background(), e.master, id, version)
	if err != nil {
		e.t.Fatalf("open: %v", err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		e.t.Fatalf("read: %v", err)
	}
	return b
}

// consistent checks that the two stores agree, by digest and file by file.
func (e *env) consistent() {
	e.t.Helper()
	m, f, err := e.s.Digests()
	if err != nil {
		e.t.Fatal(err)
	}
	d, err := e.s.Diff(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	if m != f || !d.Empty() {
		e.t.Fatalf("stores differ: manager %d files, fileserver %d files; diff %+v", m.Count, f.Count, d)
	}
	if n, _ := e.s.Pending(context.Background()); n != 0 {
		e.t.Fatalf("%d changes still pending", n)
	}
	// Each pack's live bytes are exactly those of the chunks indexed in it.
	live := map[string]int64{}
	recorded := map[string]int64{}
	_ = e.fs.View(func(tx *storage.Tx) error {
		_ = chunks.Scan(tx, "", func(_ string, l storage.Loc) error {
			live[packKey(l.Pack)] += l.Len + entryOverhead
			return nil
		})
		return packs.Scan(tx, "", func(k string, pi PackInfo) error {
			if pi.Live != 0 {
				recorded[k] = pi.Live
			}
			return nil
		})
	})
	if fmt.Sprint(live) != fmt.Sprint(recorded) {
		e.t.Fatalf("pack usage: chunks say %v, pack records say %v", live, recorded)
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func TestUploadVersionsAndRead(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	proj, err := e.s.Create(ctx, e.master, RootID, "Tower A", KindProject)
	if err != nil {
		t.Fatal(err)
	}
	v1 := random(ChunkSize + 12345) // two chunks
	f := e.upload(proj.ID, "Plan.pdf", v1)
	v2 := random(1000)
	f2 := e.upload(proj.ID, "plan.PDF", v2) // same name ignoring case: a new version
	if f2.ID != f.ID || f2.Versions != 2 || f2.Name != "Plan.pdf" {
		t.Fatalf("second upload = %+v, want a second version of Plan.pdf", f2)
	}
	if got := e.read(f.ID, ""); !bytes.Equal(got, v2) {
		t.Fatal("current version does not read back as uploaded")
	}
	vs, err := e.s.Versions(ctx, e.master, f.ID)
	if err != nil || len(vs) != 2 {
		t.Fatalf("versions = %v, %v", vs, err)
	}
	if got := e.read(f.ID, vs[1].ID); !bytes.Equal(got, v1) {
		t.Fatal("old version does not read back")
	}
	// Make the old one current: a third version, same content as the first.
	f3, err := e.s.MakeCurrent(ctx, e.master, f.ID, vs[1].ID)
	if err != nil || f3.Versions != 3 || f3.Size != int64(len(v1)) {
		t.Fatalf("MakeCurrent = %+v, %v", f3, err)
	}
	if got := e.read(f.ID, ""); !bytes.Equal(got, v1) {
		t.Fatal("made-current version does not read back")
	}
	e.consistent()
	m, _, _ := e.s.Digests()
	if m.Count != 3 || m.Bytes != int64(2*len(v1)+len(v2)) {
		t.Fatalf("manager file set = %d files, %d bytes", m.Count, m.Bytes)
	}
}

func TestVersioningRules(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	e.s.now = func() time.Time { return now }
	up := func() Node { return e.upload(RootID, "model.ifc", random(100)) }

	up()
	now = now.AddDate(0, 0, 3)
	up()
	if err := e.s.SetVersioning(ctx, e.master, Versioning{Rule: KeepLastDays, Days: 2}); err != nil {
		t.Fatal(err)
	}
	now = now.AddDate(0, 0, 1)
	n := up() // the first version is 4 days old now: dropped; the second (1 day) kept
	if n.Versions != 2 {
		t.Fatalf("keep last 2 days: %d versions, want 2", n.Versions)
	}
	if err := e.s.SetVersioning(ctx, e.master, Versioning{Rule: KeepNone}); err != nil {
		t.Fatal(err)
	}
	n = up()
	if n.Versions != 1 {
		t.Fatalf("keep none: %d versions, want 1", n.Versions)
	}
	e.consistent()
	_, f, _ := e.s.Digests()
	if f.Count != 1 || f.Bytes != 100 {
		t.Fatalf("file server keeps %d records, %d bytes; want 1, 100", f.Count, f.Bytes)
	}
	// Only someone with Modify details on the Servers page sets the rule.
	if err := e.acc.AddUser(ctx, e.master, account.NewUser{Name: "pat", Role: account.RoleProjectAdmin, Password: "pat password"}); err != nil {
		t.Fatal(err)
	}
	pat, _ := e.acc.Login(ctx, "pat", "pat password")
	if err := e.s.SetVersioning(ctx, pat, Versioning{Rule: KeepAll}); !errors.Is(err, account.ErrPermission) {
		t.Fatalf("project admin set versioning: %v", err)
	}
}

func TestDedupAndDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	data := random(3*ChunkSize + 7)
	dir, _ := e.s.MkdirAll(ctx, e.master, "/A/B")
	a := e.upload(dir.ID, "one.bin", data)
	e.upload(RootID, "two.bin", data) // same content: chunks stored once
	var chunkCount int
	_ = e.fs.View(func(tx *storage.Tx) (err error) { chunkCount, err = chunks.Count(tx, ""); return })
	if chunkCount != 4 {
		t.Fatalf("%d chunks stored for two copies of a 4-chunk file", chunkCount)
	}
	if err := e.s.Delete(ctx, e.master, a.ID, nil); err != nil {
		t.Fatal(err)
	}
	_ = e.fs.View(func(tx *storage.Tx) (err error) { chunkCount, err = chunks.Count(tx, ""); return })
	if chunkCount != 4 {
		t.Fatalf("deleting one copy left %d chunks, want 4 (the other copy uses them)", chunkCount)
	}
	top, _ := e.s.Lookup(ctx, e.master, "/A")
	if err := e.s.Delete(ctx, e.master, top.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Lookup(ctx, e.master, "/A/B"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted folder still found: %v", err)
	}
	two, _ := e.s.Lookup(ctx, e.master, "/two.bin")
	if err := e.s.Delete(ctx, e.master, two.ID, nil); err != nil {
		t.Fatal(err)
	}
	_ = e.fs.View(func(tx *storage.Tx) (err error) { chunkCount, err = chunks.Count(tx, ""); return })
	if chunkCount != 0 {
		t.Fatalf("%d chunks left after deleting every file", chunkCount)
	}
	e.consistent()
}

func TestMoveRenameKeepServerPaths(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src, _ := e.s.MkdirAll(ctx, e.master, "/Old/Plans")
	f := e.upload(src.ID, "a.pdf", []byte("a"))
	dst, _ := e.s.MkdirAll(ctx, e.master, "/New")
	old, _ := e.s.Lookup(ctx, e.master, "/Old")
	if _, err := e.s.Move(ctx, e.master, old.ID, dst.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Rename(ctx, e.master, f.ID, "b.pdf"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Lookup(ctx, e.master, "/New/Old/Plans/b.pdf"); err != nil {
		t.Fatal(err)
	}
	var rec Record
	_ = e.fs.View(func(tx *storage.Tx) (err error) { rec, err = records.Get(tx, f.Version); return })
	if rec.Path != "New/Old/Plans" {
		t.Fatalf("file server path = %q, want New/Old/Plans", rec.Path)
	}
	// Moving a folder into itself, or onto a taken name, is refused.
	newDir, _ := e.s.Lookup(ctx, e.master, "/New")
	plans, _ := e.s.Lookup(ctx, e.master, "/New/Old/Plans")
	if _, err := e.s.Move(ctx, e.master, newDir.ID, plans.ID); err == nil || !strings.Contains(err.Error(), "cannot be moved into itself") {
		t.Fatalf("move into itself: %v", err)
	}
	e.upload(plans.ID, "c.pdf", []byte("c"))
	if _, err := e.s.Rename(ctx, e.master, f.ID, "C.pdf"); !errors.Is(err, ErrExists) {
		t.Fatalf("rename onto a taken name: %v", err)
	}
	e.consistent()
}

func TestExportRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	in := t.TempDir()
	files := map[string][]byte{
		"Tower/plans/ground floor.pdf": random(ChunkSize + 1),
		"Tower/plans/Ω roof.pdf":       random(10),
		"Tower/model.ifc":              random(5000),
		"Tower/empty.txt":              {},
	}
	for p, b := range files {
		full := filepath.Join(in, p)
		_ = os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_ = os.MkdirAll(filepath.Join(in, "Tower", "empty folder"), 0o755)
	_ = os.WriteFile(filepath.Join(in, "Tower", "CON.txt"), []byte("x"), 0o644)
	_ = os.Symlink("model.ifc", filepath.Join(in, "Tower", "link.ifc"))

	st, err := e.s.Import(ctx, e.master, RootID, filepath.Join(in, "Tower"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 4 || st.Folders != 3 || len(st.Skipped) != 2 {
		t.Fatalf("import stats = %+v", st)
	}
	tower, _ := e.s.Lookup(ctx, e.master, "/Tower")
	out := t.TempDir()
	n, err := e.s.Export(ctx, e.master, tower.ID, out, nil)
	if err != nil || n != 4 {
		t.Fatalf("export = %d, %v", n, err)
	}
	for p, b := range files {
		got, err := os.ReadFile(filepath.Join(out, p))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s: exported content differs (%v)", p, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(out, "Tower", "empty folder")); err != nil || !fi.IsDir() {
		t.Error("empty folder not exported")
	}
	if _, err := e.s.Export(ctx, e.master, tower.ID, out, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second export over the first: %v", err)
	}
	e.consistent()
}

func TestNames(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
		says string
	}{
		{"plan.pdf", true, ""},
		{"Übersicht – Ω.ifc", true, ""},
		{"", false, "cannot be empty"},
		{"a/b", false, "slashes separate folders"},
		{`a\b`, false, "slashes separate folders"},
		{"..", false, "cannot be used as a name"},
		{"bad\x01name", false, "control character"},
		{strings.Repeat("x", 256), false, "at most 255"},
		{"CON", false, "reserved name on Windows"},
		{"nul.txt", false, "reserved name on Windows"},
		{"COM1.pdf", false, "reserved name on Windows"},
		{"what?.pdf", false, "Windows does not allow"},
		{" lead", false, "space"},
		{"dot.", false, "ends with a dot"},
	}
	for _, tt := range tests {
		err := CheckName(tt.name)
		if (err == nil) != tt.ok || err != nil && (!strings.Contains(err.Error(), tt.says) || !errors.Is(err, ErrBadName)) {
			t.Errorf("CheckName(%q) = %v; want ok=%v saying %q", tt.name, err, tt.ok, tt.says)
		}
	}
	// NFC: a decomposed é and a composed é are one name.
	if nameKey("caf\u0065\u0301.pdf") != nameKey("café.pdf") {
		t.Error("NFC forms of one name compare different")
	}
}

func TestNFCNamesAreOneFile(t *testing.T) {
	e := newEnv(t)
	a := e.upload(RootID, "caf\u0065\u0301.pdf", []byte("1"))
	b := e.upload(RootID, "café.pdf", []byte("2"))
	if a.ID != b.ID || b.Versions != 2 {
		t.Fatalf("decomposed and composed é made two files: %s %s", a.ID, b.ID)
	}
}

func TestDigestOrderAndSymmetry(t *testing.T) {
	ids := []string{"a", "b", "c", "d"}
	var h Hash
	h[0] = 7
	var fwd, rev storage.FileSet
	for _, id := range ids {
		addFile(&fwd, id, h, 1)
	}
	for i := len(ids) - 1; i >= 0; i-- {
		addFile(&rev, ids[i], h, 1)
	}
	if fwd != rev {
		t.Fatal("digest depends on order")
	}
	removeFile(&fwd, "c", h, 1)
	var three storage.FileSet
	for _, id := range []string{"d", "a", "b"} {
		addFile(&three, id, h, 1)
	}
	if fwd != three {
		t.Fatal("removing a file does not undo adding it")
	}
	for _, id := range []string{"d", "a", "b"} {
		removeFile(&three, id, h, 1)
	}
	if three != (storage.FileSet{}) {
		t.Fatalf("empty set has digest %x", three.Digest)
	}
	// Carries cross limbs: all-ones plus one is zero.
	var ones, one [32]byte
	for i := range ones {
		ones[i] = 0xff
	}
	one[31] = 1
	if add(ones, one) != ([32]byte{}) || sub([32]byte{}, one) != ones {
		t.Fatal("256-bit arithmetic does not wrap")
	}
}

func TestPermissions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_ = e.acc.AddUser(ctx, e.master, account.NewUser{Name: "nora", Role: account.RoleNone, Password: "nora password"})
	nora, _ := e.acc.Login(ctx, "nora", "nora password")
	f := e.upload(RootID, "a.pdf", []byte("a"))
	if _, err := e.s.List(ctx, nora, RootID); err != nil {
		t.Fatalf("a user without role cannot list: %v", err)
	}
	if _, err := e.s.Upload(ctx, nora, RootID, "b.pdf", strings.NewReader("b"), 1, nil); !errors.Is(err, account.ErrPermission) ||
		!strings.Contains(err.Error(), `"Modify content"`) {
		t.Fatalf("upload by nora: %v", err)
	}
	if err := e.s.Delete(ctx, nora, f.ID, nil); !errors.Is(err, account.ErrPermission) {
		t.Fatalf("delete by nora: %v", err)
	}
	if _, err := e.s.Rename(ctx, nora, f.ID, "x.pdf"); !errors.Is(err, account.ErrPermission) {
		t.Fatalf("rename by nora: %v", err)
	}
	e.consistent()
}

// A crash after each step of each two-store change leaves stores that
// Recover makes consistent again, with nothing half-done.
func TestCrashAtEveryStepRecovers(t *testing.T) {
	steps := []struct {
		step string
		op   func(e *env) error
		// after recovery: does the change show?
		applied bool
	}{
		{"add:intent", func(e *env) error {
			_, err := e.s.Upload(context.Background(), e.master, RootID, "new.bin", bytes.NewReader(random(9000)), 9000, nil)
			return err
		}, false},
		{"add:fileserver", func(e *env) error {
			_, err := e.s.Upload(context.Background(), e.master, RootID, "new.bin", bytes.NewReader(random(9000)), 9000, nil)
			return err
		}, true},
		{"add:manager", func(e *env) error {
			_, err := e.s.Upload(context.Background(), e.master, RootID, "new.bin", bytes.NewReader(random(9000)), 9000, nil)
			return err
		}, true},
		{"delete:manager", func(e *env) error {
			n, _ := e.s.Lookup(context.Background(), e.master, "/keep/old.bin")
			return e.s.Delete(context.Background(), e.master, n.ID, nil)
		}, true},
		{"drop:batch", func(e *env) error {
			n, _ := e.s.Lookup(context.Background(), e.master, "/keep")
			return e.s.Delete(context.Background(), e.master, n.ID, nil)
		}, true},
		{"repath:manager", func(e *env) error {
			n, _ := e.s.Lookup(context.Background(), e.master, "/keep")
			_, err := e.s.Rename(context.Background(), e.master, n.ID, "kept")
			return err
		}, true},
	}
	crash := errors.New("killed")
	for _, tt := range steps {
		t.Run(tt.step, func(t *testing.T) {
			e := newEnv(t)
			dir, _ := e.s.MkdirAll(context.Background(), e.master, "/keep")
			e.upload(dir.ID, "old.bin", random(5000))
			e.s.failAfter = func(step string) error {
				if step == tt.step {
					return crash
				}
				return nil
			}
			if err := tt.op(e); !errors.Is(err, crash) {
				t.Fatalf("the change did not reach step %s: %v", tt.step, err)
			}
			e.restart()
			if err := e.s.Recover(context.Background()); err != nil {
				t.Fatal(err)
			}
			e.consistent()
			var chunkCount, refCount int
			_ = e.fs.View(func(tx *storage.Tx) error {
				chunkCount, _ = chunks.Count(tx, "")
				refCount, _ = refs.Count(tx, "")
				return nil
			})
			if chunkCount != refCount {
				t.Fatalf("%d chunks but %d referenced: orphans left behind", chunkCount, refCount)
			}
			switch tt.step {
			case "add:intent":
				if _, err := e.s.Lookup(context.Background(), e.master, "/new.bin"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("an upload that never reached the file server shows: %v", err)
				}
			case "add:fileserver", "add:manager":
				if _, err := e.s.Lookup(context.Background(), e.master, "/new.bin"); err != nil {
					t.Fatalf("an upload whose content arrived is missing: %v", err)
				}
			case "repath:manager":
				n, err := e.s.Lookup(context.Background(), e.master, "/kept/old.bin")
				if err != nil {
					t.Fatal(err)
				}
				var rec Record
				_ = e.fs.View(func(tx *storage.Tx) (err error) { rec, err = records.Get(tx, n.Version); return })
				if rec.Path != "kept" {
					t.Fatalf("after recovery the file server path is %q", rec.Path)
				}
			default:
				if _, err := e.s.Lookup(context.Background(), e.master, "/keep/old.bin"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("a deletion that began is not finished: %v", err)
				}
			}
		})
	}
}

// Cancelling an upload leaves nothing behind once Recover has run.
func TestCancelledUploadLeavesNothing(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := &cancelAfter{r: bytes.NewReader(random(10 * ChunkSize)), after: 3 * ChunkSize, cancel: cancel}
	_, err := e.s.Upload(ctx, e.master, RootID, "big.bin", r, 10*ChunkSize, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled upload: %v", err)
	}
	if _, err := e.s.Lookup(context.Background(), e.master, "/big.bin"); !errors.Is(err, ErrNotFound) {
		t.Fatal("a cancelled upload shows on the Projects page")
	}
	if err := e.s.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	var n int
	_ = e.fs.View(func(tx *storage.Tx) (err error) { n, err = chunks.Count(tx, ""); return })
	if n != 0 {
		t.Fatalf("%d chunks of a cancelled upload remain", n)
	}
	if ps, _ := e.fs.Blobs().Packs(); len(ps) != 0 {
		t.Fatalf("packs of a cancelled upload remain: %v", ps)
	}
	e.consistent()
}

type cancelAfter struct {
	r      io.Reader
	after  int
	read   int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	if c.read >= c.after {
		c.cancel()
	}
	return n, err
}

func TestDamagedChunkIsReported(t *testing.T) {
	e := newEnv(t)
	f := e.upload(RootID, "a.bin", random(1000))
	var rec Record
	var loc storage.Loc
	_ = e.fs.View(func(tx *storage.Tx) (err error) {
		rec, _ = records.Get(tx, f.Version)
		loc, err = chunks.Get(tx, rec.Chunks[0])
		return
	})
	// Flip one byte of the chunk in its pack file on disk.
	pack := filepath.Join(e.fsDir, "packs", fmt.Sprintf("%08d.pack", loc.Pack))
	raw, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	raw[loc.Off+10] ^= 0xff
	if err := os.WriteFile(pack, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	r, _, err := e.s.Open(context.Background(), e.master, f.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r)
	if !errors.Is(err, ErrDamaged) || err.Error() != `part 1 of "a.bin" is damaged on the file server` {
		t.Fatalf("reading a damaged chunk: %v", err)
	}
}

func TestListSortsAndCounts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 30 {
		e.upload(RootID, fmt.Sprintf("f%02d.txt", i), random(i))
	}
	_, _ = e.s.Create(ctx, e.master, RootID, "zeta", KindFolder)
	l, err := e.s.List(ctx, e.master, RootID)
	if err != nil || len(l) != 31 || l[0].Name != "zeta" || l[1].Name != "f00.txt" {
		t.Fatalf("list: %d entries, first %v, %v", len(l), l[0].Name, err)
	}
	SortNodes(l, SortSize, true)
	if l[0].Name != "zeta" || l[1].Name != "f29.txt" {
		t.Fatalf("by size descending: %s, %s", l[0].Name, l[1].Name)
	}
}

// Same version id, other content: the diff says so and TakeServer makes
// the Manager take the File Server's content.
func TestDiffFindsDiffering(t *testing.T) {
	e := newEnv(t)
	f := e.upload(RootID, "a.bin", random(100))
	e.upload(RootID, "b.bin", random(100))
	other := contentHash([][32]byte{{9}}, 7)
	_ = e.fs.Update(func(tx *storage.Tx) error {
		set, _ := tx.FileSet()
		old, _ := sums.Get(tx, f.Version)
		removeFile(&set, f.Version, old.Hash, old.Size)
		addFile(&set, f.Version, other, 7)
		_ = sums.Put(tx, f.Version, Sum{Hash: other, Size: 7})
		return tx.SetFileSet(set)
	})
	d, err := e.s.Diff(context.Background())
	if err != nil || len(d.Differing) != 1 || len(d.MissingOnServer)+len(d.UnknownToManager) != 0 {
		t.Fatalf("diff = %+v, %v", d, err)
	}
	if got := d.Differing[0]; got.Path != "/a.bin" || got.ServerSize != 7 || got.ServerHash != other.String() {
		t.Fatalf("differing entry = %+v", got)
	}
	if err := e.s.TakeServer(context.Background(), []string{f.Version}, nil); err != nil {
		t.Fatal(err)
	}
	e.consistent()
	n, _ := e.s.Lookup(context.Background(), e.master, "/a.bin")
	if n.Size != 7 || n.Hash != other {
		t.Fatalf("entry after TakeServer: size %d hash %s", n.Size, n.Hash)
	}
}

func TestCompactReclaimsSpace(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	keep := random(ChunkSize / 2)
	var gone []Node
	for i := range 6 {
		gone = append(gone, e.upload(RootID, fmt.Sprintf("gone%d.bin", i), random(ChunkSize)))
	}
	k := e.upload(RootID, "keep.bin", keep)
	for _, n := range gone {
		if err := e.s.Delete(ctx, e.master, n.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
	freed, err := e.s.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if freed < 6*ChunkSize {
		t.Fatalf("compaction freed %d bytes, want at least %d", freed, 6*ChunkSize)
	}
	if got := e.read(k.ID, ""); !bytes.Equal(got, keep) {
		t.Fatal("the file that stayed does not read back after compaction")
	}
	e.consistent()
	// Reopening (Recover) after compaction changes nothing.
	e.restart()
	if err := e.s.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.read(k.ID, ""); !bytes.Equal(got, keep) {
		t.Fatal("the file that stayed does not read back after a restart")
	}
	e.consistent()
}

// Files nobody re-uploads lose their old versions on the daily prune.
func TestPruneVersions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	e.s.now = func() time.Time { return now }
	for range 3 {
		e.upload(RootID, "a.txt", random(10))
		now = now.Add(24 * time.Hour)
	}
	if err := e.s.SetVersioning(ctx, e.master, Versioning{Rule: KeepLastDays, Days: 5}); err != nil {
		t.Fatal(err)
	}
	if n, err := e.s.PruneVersions(ctx); err != nil || n != 0 {
		t.Fatalf("nothing is 5 days old yet: pruned %d, %v", n, err)
	}
	now = now.AddDate(0, 0, 10)
	n, err := e.s.PruneVersions(ctx)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want the 2 old versions (never the current one)", n, err)
	}
	f, _ := e.s.Lookup(ctx, e.master, "/a.txt")
	if f.Versions != 1 {
		t.Fatalf("a.txt has %d versions", f.Versions)
	}
	e.consistent()
}
