package storage

import (
	"io/fs"
	"os"

	"codeberg.org/plinth/plinth/storage/fsys"
)

// readOnlyFS is the file system of a store opened read-only: it reads
// through and refuses every write with why the store is read-only, so
// that nothing is appended to a pack that the store cannot record.
type readOnlyFS struct {
	fsys.FS
	why error
}

func (r readOnlyFS) OpenFile(name string, flag int, perm fs.FileMode) (fsys.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		return nil, r.why
	}
	return r.FS.OpenFile(name, flag, perm)
}

func (r readOnlyFS) CreateTemp(string, string) (fsys.File, error) { return nil, r.why }
func (r readOnlyFS) MkdirTemp(string, string) (string, error)     { return "", r.why }
func (r readOnlyFS) Rename(string, string) error                  { return r.why }
func (r readOnlyFS) Remove(string) error                          { return r.why }
func (r readOnlyFS) RemoveAll(string) error                       { return r.why }
func (r readOnlyFS) Truncate(string, int64) error                 { return r.why }
func (r readOnlyFS) SyncDir(string) error                         { return nil }

// MkdirAll succeeds for a folder that is there already.
func (r readOnlyFS) MkdirAll(path string, perm fs.FileMode) error {
	if fi, err := r.FS.Stat(path); err == nil && fi.IsDir() {
		return nil
	}
	return r.why
}
