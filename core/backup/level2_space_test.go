package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys/disktest"
	"codeberg.org/plinth/plinth/storage/fsys/faultfs"
)

// newEnvAt is newEnv with the data folder in dir.
func newEnvAt(t *testing.T, dir string) *env {
	t.Helper()
	e := &env{t: t, dir: dir, now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.Local)}
	var err error
	if e.mgr, err = storage.Open(filepath.Join(dir, "manager"), storage.Manager, storage.Options{}); err != nil {
		t.Fatal(err)
	}
	if e.fs, err = storage.Open(filepath.Join(dir, "fileserver"), storage.FileServer, storage.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.mgr.Close(); _ = e.fs.Close() })
	e.acc = account.NewService(e.mgr)
	e.master, _ = e.acc.Bootstrap(context.Background(), "master password")
	e.notify = notify.NewService(e.mgr, e.acc, nil)
	e.files = files.NewService(e.mgr, e.fs, e.acc, nil)
	e.b = NewService(e.files, e.acc, e.notify, dir, nil)
	e.b.SetClock(func() time.Time { e.now = e.now.Add(time.Second); return e.now })
	return e
}

func setTarget(t *testing.T, e *env, target string) {
	t.Helper()
	c, _ := e.b.Level2()
	c.Target = target
	if err := e.b.SetLevel2(context.Background(), e.master, c); err != nil {
		t.Fatal(err)
	}
}

// only fails the test when dir holds more than the names given.
func only(t *testing.T, dir string, allowed ...string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, x := range ents {
		ok := false
		for _, a := range allowed {
			ok = ok || x.Name() == a
		}
		if !ok {
			t.Fatalf("%s holds %s", dir, x.Name())
		}
	}
}

// A full backup onto a disk without room for it is refused before it
// writes anything, with one sentence; the earlier backups stay.
func TestFullBackupChecksFreeSpace(t *testing.T) {
	ctx := context.Background()
	target := disktest.Sized(t, storage.Reserve+1<<20)
	e := newEnv(t)
	setTarget(t, e, target)
	e.put("/small.txt", []byte("fits"))
	first := e.full()
	e.put("/big.bin", random(2<<20))
	_, err := e.b.Full(ctx, e.master, nil)
	if !errors.Is(err, storage.ErrNoSpace) || !strings.HasPrefix(err.Error(), "the disk holding "+target+" has ") ||
		!strings.Contains(err.Error(), "; the full backup needs about 2.0 MiB") {
		t.Fatalf("backup onto a full disk: %v", err)
	}
	if all, _ := e.b.List(); len(all) != 1 || all[0].ID != first.ID {
		t.Fatalf("backups: %v", all)
	}
	if err := e.b.Check(ctx, first); err != nil {
		t.Fatal(err)
	}
	only(t, target, ".plinth-backup.lock", first.ID)
}

// A restore needs room beside the live data for the restored stores; a
// restore that would not fit is refused before it writes anything and the
// live data stays.
func TestRestoreChecksFreeSpace(t *testing.T) {
	ctx := context.Background()
	// Room for the stores and their reserve, and for the file once, not
	// for a second copy of it beside them.
	data := disktest.Sized(t, 310<<20)
	e := newEnvAt(t, data)
	setTarget(t, e, t.TempDir())
	e.put("/Tower/a.bin", random(40<<20))
	m := e.full()
	e.put("/Tower/b.txt", []byte("later"))
	before := e.state()
	_, err := e.b.Restore(ctx, e.master, m.ID, ScopeAll, "", nil)
	if !errors.Is(err, storage.ErrNoSpace) || !strings.HasPrefix(err.Error(), "the disk holding "+data+" has ") ||
		!strings.Contains(err.Error(), "; the restore needs about ") {
		t.Fatalf("restore onto a full disk: %v", err)
	}
	if e.state() != before {
		t.Fatal("the refused restore changed the live data")
	}
	only(t, data, "manager", "fileserver")
}

// Verify restores into a scratch folder in the system's temporary folder;
// when that disk has no room it is refused before writing anything.
func TestVerifyChecksFreeSpace(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/a.bin", random(100_000))
	m := e.full()
	scratch := disktest.Sized(t, 1<<20)
	t.Setenv("TMPDIR", scratch)
	v, err := e.b.Verify(ctx, e.master, m.ID, "", nil)
	if !errors.Is(err, storage.ErrNoSpace) || !strings.HasPrefix(err.Error(), "the disk holding "+scratch+" has ") ||
		!strings.Contains(err.Error(), "verifying backup "+m.ID+" needs about ") || !v.Checksum || v.Restored {
		t.Fatalf("verify with a full scratch disk: %+v, %v", v, err)
	}
	only(t, scratch)
}

// A target that fills up while the backup is written (the estimate was
// short, or something else wrote there) fails with one sentence saying so;
// nothing is left behind and the earlier backups stay.
func TestFullBackupOnDiskThatFills(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/a.bin", random(100_000))
	first := e.full()
	nextDay(e)
	e.put("/b.bin", random(300_000))
	c, _ := e.b.Level2()
	for _, n := range []int64{0, 1000, 200_000} {
		e.b.SetFS(faultfs.New(nil).FillAfter(n))
		_, err := e.b.Full(ctx, e.master, nil)
		want := "the disk holding the backup target " + c.Target + " is full; free some space there and try again"
		if !errors.Is(err, storage.ErrDiskFull) || err.Error() != want {
			t.Fatalf("disk full after %d bytes: %v", n, err)
		}
		if d := leftIn(c.Target); len(d) > 0 {
			t.Fatalf("disk full after %d bytes: left %v", n, d)
		}
		if all, _ := e.b.List(); ids(all) != first.ID {
			t.Fatalf("backups: %s", ids(all))
		}
	}
	e.b.SetFS(nil)
	if _, err := e.b.Verify(ctx, e.master, first.ID, "", nil); err != nil {
		t.Fatal(err)
	}
}

// A data folder's disk that fills while a restore loads the backup stops
// the restore with one sentence before anything live changes.
func TestRestoreOnDiskThatFills(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/a.bin", random(300_000))
	m := e.full()
	e.put("/b.txt", []byte("later"))
	before := e.state()
	e.b.SetFS(faultfs.New(nil).FillAfter(1000))
	_, err := e.b.Restore(ctx, e.master, m.ID, ScopeAll, "", nil)
	want := "the disk holding " + e.dir + " is full; the restore stopped and nothing was changed"
	if !errors.Is(err, storage.ErrDiskFull) || err.Error() != want {
		t.Fatalf("restore onto a disk that fills: %v", err)
	}
	if e.state() != before {
		t.Fatal("the live data changed")
	}
	if d := leftIn(e.dir); len(d) > 0 {
		t.Fatalf("left %v", d)
	}
}
