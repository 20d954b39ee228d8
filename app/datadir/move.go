package datadir

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dustin/go-humanize"

	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// Hidden folders of a move across disks. A crash can leave either behind;
// the next start removes them (sweep).
const (
	// tempPrefix names the copy being made beside the new folder; it is
	// renamed into place once complete.
	tempPrefix = ".plinth-moving-in-"
	// asidePrefix names the old folder, beside where it was, once its
	// copy is in place: renamed aside first, a half-removed old folder is
	// never taken for a data folder.
	asidePrefix = ".plinth-moved-out-"
)

// osFS is the file system a move goes through; tests wrap it with faults.
var osFS = fsys.OS

// mover moves a data folder.
type mover struct {
	fs       fsys.FS
	announce func(msg string) // nil: say nothing before a copy
	where    string           // the OS, for the sentence
}

// move moves the data folder from to to (see MoveOld).
func (m *mover) move(ctx context.Context, from, to string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	from, to = filepath.Clean(from), filepath.Clean(to)
	if from == to {
		return "", nil
	}
	m.sweep(filepath.Dir(from), asidePrefix)
	fromInfo, err := m.fs.Lstat(from)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("old data folder %s: %w", from, err)
	case !holdsData(from):
		return "", nil
	}
	// What is at the new place is looked at only under the lock: another
	// Plinth moving the folder at this moment would make it look as if
	// both held data.
	lock, ok, gone, err := lockOld(from)
	switch {
	case gone:
		return "", nil // another Plinth moved it just now
	case err != nil:
		return "", err
	case !ok:
		return "", oldInUse(from, to)
	}
	defer lock.release()
	// Held now: look again, another Plinth may have been quicker.
	if !holdsData(from) {
		return "", nil
	}
	if same, err := m.checkTarget(from, to); err != nil || same {
		return "", err
	}
	m.sweep(filepath.Dir(to), tempPrefix)
	if err := m.clearTarget(to); err != nil {
		return "", err
	}
	moved := fmt.Sprintf("Plinth moved its data folder from %s to %s, where %s keeps application data.", from, to, m.where)
	if fromInfo.Mode()&fs.ModeSymlink != 0 {
		return m.moveLink(from, to, moved)
	}
	if openBlocksRename {
		lock.release()
	}
	err = m.fs.Rename(from, to)
	switch {
	case err == nil:
		if err := m.syncParents(from, to); err != nil {
			return "", err
		}
		return moved, nil
	case !crossDevice(err):
		return "", fmt.Errorf("move data folder %s to %s: %w", from, to, err)
	}
	if openBlocksRename {
		// The lock went for the rename; the copy needs it again.
		lock, ok, gone, err = lockOld(from)
		switch {
		case gone:
			return "", nil
		case err != nil:
			return "", err
		case !ok:
			return "", oldInUse(from, to)
		}
		defer lock.release()
	}
	return m.copyOver(ctx, from, to, fromInfo, lock, moved)
}

// holdsData reports whether a folder holds Plinth's data: a store (whole
// or damaged), format.json, or the journal of an upgrade or a restore
// that did not finish. Logs, a lock file or backups alone are not data to
// move or to keep a folder from.
func holdsData(dir string) bool {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return false
	}
	if storage.Exists(storage.Path(dir, storage.Manager)) || storage.Exists(storage.Path(dir, storage.FileServer)) {
		return true
	}
	for _, name := range []string{upgrade.FolderFileName, upgrade.JournalName, backup.OlderJournalName} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// checkTarget says whether the data folder may go to to: nothing is
// there, or an empty folder. same is true when to is from under another
// name (a link to it, or a file system that ignores case).
func (m *mover) checkTarget(from, to string) (same bool, err error) {
	if rel, err := filepath.Rel(from, to); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return false, fmt.Errorf("the new data folder %s lies inside the old one %s, so Plinth cannot move it there: "+
			"start Plinth with -data %s, or move the folder yourself", to, from, from)
	}
	li, err := m.fs.Lstat(to)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("new data folder %s: %w", to, err)
	}
	if ti, err := m.fs.Stat(to); err == nil {
		if fi, err := m.fs.Stat(from); err == nil && os.SameFile(fi, ti) {
			return true, nil
		}
	}
	if holdsData(to) {
		return false, bothHaveData(from, to)
	}
	if li.IsDir() {
		if ents, err := m.fs.ReadDir(to); err == nil && len(ents) == 0 {
			return false, nil
		}
	}
	return false, newNotEmpty(from, to)
}

// clearTarget removes an empty folder at to, and makes to's parent (with
// 0700, as the XDG spec asks of the folders it creates).
func (m *mover) clearTarget(to string) error {
	if _, err := m.fs.Lstat(to); err == nil {
		// Remove removes an empty folder only.
		if err := m.fs.Remove(to); err != nil {
			return fmt.Errorf("remove the empty folder %s: %w", to, err)
		}
	}
	if err := m.fs.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return fmt.Errorf("make folder %s: %w", filepath.Dir(to), err)
	}
	return nil
}

// syncParents makes a rename from from to to durable.
func (m *mover) syncParents(from, to string) error {
	for _, d := range []string{filepath.Dir(to), filepath.Dir(from)} {
		if err := m.fs.SyncDir(d); err != nil {
			return fmt.Errorf("sync folder %s: %w", d, err)
		}
	}
	return nil
}

// moveLink moves an old data folder that is a link to one elsewhere: the
// new one links to the same folder. A relative link is made absolute, so
// that it still leads there from its new place.
func (m *mover) moveLink(from, to, moved string) (string, error) {
	target, err := os.Readlink(from)
	if err != nil {
		return "", fmt.Errorf("read link %s: %w", from, err)
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(from), target)
	}
	if err := os.Symlink(target, to); err != nil {
		return "", fmt.Errorf("move data folder %s to %s: %w", from, to, err)
	}
	if err := m.fs.Remove(from); err != nil {
		_ = m.fs.Remove(to)
		return "", fmt.Errorf("move data folder %s to %s: %w", from, to, err)
	}
	if err := m.syncParents(from, to); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s It is a link to %s, as the old one was.", moved, target), nil
}

// sweep removes what a crash left of a move in dir (names with prefix);
// best effort.
func (m *mover) sweep(dir, prefix string) {
	ents, err := m.fs.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			_ = m.fs.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// copyOver moves the data folder to another disk: a complete, fsynced
// copy in a hidden folder beside to, renamed to to, and only then is from
// renamed aside and removed. Until the copy is in place a failure removes
// it and leaves from as it was; lock holds from throughout (on Windows it
// is let go for the rename aside).
func (m *mover) copyOver(ctx context.Context, from, to string, fromInfo fs.FileInfo, lock *oldLock, moved string) (string, error) {
	size, err := m.treeSize(from)
	if err != nil {
		return "", fmt.Errorf("copy data folder %s to %s: %w", from, to, err)
	}
	if err := storage.NeedSpace(filepath.Dir(to), size, "moving the data folder"); err != nil {
		return "", err
	}
	if m.announce != nil {
		m.announce(fmt.Sprintf("Plinth is copying its data folder (%s) from %s to %s, where %s keeps application data; this can take a while.",
			humanize.IBytes(uint64(size)), from, to, m.where))
	}
	tmp, err := m.fs.MkdirTemp(filepath.Dir(to), tempPrefix)
	if err != nil {
		return "", fmt.Errorf("copy data folder %s to %s: %w", from, to, err)
	}
	err = m.copyDir(ctx, from, tmp, fromInfo, true)
	if err == nil {
		err = m.fs.Rename(tmp, to)
	}
	if err != nil {
		_ = m.fs.RemoveAll(tmp)
		return "", fmt.Errorf("copy data folder %s to %s: %w", from, to, err)
	}
	if err := m.fs.SyncDir(filepath.Dir(to)); err != nil {
		// Both folders hold the data now; the next start says so.
		return "", fmt.Errorf("copy data folder %s to %s: sync folder %s: %w", from, to, filepath.Dir(to), err)
	}

	// The copy is complete and durable: the old folder goes.
	if openBlocksRename {
		lock.release()
	}
	aside := filepath.Join(filepath.Dir(from), asidePrefix+rand.Text())
	if err := m.fs.Rename(from, aside); err != nil {
		return "", fmt.Errorf("the data folder was copied from %s to %s, but %s could not be removed: %w; remove %s yourself, then start Plinth again",
			from, to, from, err, from)
	}
	// Should this fsync fail, a crash could bring the old folder back,
	// and the next start would refuse with both folders named: no data
	// is lost either way.
	_ = m.fs.SyncDir(filepath.Dir(from))
	if err := m.fs.RemoveAll(aside); err != nil {
		return fmt.Sprintf("%s It could not remove the old copy, left in %s (%v); delete that folder.", moved, aside, err), nil
	}
	return moved, nil
}

// treeSize adds up the sizes of the files under dir.
func (m *mover) treeSize(dir string) (int64, error) {
	ents, err := m.fs.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir():
			sub, err := m.treeSize(p)
			if err != nil {
				return 0, err
			}
			n += sub
		case e.Type().IsRegular():
			fi, err := e.Info()
			if err != nil {
				return 0, err
			}
			n += fi.Size()
		}
	}
	return n, nil
}

// copyDir copies what is in the folder src into the existing folder dst,
// then gives dst src's permission and time and fsyncs it. The lock file
// at the top is not copied: it is held, and the next Plinth writes its
// own; nor are sockets. Links are copied as links, with the same target.
func (m *mover) copyDir(ctx context.Context, src, dst string, srcInfo fs.FileInfo, top bool) error {
	ents, err := m.fs.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		if top && e.Name() == lockName {
			continue
		}
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		fi, err := m.fs.Lstat(s)
		if err != nil {
			return err
		}
		switch mode := fi.Mode(); {
		case mode.IsRegular():
			err = m.copyFile(ctx, s, d, fi)
		case mode.IsDir():
			if err = m.fs.MkdirAll(d, 0o700); err == nil {
				err = m.copyDir(ctx, s, d, fi, false)
			}
		case mode&fs.ModeSocket != 0:
			// A control endpoint (plinth.sock) left by a Plinth that died:
			// it means nothing elsewhere, and the next Plinth makes its own.
			continue
		case mode&fs.ModeSymlink != 0:
			var target string
			if target, err = os.Readlink(s); err == nil {
				err = os.Symlink(target, d)
			}
		default:
			err = fmt.Errorf("%s is neither a file, a folder nor a link; move it out of the data folder and start Plinth again", s)
		}
		if err != nil {
			return err
		}
	}
	if err := chmod(m.fs, dst, srcInfo.Mode().Perm()); err != nil {
		return err
	}
	if err := os.Chtimes(dst, srcInfo.ModTime(), srcInfo.ModTime()); err != nil {
		return err
	}
	return m.fs.SyncDir(dst)
}

// copyFile copies one file through fsys's atomic writer (fsynced, with
// its permission) and checks that every byte arrived.
func (m *mover) copyFile(ctx context.Context, src, dst string, fi fs.FileInfo) error {
	in, err := m.fs.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	p, err := fsys.Create(m.fs, dst, fsys.Options{NoDirSync: true, Perm: fi.Mode().Perm()})
	if err != nil {
		return err
	}
	defer p.Abort()
	n, err := copyData(ctx, p, in)
	if err != nil {
		return err
	}
	if n != fi.Size() {
		return fmt.Errorf("copy %s: read %d bytes of %d", src, n, fi.Size())
	}
	if err := p.Commit(); err != nil {
		return err
	}
	got, err := m.fs.Lstat(dst)
	if err != nil {
		return err
	}
	if got.Size() != fi.Size() {
		return fmt.Errorf("copy %s: the copy has %d bytes of %d", src, got.Size(), fi.Size())
	}
	return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
}

// chmod sets a permission through f when it can (the OS and faultfs can).
func chmod(f fsys.FS, path string, perm fs.FileMode) error {
	if c, ok := f.(interface {
		Chmod(string, fs.FileMode) error
	}); ok {
		return c.Chmod(path, perm)
	}
	return os.Chmod(path, perm)
}

// copyData copies r to p until EOF, and stops when ctx ends.
func copyData(ctx context.Context, p *fsys.Pending, r io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, rerr := r.Read(buf)
		if k > 0 {
			w, err := p.Write(buf[:k])
			n += int64(w)
			if err != nil {
				return n, err
			}
		}
		if errors.Is(rerr, io.EOF) {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}
