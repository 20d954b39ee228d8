package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// Reader streams one version's content from the fileserver, a chunk at a
// time, checking every chunk against its hash.
type Reader struct {
	s      *Service
	ctx    context.Context
	name   string
	chunks []string
	next   int
	cur    []byte
}

// Open returns a reader for a file's current version, or for versionID
// when it is not empty. It needs View item on the file's container.
func (s *Service) Open(ctx context.Context, actor account.Actor, fileID, versionID string) (*Reader, Version, error) {
	n, err := s.Get(ctx, actor, fileID)
	if err != nil {
		return nil, Version{}, err
	}
	if n.Kind != KindFile {
		return nil, Version{}, refuse(ErrNotFound, "%q is a %s, not a file", n.Name, n.Kind)
	}
	if versionID == "" {
		versionID = n.Version
	}
	var v Version
	if err := s.mgr.View(func(tx *storage.Tx) (err error) { v, err = versions.Get(tx, versionID); return err }); err != nil {
		return nil, Version{}, refuse(ErrNotFound, "%q has no such version", n.Name)
	}
	var rec Record
	err = s.fs.View(func(tx *storage.Tx) (err error) { rec, err = records.Get(tx, versionID); return err })
	if errors.Is(err, storage.ErrNotFound) {
		return nil, v, refuse(ErrDamaged, "the content of %q is missing from the file server; run a full file synchronization", n.Name)
	}
	if err != nil {
		return nil, v, err
	}
	return &Reader{s: s, ctx: ctx, name: n.Name, chunks: rec.Chunks}, v, nil
}

func (r *Reader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.next >= len(r.chunks) {
			return 0, io.EOF
		}
		if err := r.ctx.Err(); err != nil {
			return 0, err
		}
		id := r.chunks[r.next]
		var loc storage.Loc
		err := r.s.fs.View(func(tx *storage.Tx) (err error) { loc, err = chunks.Get(tx, id); return err })
		if err != nil {
			return 0, refuse(ErrDamaged, "part %d of %q is missing from the file server", r.next+1, r.name)
		}
		data, err := r.s.fs.Blobs().Read(loc)
		if err != nil {
			return 0, refuse(ErrDamaged, "part %d of %q cannot be read from the file server: %v", r.next+1, r.name, err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != id {
			return 0, refuse(ErrDamaged, "part %d of %q is damaged on the file server", r.next+1, r.name)
		}
		r.cur = data
		r.next++
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// Close releases the reader.
func (r *Reader) Close() error { r.cur, r.chunks = nil, nil; return nil }

// WriteAtomic writes r into path through a temporary file in the same
// folder (fsys.WriteFrom: write, fsync, rename, fsync the folder). A
// failure leaves nothing at path.
func WriteAtomic(path string, r io.Reader) (int64, error) {
	return fsys.WriteFrom(fsys.OS, path, r, fsys.Options{Perm: 0o644})
}

// SetFS replaces the file system exports are written through (fsys.OS by
// default); tests put faults in it. The packs go through the store's own
// (storage.Options.FS).
func (s *Service) SetFS(f fsys.FS) { s.disk = fsys.Or(f) }

func (s *Service) diskFS() fsys.FS { return fsys.Or(s.disk) }

// chmod sets the permission of an exported file or folder: temporary
// files and folders are created private.
func chmod(f fsys.FS, path string, mode fs.FileMode) error {
	if c, ok := f.(interface {
		Chmod(string, fs.FileMode) error
	}); ok {
		return c.Chmod(path, mode)
	}
	return nil
}

// Export writes a file, or a folder with everything below it, to dest on
// disk. If dest is an existing folder the item goes inside it under its own
// name; an existing file or folder of that name is never overwritten.
// A file is written atomically; a folder is written into a temporary
// folder beside its target and renamed into place when it is complete, so
// a failure leaves nothing half-written behind. It needs View item.
func (s *Service) Export(ctx context.Context, actor account.Actor, id, dest string, prog progress.Func) (int, error) {
	n, err := s.Get(ctx, actor, id)
	if err != nil {
		return 0, err
	}
	disk := s.diskFS()
	target := dest
	if fi, err := disk.Stat(dest); err == nil && fi.IsDir() {
		target = filepath.Join(dest, n.Name)
		if id == RootID {
			target = filepath.Join(dest, "Projects")
		}
	}
	if _, err := disk.Lstat(target); err == nil {
		return 0, fmt.Errorf("%s already exists; export into an empty place", target)
	}
	// Count what will be written, for progress.
	var total int64
	_ = s.mgr.View(func(tx *storage.Tx) error {
		return walk(tx, n, func(c Node) error {
			if c.Kind == KindFile {
				total += c.Size
			}
			return nil
		})
	})
	var done int64
	written := 0
	// A folder is written below a temporary folder; messages name the
	// place it is going to.
	var tmp string
	shown := func(p string) string {
		if tmp != "" && strings.HasPrefix(p, tmp) {
			return target + p[len(tmp):]
		}
		return p
	}
	var export func(n Node, target string) error
	export = func(n Node, target string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n.Kind == KindFile {
			rd, _, err := s.Open(ctx, actor, n.ID, "")
			if err != nil {
				return err
			}
			defer rd.Close()
			_, err = fsys.WriteFrom(disk, target, &countingReader{r: rd, fn: func(k int64) {
				done += k
				prog.Send(progress.Report{Phase: "Exporting", Done: done, Total: total, Item: n.Name, Bytes: true})
			}}, fsys.Options{NoReplace: true, NoDirSync: true})
			if err == nil {
				if err = chmod(disk, target, 0o644); err != nil {
					_ = disk.Remove(target)
				}
			}
			if err != nil {
				return fmt.Errorf("export %s to %s: %w", n.Name, shown(target), plainFS(err))
			}
			written++
			return nil
		}
		if n.Kind == KindIModel {
			return nil // iModel contents are exported with their own tools
		}
		kids, err := s.List(ctx, actor, n.ID)
		if err != nil {
			return err
		}
		for _, k := range kids {
			if k.Name == "" || k.Name == "." || k.Name == ".." || strings.ContainsAny(k.Name, `/\`) {
				return fmt.Errorf("%q cannot be written to disk; rename it on the Projects page first", k.Name)
			}
			if !k.Kind.IsContainer() && k.Kind != KindFile && k.Kind != KindIModel {
				continue
			}
			if k.Kind != KindFile {
				if err := disk.MkdirAll(filepath.Join(target, k.Name), 0o755); err != nil {
					return fmt.Errorf("create folder %s: %w", shown(filepath.Join(target, k.Name)), plainFS(err))
				}
			}
			if err := export(k, filepath.Join(target, k.Name)); err != nil {
				return err
			}
		}
		if err := disk.SyncDir(target); err != nil {
			return fmt.Errorf("export to %s: %w", shown(target), plainFS(err))
		}
		return nil
	}
	if n.Kind == KindFile {
		if err := export(n, target); err != nil {
			return 0, err
		}
		if err := syncNew(disk, target); err != nil {
			return 0, fmt.Errorf("export to %s: %w", target, plainFS(err))
		}
		return written, nil
	}
	tmp, err = disk.MkdirTemp(filepath.Dir(target), "."+filepath.Base(target)+".*.plinth-tmp")
	if err != nil {
		return 0, fmt.Errorf("create folder %s: %w", target, plainFS(err))
	}
	err = export(n, tmp)
	if err == nil {
		err = chmod(disk, tmp, 0o755)
	}
	if err == nil {
		if _, serr := disk.Lstat(target); serr == nil {
			err = fmt.Errorf("%s appeared during the export; it was left as it is", target)
		}
	}
	if err == nil {
		if err = disk.Rename(tmp, target); err == nil {
			err = syncNew(disk, target)
		}
		if err != nil {
			err = fmt.Errorf("export to %s: %w", target, plainFS(err))
		}
	}
	if err != nil {
		_ = disk.RemoveAll(tmp)
		return 0, err
	}
	return written, nil
}

// syncNew makes the entry of a file or folder just renamed into place
// durable; when that fails it takes the entry away again, so that a failed
// export leaves nothing behind.
func syncNew(disk fsys.FS, path string) error {
	if err := disk.SyncDir(filepath.Dir(path)); err != nil {
		_ = disk.RemoveAll(path)
		return err
	}
	return nil
}

func plainFS(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type countingReader struct {
	r  io.Reader
	fn func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.fn(int64(n))
	}
	return n, err
}

// Skipped is something an import left out, and why.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// ImportStats says what an import did. Files counts what was stored;
// Versions says how many of those became a new version of a file that was
// on the Projects page before (re-importing on purpose); Bytes is what was
// stored, as read. Everything else is in Skipped, one entry per file or
// folder, with the reason.
type ImportStats struct {
	Files    int       `json:"files"`
	Versions int       `json:"versions"`
	Folders  int       `json:"folders"`
	Bytes    int64     `json:"bytes"`
	Skipped  []Skipped `json:"skipped,omitempty"`
}

// Add adds what another import did.
func (st *ImportStats) Add(o ImportStats) {
	st.Files += o.Files
	st.Versions += o.Versions
	st.Folders += o.Folders
	st.Bytes += o.Bytes
	st.Skipped = append(st.Skipped, o.Skipped...)
}

// Import uploads a file or a folder (with everything below it) from disk
// into a container: ImportPaths with one path.
func (s *Service) Import(ctx context.Context, actor account.Actor, parentID, local string, prog progress.Func) (ImportStats, error) {
	return s.ImportPaths(ctx, actor, parentID, []string{local}, prog)
}

// ImportPaths uploads files and folders (with everything below them) from
// disk into a container. Names that cannot be used, links and special
// files are skipped and listed, and so are names that clash within the
// import: two names that are one on the Projects page (NameKey: "Case.txt"
// and "case.txt", or "café" with its accent composed and decomposed) are
// never stored as versions of each other; the first is imported and the
// others are reported. A file already on the Projects page gets a new
// version, as an upload would. A file that changes while it is read is
// read once more, then skipped: a torn file is never stored. The disk of
// the packs must have room for everything (storage.NeedSpace) before
// anything is written. It needs Modify content.
func (s *Service) ImportPaths(ctx context.Context, actor account.Actor, parentID string, locals []string, prog progress.Func) (ImportStats, error) {
	var st ImportStats
	var parent Node
	if err := s.mgr.View(func(tx *storage.Tx) (err error) { parent, err = getNode(tx, parentID); return err }); err != nil {
		return st, err
	}
	if err := s.check(ctx, actor, parent, account.ModifyContent); err != nil {
		return st, err
	}
	infos := make([]fs.FileInfo, len(locals))
	for i, local := range locals {
		info, err := os.Lstat(local)
		if err != nil {
			return st, fmt.Errorf("cannot read %s: %w", local, plainFS(err))
		}
		infos[i] = info
	}
	// Measure first, for progress and for the free-space check.
	var total int64
	for i, local := range locals {
		if !infos[i].IsDir() {
			if infos[i].Mode().IsRegular() {
				total += infos[i].Size()
			}
			continue
		}
		_ = filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					total += fi.Size()
				}
			}
			return nil
		})
	}
	if err := s.needSpace(total, "importing"); err != nil {
		return st, err
	}
	im := &importer{s: s, actor: actor, st: &st, total: total, prog: prog, taken: map[string]string{}, dests: map[string]*importDest{}}
	defer im.release()
	for i, local := range locals {
		if err := im.item(ctx, parentID, local, infos[i].Mode().Type()); err != nil {
			_ = im.wait() // a group committed meanwhile is counted
			return st, err
		}
	}
	return st, im.flush(ctx, true)
}

// importer is one run of ImportPaths.
type importer struct {
	s     *Service
	actor account.Actor
	st    *ImportStats
	total int64
	done  int64
	prog  progress.Func
	// taken maps a container id and a NameKey to the path on disk that
	// this import stored under that name.
	taken map[string]string
	// Files read and checked, not committed yet: they are committed in
	// groups (commitVersions), a commit per store for many small files.
	// The gate is held shared from the first read of a group to its
	// commit, so that nothing cuts their chunks from the packs meanwhile.
	batch      []pendingAdd
	batchPaths []string
	batchBytes int64
	batchMeta  int64
	locked     bool
	lockedAt   time.Time
	// committing is the group being committed while the next one is
	// read, if any; groups are committed one after the other, in order.
	committing *groupCommit
	// dests is what the import checked about each container it writes
	// files into, so that it is not read again for every file.
	dests map[string]*importDest
}

// importDest is what an import checked about a container it writes files
// into: that it is a container the actor may write to (checked again
// after each commit), and which of its names are taken by something that
// is not a file (read once; the commit checks every name again).
type importDest struct {
	name    string
	others  map[string]Node // by nameKey
	checked bool
}

// A group of imported files is committed when it holds this many files,
// bytes of content, or (estimated, batchMetaOf) bytes of catalog entries.
// Each commit is one transaction per store and one sync of each kind, so
// bigger groups of small files save syncs and per-commit work (256 files
// cost least CPU in A/B runs of 64 to 1,024); the catalog bound keeps the
// largest of a group's transactions, the Manager's last one, well below
// Badger's limit (about 2.4 MB with 16 MB memtables) whatever the names
// and folder depth.
const (
	batchFiles = 256
	batchBytes = 64 << 20
	batchMeta  = 1 << 20
)

// batchMetaOf estimates what a file adds to the largest transaction of its
// group: its version, file entry and intent (about 1 KB, with its name
// and its folder's path in some of them) and its chunk list.
func batchMetaOf(path, name string, c content) int64 {
	return 1024 + 2*int64(len(path)) + 4*int64(len(name)) + 80*int64(len(c.chunks))
}

// lock holds the gate shared until the group is committed.
func (im *importer) lock() {
	if !im.locked {
		im.s.gate.RLock()
		im.locked, im.lockedAt = true, time.Now()
	}
}

// release waits for the group being committed, then lets go of the gate;
// what was read and not committed is abandoned (its chunks are garbage
// that Recover and compaction reclaim).
func (im *importer) release() {
	_ = im.wait()
	if im.locked {
		im.s.gate.RUnlock()
		im.locked = false
	}
	im.batch, im.batchPaths, im.batchBytes, im.batchMeta = nil, nil, 0, 0
}

// gateHold is how long an import keeps the gate shared before it lets a
// compaction waiting for it go first (by committing everything it read
// and letting go once).
const gateHold = time.Second

// groupCommit is one group's commit, run while the import reads on.
type groupCommit struct {
	adds  []pendingAdd
	paths []string
	done  chan struct{}
	res   []added
	err   error
}

// flush starts the commit of the files read so far, after the commit of
// the group before, and reads on while it runs: a group's commit (three
// transactions and their syncs) overlaps the reading of the next group.
// Groups still commit one at a time and in order, each whole or not at
// all. With last, or when the gate has been held for gateHold, it waits
// for the commit and lets go of the gate.
func (im *importer) flush(ctx context.Context, last bool) error {
	if err := im.wait(); err != nil {
		return err
	}
	if len(im.batch) > 0 {
		g := &groupCommit{adds: im.batch, paths: im.batchPaths, done: make(chan struct{})}
		im.batch, im.batchPaths, im.batchBytes, im.batchMeta = nil, nil, 0, 0
		by := im.actor.Name()
		go func() {
			defer close(g.done)
			g.res, g.err = im.s.commitVersions(ctx, by, g.adds)
		}()
		im.committing = g
		// Where the next group goes is checked again.
		for _, d := range im.dests {
			d.checked = false
		}
	}
	if last || im.locked && time.Since(im.lockedAt) >= gateHold {
		err := im.wait()
		im.release()
		return err
	}
	return nil
}

// wait waits for the group being committed, if any, and counts what it
// did.
func (im *importer) wait() error {
	g := im.committing
	if g == nil {
		return nil
	}
	<-g.done
	im.committing = nil
	if g.err != nil {
		return g.err
	}
	for i, r := range g.res {
		if r.err != nil {
			im.skip(g.paths[i], sentenceOf(r.err))
			continue
		}
		im.st.Files++
		if r.existed {
			im.st.Versions++
		}
		im.st.Bytes += g.adds[i].c.size
	}
	return nil
}

// prepare is prepareUpload for a file of the import: it checks parentID
// once per commit, not once per file, and returns name as it is stored.
func (im *importer) prepare(ctx context.Context, parentID, name string) (string, error) {
	s := im.s
	name = normalize(name)
	if err := CheckName(name); err != nil {
		return "", err
	}
	d := im.dests[parentID]
	if d == nil || !d.checked {
		var parent Node
		others := map[string]Node{}
		err := s.mgr.View(func(tx *storage.Tx) error {
			var err error
			if parent, err = getNode(tx, parentID); err != nil {
				return err
			}
			if !parent.Kind.IsContainer() {
				return refuse(ErrNotDir, "%q is a %s; files go into folders, projects and libraries", parent.Name, parent.Kind)
			}
			if d != nil {
				return nil
			}
			return nodes.Scan(tx, parentID+"/", func(k string, n Node) error {
				if n.Kind != KindFile {
					others[k[len(parentID)+1:]] = n
				}
				return nil
			})
		})
		if err != nil {
			return "", err
		}
		if err := s.check(ctx, im.actor, parent, account.ModifyContent); err != nil {
			return "", err
		}
		if d == nil {
			d = &importDest{others: others}
			im.dests[parentID] = d
		}
		d.name, d.checked = parent.Name, true
	}
	if old, ok := d.others[nameKey(name)]; ok {
		return "", refuse(ErrExists, "%q already holds a %s named %q", d.name, old.Kind, old.Name)
	}
	return name, nil
}

func (im *importer) skip(path, reason string) {
	im.st.Skipped = append(im.st.Skipped, Skipped{Path: path, Reason: reason})
}

// item imports one file or folder from disk into the container parent.
// typ holds its type bits (fs.ModeType): what the folder listing says, so
// that a file is not looked up again before it is opened.
func (im *importer) item(ctx context.Context, parent, path string, typ fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := normalize(filepath.Base(path))
	switch {
	case typ&fs.ModeSymlink != 0:
		im.skip(path, "it is a link; import what it points to instead")
		return nil
	case !typ.IsDir() && !typ.IsRegular():
		im.skip(path, "it is not a regular file")
		return nil
	}
	if err := CheckName(name); err != nil {
		im.skip(path, sentenceOf(err))
		return nil
	}
	key := parent + "/" + NameKey(name)
	if other, ok := im.taken[key]; ok {
		reason := "its name clashes with " + other + ", which was imported: " + clash(filepath.Base(path), filepath.Base(other)) +
			"; rename one of them and import it again"
		if typ.IsDir() {
			reason += " (nothing in this folder was imported)"
		}
		im.skip(path, reason)
		return nil
	}
	if typ.IsDir() {
		dir, err := im.s.mkdirChain(ctx, im.actor, parent, []string{name})
		if err != nil {
			if errors.Is(err, ErrExists) || errors.Is(err, ErrBadName) {
				im.skip(path, sentenceOf(err))
				return nil
			}
			return err
		}
		im.taken[key] = path
		im.st.Folders++
		ents, err := os.ReadDir(path)
		if err != nil {
			im.skip(path, "cannot read the folder: "+plainFS(err).Error())
			return nil
		}
		sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
		for _, e := range ents {
			if err := im.item(ctx, dir.ID, filepath.Join(path, e.Name()), e.Type()); err != nil {
				return err
			}
		}
		return nil
	}
	err := im.file(ctx, parent, name, path)
	if err != nil {
		var se *sourceError
		switch {
		case errors.As(err, &se):
			im.skip(path, "cannot read the file: "+plainFS(se.err).Error())
			return nil
		case errors.Is(err, ErrExists), errors.Is(err, ErrBadName), errors.Is(err, errChanged):
			im.skip(path, sentenceOf(err))
			return nil
		}
		return err
	}
	im.taken[key] = path
	if len(im.batch) >= batchFiles || im.batchBytes >= batchBytes || im.batchMeta >= batchMeta {
		return im.flush(ctx, false)
	}
	return nil
}

// clash says why two names with one NameKey are one name on the Projects
// page.
func clash(a, b string) string {
	if normalize(a) == normalize(b) {
		return "the two names have the same letters, with accents encoded differently (composed and decomposed Unicode)"
	}
	return "the Projects page does not tell upper and lower case apart"
}

// errChanged means a file changed every time it was read.
var errChanged = errors.New("the file changed while it was read")

// file reads one file from disk into the packs and adds it to the group
// to commit. What was read must be what the file holds afterwards: the
// same file (not replaced), the same size and modification time before
// and after, and as many bytes read as it has. Otherwise it was torn by a
// writer; it is read once more, and refused if it changes again. Chunks
// of a torn read are never committed (Recover and compaction reclaim
// them).
func (im *importer) file(ctx context.Context, parentID, name, path string) error {
	s := im.s
	name, err := im.prepare(ctx, parentID, name)
	if err != nil {
		return err
	}
	im.lock()
	var why string
	for range 2 {
		f, err := openSource(path)
		if err != nil {
			return &sourceError{item: path, err: err}
		}
		before, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return &sourceError{item: path, err: err}
		}
		base := im.done
		c, err := s.storeContent(ctx, f, before.Size(), name, func(r progress.Report) {
			im.prog.Send(progress.Report{Phase: "Importing", Done: base + r.Done, Total: im.total, Item: name, Bytes: true})
		})
		after, serr := f.Stat()
		_ = f.Close()
		if err != nil {
			return s.wrapWrite(name, err)
		}
		if serr != nil {
			return &sourceError{item: path, err: serr}
		}
		now, lerr := os.Lstat(path)
		if why = changed(before, after, now, lerr, c.size); why != "" {
			continue
		}
		im.done += c.size
		im.batch = append(im.batch, pendingAdd{parent: parentID, name: name, c: c})
		im.batchPaths = append(im.batchPaths, path)
		im.batchBytes += c.size
		im.batchMeta += batchMetaOf(path, name, c)
		return nil
	}
	return &refusal{msg: "it changed while it was read, twice (" + why + "); import it again when nothing is writing to it", is: errChanged}
}

// sizes says "12 MiB to 14 MiB", in bytes when that would not show the
// difference.
func sizes(a, b int64) string {
	ha, hb := twoSizes(a, b)
	return ha + " to " + hb
}

// twoSizes writes two sizes for a user, in bytes when the rounded forms
// would look the same.
func twoSizes(a, b int64) (string, string) {
	ha, hb := humanize.IBytes(uint64(max(a, 0))), humanize.IBytes(uint64(max(b, 0)))
	if ha == hb {
		return humanize.Comma(a), humanize.Comma(b) + " bytes"
	}
	return ha, hb
}

// changed says how a file changed while it was read (read bytes of it
// between the before and after Stat of the open file; now is the path's
// Lstat afterwards), or "" when it did not.
func changed(before, after, now fs.FileInfo, nowErr error, read int64) string {
	switch {
	case after.Size() > before.Size():
		return "it grew from " + sizes(before.Size(), after.Size())
	case after.Size() < before.Size():
		return "it shrank from " + sizes(before.Size(), after.Size())
	case read != before.Size():
		a, b := twoSizes(before.Size(), read)
		return "its size said " + a + " but " + b + " were read"
	case !after.ModTime().Equal(before.ModTime()):
		return "it was written to"
	case nowErr != nil:
		return "it was removed"
	case !os.SameFile(before, now):
		return "another file took its place"
	}
	return ""
}

func sentenceOf(err error) string { return err.Error() }

// ExportVersion writes one version of a file into folder dest under the
// file's name (with the version's date added when an older version is
// asked for), atomically. It needs View item.
func (s *Service) ExportVersion(ctx context.Context, actor account.Actor, fileID, versionID, dest string) (string, error) {
	rd, v, err := s.Open(ctx, actor, fileID, versionID)
	if err != nil {
		return "", err
	}
	defer rd.Close()
	n, err := s.Get(ctx, actor, fileID)
	if err != nil {
		return "", err
	}
	name := n.Name
	if v.ID != n.Version {
		ext := filepath.Ext(name)
		name = strings.TrimSuffix(name, ext) + " (" + v.Created.Local().Format("2006-01-02 15-04-05") + ")" + ext
	}
	target := filepath.Join(dest, name)
	disk := s.diskFS()
	if _, err := disk.Lstat(target); err == nil {
		return "", fmt.Errorf("%s already exists; choose another folder", target)
	}
	_, err = fsys.WriteFrom(disk, target, rd, fsys.Options{NoReplace: true, NoDirSync: true})
	if err == nil {
		if err = chmod(disk, target, 0o644); err == nil {
			err = syncNew(disk, target)
		} else {
			_ = disk.Remove(target)
		}
	}
	if err != nil {
		return "", fmt.Errorf("export %s: %w", name, plainFS(err))
	}
	return target, nil
}
