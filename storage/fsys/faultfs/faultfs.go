// Package faultfs wraps an fsys.FS with faults, for tests, in the spirit
// of Kopia's robustness tests: a write that stops short, a disk that fills
// after N bytes, EIO on write, fsync, close, rename, remove or read, each
// on a chosen call. It also counts calls, so that a test can run an
// operation once, see how many writes it makes, and then fail each one in
// turn.
package faultfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"codeberg.org/plinth/plinth/storage/fsys"
)

// Op is a kind of file-system call.
type Op string

// The calls faults can be put on.
const (
	OpOpen     Op = "open"   // Open and OpenFile without O_CREATE
	OpCreate   Op = "create" // OpenFile with O_CREATE, CreateTemp
	OpWrite    Op = "write"
	OpRead     Op = "read" // Read and ReadAt
	OpSync     Op = "sync"
	OpClose    Op = "close"
	OpRename   Op = "rename"
	OpRemove   Op = "remove" // Remove and RemoveAll
	OpMkdir    Op = "mkdir"  // MkdirAll and MkdirTemp
	OpTruncate Op = "truncate"
	OpSyncDir  Op = "syncdir"
)

// Ops is every kind of call faults can be put on.
var Ops = []Op{OpOpen, OpCreate, OpWrite, OpRead, OpSync, OpClose, OpRename, OpRemove, OpMkdir, OpTruncate, OpSyncDir}

// Errors a fault can return.
var (
	EIO    error = syscall.EIO
	ENOSPC error = syscall.ENOSPC
)

// Rule puts a fault on some calls.
type Rule struct {
	Op Op
	// Path, when set, limits the rule to calls on paths that contain it
	// (slash-separated, matched against the path with forward slashes).
	Path string
	// Skip lets this many matching calls through before failing.
	Skip int
	// Times is how many calls fail, after Skip; 0 means every one.
	Times int
	// Err is what the call returns; EIO when nil.
	Err error
	// Short makes a failing write write half its bytes first.
	Short bool
}

// FS is an fsys.FS with faults.
type FS struct {
	inner fsys.FS

	mu      sync.Mutex
	rules   []*rule
	calls   map[Op]int
	written int64
	limit   int64 // bytes that may be written in all; <0 unlimited
}

type rule struct {
	Rule
	seen, failed int
}

// New wraps inner (fsys.OS when nil).
func New(inner fsys.FS) *FS {
	return &FS{inner: fsys.Or(inner), calls: map[Op]int{}, limit: -1}
}

// Add puts a rule in place.
func (f *FS) Add(r Rule) *FS {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &rule{Rule: r})
	return f
}

// FillAfter lets n more bytes be written in all; then every write fails
// with ENOSPC (the one that crosses the line writes what fits first).
func (f *FS) FillAfter(n int64) *FS {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limit = f.written + n
	return f
}

// Reset removes every rule and the fill limit and sets the counters to 0.
func (f *FS) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules, f.calls, f.written, f.limit = nil, map[Op]int{}, 0, -1
}

// Calls is how many calls of op were made (failed ones too).
func (f *FS) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Written is how many bytes were written through f.
func (f *FS) Written() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.written
}

// Injected is how many faults were returned so far.
func (f *FS) Injected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.rules {
		n += r.failed
	}
	return n
}

// check counts a call and returns the fault to give it, if any.
func (f *FS) check(op Op, path string) (error, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	p := filepath.ToSlash(path)
	for _, r := range f.rules {
		if r.Op != op || (r.Path != "" && !strings.Contains(p, r.Path)) {
			continue
		}
		r.seen++
		if r.seen <= r.Skip || (r.Times > 0 && r.failed >= r.Times) {
			continue
		}
		r.failed++
		err := r.Err
		if err == nil {
			err = EIO
		}
		return err, r.Short
	}
	return nil, false
}

func pathErr(op Op, path string, err error) error {
	return &fs.PathError{Op: string(op), Path: path, Err: err}
}

// Open implements fsys.FS.
func (f *FS) Open(name string) (fsys.File, error) {
	if err, _ := f.check(OpOpen, name); err != nil {
		return nil, pathErr(OpOpen, name, err)
	}
	in, err := f.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return &file{File: in, fs: f}, nil
}

// OpenFile implements fsys.FS.
func (f *FS) OpenFile(name string, flag int, perm fs.FileMode) (fsys.File, error) {
	op := OpOpen
	if flag&os.O_CREATE != 0 {
		op = OpCreate
	}
	if err, _ := f.check(op, name); err != nil {
		return nil, pathErr(op, name, err)
	}
	in, err := f.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &file{File: in, fs: f}, nil
}

// CreateTemp implements fsys.FS.
func (f *FS) CreateTemp(dir, pattern string) (fsys.File, error) {
	if err, _ := f.check(OpCreate, filepath.Join(dir, pattern)); err != nil {
		return nil, pathErr(OpCreate, filepath.Join(dir, pattern), err)
	}
	in, err := f.inner.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &file{File: in, fs: f}, nil
}

// MkdirAll implements fsys.FS.
func (f *FS) MkdirAll(path string, perm fs.FileMode) error {
	if err, _ := f.check(OpMkdir, path); err != nil {
		return pathErr(OpMkdir, path, err)
	}
	return f.inner.MkdirAll(path, perm)
}

// MkdirTemp implements fsys.FS.
func (f *FS) MkdirTemp(dir, pattern string) (string, error) {
	if err, _ := f.check(OpMkdir, filepath.Join(dir, pattern)); err != nil {
		return "", pathErr(OpMkdir, dir, err)
	}
	return f.inner.MkdirTemp(dir, pattern)
}

// Rename implements fsys.FS.
func (f *FS) Rename(oldpath, newpath string) error {
	if err, _ := f.check(OpRename, newpath); err != nil {
		return &syscallLinkError{old: oldpath, new: newpath, err: err}
	}
	return f.inner.Rename(oldpath, newpath)
}

type syscallLinkError struct {
	old, new string
	err      error
}

func (e *syscallLinkError) Error() string {
	return "rename " + e.old + " " + e.new + ": " + e.err.Error()
}
func (e *syscallLinkError) Unwrap() error { return e.err }

// Remove implements fsys.FS.
func (f *FS) Remove(name string) error {
	if err, _ := f.check(OpRemove, name); err != nil {
		return pathErr(OpRemove, name, err)
	}
	return f.inner.Remove(name)
}

// RemoveAll implements fsys.FS.
func (f *FS) RemoveAll(path string) error {
	if err, _ := f.check(OpRemove, path); err != nil {
		return pathErr(OpRemove, path, err)
	}
	return f.inner.RemoveAll(path)
}

// Stat implements fsys.FS.
func (f *FS) Stat(name string) (fs.FileInfo, error) { return f.inner.Stat(name) }

// Lstat implements fsys.FS.
func (f *FS) Lstat(name string) (fs.FileInfo, error) { return f.inner.Lstat(name) }

// ReadDir implements fsys.FS.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) { return f.inner.ReadDir(name) }

// Truncate implements fsys.FS.
func (f *FS) Truncate(name string, size int64) error {
	if err, _ := f.check(OpTruncate, name); err != nil {
		return pathErr(OpTruncate, name, err)
	}
	return f.inner.Truncate(name, size)
}

// SyncDir implements fsys.FS.
func (f *FS) SyncDir(dir string) error {
	if err, _ := f.check(OpSyncDir, dir); err != nil {
		return pathErr(OpSyncDir, dir, err)
	}
	return f.inner.SyncDir(dir)
}

// Chmod lets fsys.Pending set permissions through the wrapper.
func (f *FS) Chmod(name string, mode fs.FileMode) error {
	if c, ok := f.inner.(interface {
		Chmod(string, fs.FileMode) error
	}); ok {
		return c.Chmod(name, mode)
	}
	return nil
}

// file is an open file with faults.
type file struct {
	fsys.File
	fs *FS
}

func (w *file) Write(p []byte) (int, error) {
	if err, short := w.fs.check(OpWrite, w.Name()); err != nil {
		n := 0
		if short && len(p) > 1 {
			n, _ = w.File.Write(p[:len(p)/2])
			w.fs.count(int64(n))
		}
		return n, pathErr(OpWrite, w.Name(), err)
	}
	allowed := w.fs.room(int64(len(p)))
	n, err := w.File.Write(p[:allowed])
	w.fs.count(int64(n))
	if err == nil && allowed < int64(len(p)) {
		err = pathErr(OpWrite, w.Name(), ENOSPC)
	}
	return n, err
}

// room is how many of n bytes still fit under the fill limit.
func (f *FS) room(n int64) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.limit < 0 {
		return n
	}
	return max(0, min(n, f.limit-f.written))
}

func (f *FS) count(n int64) {
	f.mu.Lock()
	f.written += n
	f.mu.Unlock()
}

func (w *file) Read(p []byte) (int, error) {
	if err, _ := w.fs.check(OpRead, w.Name()); err != nil {
		return 0, pathErr(OpRead, w.Name(), err)
	}
	return w.File.Read(p)
}

func (w *file) ReadAt(p []byte, off int64) (int, error) {
	if err, _ := w.fs.check(OpRead, w.Name()); err != nil {
		return 0, pathErr(OpRead, w.Name(), err)
	}
	return w.File.ReadAt(p, off)
}

func (w *file) Sync() error {
	if err, _ := w.fs.check(OpSync, w.Name()); err != nil {
		return pathErr(OpSync, w.Name(), err)
	}
	return w.File.Sync()
}

func (w *file) Close() error {
	err := w.File.Close()
	if ferr, _ := w.fs.check(OpClose, w.Name()); ferr != nil && err == nil {
		return pathErr(OpClose, w.Name(), ferr)
	}
	return err
}

func (w *file) Truncate(size int64) error {
	if err, _ := w.fs.check(OpTruncate, w.Name()); err != nil {
		return pathErr(OpTruncate, w.Name(), err)
	}
	return w.File.Truncate(size)
}

// IsInjected reports whether err is (or wraps) a fault of this package's
// kinds, for tests that tell injected failures from real ones.
func IsInjected(err error) bool { return errors.Is(err, EIO) || errors.Is(err, ENOSPC) }
