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
	"context"
	"errors"
	"io"
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
