package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
)

// Sentinel errors. Callers test them with errors.Is; the wrapped error's
// message is the sentence shown to the user.
var (
	// ErrNotFound means the key or record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrLocked means another process holds the store's directory.
	ErrLocked = errors.New("store is in use by another process")
	// ErrNotWritable means the operating system refused to write the folder.
	ErrNotWritable = errors.New("folder is not writable")
	// ErrDiskFull means the disk holding the folder has no space left.
	ErrDiskFull = errors.New("disk is full")
	// ErrWrongKind means a store directory holds the other kind of store.
	ErrWrongKind = errors.New("store has the wrong kind")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("store is closed")
	// ErrTooLarge means one atomic change exceeded what a transaction holds.
	ErrTooLarge = errors.New("change is too large for one transaction")
)

// pathError is an error about a folder, with a plain sentence for users.
type pathError struct {
	kind error // one of the sentinels above
	dir  string
	err  error // the underlying cause, may be nil
}

func (e *pathError) Error() string {
	switch e.kind {
	case ErrNotWritable:
		return fmt.Sprintf("Plinth cannot write to folder %s (%s)", e.dir, cause(e.err))
	case ErrDiskFull:
		return fmt.Sprintf("the disk holding folder %s is full; free some space and try again", e.dir)
	case ErrLocked:
		return fmt.Sprintf("folder %s is in use by another process", e.dir)
	}
	return fmt.Sprintf("folder %s: %v", e.dir, e.err)
}

func (e *pathError) Unwrap() []error { return []error{e.kind, e.err} }

// cause returns the short reason behind an OS error ("permission denied").
func cause(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	if err == nil {
		return "unknown reason"
	}
	return err.Error()
}

// classify turns an error from the OS or Badger about dir into a pathError
// with a sentinel, or returns nil if it is none of the known cases.
func classify(dir string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return &pathError{kind: ErrDiskFull, dir: dir, err: err}
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM),
		errors.Is(err, syscall.EROFS), errors.Is(err, fs.ErrPermission):
		return &pathError{kind: ErrNotWritable, dir: dir, err: err}
	case errors.Is(err, syscall.ENOTDIR):
		return &pathError{kind: ErrNotWritable, dir: dir, err: errors.New("a file with that name is in the way")}
	}
	// Badger reports a held directory lock only as text.
	if strings.Contains(err.Error(), "Cannot acquire directory lock") {
		return &pathError{kind: ErrLocked, dir: dir, err: err}
	}
	// Badger wraps some OS errors as text only; recognise the common ones.
	msg := err.Error()
	switch {
	case strings.Contains(msg, "no space left on device"):
		return &pathError{kind: ErrDiskFull, dir: dir, err: err}
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "read-only file system"):
		return &pathError{kind: ErrNotWritable, dir: dir, err: err}
	}
	return nil
}
