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
	// ErrDamaged means a store's files cannot be read as they are. Plinth
	// does not open such a store: Badger would repair it by deleting what
	// it cannot place, and an unreadable store must never pass for an
	// empty one. The error is a *DamageError.
	ErrDamaged = errors.New("store is damaged")
	// ErrReadOnly means the store was opened read-only because its disk is
	// below Reserve; every change is refused until space is freed and
	// Plinth starts again.
	ErrReadOnly = errors.New("store is open read-only")
)

// Name is the store's name as the user reads it: "Manager", "File Server".
func (k Kind) Name() string {
	switch k {
	case Manager:
		return "Manager"
	case FileServer:
		return "File Server"
	}
	return string(k)
}

// DamageError says which store cannot be read, and why.
type DamageError struct {
	Kind   Kind
	Dir    string
	Reason string // "its MANIFEST file is missing"
	// Advice is what to do; "restore it from a backup" when empty. The app
	// names the newest backup here.
	Advice string
	Err    error // what Badger or the OS said; may be nil
}

func (e *DamageError) Error() string {
	advice := e.Advice
	if advice == "" {
		advice = "restore it from a backup"
	}
	return fmt.Sprintf("the %s store in %s is damaged: %s; %s", e.Kind.Name(), e.Dir, e.Reason, advice)
}

func (e *DamageError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrDamaged}
	}
	return []error{ErrDamaged, e.Err}
}

func damaged(kind Kind, dir string, err error, format string, args ...any) *DamageError {
	return &DamageError{Kind: kind, Dir: dir, Reason: fmt.Sprintf(format, args...), Err: err}
}

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
// with a sentinel, or returns nil if it is none of the known cases. It goes
// by the error number, never by the text: an error that merely says
// "permission denied" (a user's missing permission) is not a folder the OS
// refused. The one exception is Badger's directory lock, which Badger
// reports only as text.
func classify(dir string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case isDiskFull(err):
		return &pathError{kind: ErrDiskFull, dir: dir, err: err}
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM),
		errors.Is(err, syscall.EROFS), errors.Is(err, fs.ErrPermission):
		return &pathError{kind: ErrNotWritable, dir: dir, err: err}
	case errors.Is(err, syscall.ENOTDIR):
		return &pathError{kind: ErrNotWritable, dir: dir, err: errors.New("a file with that name is in the way")}
	case strings.Contains(err.Error(), "Cannot acquire directory lock"):
		return &pathError{kind: ErrLocked, dir: dir, err: err}
	}
	return nil
}

// badgerSaid reports whether err is, or carries the text of, one of
// Badger's own sentinel errors. Badger wraps errors with y.Wrap, which
// keeps only their text, so errors.Is alone does not find them.
func badgerSaid(err, sentinel error) bool {
	return err != nil && (errors.Is(err, sentinel) || strings.Contains(err.Error(), sentinel.Error()))
}
