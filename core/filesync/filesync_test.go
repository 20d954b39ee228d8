package filesync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/storage"
)

// office is a Plinth with both stores on disk, closable and restorable the
// way a backup restore replaces a store's folder.
type office struct {
	t        *testing.T
	dir      string
	mgr, fs  *storage.Store
	acc      *account.Service
	files    *files.Service
	notify   *notify.Service
	sync     *Service
	master   account.Actor
	clock    time.Time
	snapshot map[storage.Kind]string
}

func newOffice(t *testing.T) *office {
	t.Helper()
	o := &office{t: t, dir: t.TempDir(), clock: time.Date(2026, 11, 25, 14, 30, 0, 0, time.Local), snapshot: map[storage.Kind]string{}}
	o.open()
	m, err := o.acc.Bootstrap(context.Background(), "master password")
	if err != nil {
		t.Fatal(err)
	}
	o.master = m
	return o
}

func (o *office) open() {
	o.t.Helper()
	var err error
	if o.mgr, err = storage.Open(filepath.Join(o.dir, "manager"), storage.Manager, storage.Options{}); err != nil {
		o.t.Fatal(err)
	}
	if o.fs, err = storage.Open(filepath.Join(o.dir, "fileserver"), storage.FileServer, storage.Options{}); err != nil {
		o.t.Fatal(err)
	}
	o.acc = account.NewService(o.mgr)
	o.files = files.NewService(o.mgr, o.fs, o.acc, nil)
	o.notify = NewTestNotify(o.mgr, o.acc)
	o.sync = NewService(o.files, o.acc, o.notify, nil)
	o.sync.now = func() time.Time { return o.clock }
	o.t.Cleanup(o.close)
	if m, err := o.acc.ActAs(context.Background(), account.MasterAdmin); err == nil {
		o.master = m
	}
}

// NewTestNotify is the real notification service.
func NewTestNotify(mgr *storage.Store, acc *account.Service) *notify.Service {
	return notify.NewService(mgr, acc, nil)
}

func (o *office) close() {
	_ = o.mgr.Close()
	_ = o.fs.Close()
}

// save copies a store's folder aside, as a backup would keep it.
func (o *office) save(kind storage.Kind) {
	o.t.Helper()
	o.close()
	dst := filepath.Join(o.t.TempDir(), string(kind))
	if out, err := exec.Command("cp", "-a", filepath.Join(o.dir, string(kind)), dst).CombinedOutput(); err != nil {
		o.t.Fatalf("save: %v %s", err, out)
	}
	o.snapshot[kind] = dst
	o.open()
}

// restore puts the saved copy of a store back in place.
func (o *office) restore(kind storage.Kind) {
	o.t.Helper()
	o.close()
	cur := filepath.Join(o.dir, string(kind))
	if err := os.RemoveAll(cur); err != nil {
		o.t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", o.snapshot[kind], cur).CombinedOutput(); err != nil {
		o.t.Fatalf("restore: %v %s", err, out)
	}
	o.open()
}

func (o *office) put(path string, data []byte) files.Node {
	o.t.Helper()
	ctx := context.Background()
	dir, name := filepath.Split(path)
	parent, err := o.files.MkdirAll(ctx, o.master, dir)
	if err != nil {
		o.t.Fatal(err)
	}
	n, err := o.files.Upload(ctx, o.master, parent.ID, name, bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		o.t.Fatal(err)
	}
	return n
}

func (o *office) rm(path string) {
	o.t.Helper()
	n, err := o.files.Lookup(context.Background(), o.master, path)
	if err != nil {
		o.t.Fatal(err)
	}
	if err := o.files.Delete(context.Background(), o.master, n.ID, nil); err != nil {
		o.t.Fatal(err)
	}
}

// tree lists every file as "path hash", sorted: the end state to compare.
func (o *office) tree() string {
	o.t.Helper()
	var out []string
	var walk func(id, prefix string)
	walk = func(id, prefix string) {
		l, err := o.files.List(context.Background(), o.master, id)
		if err != nil {
			o.t.Fatal(err)
		}
		for _, n := range l {
			p := prefix + "/" + n.Name
			if n.Kind == files.KindFile {
				out = append(out, fmt.Sprintf("%s %s v%d", p, n.Hash.String()[:12], n.Versions))
			} else {
				out = append(out, p+"/")
				walk(n.ID, p)
			}
		}
	}
	walk(files.RootID, "")
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func (o *office) check() Check {
	o.t.Helper()
	c, _, err := o.sync.Detect(context.Background(), true)
	if err != nil {
		o.t.Fatal(err)
	}
	return c
}

// drift builds the situation the feature exists for: the File Server
// restored from a backup taken before some uploads and after none of the
// later deletions, so the Manager lists files the server lacks and the
// server holds files the Manager deleted since.
func drift(t *testing.T, nMissing, nUnknown int) *office {
	o := newOffice(t)
	o.put("/Tower/readme.txt", []byte("stays"))
	for i := range nUnknown {
		o.put(fmt.Sprintf("/Tower/plans/level %d/plan-%03d.pdf", i%3, i), []byte(fmt.Sprintf("old plan %d", i)))
	}
	o.save(storage.FileServer)
	for i := range nUnknown {
		o.rm(fmt.Sprintf("/Tower/plans/level %d/plan-%03d.pdf", i%3, i))
	}
	for i := range nMissing {
		o.put(fmt.Sprintf("/Tower/new/model-%03d.ifc", i), []byte(fmt.Sprintf("new model %d", i)))
	}
	o.restore(storage.FileServer)
	return o
}

func TestDetectAndSynchronize(t *testing.T) {
	o := drift(t, 4, 5)
	ctx := context.Background()
	c := o.check()
	if c.Consistent || c.MissingOnServer != 4 || c.UnknownToManager != 5 || c.Differing != 0 {
		t.Fatalf("check = %+v, want 4 missing, 5 unknown", c)
	}
	// masteradmin has the "sync needed" notification, pointing at the settings.
	l, _ := o.notify.List(ctx, o.master, true)
	if len(l) != 1 || l[0].Kind != notify.FileSyncNeeded || l[0].Target != notify.TargetFileServerSettings ||
		!strings.Contains(l[0].Text, "4 files missing on the File Server, 5 files unknown to the Manager") {
		t.Fatalf("notifications = %+v", l)
	}
	// A second check of the same drift does not notify again.
	o.check()
	if l, _ := o.notify.List(ctx, o.master, true); len(l) != 1 {
		t.Fatalf("a repeated check notified again: %d entries", len(l))
	}

	plan, err := o.sync.Plan(ctx, o.master)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Folder != "Synched from File Server (2026-11-25 14-30-00)" || len(plan.MissingOnServer) != 4 || len(plan.UnknownToManager) != 5 {
		t.Fatalf("plan = %d missing, %d unknown, folder %q", len(plan.MissingOnServer), len(plan.UnknownToManager), plan.Folder)
	}
	var csv bytes.Buffer
	if err := WritePlanCSV(&csv, plan); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(csv.String(), "\n"); got != 10 || !strings.Contains(csv.String(), "will be deleted,/Tower/new/model-000.ifc") {
		t.Fatalf("plan CSV has %d lines:\n%s", got, csv.String())
	}

	r, err := o.sync.Synchronize(ctx, o.master, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Deleted != 4 || r.Adopted != 5 || r.Updated != 0 || r.Folder != plan.Folder {
		t.Fatalf("run = %+v", r)
	}
	if c := o.check(); !c.Consistent {
		t.Fatalf("after synchronization: %+v", c)
	}
	// The adopted files are in the dated folder with their sub-folders.
	for i := range 5 {
		p := fmt.Sprintf("/%s/Tower/plans/level %d/plan-%03d.pdf", plan.Folder, i%3, i)
		if _, err := o.files.Lookup(ctx, o.master, p); err != nil {
			t.Errorf("adopted file %s: %v", p, err)
		}
	}
	if _, err := o.files.Lookup(ctx, o.master, "/Tower/new/model-000.ifc"); !errors.Is(err, files.ErrNotFound) {
		t.Errorf("an entry without content is still listed: %v", err)
	}
	if _, err := o.files.Lookup(ctx, o.master, "/Tower/readme.txt"); err != nil {
		t.Errorf("an untouched file is gone: %v", err)
	}
	// Report and history.
	hist, _ := o.sync.History(ctx, o.master)
	if len(hist) != 1 || hist[0].ID != r.ID {
		t.Fatalf("history = %+v", hist)
	}
	rep, _ := o.sync.Report(ctx, o.master, r.ID)
	if len(rep) != 9 {
		t.Fatalf("report has %d lines, want 9", len(rep))
	}
	// The sync-needed notification is gone; "completed" is there.
	l, _ = o.notify.List(ctx, o.master, false)
	var kinds []string
	for _, e := range l {
		kinds = append(kinds, string(e.Kind))
	}
	if strings.Join(kinds, ",") != "filesync.completed" {
		t.Fatalf("notifications after the run: %v", kinds)
	}
	// Running it again changes nothing.
	before := o.tree()
	r2, err := o.sync.Synchronize(ctx, o.master, Plan{}, nil)
	if err != nil || r2.Deleted+r2.Adopted+r2.Updated != 0 || o.tree() != before {
		t.Fatalf("second run = %+v, %v; tree changed: %v", r2, err, o.tree() != before)
	}
}

func TestOnlyMasteradminSynchronizes(t *testing.T) {
	o := drift(t, 1, 1)
	ctx := context.Background()
	if err := o.acc.AddUser(ctx, o.master, account.NewUser{Name: "sam", Role: account.RoleServerAdmin, Password: "sam password"}); err != nil {
		t.Fatal(err)
	}
	sam, _ := o.acc.Login(ctx, "sam", "sam password")
	for _, try := range []func() error{
		func() error { _, err := o.sync.Plan(ctx, sam); return err },
		func() error { _, err := o.sync.Synchronize(ctx, sam, Plan{}, nil); return err },
	} {
		err := try()
		if !errors.Is(err, ErrOnlyMaster) || !errors.Is(err, account.ErrPermission) || err.Error() != "only masteradmin can run the full file synchronization" {
			t.Fatalf("sam: %v", err)
		}
	}
	mine, _ := o.notify.List(ctx, sam, false)
	theirs, _ := o.notify.List(ctx, o.master, false)
	if len(mine) != 2 || mine[0].Kind != notify.FileSyncRefused || !strings.Contains(mine[0].Text, "Only masteradmin can run it") {
		t.Fatalf("sam's notifications = %+v", mine)
	}
	attempts := 0
	for _, e := range theirs {
		if e.Kind == notify.FileSyncAttempted && strings.HasPrefix(e.Text, "User sam tried to run the full file synchronization") {
			attempts++
		}
	}
	if attempts != 2 {
		t.Fatalf("masteradmin heard of %d attempts, want 2: %+v", attempts, theirs)
	}
	if c := o.check(); c.Consistent {
		t.Fatal("a refused synchronization changed the stores")
	}
}

// A synchronization killed after any batch finishes on the next start and
// ends exactly where an uninterrupted run ends.
func TestResumeAfterEveryBatch(t *testing.T) {
	old := batchSize
	batchSize = 3
	t.Cleanup(func() { batchSize = old })

	ref := drift(t, 7, 8)
	if _, err := ref.sync.Synchronize(context.Background(), ref.master, Plan{}, nil); err != nil {
		t.Fatal(err)
	}
	want := ref.tree()
	batches := 3 + 3 // ceil(7/3) deletes + ceil(8/3) adoptions

	for stop := 1; stop < batches; stop++ {
		t.Run(fmt.Sprint("after batch ", stop), func(t *testing.T) {
			o := drift(t, 7, 8)
			killed := errors.New("killed")
			o.sync.afterBatch = func(b int) error {
				if b == stop {
					return killed
				}
				return nil
			}
			if _, err := o.sync.Synchronize(context.Background(), o.master, Plan{}, nil); !errors.Is(err, killed) {
				t.Fatalf("run did not stop: %v", err)
			}
			if ok, _ := o.sync.Interrupted(); !ok {
				t.Fatal("no job record after an interrupted run")
			}
			o.close()
			o.open() // the next start
			r, err := o.sync.Resume(context.Background(), nil)
			if err != nil || r == nil {
				t.Fatalf("resume: %v, %v", r, err)
			}
			if got := o.tree(); got != want {
				t.Fatalf("end state after resuming differs:\n%s\nwant:\n%s", got, want)
			}
			if r.Deleted != 7 || r.Adopted != 8 || !r.Resumed {
				t.Fatalf("resumed run = %+v, want 7 deleted, 8 adopted", r)
			}
			if c := o.check(); !c.Consistent {
				t.Fatalf("after resume: %+v", c)
			}
		})
	}
}

// Restoring the Manager instead: the server holds content the restored
// catalog never heard of, and lacks content the restored catalog lists.
func TestManagerRestore(t *testing.T) {
	o := newOffice(t)
	ctx := context.Background()
	o.put("/a.txt", []byte("one"))
	o.save(storage.Manager)
	o.rm("/a.txt")
	o.put("/b.txt", []byte("two"))
	o.restore(storage.Manager)
	c := o.check()
	if c.MissingOnServer != 1 || c.UnknownToManager != 1 {
		t.Fatalf("after restoring the Manager: %+v", c)
	}
	if _, err := o.sync.Synchronize(ctx, o.master, Plan{}, nil); err != nil {
		t.Fatal(err)
	}
	if c := o.check(); !c.Consistent {
		t.Fatalf("after synchronization: %+v", c)
	}
	if !strings.Contains(o.tree(), "/Synched from File Server (2026-11-25 14-30-00)/b.txt") {
		t.Fatalf("b.txt not adopted at its original path:\n%s", o.tree())
	}
}

func TestPeerRecorded(t *testing.T) {
	o := newOffice(t)
	o.put("/a.txt", []byte("x"))
	if c := o.check(); !c.Consistent {
		t.Fatal(c)
	}
	p, err := o.sync.LastAgreed()
	if err != nil || p.Identity != o.fs.Identity().ID || p.Generation != 0 {
		t.Fatalf("peer = %+v, %v", p, err)
	}
}
