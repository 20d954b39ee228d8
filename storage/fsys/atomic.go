package fsys

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Sentinel errors.
var (
	// ErrExists means a file is in the way and the caller asked not to
	// replace it.
	ErrExists = errors.New("already exists")
	// ErrTooLarge means a file is larger than the caller accepts.
	ErrTooLarge = errors.New("file is too large")
)

// Options change how a Pending file is committed.
type Options struct {
	// NoReplace refuses to commit over an existing file (ErrExists).
	NoReplace bool
	// NoDirSync leaves the fsync of the folder to the caller, who
	// writes many files into it and syncs it once (SyncDir) before
	// relying on them.
	NoDirSync bool
	// Perm is the new file's permission; 0 means 0o600.
	Perm fs.FileMode
}

// tempSuffix ends the name of every temporary file Pending makes, so that
// a sweep can tell leftovers of a crash from real files (IsTemp).
const tempSuffix = ".plinth-tmp"

// IsTemp reports whether a file name is one of Pending's temporary files
// (left behind only by a crash).
func IsTemp(name string) bool { return strings.HasSuffix(name, tempSuffix) }

// Pending is a file being written: nothing is at its path until Commit
// succeeds, and a failed or abandoned write leaves nothing behind.
type Pending struct {
	fsys FS
	path string
	opt  Options
	f    File
	err  error // the first write error; Commit returns it
	n    int64
	done bool
}

// Create starts writing path. The temporary file is created exclusively
// with a random name in path's folder, so it never follows a link or
// meets another writer's file.
func Create(fsys FS, path string, opt Options) (*Pending, error) {
	fsys = Or(fsys)
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if opt.NoReplace {
		if _, err := fsys.Lstat(path); err == nil {
			return nil, &fs.PathError{Op: "write", Path: path, Err: ErrExists}
		}
	}
	f, err := fsys.CreateTemp(dir, "."+shorten(base)+".*"+tempSuffix)
	if err != nil {
		return nil, err
	}
	return &Pending{fsys: fsys, path: path, opt: opt, f: f}, nil
}

// shorten keeps temporary names within the 255 bytes a name may have,
// cutting at a character boundary (macOS refuses names that are not
// UTF-8).
func shorten(base string) string {
	n := 180
	if len(base) <= n {
		return base
	}
	for n > 0 && !utf8.RuneStart(base[n]) {
		n--
	}
	return base[:n]
}

// Write writes to the temporary file. After a failed write every later
// Write and the Commit fail with the same error.
func (p *Pending) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if p.done {
		return 0, errors.New("write after commit")
	}
	n, err := p.f.Write(b)
	p.n += int64(n)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		p.err = err
	}
	return n, err
}

// ReadFrom copies r into the file, so that io.Copy does not need a
// buffer of its own.
func (p *Pending) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var total int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			w, werr := p.Write(buf[:n])
			total += int64(w)
			if werr != nil {
				return total, werr
			}
		}
		if errors.Is(rerr, io.EOF) {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// Written is how many bytes were written so far.
func (p *Pending) Written() int64 { return p.n }

// Commit makes the file durable and puts it at its path: fsync, close,
// rename, fsync of the folder. A failure up to the rename removes the
// temporary file and leaves whatever was at the path before untouched; a
// failure after it (setting the permission, the folder's fsync) is
// returned with the new file in place but perhaps not yet durable.
func (p *Pending) Commit() error {
	if p.done {
		return errors.New("commit twice")
	}
	p.done = true
	err := p.err
	if err == nil {
		err = p.f.Sync()
	}
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err == nil && p.opt.NoReplace {
		if _, serr := p.fsys.Lstat(p.path); serr == nil {
			err = &fs.PathError{Op: "write", Path: p.path, Err: ErrExists}
		}
	}
	if err == nil {
		err = p.fsys.Rename(p.f.Name(), p.path)
	}
	if err != nil {
		_ = p.fsys.Remove(p.f.Name())
		return err
	}
	if p.opt.Perm != 0 {
		// CreateTemp makes 0600 files; a wider permission was asked for.
		if c, ok := p.fsys.(interface {
			Chmod(string, fs.FileMode) error
		}); ok {
			if err := c.Chmod(p.path, p.opt.Perm); err != nil {
				return err
			}
		}
	}
	if !p.opt.NoDirSync {
		if err := p.fsys.SyncDir(filepath.Dir(p.path)); err != nil {
			return fmt.Errorf("sync folder of %s: %w", p.path, err)
		}
	}
	return nil
}

// Abort drops the file; after Commit it does nothing. It is safe to defer.
func (p *Pending) Abort() {
	if p.done {
		return
	}
	p.done = true
	_ = p.f.Close()
	_ = p.fsys.Remove(p.f.Name())
}

// WriteFile writes data to path atomically (see Pending).
func WriteFile(fsys FS, path string, data []byte, opt Options) error {
	_, err := WriteFrom(fsys, path, &onlyReader{b: data}, opt)
	return err
}

// WriteFrom writes everything r gives to path atomically (see Pending)
// and returns the bytes written. A read error aborts the write too.
func WriteFrom(fsys FS, path string, r io.Reader, opt Options) (int64, error) {
	p, err := Create(fsys, path, opt)
	if err != nil {
		return 0, err
	}
	defer p.Abort()
	n, err := p.ReadFrom(r)
	if err != nil {
		return n, err
	}
	return n, p.Commit()
}

// onlyReader hides bytes.Reader's WriteTo so that every byte goes through
// Pending.Write.
type onlyReader struct{ b []byte }

func (r *onlyReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
