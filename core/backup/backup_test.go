package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
	"codeberg.org/plinth/plinth/storage/fsys/disktest"
)

type env struct {
	t       *testing.T
	dir     string
	mgr, fs *storage.Store
	acc     *account.Service
	files   *files.Service
	notify  *notify.Service
	b       *Service
	master  account.Actor
	now     time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.Local)}
	var err error
	if e.mgr, err = storage.Open(filepath.Join(e.dir, "manager"), storage.Manager, storage.Options{}); err != nil {
		t.Fatal(err)
	}
	if e.fs, err = storage.Open(filepath.Join(e.dir, "fileserver"), storage.FileServer, storage.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.mgr.Close(); _ = e.fs.Close() })
	e.acc = account.NewService(e.mgr)
	e.master, _ = e.acc.Bootstrap(context.Background(), "master password")
	e.notify = notify.NewService(e.mgr, e.acc, nil)
	e.files = files.NewService(e.mgr, e.fs, e.acc, nil)
	e.b = NewService(e.files, e.acc, e.notify, e.dir, nil)
	e.b.SetClock(func() time.Time { e.now = e.now.Add(time.Second); return e.now })
	return e
}

func (e *env) put(path string, data []byte) {
	e.t.Helper()
	ctx := context.Background()
	dir, name := filepath.Split(path)
	parent, err := e.files.MkdirAll(ctx, e.master, dir)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.files.Upload(ctx, e.master, parent.ID, name, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) rm(path string) {
	e.t.Helper()
	n, err := e.files.Lookup(context.Background(), e.master, path)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.files.Delete(context.Background(), e.master, n.ID, nil); err != nil {
		e.t.Fatal(err)
	}
}

// state lists every file as "path size hash", sorted.
func (e *env) state() string {
	e.t.Helper()
	_, tree, err := e.files.TreeOf(context.Background(), e.master, files.RootID)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, x := range tree {
		out = append(out, fmt.Sprintf("%s %s %d %s", x.Path, x.Kind, x.Size, x.Hash))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func (e *env) read(path string) []byte {
	e.t.Helper()
	n, err := e.files.Lookup(context.Background(), e.master, path)
	if err != nil {
		e.t.Fatal(err)
	}
	r, _, err := e.files.Open(context.Background(), e.master, n.ID, "")
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func (e *env) full() Manifest {
	e.t.Helper()
	m, err := e.b.Full(context.Background(), e.master, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func TestFullThenIncrementalsRestoreExactly(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.put("/Tower/a.bin", random(5<<20))
	e.put("/Tower/b.txt", []byte("first"))
	full := e.full()
	if full.Type != TypeFull {
		t.Fatalf("first backup is %s", full.Type)
	}
	e.put("/Tower/c.bin", random(2<<20))
	e.rm("/Tower/b.txt")
	inc1 := e.full()
	if inc1.Type != TypeIncremental || inc1.Parent != full.ID || inc1.Base != full.ID {
		t.Fatalf("second backup = %s parent %s", inc1.Type, inc1.Parent)
	}
	// An incremental stores only what changed: far less than the full one.
	if inc1.Bytes() >= full.Bytes() {
		t.Fatalf("incremental %d bytes, full %d", inc1.Bytes(), full.Bytes())
	}
	e.put("/Tower/b.txt", []byte("second")) // a new version
	inc2 := e.full()
	want := e.state()
	wantC := e.read("/Tower/c.bin")

	// Change everything, then restore the last incremental.
	e.rm("/Tower")
	e.put("/Other/x.bin", random(1000))
	res, err := e.b.Restore(ctx, e.master, inc2.ID, ScopeAll, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.state(); got != want {
		t.Fatalf("after restore:\n%s\nwant:\n%s", got, want)
	}
	if !bytes.Equal(e.read("/Tower/c.bin"), wantC) {
		t.Fatal("restored content differs")
	}
	m, f, _ := e.files.Digests()
	if m != f {
		t.Fatal("stores disagree after a whole restore")
	}
	if e.mgr.Identity().Generation != 1 || e.fs.Identity().Generation != 1 {
		t.Fatal("generations not bumped")
	}
	if _, err := os.Stat(filepath.Join(res.SafetyCopy, "manager")); err != nil {
		t.Fatal("no safety copy of the replaced data")
	}
	// Restoring a middle link works too.
	if _, err := e.b.Restore(ctx, e.master, inc1.ID, ScopeAll, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.files.Lookup(ctx, e.master, "/Tower/b.txt"); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("b.txt was deleted before inc1: %v", err)
	}
	v, err := e.b.Verify(ctx, e.master, inc2.ID, "", nil)
	if err != nil || !v.Restored || v.Chunks == 0 {
		t.Fatalf("verify = %+v, %v", v, err)
	}
	// After a restore the next backup is full again (versions went back).
	// Retention keeps the newest 3 (it, inc2 and inc1), inc1 also as the
	// backup last restored from, and the full backup its chain needs.
	if next := e.full(); next.Type != TypeFull {
		t.Fatalf("first backup after a restore is %s", next.Type)
	}
	if all, _ := e.b.List(); len(all) != 4 {
		t.Fatalf("%d backups left on one day, want 4", len(all))
	}
}

// Bad backups are refused with a sentence and the live data stays as is.
func TestBadBackupsRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.put("/a.bin", random(300000))
	full := e.full()
	e.put("/b.bin", random(1000))
	inc := e.full()
	e.put("/c.bin", random(1000))
	before := e.state()
	flip := func(path string) func() {
		orig, _ := os.ReadFile(path)
		b := append([]byte(nil), orig...)
		b[len(b)/2] ^= 1
		_ = os.WriteFile(path, b, 0o600)
		return func() { _ = os.WriteFile(path, orig, 0o600) }
	}
	pk, _ := full.Payload(storage.FileServer)
	tests := []struct {
		name   string
		damage func() func()
		id     string
		want   error
		says   string
	}{
		{"flipped byte", func() func() { return flip(filepath.Join(full.Path, "manager.badger.zst")) }, full.ID, ErrDamaged, "the Manager part of backup " + full.ID + " does not match its checksum"},
		{"flipped pack", func() func() { return flip(filepath.Join(full.Path, pk.Segments[0].File)) }, inc.ID, ErrDamaged, "does not match its checksum"},
		{"truncated", func() func() {
			p := filepath.Join(inc.Path, "fileserver.badger.zst")
			orig, _ := os.ReadFile(p)
			_ = os.WriteFile(p, orig[:len(orig)/2], 0o600)
			return func() { _ = os.WriteFile(p, orig, 0o600) }
		}, inc.ID, ErrDamaged, "does not match its checksum"},
		{"missing link", func() func() {
			_ = os.Rename(full.Path, full.Path+".away")
			return func() { _ = os.Rename(full.Path+".away", full.Path) }
		}, inc.ID, ErrDamaged, "continues backup " + full.ID + ", which is missing"},
		{"missing manifest", func() func() {
			p := filepath.Join(inc.Path, "manifest.json")
			_ = os.Rename(p, p+".away")
			return func() { _ = os.Rename(p+".away", p) }
		}, inc.ID, ErrNotFound, "there is no backup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			undo := tt.damage()
			defer undo()
			_, err := e.b.Restore(ctx, e.master, tt.id, ScopeAll, "", nil)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("restore: %v\nwant %v saying %q", err, tt.want, tt.says)
			}
			if e.state() != before {
				t.Fatal("a refused restore changed the live data")
			}
		})
	}
	// A backup of another Plinth goes only onto a fresh one.
	other := newEnv(t)
	other.put("/mine.txt", []byte("mine"))
	other.b.dataDir = other.dir
	// Point this Plinth's target at the other's backups.
	c, _ := e.b.Level2()
	oc, _ := other.b.Level2()
	om := other.full()
	_ = om
	c.Target = oc.Target
	_ = e.b.SetLevel2(ctx, e.master, c)
	if _, err := e.b.Restore(ctx, e.master, om.ID, ScopeAll, "", nil); !errors.Is(err, ErrOtherPlinth) {
		t.Fatalf("restore of another Plinth's backup: %v", err)
	}
}

func TestEncryptedBackups(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.put("/secret.dwg", []byte("plans nobody may read"))
	if err := e.b.SetPassphrase(ctx, e.master, "short"); err == nil {
		t.Fatal("a short passphrase was accepted")
	}
	if err := e.b.SetPassphrase(ctx, e.master, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	m := e.full() // needs no passphrase
	if !m.Encrypted() {
		t.Fatal("backup is not encrypted")
	}
	raw, _ := os.ReadFile(filepath.Join(m.Path, pkFile(m)))
	if bytes.Contains(raw, []byte("plans nobody may read")) {
		t.Fatal("content readable in the backup")
	}
	if _, err := e.b.Restore(ctx, e.master, m.ID, ScopeAll, "", nil); !errors.Is(err, ErrNeedPassphase) {
		t.Fatalf("restore without passphrase: %v", err)
	}
	if _, err := e.b.Restore(ctx, e.master, m.ID, ScopeAll, "wrong horse battery", nil); !errors.Is(err, ErrPassphrase) ||
		err.Error() != "the passphrase does not open backup "+m.ID+"; nothing was changed" {
		t.Fatalf("wrong passphrase: %v", err)
	}
	v, err := e.b.Verify(ctx, e.master, m.ID, "", nil)
	if err != nil || v.Restored || !v.Checksum || !strings.Contains(v.Note, "encrypted") {
		t.Fatalf("verify without passphrase = %+v %v", v, err)
	}
	e.rm("/secret.dwg")
	if _, err := e.b.Restore(ctx, e.master, m.ID, ScopeAll, "correct horse battery", nil); err != nil {
		t.Fatal(err)
	}
	if string(e.read("/secret.dwg")) != "plans nobody may read" {
		t.Fatal("encrypted restore lost the content")
	}
}

func pkFile(m Manifest) string {
	p, _ := m.Payload(storage.FileServer)
	return p.Segments[0].File
}

func TestRetention(t *testing.T) {
	day := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.Local) }
	mk := func(id string, at time.Time, typ, parent string) Manifest {
		return Manifest{ID: id, Level: 2, Type: typ, Parent: parent, Plinth: "p", Created: at}
	}
	// Two weeks of daily backups: a full every Monday (2, 9, 16, 23), incrementals between.
	var all []Manifest
	prev := ""
	for d := 2; d <= 25; d++ {
		typ := TypeIncremental
		if (d-2)%7 == 0 {
			typ, prev = TypeFull, ""
		}
		id := fmt.Sprintf("b%02d", d)
		all = append(all, mk(id, day(d, 2), typ, prev))
		prev = id
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID > all[j].ID })
	kept := keep(all, Level2Settings{KeepDaily: 7, KeepWeekly: 4}, facts{plinth: "p"})
	var ids []string
	for id := range kept {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	// Days 19–25 (7 daily), the newest of each of 4 weeks (8, 15, 22, 25),
	// and the chains those incrementals need (2–7 for 8, 9–14 for 15, 16–18).
	want := "b02 b03 b04 b05 b06 b07 b08 b09 b10 b11 b12 b13 b14 b15 b16 b17 b18 b19 b20 b21 b22 b23 b24 b25"
	if strings.Join(ids, " ") != want {
		t.Fatalf("kept %s\nwant %s", strings.Join(ids, " "), want)
	}
	// With fulls every day nothing is needed beyond the rule.
	all = nil
	for d := 1; d <= 25; d++ {
		all = append(all, mk(fmt.Sprintf("f%02d", d), day(d, 2), TypeFull, ""))
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID > all[j].ID })
	if n := len(keep(all, Level2Settings{KeepDaily: 7, KeepWeekly: 4}, facts{plinth: "p"})); n != 7+2 {
		t.Fatalf("daily fulls: kept %d, want 9 (7 days + 2 older weeks)", n)
	}
}

// A failing target leaves the older backups and tells the admins.
func TestUnwritableTargetFailsCleanly(t *testing.T) {
	// Room for Plinth's reserve and 2 MiB more.
	target := disktest.Sized(t, storage.Reserve+2<<20)
	e := newEnv(t)
	ctx := context.Background()
	c, _ := e.b.Level2()
	c.Target = target
	if err := e.b.SetLevel2(ctx, e.master, c); err != nil {
		t.Fatal(err)
	}
	e.put("/small.txt", []byte("fits"))
	first := e.full()
	e.put("/big.bin", random(3<<20)) // does not fit in 2 MiB
	_, err := e.b.Full(ctx, e.master, nil)
	if err == nil || !strings.Contains(err.Error(), "no space left") && !errors.Is(err, storage.ErrDiskFull) {
		t.Fatalf("backup onto a full disk: %v", err)
	}
	all, _ := e.b.List()
	if len(all) != 1 || all[0].ID != first.ID {
		t.Fatalf("backups after the failure: %+v", all)
	}
	if err := e.b.Check(ctx, all[0]); err != nil {
		t.Fatalf("the older backup was hurt: %v", err)
	}
	if ents, _ := os.ReadDir(target); len(ents) > 3 {
		var names []string
		for _, x := range ents {
			names = append(names, x.Name())
		}
		t.Fatalf("leftovers in the target: %v", names)
	}
	l, _ := e.notify.List(ctx, e.master, false)
	failed := false
	for _, x := range l {
		failed = failed || x.Kind == notify.BackupFailed && strings.HasPrefix(x.Text, "The full data backup failed:")
	}
	if !failed {
		t.Fatalf("no failure notification: %+v", l)
	}
	hist, _ := e.b.History(ctx, e.master)
	if len(hist) != 2 || hist[0].OK || hist[0].Error == "" {
		t.Fatalf("history: %+v", hist)
	}
	_ = runtime.GOOS
}

func TestSnapshots(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tower, _ := e.files.Create(ctx, e.master, files.RootID, "Tower", files.KindProject)
	e.put("/Tower/plans/ground.pdf", random(5<<20))
	e.put("/Tower/model.ifc", []byte("ISO-10303-21; v1"))
	s1, err := e.b.Snapshot(ctx, e.master, tower.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s1.Tree.Files != 2 || s1.ItemName != "Tower" {
		t.Fatalf("snapshot = %+v", s1.Tree)
	}
	chunksBefore := len(chunkFiles(t, e.b.snapshotTarget()))
	// Unchanged: a new snapshot writes no chunk.
	start := time.Now()
	s2, err := e.b.Snapshot(ctx, e.master, tower.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Logf("unchanged snapshot took %v", took)
	}
	if len(chunkFiles(t, e.b.snapshotTarget())) != chunksBefore || s2.Tree.Hash != s1.Tree.Hash {
		t.Fatal("an unchanged project wrote chunks again")
	}
	// What each one cost on disk: the first its content, the second its tree.
	if s1.Bytes() < 5<<20 || s2.Bytes() > 4<<10 {
		t.Fatalf("snapshot sizes %d and %d bytes; want ≥ 5 MiB, then a tree of < 4 KiB", s1.Bytes(), s2.Bytes())
	}
	// Change things, then roll back in place.
	e.put("/Tower/model.ifc", []byte("ISO-10303-21; v2"))
	e.put("/Tower/new.txt", []byte("new"))
	e.rm("/Tower/plans/ground.pdf")
	lines, _ := e.b.Preview(ctx, s1, ScopeItem)
	if len(lines) != 3 || !strings.Contains(lines[1], "1 file gets its earlier content back (as a new version), 1 item comes back, 1 item added since is deleted") {
		t.Fatalf("preview = %q", lines)
	}
	if _, err := e.b.RestoreSnapshot(ctx, e.master, s1.ID, "", "", nil); err != nil {
		t.Fatal(err)
	}
	if string(e.read("/Tower/model.ifc")) != "ISO-10303-21; v1" {
		t.Fatal("model.ifc not rolled back")
	}
	if _, err := e.files.Lookup(ctx, e.master, "/Tower/new.txt"); !errors.Is(err, files.ErrNotFound) {
		t.Fatal("a file added after the snapshot survived the rollback")
	}
	if got := len(e.read("/Tower/plans/ground.pdf")); got != 5<<20 {
		t.Fatalf("ground.pdf back with %d bytes", got)
	}
	n, _ := e.files.Lookup(ctx, e.master, "/Tower/model.ifc")
	if n.Versions != 3 {
		t.Fatalf("rollback should add a version, model.ifc has %d", n.Versions)
	}
	// The state before the rollback was saved as a snapshot.
	if all, _ := e.b.Snapshots(tower.ID); len(all) != 3 {
		t.Fatalf("%d snapshots, want 3 (two taken, one saved by the rollback)", len(all))
	}
	// As a new project, and through a portable archive.
	if _, err := e.b.RestoreSnapshot(ctx, e.master, s1.ID, "Tower copy", "", nil); err != nil {
		t.Fatal(err)
	}
	if string(e.read("/Tower copy/model.ifc")) != "ISO-10303-21; v1" {
		t.Fatal("new project from snapshot is wrong")
	}
	archive := filepath.Join(t.TempDir(), "tower.plinth-snapshot")
	if err := e.b.ExportSnapshot(ctx, e.master, s1.ID, archive, false); err != nil {
		t.Fatal(err)
	}
	other := newEnv(t)
	if _, err := other.b.ImportSnapshot(ctx, other.master, archive, "", "", nil); err != nil {
		t.Fatal(err)
	}
	if got := len(other.read("/Tower/plans/ground.pdf")); got != 5<<20 {
		t.Fatalf("imported ground.pdf has %d bytes", got)
	}
	// A damaged archive is refused before anything is created.
	raw, _ := os.ReadFile(archive)
	raw[len(raw)/2] ^= 0xff
	bad := archive + ".bad"
	_ = os.WriteFile(bad, raw, 0o600)
	if _, err := other.b.ImportSnapshot(ctx, other.master, bad, "Broken", "", nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("damaged archive: %v", err)
	}
	if _, err := other.files.Lookup(ctx, other.master, "/Broken"); !errors.Is(err, files.ErrNotFound) {
		t.Fatal("a damaged archive created a project")
	}
	// A chunk name that would lead outside the chunk folders is refused.
	evil := filepath.Join(t.TempDir(), "evil.plinth-snapshot")
	writeTar(t, evil, map[string][]byte{"manifest.json": []byte("{}"), "chunks/../../../escaped.zst": []byte("x")})
	if _, err := other.b.ImportSnapshot(ctx, other.master, evil, "Evil", "", nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("archive with a bad chunk name: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(other.b.snapshotTarget()), "escaped.zst")); err == nil {
		t.Fatal("an archive wrote outside the snapshot target")
	}
	v, err := e.b.Verify(ctx, e.master, s1.ID, "", nil)
	if err != nil || v.Chunks == 0 {
		t.Fatalf("verify snapshot: %+v %v", v, err)
	}
}

func writeTar(t *testing.T, path string, entries map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, b := range entries {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b))})
		_, _ = tw.Write(b)
	}
	_ = tw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotSchedulesInheritAndRun(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	clients, _ := e.files.Create(ctx, e.master, files.RootID, "Clients", files.KindFolder)
	a, _ := e.files.Create(ctx, e.master, clients.ID, "A", files.KindProject)
	b, _ := e.files.Create(ctx, e.master, files.RootID, "B", files.KindLibrary)
	if c, from, _ := e.b.SnapshotSchedule(ctx, a.ID); c != DefaultSnapSchedule || from != files.RootID {
		t.Fatalf("default = %+v from %s", c, from)
	}
	daily := SnapSchedule{Mode: "daily", Hour: 3, Keep: 2}
	if err := e.b.SetSnapshotSchedule(ctx, e.master, clients.ID, &daily); err != nil {
		t.Fatal(err)
	}
	if c, from, _ := e.b.SnapshotSchedule(ctx, a.ID); c != daily || from != clients.ID {
		t.Fatalf("inherited = %+v from %s", c, from)
	}
	none := SnapSchedule{Mode: "none"}
	_ = e.b.SetSnapshotSchedule(ctx, e.master, b.ID, &none)
	if err := e.b.SetSnapshotSchedule(ctx, e.master, a.ID, &SnapSchedule{Mode: "hourly"}); err == nil {
		t.Fatal("keep 0 accepted")
	}
	e.now = time.Date(2026, 11, 25, 3, 30, 0, 0, time.Local)
	n, err := e.b.DueSnapshots(ctx)
	if err != nil || n != 1 { // A (daily, 03:00 passed); B is off
		t.Fatalf("due at 03:30: %d, %v", n, err)
	}
	if n, _ := e.b.DueSnapshots(ctx); n != 0 {
		t.Fatal("taken twice in one day")
	}
	for d := 1; d <= 3; d++ {
		e.now = time.Date(2026, 11, 25+d, 3, 5, 0, 0, time.Local)
		_, _ = e.b.DueSnapshots(ctx)
	}
	if all, _ := e.b.Snapshots(a.ID); len(all) != 2 {
		t.Fatalf("keep last 2: %d snapshots", len(all))
	}
	// Inherit again.
	_ = e.b.SetSnapshotSchedule(ctx, e.master, clients.ID, nil)
	if _, from, _ := e.b.SnapshotSchedule(ctx, a.ID); from != files.RootID {
		t.Fatal("not inheriting from the root again")
	}
}

func TestOSSnapshotCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	e := newEnv(t)
	ctx := context.Background()
	set := func(cmd string, args []string, timeout int) {
		if err := e.b.SetLevel3(ctx, e.master, Level3Settings{Command: cmd, Args: args, TimeoutSeconds: timeout}); err != nil {
			t.Fatal(err)
		}
	}
	set("sh", []string{"-c", "echo snapshot taken"}, 10)
	r, err := e.b.OSSnapshot(ctx, e.master)
	if err != nil || !r.OK || strings.TrimSpace(r.Output) != "snapshot taken" {
		t.Fatalf("ok command: %+v %v", r, err)
	}
	set("sh", []string{"-c", "yes line | head -c 200000; echo; echo disk not found >&2; exit 3"}, 10)
	r, err = e.b.OSSnapshot(ctx, e.master)
	if err == nil || r.ExitCode != 3 || len(r.Output) != outputLimit || !strings.HasSuffix(err.Error(), "failed with exit status 3: disk not found") {
		t.Fatalf("failing command: code %d, %d bytes of output, %v", r.ExitCode, len(r.Output), err)
	}
	set("sh", []string{"-c", "sleep 30"}, 1)
	if _, err := e.b.OSSnapshot(ctx, e.master); err == nil || !strings.Contains(err.Error(), "did not finish within 1 seconds") {
		t.Fatalf("slow command: %v", err)
	}
	l, _ := e.notify.List(ctx, e.master, false)
	fails := 0
	for _, x := range l {
		if x.Kind == notify.SnapshotFailed {
			fails++
		}
	}
	if fails != 2 {
		t.Fatalf("%d snapshot-failed notifications, want 2", fails)
	}
}

// A restore killed between its renames is finished on the next start.
func TestRecoverInterruptedRestore(t *testing.T) {
	for _, cut := range []string{"before any rename", "live moved away", "manager done"} {
		t.Run(cut, func(t *testing.T) {
			dir := t.TempDir()
			mk := func(path string, kind storage.Kind, marker string) {
				st, err := storage.Open(path, kind, storage.Options{})
				if err != nil {
					t.Fatal(err)
				}
				_ = st.Update(func(tx *storage.Tx) error { return tx.Set([]byte("meta/marker"), []byte(marker)) })
				_ = st.Close()
			}
			live := map[storage.Kind]string{storage.Manager: filepath.Join(dir, "manager"), storage.FileServer: filepath.Join(dir, "fileserver")}
			staged := map[storage.Kind]string{storage.Manager: filepath.Join(dir, ".manager.restoring-x"), storage.FileServer: filepath.Join(dir, ".fileserver.restoring-x")}
			for k := range live {
				mk(live[k], k, "old")
				mk(staged[k], k, "new")
			}
			j := journal{Safety: filepath.Join(dir, "safety", "x"), Swaps: map[storage.Kind]swap{}}
			for k := range live {
				j.Swaps[k] = swap{Live: live[k], Staged: staged[k], Generation: 5}
			}
			_ = j.write(fsys.OS, dir)
			_ = os.MkdirAll(j.Safety, 0o700)
			switch cut {
			case "live moved away":
				_ = os.Rename(live[storage.Manager], filepath.Join(j.Safety, "manager"))
			case "manager done":
				_ = os.Rename(live[storage.Manager], filepath.Join(j.Safety, "manager"))
				_ = os.Rename(staged[storage.Manager], live[storage.Manager])
			}
			msg, err := RecoverRestore(dir)
			if err != nil || !strings.HasPrefix(msg, "finished a restore that was interrupted") {
				t.Fatalf("recover: %q %v", msg, err)
			}
			for k, p := range live {
				st, err := storage.Open(p, k, storage.Options{})
				if err != nil {
					t.Fatal(err)
				}
				var v []byte
				_ = st.View(func(tx *storage.Tx) (err error) { v, err = tx.Get([]byte("meta/marker")); return })
				gen := st.Identity().Generation
				_ = st.Close()
				if string(v) != "new" || gen != 5 {
					t.Fatalf("%s after recovery: %q generation %d; want the restored state", k, v, gen)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, journalName)); !os.IsNotExist(err) {
				t.Fatal("journal left behind")
			}
		})
	}
}

// One project out of a full backup: in place (the rest of the office
// untouched, the state before kept as a snapshot) and as a new project.
func TestRestoreItemFromFullBackup(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.files.Create(ctx, e.master, files.RootID, "Tower", files.KindProject); err != nil {
		t.Fatal(err)
	}
	if _, err := e.files.Create(ctx, e.master, files.RootID, "Bridge", files.KindProject); err != nil {
		t.Fatal(err)
	}
	ground := random(5 << 20)
	e.put("/Tower/plans/ground.pdf", ground)
	e.put("/Tower/model.ifc", []byte("ISO-10303-21; v1"))
	e.put("/Bridge/deck.ifc", []byte("deck v1"))
	m := e.full()

	e.put("/Tower/model.ifc", []byte("ISO-10303-21; v2"))
	e.put("/Tower/new.txt", []byte("added after the backup"))
	e.rm("/Tower/plans/ground.pdf")
	e.put("/Bridge/deck.ifc", []byte("deck v2"))

	// Refused before any work: no such project now, or no right to see backups.
	if _, err := e.b.RestoreItem(ctx, e.master, m.ID, "/Nowhere", "", "", nil); err == nil || !strings.Contains(err.Error(), "there is no /Nowhere now") {
		t.Fatalf("missing item: %v", err)
	}
	if err := e.acc.AddUser(ctx, e.master, account.NewUser{Name: "nora", Role: account.RoleNone, Password: "nora's password"}); err != nil {
		t.Fatal(err)
	}
	nora, _ := e.acc.ActAs(ctx, "nora")
	if _, err := e.b.RestoreItem(ctx, nora, m.ID, "/Tower", "", "", nil); !errors.Is(err, account.ErrPermission) {
		t.Fatalf("nora restored a project: %v", err)
	}

	res, err := e.b.RestoreItem(ctx, e.master, m.ID, "/Tower", "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Item != "Tower" || res.Scope != ScopeItem {
		t.Fatalf("result = %+v", res)
	}
	if string(e.read("/Tower/model.ifc")) != "ISO-10303-21; v1" || !bytes.Equal(e.read("/Tower/plans/ground.pdf"), ground) {
		t.Fatal("Tower did not go back to the backup")
	}
	if _, err := e.files.Lookup(ctx, e.master, "/Tower/new.txt"); !errors.Is(err, files.ErrNotFound) {
		t.Fatal("a file added after the backup survived")
	}
	if string(e.read("/Bridge/deck.ifc")) != "deck v2" {
		t.Fatal("restoring Tower changed Bridge")
	}
	tower, _ := e.files.Lookup(ctx, e.master, "/Tower")
	if snaps, _ := e.b.Snapshots(tower.ID); len(snaps) != 1 || snaps[0].Tree.Files != 2 {
		t.Fatalf("the state before the restore was not saved: %+v", snaps)
	}
	if dm, df, _ := e.files.Digests(); dm != df {
		t.Fatal("the stores disagree after an item restore")
	}

	// As a new project, next to the current one.
	if _, err := e.b.RestoreItem(ctx, e.master, m.ID, "/Bridge", "Bridge as backed up", "", nil); err != nil {
		t.Fatal(err)
	}
	if string(e.read("/Bridge as backed up/deck.ifc")) != "deck v1" || string(e.read("/Bridge/deck.ifc")) != "deck v2" {
		t.Fatal("restore as new is wrong")
	}
	if _, err := e.b.RestoreItem(ctx, e.master, m.ID, "/Bridge", "Tower", "", nil); err == nil || !strings.Contains(err.Error(), `"Tower" already exists`) {
		t.Fatalf("as new onto an existing name: %v", err)
	}
	// No scratch folder is left behind.
	if left, _ := filepath.Glob(filepath.Join(e.dir, ".item-restoring-*")); len(left) != 0 {
		t.Fatalf("scratch left: %v", left)
	}
}

// Snapshots go to the chosen folder; those taken before stay where they
// were and come back when that folder is chosen again.
func TestSnapshotTarget(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tower, _ := e.files.Create(ctx, e.master, files.RootID, "Tower", files.KindProject)
	e.put("/Tower/model.ifc", []byte("v1"))
	first, err := e.b.Snapshot(ctx, e.master, tower.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := e.b.Level1()
	old := c.Target
	if !strings.HasPrefix(first.Path, old) {
		t.Fatalf("snapshot at %s, not in the default %s", first.Path, old)
	}
	usb := filepath.Join(t.TempDir(), "usb", "plinth snapshots")
	if err := e.b.SetLevel1(ctx, e.master, Level1Settings{Target: usb}); err != nil {
		t.Fatal(err)
	}
	second, err := e.b.Snapshot(ctx, e.master, tower.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(second.Path, usb) || len(chunkFiles(t, usb)) != 1 {
		t.Fatalf("snapshot at %s, want in %s with its chunk", second.Path, usb)
	}
	if l, _ := e.b.Snapshots(tower.ID); len(l) != 1 || l[0].ID != second.ID {
		t.Fatalf("listed %d snapshots in the new folder", len(l))
	}
	if _, err := e.b.RestoreSnapshot(ctx, e.master, second.ID, "Tower from usb", "", nil); err != nil {
		t.Fatal(err)
	}
	_ = e.b.SetLevel1(ctx, e.master, Level1Settings{Target: old})
	if l, _ := e.b.Snapshots(tower.ID); len(l) != 1 || l[0].ID != first.ID {
		t.Fatal("the snapshots of the old folder are not listed again")
	}
	// A folder that cannot be written is refused with a sentence.
	if err := e.b.SetLevel1(ctx, e.master, Level1Settings{Target: ""}); err == nil {
		t.Fatal("an empty target was accepted")
	}
	file := filepath.Join(t.TempDir(), "a file")
	_ = os.WriteFile(file, nil, 0o600)
	if err := e.b.SetLevel1(ctx, e.master, Level1Settings{Target: file}); err == nil || !strings.HasPrefix(err.Error(), "snapshot target: ") {
		t.Fatalf("a file as target: %v", err)
	}
}
