package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"codeberg.org/plinth/plinth/core/backup/target"
	"codeberg.org/plinth/plinth/core/backup/target/s3test"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/progress"
)

// snapOffsite is a Plinth whose snapshots are copied to the bucket target
// "offsite" of srv (under the prefix plinth/).
func snapOffsite(t *testing.T, e *env, srv *s3test.Server, lockDays int) {
	t.Helper()
	ctx := context.Background()
	if e.b.Secrets == nil {
		e.b.Secrets = notify.NewFileSecrets(e.mgr, filepath.Join(e.dir, "secret.key"))
	}
	if err := e.b.SetPassphrase(ctx, e.master, passphrase); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.BackupTarget("offsite"); err != nil {
		c := TargetConfig{Name: "offsite", Kind: KindS3, Endpoint: srv.Endpoint, Bucket: "offsite", Prefix: "plinth", AccessKey: s3test.Access, LockDays: lockDays}
		if err := e.b.AddTarget(ctx, e.master, c, s3test.Secret); err != nil {
			t.Fatal(err)
		}
	}
	c1, _ := e.b.Level1()
	c1.CopyTo = "offsite"
	if err := e.b.SetLevel1(ctx, e.master, c1); err != nil {
		t.Fatal(err)
	}
}

// bucketObjects lists the bucket's objects under plinth/snapshots/ with
// their last change.
func bucketObjects(t *testing.T, srv *s3test.Server, under string) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	for o := range srv.Client().ListObjects(context.Background(), "offsite", minio.ListObjectsOptions{Prefix: "plinth/snapshots/" + under, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		out[strings.TrimPrefix(o.Key, "plinth/")] = o.LastModified
	}
	return out
}

func (e *env) snapshotOf(id string) Manifest {
	e.t.Helper()
	m, err := e.b.Snapshot(context.Background(), e.master, id, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func copyState(t *testing.T, e *env, id string) CopyState {
	t.Helper()
	r, _ := e.b.lookupRecord(id)
	return copyOf(r, "offsite")
}

// retire removes snapshots here as local retention does, then prunes the
// copy target.
func retire(t *testing.T, e *env, ms ...Manifest) {
	t.Helper()
	for _, m := range ms {
		if err := (&repo{fs: e.b.fs, dir: filepath.Dir(m.Path)}).remove(m); err != nil {
			t.Fatal(err)
		}
		e.b.markRemoved(m)
	}
	if err := e.b.pruneSnapshotCopies(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// filesUnder lists every file below dir with its size and content hash.
func filesUnder(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || strings.HasSuffix(p, ".plinth-backup.lock") {
			return err
		}
		b, err := os.ReadFile(p)
		sum := sha256.Sum256(b)
		out = append(out, p+" "+hex.EncodeToString(sum[:8]))
		return err
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// A snapshot is copied to the bucket after it is taken; with the machine's
// snapshot folder lost, a fresh Plinth that names the same bucket lists it
// and restores it byte for byte.
func TestSnapshotCopyRestoresOnAFreshMachine(t *testing.T) {
	e := newEnv(t)
	srv := s3test.Start(t)
	srv.Bucket("offsite", false)
	snapOffsite(t, e, srv, 0)
	ctx := context.Background()
	tower, _ := e.files.Create(ctx, e.master, files.RootID, "Tower", files.KindProject)
	plan, model := random(5<<20), []byte("ISO-10303-21; v1")
	e.put("/Tower/plans/ground.pdf", plan)
	e.put("/Tower/model.ifc", model)
	s1 := e.snapshotOf(tower.ID)
	if st := copyState(t, e, s1.ID); st.State != CopyCopied || !st.Checked || st.Done != st.Total || st.Total < 5<<20 {
		t.Fatalf("the copy of the snapshot: %+v; want copied and checked", st)
	}
	there := bucketObjects(t, srv, "")
	if _, ok := there["snapshots/items/"+tower.ID+"/"+s1.ID+"/"+manifestName]; !ok {
		t.Fatalf("no manifest in the bucket: %v", there)
	}
	if err := os.RemoveAll(e.b.snapshotTarget()); err != nil {
		t.Fatal(err)
	}
	// A new machine: the same bucket and passphrase, nothing else.
	e2 := newEnv(t)
	snapOffsite(t, e2, srv, 0)
	l, err := e2.b.SnapshotCopies(ctx, "")
	if err != nil || len(l) != 1 || l[0].ID != s1.ID || l[0].ItemName != "Tower" {
		t.Fatalf("snapshots in the bucket: %+v %v", l, err)
	}
	if _, err := e2.b.RestoreSnapshot(ctx, e2.master, s1.ID, "Tower", "", nil); !errors.Is(err, ErrNeedPassphase) {
		t.Fatalf("restore of an encrypted copy without the passphrase: %v", err)
	}
	if _, err := e2.b.RestoreSnapshot(ctx, e2.master, s1.ID, "Tower", "wrong horse", nil); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("restore with a wrong passphrase: %v", err)
	}
	res, err := e2.b.RestoreSnapshot(ctx, e2.master, s1.ID, "Tower", passphrase, nil)
	if err != nil || res.Item != "Tower" {
		t.Fatalf("restore from the bucket: %+v %v", res, err)
	}
	if !bytes.Equal(e2.read("/Tower/plans/ground.pdf"), plan) || !bytes.Equal(e2.read("/Tower/model.ifc"), model) {
		t.Fatal("the restored files differ from the ones snapshotted")
	}
	// It is in the snapshot folder now, and no longer only in the bucket.
	if l, err := e2.b.SnapshotCopies(ctx, ""); err != nil || len(l) != 0 {
		t.Fatalf("after the restore, only in the bucket: %+v %v", l, err)
	}
	if m, err := e2.b.Get(s1.ID); err != nil || m.Source != nil {
		t.Fatalf("the fetched snapshot here: %+v %v", m, err)
	}
	// Its chunks came into a pack here, as a snapshot taken here puts them.
	got := chunkFiles(t, e2.b.snapshotTarget())
	if len(got) != 3 || len(packFiles(t, e2.b.snapshotTarget())) != 1 {
		t.Fatalf("the fetched chunks lie in %v", got)
	}
	if _, err := e2.b.Verify(ctx, e2.master, s1.ID, passphrase, nil); err != nil {
		t.Fatal(err)
	}
}

// A second snapshot of an unchanged project sends no chunk again; a copy
// removed by retention here goes from the bucket too, with the chunks no
// other snapshot there needs.
func TestSnapshotCopyReusesChunksAndPrunes(t *testing.T) {
	e := newEnv(t)
	srv := s3test.Start(t)
	srv.Bucket("offsite", false)
	snapOffsite(t, e, srv, 0)
	ctx := context.Background()
	tower, _ := e.files.Create(ctx, e.master, files.RootID, "Tower", files.KindProject)
	e.put("/Tower/plan.pdf", random(300_000))
	e.put("/Tower/old.txt", random(20_000))
	s1 := e.snapshotOf(tower.ID)
	chunks := bucketObjects(t, srv, "chunks/")
	if len(chunks) != 2 {
		t.Fatalf("%d chunks in the bucket, want 2", len(chunks))
	}
	time.Sleep(1100 * time.Millisecond) // a chunk sent again would change its date
	s2 := e.snapshotOf(tower.ID)
	if st := copyState(t, e, s2.ID); st.State != CopyCopied {
		t.Fatalf("second copy: %+v", st)
	}
	after := bucketObjects(t, srv, "chunks/")
	if len(after) != len(chunks) {
		t.Fatalf("%d chunks after an unchanged snapshot, %d before", len(after), len(chunks))
	}
	for k, at := range chunks {
		if !after[k].Equal(at) {
			t.Fatalf("chunk %s was sent again for an unchanged project", k)
		}
	}
	// old.txt goes; retention removes s1 here: its copy goes, and the
	// chunk of old.txt with it; plan.pdf's chunk stays for s2.
	e.rm("/Tower/old.txt")
	s3 := e.snapshotOf(tower.ID)
	retire(t, e, s1, s2)
	items := bucketObjects(t, srv, "items/")
	for k := range items {
		if strings.Contains(k, s1.ID) || strings.Contains(k, s2.ID) {
			t.Fatalf("%s is still in the bucket after retention removed its snapshot", k)
		}
	}
	if len(items) != 3 || len(bucketObjects(t, srv, "chunks/")) != 1 {
		t.Fatalf("after prune: %v and %d chunks; want s3 (3 objects) and 1 chunk", items, len(bucketObjects(t, srv, "chunks/")))
	}
	if st := copyState(t, e, s1.ID); st.Removed.IsZero() {
		t.Fatalf("History does not say the copy was removed: %+v", st)
	}
	if _, err := e.b.RestoreSnapshot(ctx, e.master, s3.ID, "Tower 3", passphrase, nil); err != nil {
		t.Fatal(err)
	}
}

// A copy cut off by the server going away is failed with one sentence,
// the bucket lists no half snapshot, and the next run finishes it without
// sending again the chunks that arrived.
func TestSnapshotCopyResumesAfterServerKilled(t *testing.T) {
	e := newEnv(t)
	srv := s3test.Start(t)
	srv.Bucket("offsite", false)
	snapOffsite(t, e, srv, 0)
	ctx := context.Background()
	tower, _ := e.files.Create(ctx, e.master, files.RootID, "Tower", files.KindProject)
	for _, n := range []string{"a", "b", "c", "d"} {
		e.put("/Tower/"+n+".ifc", random(1<<20))
	}
	var once sync.Once
	m, err := e.b.Snapshot(ctx, e.master, tower.ID, func(r progress.Report) {
		if r.Bytes && strings.HasPrefix(r.Phase, "Copying snapshot") && r.Done > 0 {
			once.Do(srv.Kill)
		}
	})
	if err != nil {
		t.Fatalf("the snapshot fails with its copy: %v", err)
	}
	st := copyState(t, e, m.ID)
	if st.State != CopyFailed || !strings.Contains(st.Error, "127.0.0.1") || strings.Contains(st.Error, "\n") {
		t.Fatalf("History after the cut: %+v", st)
	}
	srv.Restart()
	before := bucketObjects(t, srv, "")
	if len(before) == 0 {
		t.Fatal("nothing arrived before the cut")
	}
	for k := range before {
		if strings.HasSuffix(k, manifestName) {
			t.Fatal("the manifest is there before the chunks: the half copy looks complete")
		}
	}
	time.Sleep(1100 * time.Millisecond)
	states, err := e.b.CopySnapshots(ctx, e.master, nil)
	if err != nil || len(states) != 1 || states[0].State != CopyCopied || !states[0].Checked {
		t.Fatalf("the resumed copy: %+v %v", states, err)
	}
	after := bucketObjects(t, srv, "")
	for k, at := range before {
		if strings.Contains(k, "/chunks/") || strings.HasPrefix(k, "chunks/") {
			if !after[k].Equal(at) {
				t.Fatalf("chunk %s was sent again after the cut", k)
			}
		}
	}
	if len(bucketObjects(t, srv, "chunks/")) != 4 {
		t.Fatalf("chunks in the bucket: %d, want 4", len(bucketObjects(t, srv, "chunks/")))
	}
}

// With Object Lock, every object of a snapshot's copy is locked; a copy
// retention removed here stays there, with its chunks, until its date, and
// nobody with the same keys can delete it.
func TestSnapshotCopyLocked(t *testing.T) {
	e := newEnv(t)
	srv := s3test.Start(t)
	srv.Bucket("offsite", true)
	snapOffsite(t, e, srv, 30)
	ctx := context.Background()
	tower, _ := e.files.Create(ctx, e.master, files.RootID, "Tower", files.KindProject)
	e.put("/Tower/old.txt", random(20_000))
	s1 := e.snapshotOf(tower.ID)
	st := copyState(t, e, s1.ID)
	want := s1.Created.Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	if st.State != CopyCopied || !st.LockedUntil.Equal(want) || st.ChunksLockedUntil.Before(want) {
		t.Fatalf("copy state %+v; want locked until %v", st, want)
	}
	_, tg, err := e.b.OpenTarget("offsite")
	if err != nil {
		t.Fatal(err)
	}
	chunks := bucketObjects(t, srv, "chunks/")
	for k := range chunks {
		if o, err := tg.Stat(ctx, k); err != nil || o.RetainUntil.Before(want) {
			t.Fatalf("chunk %s locked until %v (%v); want at least %v", k, o.RetainUntil, err, want)
		}
	}
	// A later snapshot reusing the chunk a step later extends its lock.
	e.now = e.now.Add(10 * 24 * time.Hour)
	s2 := e.snapshotOf(tower.ID)
	st2 := copyState(t, e, s2.ID)
	for k := range chunks {
		if o, err := tg.Stat(ctx, k); err != nil || o.RetainUntil.Before(st2.LockedUntil) {
			t.Fatalf("chunk %s reused by a later snapshot is locked until %v (%v); want at least %v", k, o.RetainUntil, err, st2.LockedUntil)
		}
	}
	e.rm("/Tower/old.txt")
	e.snapshotOf(tower.ID)
	retire(t, e, s1, s2)
	items := bucketObjects(t, srv, "items/")
	if _, ok := items["snapshots/items/"+tower.ID+"/"+s1.ID+"/"+manifestName]; !ok {
		t.Fatal("prune removed a locked snapshot copy")
	}
	for k := range chunks {
		if _, ok := bucketObjects(t, srv, "chunks/")[k]; !ok {
			t.Fatalf("the sweep removed locked chunk %s", k)
		}
		if err := tg.Delete(ctx, k); !errors.Is(err, target.ErrLocked) {
			t.Fatalf("deleting a locked chunk with the same keys: %v", err)
		}
	}
	if err := tg.Delete(ctx, "snapshots/items/"+tower.ID+"/"+s1.ID+"/"+manifestName); !errors.Is(err, target.ErrLocked) {
		t.Fatalf("deleting a locked manifest: %v", err)
	}
}

// A crafted snapshot in the bucket (a chunk list naming "../x", a tree
// larger than its manifest says) is refused in one sentence, and nothing
// changes here.
func TestSnapshotCopyCraftedRefused(t *testing.T) {
	e := newEnv(t)
	srv := s3test.Start(t)
	srv.Bucket("offsite", false)
	snapOffsite(t, e, srv, 0)
	ctx := context.Background()
	tower, _ := e.files.Create(ctx, e.master, files.RootID, "Tower", files.KindProject)
	e.put("/Tower/a.txt", random(10_000))
	s1 := e.snapshotOf(tower.ID)
	cl := srv.Client()
	put := func(key string, b []byte) {
		t.Helper()
		if _, err := cl.PutObject(ctx, "offsite", "plinth/snapshots/items/"+tower.ID+"/"+key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tree, err := os.ReadFile(filepath.Join(s1.Path, s1.Tree.File))
	if err != nil {
		t.Fatal(err)
	}
	craft := func(id string, change func(m *Manifest)) {
		m := s1
		m.ID, m.Path = id, ""
		tf := *s1.Tree
		m.Tree = &tf
		change(&m)
		b, _ := json.Marshal(m)
		put(id+"/"+manifestName, b)
	}
	// 1: a chunk list naming "../x".
	bad, _ := json.Marshal(chunkIndex{Recipient: s1.Recipient, Chunks: map[string]int64{"../x": 5}})
	idx := chunkEncoder().EncodeAll(bad, nil)
	sum := sha256.Sum256(idx)
	put("20261125-100000-aaaaaa/"+s1.Tree.File, tree)
	put("20261125-100000-aaaaaa/"+indexName, idx)
	craft("20261125-100000-aaaaaa", func(m *Manifest) {
		m.Tree.IndexBytes, m.Tree.IndexSHA256 = int64(len(idx)), hex.EncodeToString(sum[:])
	})
	// 2: a tree larger than the manifest says.
	put("20261125-100001-bbbbbb/"+s1.Tree.File, append(tree, make([]byte, 1<<20)...))
	craft("20261125-100001-bbbbbb", func(m *Manifest) {})
	if err := os.RemoveAll(filepath.Join(e.b.snapshotTarget(), "items", tower.ID, s1.ID)); err != nil {
		t.Fatal(err)
	}
	here := filesUnder(t, e.b.snapshotTarget())
	for _, id := range []string{"20261125-100000-aaaaaa", "20261125-100001-bbbbbb"} {
		_, err := e.b.RestoreSnapshot(ctx, e.master, id, "Crafted", passphrase, nil)
		if !errors.Is(err, ErrDamaged) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("restore of crafted snapshot %s: %v", id, err)
		}
		t.Logf("refused: %v", err)
		if got := filesUnder(t, e.b.snapshotTarget()); got != here {
			t.Fatalf("the snapshot folder changed:\n%s\nwas\n%s", got, here)
		}
		if _, err := e.files.Lookup(ctx, e.master, "/Crafted"); err == nil {
			t.Fatal("a crafted snapshot created a project")
		}
	}
}

// A snapshot taken before the passphrase was set is never sent to a
// bucket: its copy is refused in one sentence; later ones are copied.
func TestPlainSnapshotNotCopiedToBucket(t *testing.T) {
	e := newEnv(t)
	srv := s3test.Start(t)
	srv.Bucket("offsite", false)
	ctx := context.Background()
	tower, _ := e.files.Create(ctx, e.master, files.RootID, "Tower", files.KindProject)
	e.put("/Tower/a.txt", random(10_000))
	plainSnap := e.snapshotOf(tower.ID)
	snapOffsite(t, e, srv, 0)
	_, err := e.b.CopySnapshots(ctx, e.master, nil)
	if err == nil || !strings.Contains(err.Error(), "was taken before a backup passphrase was set; take a new snapshot to copy it off site") {
		t.Fatalf("copy of a plain snapshot to a bucket: %v", err)
	}
	if l := bucketObjects(t, srv, ""); len(l) != 0 {
		t.Fatalf("plain data went to the bucket: %v", l)
	}
	if st := copyState(t, e, plainSnap.ID); st.State != CopyFailed {
		t.Fatalf("History: %+v", st)
	}
	s2 := e.snapshotOf(tower.ID)
	if st := copyState(t, e, s2.ID); st.State != CopyCopied {
		t.Fatalf("the encrypted snapshot after: %+v", st)
	}
	if l := bucketObjects(t, srv, "chunks/"); len(l) != 1 {
		t.Fatalf("chunks in the bucket: %v", l)
	}
	for k := range bucketObjects(t, srv, "") {
		if strings.HasSuffix(k, ".zst") && strings.Contains(k, "chunks/") {
			t.Fatalf("a plain chunk in the bucket: %s", k)
		}
	}
	// Remove the copy target: refused while snapshots are copied there.
	if err := e.b.RemoveTarget(ctx, e.master, "offsite"); err == nil || !strings.Contains(err.Error(), "snapshots are copied to offsite") {
		t.Fatalf("removing the snapshot copy target: %v", err)
	}
	c1, _ := e.b.Level1()
	c1.CopyTo = "nowhere"
	if err := e.b.SetLevel1(ctx, e.master, c1); !errors.Is(err, ErrNoTarget) {
		t.Fatalf("copy to a target that does not exist: %v", err)
	}
}
