package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"codeberg.org/plinth/plinth/core/names"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// Folder is a target in a folder: a local disk, an external disk or a
// mounted share. Objects are files; a key's "/" are folders.
type Folder struct {
	fs  fsys.FS
	dir string
}

// NewFolder returns the target in dir, written through fs (nil: the OS).
func NewFolder(fs fsys.FS, dir string) *Folder {
	return &Folder{fs: fsys.Or(fs), dir: dir}
}

// Dir is the folder.
func (f *Folder) Dir() string { return f.dir }

func (f *Folder) String() string { return "the folder " + f.dir }

// path checks key and returns its file.
func (f *Folder) path(key string) (string, error) {
	return names.Join(f.dir, key)
}

// Put writes the object through the atomic writer: a crash leaves the
// previous object or none, never half of one. (A local copy restarts
// rather than resumes: it is fast.)
func (f *Folder) Put(ctx context.Context, key string, r io.Reader, size int64, opt PutOptions) (Object, error) {
	p, err := f.path(key)
	if err != nil {
		return Object{}, err
	}
	if err := f.fs.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return Object{}, f.fail("write "+key, err)
	}
	src := io.Reader(&ctxReader{ctx: ctx, r: r, progress: opt.Progress})
	if size >= 0 {
		src = io.LimitReader(src, size)
	}
	n, err := fsys.WriteFrom(f.fs, p, src, fsys.Options{})
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("%s: %d of %d bytes: %w", key, n, size, io.ErrUnexpectedEOF)
	}
	if err != nil {
		if ctx.Err() != nil {
			return Object{}, ctx.Err()
		}
		return Object{}, f.fail("write "+key, err)
	}
	return f.Stat(ctx, key)
}

// Get opens the file at off.
func (f *Folder) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	p, err := f.path(key)
	if err != nil {
		return nil, err
	}
	file, err := f.fs.Open(p)
	if err != nil {
		return nil, f.fail("read "+key, err)
	}
	if length < 0 {
		length = 1<<63 - 1 - off
	}
	return &section{SectionReader: io.NewSectionReader(file, off, length), f: file}, nil
}

type section struct {
	*io.SectionReader
	f fsys.File
}

func (s *section) Close() error { return s.f.Close() }

// Stat describes the file.
func (f *Folder) Stat(ctx context.Context, key string) (Object, error) {
	p, err := f.path(key)
	if err != nil {
		return Object{}, err
	}
	fi, err := f.fs.Stat(p)
	if err != nil {
		return Object{}, f.fail("read "+key, err)
	}
	if !fi.Mode().IsRegular() {
		return Object{}, fmt.Errorf("%s in %s is not a file: %w", key, f, ErrNotFound)
	}
	return Object{Key: key, Size: fi.Size(), Modified: fi.ModTime()}, nil
}

// List walks the folder below prefix's folder. Hidden files (the lock
// file, unfinished writes) are not objects.
func (f *Folder) List(ctx context.Context, prefix string) ([]Object, error) {
	dir := f.dir
	if i := strings.LastIndex(prefix, "/"); i > 0 {
		var err error
		if dir, err = f.path(prefix[:i]); err != nil {
			return nil, err
		}
	}
	var out []Object
	err := f.walk(ctx, dir, func(p string, fi fs.FileInfo) {
		rel, err := filepath.Rel(f.dir, p)
		if err != nil {
			return
		}
		key := filepath.ToSlash(rel)
		if strings.HasPrefix(key, prefix) {
			out = append(out, Object{Key: key, Size: fi.Size(), Modified: fi.ModTime()})
		}
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, f.fail("list", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (f *Folder) walk(ctx context.Context, dir string, fn func(string, fs.FileInfo)) error {
	ents, err := f.fs.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(e.Name(), ".") || fsys.IsTemp(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			if err := f.walk(ctx, p, fn); err != nil {
				return err
			}
			continue
		}
		if !e.Type().IsRegular() {
			continue // a link is never followed out of the target
		}
		fi, err := e.Info()
		if err != nil {
			continue // gone meanwhile
		}
		fn(p, fi)
	}
	return nil
}

// Delete removes the file, and the folders it leaves empty up to the
// target's.
func (f *Folder) Delete(ctx context.Context, key string) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	if err := f.fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return f.fail("remove "+key, err)
	}
	for d := path.Dir(key); d != "." && d != "/"; d = path.Dir(d) {
		dp, _ := f.path(d)
		if f.fs.Remove(dp) != nil { // not empty: stop
			break
		}
	}
	return nil
}

// Lock: a folder cannot keep a file from its owner.
func (f *Folder) Lock(context.Context, string, Retention) error {
	return fmt.Errorf("%s cannot lock backups: %w", f, ErrNoLock)
}

// Locking is false: see Lock.
func (f *Folder) Locking(context.Context) (bool, error) { return false, nil }

func (f *Folder) fail(what string, err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: %s is not there: %w", f, strings.TrimPrefix(strings.TrimPrefix(what, "read "), "remove "), ErrNotFound)
	case storage.IsDiskFull(err):
		return fmt.Errorf("the disk holding %s is full: %w", f.dir, ErrFull)
	}
	return fmt.Errorf("%s: %s: %w", f, what, err)
}

// ctxReader stops a copy when ctx ends and reports progress.
type ctxReader struct {
	ctx      context.Context
	r        io.Reader
	n        int64
	progress func(int64)
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && n > 0 {
		c.progress(c.n)
	}
	return n, err
}
