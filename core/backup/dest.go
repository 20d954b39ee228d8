package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"codeberg.org/plinth/plinth/core/backup/target"
	"codeberg.org/plinth/plinth/core/names"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// dest is where a new full backup is written: the backup folder (a
// temporary folder renamed into place), or a named target (objects under
// the backup's id, the manifest last). Either way, the backup exists only
// once commit returned.
type dest interface {
	// list reads the backups there, newest first.
	list(ctx context.Context) ([]Manifest, error)
	// needSpace refuses before anything is written when need bytes
	// cannot fit.
	needSpace(need int64) error
	// begin starts backup id.
	begin(ctx context.Context, id string) error
	// create starts one stored file of the backup, rel its name in it.
	create(rel string) (sink, error)
	// commit writes the manifest and makes the backup whole.
	commit(ctx context.Context, m *Manifest) error
	// abort removes what a failed backup wrote.
	abort()
	// where names the place in sentences.
	where() string
	// cut is how many bytes of a content pack one stored file holds at
	// most (0: a whole pack, or what an incremental adds to it).
	cut() int64
	close()
}

// sink is one stored file being written.
type sink interface {
	io.Writer
	// finish makes it durable: fsync and close, or the upload complete.
	finish() error
	abort()
}

// folderDest is the backup folder. A content pack is stored there in
// files of segment bytes of the pack each, like in a target, so that a
// restore decodes several at once; each file is synced in the background
// while the next is written (at most syncing at once), and commit waits
// for them all before the manifest makes the backup whole.
type folderDest struct {
	s       *Service
	r       *repo
	tmp     string
	segment int64

	syncing chan struct{}
	synced  sync.WaitGroup
	mu      sync.Mutex
	failed  error // the first sync that failed
}

// filesSyncing stored files of a backup in the backup folder are synced
// at once, in the background.
const filesSyncing = 2

func (s *Service) folderDest(ctx context.Context, dir string) (*folderDest, error) {
	r, err := openRepo(ctx, s.fs, dir)
	if err != nil {
		return nil, err
	}
	r.sweep()
	seg := s.segment
	if seg <= 0 {
		seg = objectCut
	}
	return &folderDest{s: s, r: r, segment: seg, syncing: make(chan struct{}, filesSyncing)}, nil
}

func (d *folderDest) list(context.Context) ([]Manifest, error) { return list(d.s.fs, d.r.dir) }
func (d *folderDest) where() string                            { return d.r.dir }
func (d *folderDest) cut() int64                               { return d.segment }
func (d *folderDest) close()                                   { d.r.close() }

func (d *folderDest) needSpace(need int64) error {
	return storage.NeedSpace(d.r.dir, need, "the full backup")
}

func (d *folderDest) begin(context.Context, string) (err error) {
	if d.tmp, err = d.r.begin(); err != nil {
		return fmt.Errorf("backup target %s: %w", d.r.dir, err)
	}
	if err := d.s.fs.MkdirAll(filepath.Join(d.tmp, "packs"), 0o700); err != nil {
		return fmt.Errorf("backup target %s: %w", d.r.dir, err)
	}
	return nil
}

func (d *folderDest) create(rel string) (sink, error) {
	p, err := names.Join(d.tmp, rel)
	if err != nil {
		return nil, err
	}
	f, err := d.s.fs.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write backup: %w", err)
	}
	if err := d.failure(); err != nil {
		_ = f.Close()
		return nil, err
	}
	return &fileSink{f: f, d: d}, nil
}

// failure is the first sync that failed so far.
func (d *folderDest) failure() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failed
}

// sync makes f durable and closes it in the background, keeping the
// first failure.
func (d *folderDest) sync(f fsys.File) {
	d.syncing <- struct{}{}
	d.synced.Go(func() {
		defer func() { <-d.syncing }()
		err := f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			d.mu.Lock()
			if d.failed == nil {
				d.failed = fmt.Errorf("write %s: %w", filepath.Base(f.Name()), err)
			}
			d.mu.Unlock()
		}
	})
}

func (d *folderDest) commit(_ context.Context, m *Manifest) error {
	d.synced.Wait()
	if err := d.failure(); err != nil {
		return err
	}
	// The segment files' names are durable once their folder is synced;
	// the manifest's write syncs only the backup's own folder.
	if err := d.s.fs.SyncDir(filepath.Join(d.tmp, "packs")); err != nil {
		return fmt.Errorf("backup target %s: %w", d.r.dir, err)
	}
	return d.r.commit(d.tmp, m)
}

func (d *folderDest) abort() {
	d.synced.Wait()
	if d.tmp != "" {
		_ = d.s.fs.RemoveAll(d.tmp)
	}
}

// fileSink is a stored file in the backup folder; finish hands it to
// the folder's background syncs and reports the first that failed.
type fileSink struct {
	f fsys.File
	d *folderDest
}

func (f *fileSink) Write(p []byte) (int, error) { return f.f.Write(p) }
func (f *fileSink) abort()                      { _ = f.f.Close() }
func (f *fileSink) finish() error {
	f.d.sync(f.f)
	return f.d.failure()
}

// targetDest is a named target: each stored file is streamed up as it is
// made (no copy on the local disk first), the manifest goes last.
type targetDest struct {
	s      *Service
	src    *Source
	cfg    TargetConfig
	ctx    context.Context
	id     string
	retain target.Retention

	// Stored files that fit one object are sent while the next is made:
	// at most sending at once, the first failure kept for the next
	// finish and for commit, which waits for them all.
	sending chan struct{}
	sent    sync.WaitGroup
	mu      sync.Mutex
	failed  error
}

// Objects of a backup in a target: a stored file holds at most
// objectCut bytes of a content pack, so that it is one object of at most
// one part, sent in one request (a multipart upload costs the server a
// second write of everything when it joins the parts) and read back in
// parallel; objectsSending of them go up at once.
const (
	objectCut      = 12 << 20
	objectsSending = 3
)

// objectLimit is the most a stored file is held in memory to go up in
// one request; a larger one (a store's stream) is streamed in parts.
const objectLimit = target.DefaultPartSize

var objectBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (s *Service) targetDest(ctx context.Context, name string) (*targetDest, error) {
	c, t, err := s.OpenTarget(name)
	if err != nil {
		return nil, err
	}
	return &targetDest{s: s, src: &Source{Name: name, T: t}, cfg: c, ctx: ctx, sending: make(chan struct{}, objectsSending)}, nil
}

func (d *targetDest) list(ctx context.Context) ([]Manifest, error) {
	good, _, err := scanSource(ctx, d.src)
	return good, err
}

func (d *targetDest) where() string         { return "target " + d.src.Name }
func (d *targetDest) cut() int64            { return objectCut }
func (d *targetDest) close()                {}
func (d *targetDest) needSpace(int64) error { return nil } // a bucket says when it is full

func (d *targetDest) begin(ctx context.Context, id string) error {
	d.id = id
	if d.cfg.LockDays > 0 {
		d.retain = target.Retention{Mode: d.cfg.LockMode, Until: d.s.now().Add(time.Duration(d.cfg.LockDays) * 24 * time.Hour).UTC().Truncate(time.Second)}
	}
	d.sweep(ctx)
	return nil
}

// sweep removes what backups cut short left in the target: objects of a
// backup without a manifest that began more than a day ago (a copy under
// way says so in History; a backup under way began just now).
func (d *targetDest) sweep(ctx context.Context) {
	objs, err := d.src.T.List(ctx, "")
	if err != nil {
		return
	}
	whole := map[string]bool{}
	for _, o := range objs {
		if id, rest, ok := strings.Cut(o.Key, "/"); ok && rest == manifestName {
			whole[id] = true
		}
	}
	for _, o := range objs {
		id, _, ok := strings.Cut(o.Key, "/")
		if !ok || whole[id] || !snapshotID.MatchString(id) {
			continue
		}
		// A backup's id begins with when it started (UTC).
		if began, err := time.Parse("20060102-150405", id[:15]); err != nil || d.s.now().Sub(began) < 24*time.Hour {
			continue
		}
		if r, ok := d.s.lookupRecord(id); ok && copyOf(r, d.src.Name).State == CopyCopying {
			continue
		}
		_ = d.src.T.Delete(ctx, o.Key)
	}
}

func (d *targetDest) create(rel string) (sink, error) {
	if err := d.failure(); err != nil {
		return nil, err
	}
	buf := objectBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	buf.Grow(objectCut + objectCut/64) // a cut that does not compress, and age's overhead
	return &object{d: d, key: d.id + "/" + rel, buf: buf}, nil
}

// stream uploads what is written to u from now on as key, in parts.
func (d *targetDest) stream(key string) *upload {
	pr, pw := io.Pipe()
	u := &upload{pw: pw, done: make(chan error, 1)}
	go func() {
		_, err := d.src.T.Put(d.ctx, key, pr, -1, target.PutOptions{Retain: d.retain})
		_ = pr.CloseWithError(errors.Join(err, io.ErrClosedPipe)) // the writer stops at once
		u.done <- err
	}()
	return u
}

// send puts buf as key in the background (waiting while objectsSending
// are under way); the first failure is kept.
func (d *targetDest) send(key string, buf *bytes.Buffer) {
	d.sending <- struct{}{}
	d.sent.Go(func() {
		defer func() { <-d.sending }()
		_, err := d.src.T.Put(d.ctx, key, bytes.NewReader(buf.Bytes()), int64(buf.Len()), target.PutOptions{Retain: d.retain})
		objectBuffers.Put(buf)
		if err != nil {
			d.mu.Lock()
			if d.failed == nil {
				d.failed = err
			}
			d.mu.Unlock()
		}
	})
}

// failure is the first upload that failed so far.
func (d *targetDest) failure() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failed
}

// wait waits for every object sent and returns the first failure.
func (d *targetDest) wait() error {
	d.sent.Wait()
	return d.failure()
}

func (d *targetDest) commit(ctx context.Context, m *Manifest) error {
	if err := d.wait(); err != nil {
		return err
	}
	if m.Encrypted() {
		c, err := d.s.Level2()
		if err != nil {
			return err
		}
		if err := copyKeyFrom(ctx, d.s.fs, *m, c.Target, d.src.T); err != nil {
			return err
		}
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if _, err := d.src.T.Put(ctx, m.ID+"/"+manifestName, bytes.NewReader(b), int64(len(b)), target.PutOptions{Retain: d.retain}); err != nil {
		return fmt.Errorf("write the manifest of backup %s: %w", m.ID, err)
	}
	m.Source = d.src
	return nil
}

func (d *targetDest) abort() {
	if d.id == "" {
		return
	}
	_ = d.wait()
	ctx := context.WithoutCancel(d.ctx)
	objs, err := d.src.T.List(ctx, d.id+"/")
	if err != nil {
		return // the next backup's sweep takes them
	}
	for _, o := range objs {
		_ = d.src.T.Delete(ctx, o.Key)
	}
}

// object is a stored file going into a target: held in memory while it
// fits one object, then sent in the background; streamed in parts once
// it does not.
type object struct {
	d   *targetDest
	key string
	buf *bytes.Buffer
	up  *upload // once streamed
}

func (o *object) Write(p []byte) (int, error) {
	if o.up == nil && o.buf.Len()+len(p) > objectLimit {
		o.up = o.d.stream(o.key)
		_, err := o.up.Write(o.buf.Bytes())
		objectBuffers.Put(o.buf)
		o.buf = nil
		if err != nil {
			return 0, err
		}
	}
	if o.up != nil {
		return o.up.Write(p)
	}
	return o.buf.Write(p)
}

func (o *object) finish() error {
	if o.up != nil {
		return o.up.finish()
	}
	if o.buf == nil {
		return o.d.failure()
	}
	o.d.send(o.key, o.buf)
	o.buf = nil
	return o.d.failure()
}

func (o *object) abort() {
	if o.up != nil {
		o.up.abort()
	}
	if o.buf != nil {
		objectBuffers.Put(o.buf)
		o.buf = nil
	}
}

// upload is a stored file streamed into a target.
type upload struct {
	pw   *io.PipeWriter
	done chan error
	err  error
	over bool
}

func (u *upload) Write(p []byte) (int, error) { return u.pw.Write(p) }

func (u *upload) finish() error {
	if !u.over {
		_ = u.pw.Close()
		u.err, u.over = <-u.done, true
	}
	return u.err
}

func (u *upload) abort() {
	if !u.over {
		_ = u.pw.CloseWithError(errAborted)
		u.err, u.over = <-u.done, true
	}
}

var errAborted = errors.New("the backup stopped")
