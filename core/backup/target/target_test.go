package target_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"codeberg.org/plinth/plinth/core/backup/target"
	"codeberg.org/plinth/plinth/core/backup/target/s3test"
)

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func read(t *testing.T, tg target.Target, key string, off, n int64) []byte {
	t.Helper()
	r, err := tg.Get(context.Background(), key, off, n)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

// contract is what every target does, the folder and the bucket alike.
func contract(t *testing.T, tg target.Target) {
	ctx := context.Background()
	small, big := random(t, 1000), random(t, 12<<20+123)
	if _, err := tg.Put(ctx, "b/one/manifest.json", bytes.NewReader(small), int64(len(small)), target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	o, err := tg.Put(ctx, "b/one/packs/p.zst", bytes.NewReader(big), int64(len(big)), target.PutOptions{Progress: func(n int64) { sent.Store(n) }})
	if err != nil {
		t.Fatal(err)
	}
	if o.Size != int64(len(big)) || sent.Load() != int64(len(big)) {
		t.Fatalf("stored %d bytes, progress said %d; want %d", o.Size, sent.Load(), len(big))
	}
	// A stream of unknown length.
	if _, err := tg.Put(ctx, "b/two/stream", io.MultiReader(bytes.NewReader(small), bytes.NewReader(small)), -1, target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, tg, "b/one/packs/p.zst", 0, -1); !bytes.Equal(got, big) {
		t.Fatal("the big object did not read back the same")
	}
	if got := read(t, tg, "b/one/packs/p.zst", 5<<20, 1000); !bytes.Equal(got, big[5<<20:5<<20+1000]) {
		t.Fatal("a range read gave other bytes")
	}
	if got := read(t, tg, "b/one/packs/p.zst", 12<<20, -1); !bytes.Equal(got, big[12<<20:]) {
		t.Fatal("a read to the end gave other bytes")
	}
	if got := read(t, tg, "b/two/stream", 0, -1); len(got) != 2*len(small) {
		t.Fatalf("the stream read back %d bytes, want %d", len(got), 2*len(small))
	}
	l, err := tg.List(ctx, "b/one/")
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 2 || l[0].Key != "b/one/manifest.json" || l[1].Key != "b/one/packs/p.zst" || l[0].Size != 1000 {
		t.Fatalf("list b/one/ = %+v", l)
	}
	if l, _ := tg.List(ctx, "b/"); len(l) != 3 {
		t.Fatalf("list b/ has %d objects, want 3", len(l))
	}
	if _, err := tg.Stat(ctx, "b/none"); !errors.Is(err, target.ErrNotFound) {
		t.Fatalf("stat of a missing object: %v, want ErrNotFound", err)
	}
	if _, err := tg.Get(ctx, "b/none", 0, -1); !errors.Is(err, target.ErrNotFound) {
		t.Fatalf("get of a missing object: %v, want ErrNotFound", err)
	}
	if err := tg.Delete(ctx, "b/one/packs/p.zst"); err != nil {
		t.Fatal(err)
	}
	if err := tg.Delete(ctx, "b/one/packs/p.zst"); err != nil {
		t.Fatalf("deleting a missing object: %v", err)
	}
	if l, _ := tg.List(ctx, "b/one/"); len(l) != 1 {
		t.Fatalf("after the delete, list = %+v", l)
	}
	for _, bad := range []string{"../x", "/etc/passwd", "a//b", "a/./b", `a\b`, ""} {
		if _, err := tg.Put(ctx, bad, bytes.NewReader(small), 1000, target.PutOptions{}); err == nil {
			t.Fatalf("the key %q was accepted", bad)
		}
	}
}

func TestFolderContract(t *testing.T) {
	contract(t, target.NewFolder(nil, t.TempDir()))
}

func TestS3Contract(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket("plain", false)
	contract(t, srv.Target("plain"))
	// With a folder in the bucket, keys stay the target's own.
	c := srv.Config("plain")
	c.Prefix = "office/plinth"
	tg, err := target.NewS3(c)
	if err != nil {
		t.Fatal(err)
	}
	contract(t, tg)
	if _, err := srv.Client().StatObject(context.Background(), "plain", "office/plinth/b/one/manifest.json", minio.StatObjectOptions{}); err != nil {
		t.Fatalf("the object is not under the prefix: %v", err)
	}
}

// An upload cut by a server that goes away resumes with the parts that
// arrived: a second Put sends only the rest.
func TestS3UploadResumes(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket("resume", false)
	c := srv.Config("resume")
	c.PartSize = 5 << 20
	tg, err := target.NewS3(c)
	if err != nil {
		t.Fatal(err)
	}
	data := random(t, 31<<20)
	var killed atomic.Bool
	_, err = tg.Put(context.Background(), "big", bytes.NewReader(data), int64(len(data)), target.PutOptions{Progress: func(n int64) {
		if n > 17<<20 && !killed.Swap(true) {
			go srv.Kill()
			time.Sleep(300 * time.Millisecond)
		}
	}})
	if !errors.Is(err, target.ErrUnreachable) {
		t.Fatalf("an upload to a killed server: %v, want ErrUnreachable", err)
	}
	srv.Restart()
	src := &countingReader{Reader: bytes.NewReader(data)}
	if _, err := tg.Put(context.Background(), "big", src, int64(len(data)), target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// Every part is read once for its MD5; only the missing ones are read
	// again to be sent. At least the first two parts were there.
	if sent := src.n.Load() - int64(len(data)); sent > int64(len(data))-10<<20 {
		t.Fatalf("the resumed upload sent %d MiB of %d: it sent the first parts again", sent>>20, len(data)>>20)
	}
	if got := read(t, tg, "big", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("the resumed object differs from what was uploaded")
	}
}

type countingReader struct {
	*bytes.Reader
	n atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.Reader.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

func TestS3Sentences(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket("there", false)
	ctx := context.Background()
	put := func(c target.S3Config) error {
		tg, err := target.NewS3(c)
		if err != nil {
			return err
		}
		_, err = tg.Put(ctx, "probe", strings.NewReader("x"), 1, target.PutOptions{})
		return err
	}
	wrong := srv.Config("there")
	wrong.Secret = "not-the-secret-0000"
	unknown := srv.Config("there")
	unknown.AccessKey = "nobody"
	missing := srv.Config("not-there")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := srv.Config("there")
	down.Endpoint = "http://127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close() // a closed port on loopback: nothing listens
	for _, c := range []struct {
		name string
		cfg  target.S3Config
		kind error
		says string
	}{
		{"wrong secret", wrong, target.ErrAccess, "the secret key is wrong for access key plinth-test"},
		{"unknown key", unknown, target.ErrAccess, "does not know the access key nobody"},
		{"no bucket", missing, target.ErrNoBucket, "there is no bucket not-there at 127.0.0.1"},
		{"server down", down, target.ErrUnreachable, "the connection was refused"},
	} {
		start := time.Now()
		err := put(c.cfg)
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v; want %q", c.name, err, c.says)
		}
		if strings.Count(err.Error(), ": ") > 2 || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: not one sentence: %q", c.name, err)
		}
		if time.Since(start) > 10*time.Second {
			t.Errorf("%s took %v to say so", c.name, time.Since(start))
		}
		tg, _ := target.NewS3(c.cfg)
		if l, err := tg.List(ctx, ""); err == nil || l != nil {
			t.Errorf("%s: list gave %v, %v; want an error and nothing", c.name, l, err)
		}
	}
	for _, c := range []target.S3Config{
		{Endpoint: "s3.example.com", Bucket: "b-1", AccessKey: "a", Secret: "s"},
		{Endpoint: "https://s3.example.com/bucket", Bucket: "b-1", AccessKey: "a", Secret: "s"},
		{Endpoint: "https://s3.example.com", Bucket: "B_1", AccessKey: "a", Secret: "s"},
		{Endpoint: "https://s3.example.com", Bucket: "b-1", Prefix: "../up", AccessKey: "a", Secret: "s"},
		{Endpoint: "https://s3.example.com", Bucket: "b-1", AccessKey: "a"},
	} {
		if _, err := target.NewS3(c); err == nil {
			t.Errorf("%+v was accepted", c)
		}
	}
}

// A locked object cannot be removed before its date: not by Delete, not
// by a direct removal of its version with the same credentials. A plain
// removal only hides it behind a delete marker; its data stays.
func TestS3ObjectLock(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket("locked", true)
	srv.Bucket("unlocked", false)
	ctx := context.Background()
	tg := srv.Target("locked")
	if ok, err := tg.Locking(ctx); err != nil || !ok {
		t.Fatalf("locking of a bucket with Object Lock: %v, %v", ok, err)
	}
	if ok, err := srv.Target("unlocked").Locking(ctx); err != nil || ok {
		t.Fatalf("locking of a bucket without Object Lock: %v, %v", ok, err)
	}
	until := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	body := random(t, 4096)
	o, err := tg.Put(ctx, "b/keep", bytes.NewReader(body), int64(len(body)), target.PutOptions{Retain: target.Retention{Mode: target.Governance, Until: until}})
	if err != nil {
		t.Fatal(err)
	}
	if !o.RetainUntil.Equal(until) || o.Mode != target.Governance {
		t.Fatalf("stored with lock %v %s, want %v governance", o.RetainUntil, o.Mode, until)
	}
	err = tg.Delete(ctx, "b/keep")
	if !errors.Is(err, target.ErrLocked) || !strings.Contains(err.Error(), "locked until "+until.UTC().Format("2006-01-02")) {
		t.Fatalf("deleting a locked object: %v", err)
	}
	cl := srv.Client()
	var versions []string
	for v := range cl.ListObjects(ctx, "locked", minio.ListObjectsOptions{Prefix: "b/keep", WithVersions: true}) {
		versions = append(versions, v.VersionID)
	}
	if len(versions) != 1 {
		t.Fatalf("versions of the locked object: %v", versions)
	}
	if err := cl.RemoveObject(ctx, "locked", "b/keep", minio.RemoveObjectOptions{VersionID: versions[0]}); err == nil {
		t.Fatal("a direct removal of the locked version succeeded")
	}
	_ = cl.RemoveObject(ctx, "locked", "b/keep", minio.RemoveObjectOptions{})
	r, _, _, err := minio.Core{Client: cl}.GetObject(ctx, "locked", "b/keep", minio.GetObjectOptions{VersionID: versions[0]})
	if err != nil {
		t.Fatalf("the locked version is gone after a plain removal: %v", err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, body) {
		t.Fatal("the locked version changed")
	}
	// An object whose lock has passed goes.
	if _, err := tg.Put(ctx, "b/short", bytes.NewReader(body), int64(len(body)), target.PutOptions{Retain: target.Retention{Mode: target.Governance, Until: time.Now().Add(2 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := tg.Delete(ctx, "b/short"); err != nil {
		t.Fatalf("deleting an object whose lock ended: %v", err)
	}
	// Lock on a bucket without Object Lock says so.
	un := srv.Target("unlocked")
	if _, err := un.Put(ctx, "x", bytes.NewReader(body), int64(len(body)), target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := un.Lock(ctx, "x", target.Retention{Until: until}); !errors.Is(err, target.ErrNoLock) || !strings.Contains(err.Error(), "bucket unlocked does not have Object Lock turned on") {
		t.Fatalf("locking in a bucket without Object Lock: %v", err)
	}
}
