// Package fsys is the file system Plinth writes its own files through:
// content packs, backups, snapshot chunks, exports and the small control
// files beside the stores. It is a thin interface over package os, so
// that tests can wrap it with faults (package faultfs: short writes, a
// full disk, EIO on write, fsync, rename or read) and check that every
// write path either finishes or fails with a sentence and leaves the
// previous state intact.
//
// It also holds Plinth's one way of writing a file that must never be
// seen half-written: WriteFile, WriteFrom and Pending write a temporary
// file created exclusively under a random name in the same folder, fsync
// it, close it, rename it into place and fsync the folder, returning
// every error on the way.
//
// Badger's own files are not written through fsys; Badger writes them
// itself.
package fsys

import (
	"io"
	"io/fs"
	"os"
)

// FS is what Plinth does with files and folders.
type FS interface {
	// Open opens a file for reading.
	Open(name string) (File, error)
	// OpenFile is os.OpenFile.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// CreateTemp creates a new file exclusively, named pattern with its
	// last "*" replaced by a random string, as os.CreateTemp does.
	CreateTemp(dir, pattern string) (File, error)
	MkdirAll(path string, perm fs.FileMode) error
	// MkdirTemp creates a new folder exclusively, as os.MkdirTemp does.
	MkdirTemp(dir, pattern string) (string, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	RemoveAll(path string) error
	Stat(name string) (fs.FileInfo, error)
	Lstat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	Truncate(name string, size int64) error
	// SyncDir makes the entries of a folder (creations, renames,
	// removals) durable.
	SyncDir(dir string) error
}

// File is an open file.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.Seeker
	io.Closer
	Name() string
	Sync() error
	Stat() (fs.FileInfo, error)
	Truncate(size int64) error
}

// OS is the operating system's file system.
var OS FS = osFS{}

// Or returns f, or OS when f is nil.
func Or(f FS) FS {
	if f == nil {
		return OS
	}
	return f
}

type osFS struct{}

func (osFS) Open(name string) (File, error) { return wrap(os.Open(name)) }
func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	return wrap(os.OpenFile(name, flag, perm))
}
func (osFS) CreateTemp(dir, pattern string) (File, error)  { return wrap(os.CreateTemp(dir, pattern)) }
func (osFS) MkdirAll(path string, perm fs.FileMode) error  { return os.MkdirAll(path, perm) }
func (osFS) MkdirTemp(dir, pattern string) (string, error) { return os.MkdirTemp(dir, pattern) }
func (osFS) Rename(oldpath, newpath string) error          { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                      { return os.Remove(name) }
func (osFS) RemoveAll(path string) error                   { return os.RemoveAll(path) }
func (osFS) Stat(name string) (fs.FileInfo, error)         { return os.Stat(name) }
func (osFS) Lstat(name string) (fs.FileInfo, error)        { return os.Lstat(name) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error)    { return os.ReadDir(name) }
func (osFS) Truncate(name string, size int64) error        { return os.Truncate(name, size) }
func (osFS) SyncDir(dir string) error                      { return syncDir(dir) }

// wrap returns a nil interface, not a nil *os.File in one, on failure.
func wrap(f *os.File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return f, nil
}

// ReadFile reads a whole file.
func ReadFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// ReadFileLimit reads a whole file of at most limit bytes; a longer one
// is refused with ErrTooLarge before it is read.
func ReadFileLimit(fsys FS, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &fs.PathError{Op: "read", Path: name, Err: ErrTooLarge}
	}
	return b, nil
}

// Chmod sets a file's permission bits (Options.Perm uses it).
func (osFS) Chmod(name string, mode fs.FileMode) error { return os.Chmod(name, mode) }
