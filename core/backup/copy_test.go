package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"codeberg.org/plinth/plinth/core/backup/target"
	"codeberg.org/plinth/plinth/core/backup/target/s3test"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// offsiteEnv is a Plinth with a passphrase and a bucket target "offsite".
func offsiteEnv(t *testing.T, lock bool, lockDays int) (*env, *s3test.Server) {
	t.Helper()
	e := newEnv(t)
	e.b.Secrets = notify.NewFileSecrets(e.mgr, filepath.Join(e.dir, "secret.key"))
	srv := s3test.Start(t)
	srv.Bucket("offsite", lock)
	c := TargetConfig{Name: "offsite", Kind: KindS3, Endpoint: srv.Endpoint, Bucket: "offsite", Prefix: "plinth", AccessKey: s3test.Access, LockDays: lockDays}
	ctx := context.Background()
	err := e.b.AddTarget(ctx, e.master, c, s3test.Secret)
	if err == nil || !strings.Contains(err.Error(), "set a backup passphrase first") {
		t.Fatalf("a bucket target without a passphrase: %v", err)
	}
	if err := e.b.SetPassphrase(ctx, e.master, passphrase); err != nil {
		t.Fatal(err)
	}
	if err := e.b.AddTarget(ctx, e.master, c, s3test.Secret); err != nil {
		t.Fatal(err)
	}
	return e, srv
}

// sameThere checks that every file of backup m is in the bucket under
// plinth/, byte for byte, manifest and key included.
func sameThere(t *testing.T, srv *s3test.Server, m Manifest) {
	t.Helper()
	cl := srv.Client()
	rels := []string{manifestName}
	for _, f := range backupFiles(m) {
		rels = append(rels, f.rel)
	}
	for _, rel := range rels {
		local, err := os.ReadFile(filepath.Join(m.Path, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		o, err := cl.GetObject(context.Background(), "offsite", "plinth/"+m.ID+"/"+rel, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		there, err := io.ReadAll(o)
		o.Close()
		if err != nil || !bytes.Equal(local, there) {
			t.Fatalf("%s of %s differs in the bucket (%d bytes there, %d here): %v", rel, m.ID, len(there), len(local), err)
		}
	}
	if _, err := cl.StatObject(context.Background(), "offsite", "plinth/keys/"+m.Recipient+".age", minio.StatObjectOptions{}); err != nil {
		t.Fatalf("the backup's key is not in the bucket: %v", err)
	}
}

func TestCopyFullAndIncrementalsToBucket(t *testing.T) {
	e, srv := offsiteEnv(t, false, 0)
	ctx := context.Background()
	e.put("/Office/a.dwg", random(300_000))
	full := e.full()
	e.put("/Office/b.ifc", random(200_000))
	inc := e.full()
	if inc.Type != TypeIncremental {
		t.Fatalf("second backup is %s", inc.Type)
	}
	// Copying the incremental copies the full backup it continues first.
	st, err := e.b.Copy(ctx, e.master, inc.ID, "offsite", nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != CopyCopied || !st.Checked || st.Done != st.Total || st.Total != full.Bytes()+inc.Bytes() {
		t.Fatalf("copy state %+v; want copied and checked, %d bytes", st, full.Bytes()+inc.Bytes())
	}
	sameThere(t, srv, full)
	sameThere(t, srv, inc)
	r, _ := e.b.lookupRecord(inc.ID)
	if got := copyOf(r, "offsite"); got.State != CopyCopied {
		t.Fatalf("History says %+v", r.Copies)
	}
	// With the copy target set, the next backup is copied too; the two
	// already there are not sent again.
	cfg, _ := e.b.Level2()
	cfg.CopyTo = "offsite"
	if err := e.b.SetLevel2(ctx, e.master, cfg); err != nil {
		t.Fatal(err)
	}
	e.put("/Office/c.pdf", random(50_000))
	third := e.full()
	var sent int64
	states, err := e.b.CopyPending(ctx, e.master, func(r progress.Report) { sent = max(sent, r.Done) })
	if err != nil || len(states) != 2 { // the full one had no record of its own copy
		t.Fatalf("copy pending: %+v %v", states, err)
	}
	sameThere(t, srv, third)
	if err := e.b.RemoveTarget(ctx, e.master, "offsite"); err == nil || !strings.Contains(err.Error(), "choose another copy target") {
		t.Fatalf("removing the copy target: %v", err)
	}
}

// A copy cut off by the server going away fails with one sentence, is
// recorded as failed, and the next run finishes it.
func TestCopyResumesAfterServerKilled(t *testing.T) {
	e, srv := offsiteEnv(t, false, 0)
	ctx := context.Background()
	e.put("/Office/model.ifc", random(40<<20)) // not compressible: one 40 MiB segment, three parts
	m := e.full()
	var once sync.Once
	_, err := e.b.Copy(ctx, e.master, m.ID, "offsite", func(r progress.Report) {
		if r.Done > 20<<20 {
			once.Do(func() { srv.Kill(); time.Sleep(100 * time.Millisecond) })
		}
	})
	if !errors.Is(err, target.ErrUnreachable) {
		t.Fatalf("copy to a server killed midway: %v", err)
	}
	r, _ := e.b.lookupRecord(m.ID)
	if st := copyOf(r, "offsite"); st.State != CopyFailed || !strings.Contains(st.Error, "127.0.0.1") {
		t.Fatalf("History after the cut: %+v", st)
	}
	if l, _ := srv.Client().StatObject(ctx, "offsite", "plinth/"+m.ID+"/"+manifestName, minio.StatObjectOptions{}); l.Key != "" {
		t.Fatal("the manifest is there before the files: the half copy looks complete")
	}
	srv.Restart()
	cfg, _ := e.b.Level2()
	cfg.CopyTo = "offsite"
	if err := e.b.SetLevel2(ctx, e.master, cfg); err != nil {
		t.Fatal(err)
	}
	states, err := e.b.CopyPending(ctx, e.master, nil)
	if err != nil || len(states) != 1 || states[0].State != CopyCopied {
		t.Fatalf("the resumed copy: %+v %v", states, err)
	}
	sameThere(t, srv, m)
}

// Where the target locks, every object of a copied backup is locked until
// the backup's date plus the days, and cannot be removed before.
func TestCopyLocksObjects(t *testing.T) {
	e, srv := offsiteEnv(t, true, 30)
	ctx := context.Background()
	e.put("/Office/a.dwg", random(100_000))
	m := e.full()
	st, err := e.b.Copy(ctx, e.master, m.ID, "offsite", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := m.Created.Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	if !st.LockedUntil.Equal(want) {
		t.Fatalf("locked until %v, want %v", st.LockedUntil, want)
	}
	_, tg, err := e.b.OpenTarget("offsite")
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{manifestName, pkFile(m)} {
		o, err := tg.Stat(ctx, m.ID+"/"+rel)
		if err != nil || !o.RetainUntil.Equal(want) || o.Mode != target.Governance {
			t.Fatalf("%s: lock %v %s, %v", rel, o.RetainUntil, o.Mode, err)
		}
		if err := tg.Delete(ctx, m.ID+"/"+rel); !errors.Is(err, target.ErrLocked) {
			t.Fatalf("deleting %s of a locked backup: %v", rel, err)
		}
	}
	sameThere(t, srv, m)
	// A lock on a bucket without Object Lock is refused when the target
	// is added, with the reason.
	srv.Bucket("nolock", false)
	err = e.b.AddTarget(ctx, e.master, TargetConfig{Name: "nolock", Kind: KindS3, Endpoint: srv.Endpoint, Bucket: "nolock", AccessKey: s3test.Access, LockDays: 7}, s3test.Secret)
	if !errors.Is(err, target.ErrNoLock) || !strings.Contains(err.Error(), "turn on Object Lock") {
		t.Fatalf("a lock on a bucket without Object Lock: %v", err)
	}
}

func TestCopyToFolder(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "usb")
	if err := e.b.AddTarget(ctx, e.master, TargetConfig{Name: "usb", Kind: KindFolder, Folder: dir}, ""); err != nil {
		t.Fatal(err)
	}
	e.put("/Office/a.dwg", random(100_000))
	m := e.full()
	if _, err := e.b.Copy(ctx, e.master, m.ID, "usb", nil); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{manifestName, pkFile(m)} {
		a, _ := os.ReadFile(filepath.Join(m.Path, rel))
		b, err := os.ReadFile(filepath.Join(dir, m.ID, rel))
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s differs in the folder target: %v", rel, err)
		}
	}
	// The folder is a backup folder like any: Plinth lists the copy there.
	got, err := list(fsys.OS, dir)
	if err != nil || len(got) != 1 || got[0].ID != m.ID {
		t.Fatalf("the copy in the folder lists as %+v, %v", got, err)
	}
}

// A new machine: a fresh Plinth, the same bucket and passphrase, and the
// backups there list, verify and restore from the bucket alone.
// flipByte changes one byte of an object in the bucket "offsite", the one
// at 1/div of its length, as someone with the bucket's keys could.
func flipByte(t *testing.T, srv *s3test.Server, key string, div int) {
	t.Helper()
	ctx := context.Background()
	cl := srv.Client()
	o, err := cl.GetObject(ctx, "offsite", key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(o)
	o.Close()
	raw[len(raw)/div] ^= 1
	if _, err := cl.PutObject(ctx, "offsite", key, bytes.NewReader(raw), int64(len(raw)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreNewMachineFromBucket(t *testing.T) {
	old, srv := offsiteEnv(t, false, 0)
	ctx := context.Background()
	old.put("/Office/a.dwg", random(3<<20))
	old.put("/Office/notes.txt", []byte("keep the bucket"))
	full := old.full()
	old.put("/Office/b.ifc", random(1<<20))
	old.rm("/Office/notes.txt")
	inc := old.full()
	if _, err := old.b.Copy(ctx, old.master, inc.ID, "offsite", nil); err != nil {
		t.Fatal(err)
	}
	want := old.state()

	e := newEnv(t)
	e.b.Secrets = notify.NewFileSecrets(e.mgr, filepath.Join(e.dir, "secret.key"))
	if err := e.b.SetPassphrase(ctx, e.master, "another passphrase here"); err != nil {
		t.Fatal(err)
	}
	c := TargetConfig{Name: "offsite", Kind: KindS3, Endpoint: srv.Endpoint, Bucket: "offsite", Prefix: "plinth", AccessKey: s3test.Access}
	if err := e.b.AddTarget(ctx, e.master, c, s3test.Secret); err != nil {
		t.Fatal(err)
	}
	got, bad, err := e.b.TargetBackups(ctx, "offsite")
	if err != nil || len(bad) != 0 || len(got) != 2 || got[0].ID != inc.ID || got[1].ID != full.ID {
		t.Fatalf("the bucket lists %v (damaged %v), %v", got, bad, err)
	}
	if _, err := e.b.Restore(ctx, e.master, inc.ID, ScopeAll, "wrong passphrase 123", nil); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("restore with a wrong passphrase: %v", err)
	}
	v, err := e.b.Verify(ctx, e.master, inc.ID, passphrase, nil)
	if err != nil || !v.Restored {
		t.Fatalf("verify from the bucket: %+v %v", v, err)
	}
	if _, err := e.b.Restore(ctx, e.master, inc.ID, ScopeAll, passphrase, nil); err != nil {
		t.Fatal(err)
	}
	if e.state() != want {
		t.Fatalf("restored from the bucket:\n%s\nwant:\n%s", e.state(), want)
	}
	if string(e.read("/Office/a.dwg")[:10]) != string(old.read("/Office/a.dwg")[:10]) {
		t.Fatal("content differs")
	}
}

// A damaged object in the bucket fails verify with a sentence naming it;
// a server that is down fails the listing, with nothing half listed.
func TestBucketDamageAndOutage(t *testing.T) {
	e, srv := offsiteEnv(t, false, 0)
	ctx := context.Background()
	e.put("/Office/a.dwg", random(200_000))
	m := e.full()
	if _, err := e.b.Copy(ctx, e.master, m.ID, "offsite", nil); err != nil {
		t.Fatal(err)
	}
	// The only local copy goes (the machine was lost).
	if err := os.RemoveAll(m.Path); err != nil {
		t.Fatal(err)
	}
	// Someone with the bucket's key changes one byte of the pack copy.
	flipByte(t, srv, "plinth/"+m.ID+"/"+pkFile(m), 2)
	_, err := e.b.Verify(ctx, e.master, m.ID, passphrase, nil)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "does not match its checksum") {
		t.Fatalf("verify of a changed object: %v", err)
	}
	srv.Kill()
	l, bad, err := e.b.TargetBackups(ctx, "offsite")
	if !errors.Is(err, target.ErrUnreachable) || l != nil || bad != nil {
		t.Fatalf("listing a bucket whose server is down: %v %v %v", l, bad, err)
	}
	_, err = e.b.Verify(ctx, e.master, m.ID, passphrase, nil)
	if err == nil || !strings.Contains(err.Error(), "target offsite could not be read") || !strings.Contains(err.Error(), "the connection was refused") {
		t.Fatalf("verify while the bucket is down: %v", err)
	}
}

// Retention applies in the copy target too: copies the rule lets go are
// removed there (manifest first), locked ones stay until their date, and
// a removal the bucket refuses is said once and left alone.
func TestRetentionInCopyTarget(t *testing.T) {
	for _, locked := range []bool{false, true} {
		t.Run(map[bool]string{false: "unlocked", true: "locked"}[locked], func(t *testing.T) {
			days := 0
			if locked {
				days = 30
			}
			e, srv := offsiteEnv(t, locked, days)
			ctx := context.Background()
			cfg, _ := e.b.Level2()
			cfg.CopyTo, cfg.KeepNewest, cfg.KeepDaily, cfg.KeepWeekly, cfg.FullEvery = "offsite", 1, 1, 0, 7
			if err := e.b.SetLevel2(ctx, e.master, cfg); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for i := range 3 {
				e.put(fmt.Sprintf("/Office/%d.dwg", i), random(50_000))
				m := e.full()
				ids = append(ids, m.ID)
				if _, err := e.b.CopyPending(ctx, e.master, nil); err != nil {
					t.Fatal(err)
				}
				e.now = e.now.Add(8 * 24 * time.Hour) // each a full backup of its own week
			}
			rep, err := e.b.Retention(ctx, e.master, true)
			if err != nil || rep.Copies == nil || rep.Copies.Error != "" {
				t.Fatalf("dry run: %+v %v", rep.Copies, err)
			}
			want := map[string]bool{ids[2]: true}
			for _, d := range rep.Copies.Backups {
				if d.Kept != (want[d.ID] || locked) {
					t.Fatalf("copy %s: kept %v %v", d.ID, d.Kept, d.Why)
				}
				if locked && !want[d.ID] && (len(d.Why) != 1 || !strings.HasPrefix(d.Why[0], WhyLocked)) {
					t.Fatalf("a locked copy is kept for %v", d.Why)
				}
			}
			if _, err := e.b.Retention(ctx, e.master, false); err != nil {
				t.Fatal(err)
			}
			there, _, err := e.b.TargetBackups(ctx, "offsite")
			if err != nil {
				t.Fatal(err)
			}
			if locked && len(there) != 3 || !locked && (len(there) != 1 || there[0].ID != ids[2]) {
				t.Fatalf("after retention the bucket holds %d backups", len(there))
			}
			if !locked {
				left, _ := srv.Target("offsite").List(ctx, "plinth/"+ids[0]+"/")
				if len(left) != 0 {
					t.Fatalf("objects of a removed copy are left: %v", left)
				}
				if r, ok := e.b.lookupRecord("removed-offsite-" + ids[0]); !ok || !strings.Contains(r.Item, "in offsite removed by retention") {
					t.Fatalf("History of the removal: %+v", r)
				}
			}
		})
	}
}

// A lock Plinth did not set (the bucket's default retention, or someone
// else's) makes the bucket refuse a removal: retention says so once and
// leaves that backup alone for RefusedDays instead of trying every run.
func TestRefusedRemovalSaidOnce(t *testing.T) {
	e, srv := offsiteEnv(t, true, 0)
	ctx := context.Background()
	cfg, _ := e.b.Level2()
	cfg.CopyTo, cfg.KeepNewest, cfg.KeepDaily, cfg.KeepWeekly = "offsite", 1, 1, 0
	if err := e.b.SetLevel2(ctx, e.master, cfg); err != nil {
		t.Fatal(err)
	}
	e.put("/Office/a.dwg", random(50_000))
	old := e.full()
	if _, err := e.b.CopyPending(ctx, e.master, nil); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(24 * time.Hour)
	mode := minio.Governance
	if err := srv.Client().PutObjectRetention(ctx, "offsite", "plinth/"+old.ID+"/"+pkFile(old), minio.PutObjectRetentionOptions{Mode: &mode, RetainUntilDate: &until}); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(8 * 24 * time.Hour)
	e.put("/Office/b.dwg", random(50_000))
	e.full()
	if _, err := e.b.CopyPending(ctx, e.master, nil); err != nil {
		t.Fatal(err)
	}
	p, err := e.b.PruneCopies(ctx, cfg, false)
	if err != nil || p.Error != "" {
		t.Fatalf("prune: %+v %v", p, err)
	}
	r, _ := e.b.lookupRecord(old.ID)
	if copyOf(r, "offsite").Refused.IsZero() {
		t.Fatalf("the refusal is not in History: %+v", r.Copies)
	}
	said := 0
	evs, _ := e.notify.List(ctx, e.master, false)
	for _, ev := range evs {
		if strings.Contains(ev.Text, "refused to remove "+old.ID) {
			said++
		}
	}
	if said != 1 {
		t.Fatalf("the refusal was said %d times", said)
	}
}

// Full and incremental backups written straight into a bucket, nothing on
// the local disk, restore byte for byte; a backup cut off by the server
// going away leaves no backup behind, and its leftovers go later.
func TestFullStraightIntoBucket(t *testing.T) {
	e, srv := offsiteEnv(t, false, 0)
	ctx := context.Background()
	e.put("/Office/a.dwg", random(2<<20))
	full, err := e.b.FullTo(ctx, e.master, "offsite", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.put("/Office/b.ifc", random(1<<20))
	e.rm("/Office/a.dwg")
	inc, err := e.b.FullTo(ctx, e.master, "offsite", nil)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Type != TypeIncremental || inc.Parent != full.ID || inc.Source == nil || inc.Path != "" {
		t.Fatalf("the second backup: %s of %s, source %v, path %q", inc.Type, inc.Parent, inc.Source, inc.Path)
	}
	if local, _ := e.b.List(); len(local) != 0 {
		t.Fatalf("backups written into the bucket are in the backup folder too: %d", len(local))
	}
	want := e.state()
	there, _, err := e.b.TargetBackups(ctx, "offsite")
	if err != nil || len(there) != 2 {
		t.Fatalf("the bucket lists %d backups, %v", len(there), err)
	}
	if v, err := e.b.Verify(ctx, e.master, inc.ID, passphrase, nil); err != nil || !v.Restored {
		t.Fatalf("verify: %+v %v", v, err)
	}
	e.put("/Office/c.pdf", random(1000))
	if _, err := e.b.Restore(ctx, e.master, inc.ID, ScopeAll, passphrase, nil); err != nil {
		t.Fatal(err)
	}
	if e.state() != want {
		t.Fatalf("restored:\n%s\nwant:\n%s", e.state(), want)
	}

	// The server dies in the middle of the next backup.
	e.put("/Office/big.bin", random(24<<20))
	var once sync.Once
	_, err = e.b.FullTo(ctx, e.master, "offsite", func(r progress.Report) {
		if r.Bytes && r.Done > 0 {
			once.Do(srv.Kill)
		}
	})
	if err == nil {
		t.Fatal("a backup into a server that died succeeded")
	}
	if !errors.Is(err, target.ErrUnreachable) || strings.Count(err.Error(), "could not reach") != 1 {
		t.Fatalf("the failure: %v", err)
	}
	srv.Restart()
	if there, _, _ := e.b.TargetBackups(ctx, "offsite"); len(there) != 2 {
		t.Fatalf("after the cut the bucket lists %d backups, want the 2 whole ones", len(there))
	}
	e.now = e.now.Add(48 * time.Hour)
	if _, err := e.b.FullTo(ctx, e.master, "offsite", nil); err != nil {
		t.Fatal(err)
	}
	objs, _ := srv.Target("offsite").List(ctx, "plinth/")
	ids := map[string]bool{}
	for _, o := range objs {
		id, _, _ := strings.Cut(strings.TrimPrefix(o.Key, "plinth/"), "/")
		ids[id] = true
	}
	if len(ids) != 4 { // keys and three whole backups: the cut one's objects were swept
		t.Fatalf("objects in the bucket belong to %v", ids)
	}
}

// A content pack larger than one object goes into the bucket as objects
// of at most one part each (sent in one request, read back in parallel);
// a restore joins them up byte for byte, and refuses, in one sentence and
// with the live data kept, when one of them in the middle was changed.
func TestBucketBackupInObjects(t *testing.T) {
	e, srv := offsiteEnv(t, false, 0)
	ctx := context.Background()
	big := random(3*objectCut + 12345) // does not compress: four objects
	e.put("/Office/model.ifc", big)
	e.put("/Office/notes.txt", []byte("the first floor changed"))
	m, err := e.b.FullTo(ctx, e.master, "offsite", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := m.Payload(storage.FileServer)
	var pieces []Segment
	for _, s := range p.Segments {
		if s.Name == p.Segments[0].Name {
			pieces = append(pieces, s)
		}
	}
	if len(pieces) < 4 {
		t.Fatalf("a pack of %d MiB is in %d objects", (3*objectCut)>>20, len(pieces))
	}
	for _, s := range pieces {
		o, err := srv.Target("offsite").Stat(ctx, "plinth/"+m.ID+"/"+s.File)
		if err != nil || o.Size > target.DefaultPartSize || o.Size != s.Bytes {
			t.Fatalf("object %s: %+v %v", s.File, o, err)
		}
	}
	want := e.state()

	// Restore onto a changed live folder, from the bucket.
	e.rm("/Office/model.ifc")
	if _, err := e.b.Restore(ctx, e.master, m.ID, ScopeAll, passphrase, nil); err != nil {
		t.Fatal(err)
	}
	if e.state() != want || !bytes.Equal(e.read("/Office/model.ifc"), big) {
		t.Fatal("the restore from the bucket differs from what was backed up")
	}

	// One byte of the second object changes; the restore refuses it.
	flipByte(t, srv, "plinth/"+m.ID+"/"+pieces[1].File, 3)
	e.put("/Office/after.txt", []byte("written after the backup"))
	before := e.state()
	_, err = e.b.Restore(ctx, e.master, m.ID, ScopeAll, passphrase, nil)
	if !errors.Is(err, ErrDamaged) || strings.Count(err.Error(), ":") > 2 || !strings.Contains(err.Error(), p.Segments[0].Name) {
		t.Fatalf("restore of a changed object: %v", err)
	}
	if e.state() != before {
		t.Fatal("a refused restore changed the live data")
	}
}
