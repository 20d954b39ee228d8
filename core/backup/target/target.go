// Package target is where backups are kept: a folder (a local disk, an
// external disk, a mounted share) or a bucket of S3-compatible object
// storage (AWS S3, Backblaze B2, Wasabi, MinIO, Ceph RGW, versitygw).
//
// Both are one small interface, Target, of objects named by keys:
// "/"-separated relative paths, each element checked by names.CheckPath
// before it reaches a path or a request. A Put is whole or absent: a
// folder writes through fsys's atomic writer, a bucket only shows an
// object once its upload completed. An interrupted upload of a file
// resumes where it stopped (Put with an io.ReaderAt source). Where the
// bucket has S3 Object Lock, objects can be written with a retention
// date; a Delete the target refuses because of it is ErrLocked, never
// retried.
//
// Every failure of a bucket is one sentence of the kind Explain finds:
// the server down, a wrong key, no such bucket, a clock out of step, no
// Object Lock.
package target

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// Target is a place that keeps backup objects.
type Target interface {
	// String names the target in sentences: "the folder /mnt/backup",
	// "bucket offsite at https://s3.example.com".
	String() string
	// Put stores size bytes of r under key (size -1: read r to its end).
	// Nobody sees the object before Put returns without error. When r is
	// an io.ReaderAt of known size, an upload to a bucket that was
	// interrupted resumes with the parts that arrived whole.
	Put(ctx context.Context, key string, r io.Reader, size int64, opt PutOptions) (Object, error)
	// Get reads length bytes of an object from off (length < 0: to its
	// end). A missing object is ErrNotFound.
	Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)
	// Stat describes an object; a missing one is ErrNotFound.
	Stat(ctx context.Context, key string) (Object, error)
	// List returns every object whose key begins with prefix, sorted by
	// key; on an error it returns none.
	List(ctx context.Context, prefix string) ([]Object, error)
	// Delete removes an object, every stored version of it. One the
	// target keeps locked is refused with ErrLocked. A missing object is
	// not an error.
	Delete(ctx context.Context, key string) error
	// Lock keeps an object from being deleted or overwritten until r.Until
	// (ErrNoLock where the target cannot).
	Lock(ctx context.Context, key string, r Retention) error
	// Locking reports whether the target can lock objects.
	Locking(ctx context.Context) (bool, error)
}

// PutOptions are how an object is stored.
type PutOptions struct {
	// Retain, when its Until is set, locks the object as it is written.
	Retain Retention
	// Progress, when set, is told the bytes sent so far.
	Progress func(sent int64)
}

// Retention is an S3 Object Lock retention.
type Retention struct {
	Mode  LockMode
	Until time.Time
}

// LockMode is how strictly a locked object is kept.
type LockMode string

// Lock modes. Under governance, an account with the bypass permission can
// still remove an object early; under compliance nobody can, not even the
// bucket's owner, until the date.
const (
	Governance LockMode = "governance"
	Compliance LockMode = "compliance"
)

// Object is one stored object.
type Object struct {
	Key      string
	Size     int64
	Modified time.Time
	// RetainUntil is when its lock ends (zero: not locked).
	RetainUntil time.Time
	Mode        LockMode
}

// Errors a caller can tell apart; each comes wrapped in a sentence.
var (
	ErrNotFound    = errors.New("no such object")
	ErrLocked      = errors.New("the object is locked")
	ErrNoLock      = errors.New("the target cannot lock objects")
	ErrUnreachable = errors.New("the storage server cannot be reached")
	ErrAccess      = errors.New("the access key or secret key is not accepted")
	ErrNoBucket    = errors.New("no such bucket")
	ErrClock       = errors.New("the clocks differ")
	ErrFull        = errors.New("the target is full")
)

// Probe tries a target the way backups will use it: it writes a small
// object, reads it back, finds it in a listing and removes it. With
// wantLock it also checks that the target can lock objects. The error is
// the first step that failed, in one sentence.
func Probe(ctx context.Context, t Target, wantLock bool) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	key := "plinth-probe/" + hex.EncodeToString(b[:])
	body := []byte("Plinth checks that it can keep backups here. " + key)
	if _, err := t.Put(ctx, key, bytes.NewReader(body), int64(len(body)), PutOptions{}); err != nil {
		return fmt.Errorf("could not write a test file: %w", err)
	}
	defer t.Delete(context.WithoutCancel(ctx), key) //nolint:errcheck // the step below says
	r, err := t.Get(ctx, key, 0, -1)
	if err != nil {
		return fmt.Errorf("wrote a test file but could not read it back: %w", err)
	}
	got, err := io.ReadAll(io.LimitReader(r, int64(len(body))+1))
	r.Close()
	if err != nil {
		return fmt.Errorf("wrote a test file but could not read it back: %w", err)
	}
	if !bytes.Equal(got, body) {
		return fmt.Errorf("%s gave back other bytes than were written", t)
	}
	l, err := t.List(ctx, "plinth-probe/")
	if err != nil {
		return fmt.Errorf("could not list the files there: %w", err)
	}
	if !slices.ContainsFunc(l, func(o Object) bool { return o.Key == key }) {
		return fmt.Errorf("%s does not list a file just written", t)
	}
	if err := t.Delete(ctx, key); err != nil {
		return fmt.Errorf("could not remove the test file: %w", err)
	}
	if wantLock {
		ok, err := t.Locking(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s cannot lock backups: turn on Object Lock for the bucket (it can only be chosen when the bucket is made), or set no lock: %w", t, ErrNoLock)
		}
	}
	return nil
}

// Reader reads a whole object as a stream. A connection that drops
// midway is picked up where it stopped, with a range request, up to three
// times: a restore of gigabytes from off site does not start over.
func Reader(ctx context.Context, t Target, key string) (io.ReadCloser, error) {
	r, err := t.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, err
	}
	return &resuming{ctx: ctx, t: t, key: key, r: r}, nil
}

type resuming struct {
	ctx   context.Context
	t     Target
	key   string
	r     io.ReadCloser
	n     int64
	tries int
}

func (x *resuming) Read(p []byte) (int, error) {
	for {
		n, err := x.r.Read(p)
		x.n += int64(n)
		if err == nil || errors.Is(err, io.EOF) || !errors.Is(err, ErrUnreachable) || x.tries >= 3 || x.ctx.Err() != nil {
			return n, err
		}
		x.tries++
		x.r.Close()
		r, gerr := x.t.Get(x.ctx, x.key, x.n, -1)
		if gerr != nil {
			x.r = io.NopCloser(errReader{gerr})
			return n, gerr
		}
		x.r = r
		if n > 0 {
			return n, nil
		}
	}
}

func (x *resuming) Close() error { return x.r.Close() }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
