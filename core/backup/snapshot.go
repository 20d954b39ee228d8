package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/text"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// Level 1: project and library snapshots. The snapshot target holds
//
//	chunks/<aa>/<sha-256>.zst        each content chunk once, compressed
//	items/<item id>/<snapshot id>/   manifest.json and tree.json.zst
//
// A snapshot's tree lists the item's folders and files with the chunks of
// each file's current version. Chunks already in the target are not
// written again, so a snapshot of an unchanged project costs its tree.

// TreeFile is a snapshot's stored tree.
type TreeFile struct {
	File    string `json:"file"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256"`
	Entries int    `json:"entries"`
	Files   int    `json:"files"`
	Content int64  `json:"content"`
	Hash    string `json:"hash"` // of the tree's content: equal hashes, unchanged item
}

// SnapSchedule is how often an item gets a snapshot.
type SnapSchedule struct {
	Mode   string `json:"mode"` // "none" (Don't create), "hourly", "daily"
	Hour   int    `json:"hour,omitempty"`
	Minute int    `json:"minute,omitempty"`
	Keep   int    `json:"keep"` // Keep last N, N ≥ 1
}

func (c SnapSchedule) String() string {
	switch c.Mode {
	case "hourly":
		return fmt.Sprintf("Hourly, keep last %d", c.Keep)
	case "daily":
		return fmt.Sprintf("Daily at %02d:%02d, keep last %d", c.Hour, c.Minute, c.Keep)
	}
	return "Don't create"
}

// Validate says what is wrong with a schedule, or returns nil.
func (c SnapSchedule) Validate() error {
	switch c.Mode {
	case "none", "hourly", "daily":
	default:
		return fmt.Errorf("unknown snapshot schedule %q: use none, hourly or daily", c.Mode)
	}
	if c.Mode == "daily" && (c.Hour < 0 || c.Hour > 23 || c.Minute < 0 || c.Minute > 59) {
		return fmt.Errorf("%02d:%02d is not a time of day", c.Hour, c.Minute)
	}
	if c.Mode != "none" && c.Keep < 1 {
		return errors.New("keep at least the last 1 snapshot")
	}
	return nil
}

var snapSchedules = storage.NewCollection[SnapSchedule]("snapsched")

// DefaultSnapSchedule is the Projects root's schedule until someone
// changes it: hourly, keep the last 24.
var DefaultSnapSchedule = SnapSchedule{Mode: "hourly", Keep: 24}

// snapshotTarget is where snapshots go: the chosen folder, else
// <data>/backups/snapshots.
func (s *Service) snapshotTarget() string {
	c, err := s.Level1()
	if err != nil || c.Target == "" {
		return filepath.Join(s.dataDir, "backups", "snapshots")
	}
	return c.Target
}

// SnapshotSchedule returns the schedule that applies to a node and the
// node that defines it: its own when defined locally, else the nearest
// folder above that defines one, else the Projects root's.
func (s *Service) SnapshotSchedule(ctx context.Context, nodeID string) (SnapSchedule, string, error) {
	master, err := s.acc.ActAs(ctx, account.MasterAdmin)
	if err != nil {
		return SnapSchedule{}, "", err
	}
	for id := nodeID; ; {
		var c SnapSchedule
		err := s.mgr.View(func(tx *storage.Tx) (err error) { c, err = snapSchedules.Get(tx, id); return err })
		if err == nil {
			return c, id, nil
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return SnapSchedule{}, "", err
		}
		if id == files.RootID {
			return DefaultSnapSchedule, files.RootID, nil
		}
		n, err := s.files.Get(ctx, master, id)
		if err != nil {
			return SnapSchedule{}, "", err
		}
		id = n.Parent
	}
}

// SetSnapshotSchedule defines a node's schedule locally, or (nil) makes it
// inherit again. It needs Modify details on the node.
func (s *Service) SetSnapshotSchedule(ctx context.Context, actor account.Actor, nodeID string, c *SnapSchedule) error {
	n, err := s.files.Get(ctx, actor, nodeID)
	if err != nil {
		return err
	}
	if err := s.acc.Check(ctx, actor, n.Item(), account.ModifyDetails); err != nil {
		return err
	}
	if c == nil {
		if nodeID == files.RootID {
			return errors.New("the Projects root has no folder above to inherit from")
		}
		return s.mgr.Update(func(tx *storage.Tx) error { return snapSchedules.Delete(tx, nodeID) })
	}
	if err := c.Validate(); err != nil {
		return err
	}
	return s.mgr.Update(func(tx *storage.Tx) error { return snapSchedules.Put(tx, nodeID, *c) })
}

// Snapshots lists level-1 snapshots, of one item or ("") of all, newest first.
func (s *Service) Snapshots(item string) ([]Manifest, error) {
	dir := filepath.Join(s.snapshotTarget(), "items")
	var items []string
	if item != "" {
		items = []string{item}
	} else {
		ents, err := s.fs.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		for _, e := range ents {
			if e.IsDir() {
				items = append(items, e.Name())
			}
		}
	}
	var out []Manifest
	for _, it := range items {
		l, err := list(s.fs, filepath.Join(dir, it))
		if err != nil {
			return nil, err
		}
		out = append(out, l...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

type treeDoc struct {
	Item    string            `json:"item"`
	Kind    string            `json:"kind"`
	Name    string            `json:"name"`
	Entries []files.TreeEntry `json:"entries"`
}

// Snapshot takes a level-1 snapshot of a project or library (or folder).
// It needs View item on it.
func (s *Service) Snapshot(ctx context.Context, actor account.Actor, itemID string, prog progress.Func) (m Manifest, err error) {
	start := s.now()
	rec := Record{ID: newID(start), Level: 1, Type: TypeSnapshot, Started: start.UTC()}
	defer func() {
		rec.Finished = s.now().UTC()
		if err != nil {
			rec.Error = err.Error()
			s.record(rec)
			s.tell(ctx, notify.BackupFailed, notify.Error, fmt.Sprintf("The snapshot of %s failed: %s.", rec.Item, err))
			return
		}
		rec.OK, rec.Bytes = true, m.Bytes()
		s.record(rec)
	}()
	item, tree, err := s.files.TreeShape(ctx, actor, itemID)
	if err != nil {
		return Manifest{}, err
	}
	rec.Item = item.Name
	r, err := openRepo(ctx, s.fs, s.snapshotTarget())
	if err != nil {
		return Manifest{}, err
	}
	defer r.close()
	// Compare with the item's newest snapshot: unchanged, it reuses that
	// tree as stored; changed, it reuses the chunk lists of unchanged files
	// and stores only chunks the target does not have yet. Chunks come
	// first: a snapshot appears only when everything it needs is there.
	hash := treeHash(tree)
	var prev *Manifest
	if ps, err := s.Snapshots(item.ID); err == nil && len(ps) > 0 {
		prev = &ps[0]
	}
	var reuse []byte
	if prev != nil && prev.Tree != nil && prev.Tree.Hash == hash {
		if b, err := fsys.ReadFileLimit(s.fs, filepath.Join(prev.Path, prev.Tree.File), maxTree); err == nil && checkTree(*prev, b) == nil {
			reuse = b
		}
	}
	var need []string
	if reuse == nil {
		known := map[string][]string{}
		have := map[string]bool{}
		if prev != nil {
			if doc, err := readTree(s.fs, *prev); err == nil {
				for _, e := range doc.Entries {
					if e.Version != "" {
						known[e.Version] = e.Chunks
					}
					for _, c := range e.Chunks {
						have[c] = true
					}
				}
			}
		}
		if err := s.files.FillChunks(tree, known); err != nil {
			return Manifest{}, err
		}
		for _, e := range tree {
			for _, c := range e.Chunks {
				if !have[c] {
					need = append(need, c)
				}
			}
		}
	}
	// Several workers: reading from the packs, compressing, writing and
	// waiting for fsync overlap.
	cs := newChunkStore(s.fs, s.snapshotTarget())
	work := make(chan string)
	errc := make(chan error, snapshotWorkers)
	var done atomic.Int64
	for range snapshotWorkers {
		go func() {
			var first error
			for c := range work {
				if first != nil {
					continue
				}
				if first = s.storeChunk(cs, c); first == nil {
					prog.Send(progress.Report{Phase: "Snapshot of " + item.Name, Done: done.Add(1), Total: int64(len(need))})
				}
			}
			errc <- first
		}()
	}
	for _, c := range need {
		if ctx.Err() != nil {
			break
		}
		work <- c
	}
	close(work)
	for range snapshotWorkers {
		if e := <-errc; e != nil && err == nil {
			err = e
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return Manifest{}, err
	}
	if err := cs.sync(); err != nil {
		return Manifest{}, err
	}
	itemDir := filepath.Join(r.dir, "items", item.ID)
	if err := s.fs.MkdirAll(itemDir, 0o700); err != nil {
		return Manifest{}, err
	}
	ir := &repo{fs: s.fs, dir: itemDir}
	tmp, err := ir.begin()
	if err != nil {
		return Manifest{}, err
	}
	defer s.fs.RemoveAll(tmp)
	mgr, _ := s.files.Stores()
	m = Manifest{Format: formatV2, ID: rec.ID, Level: 1, Type: TypeSnapshot, Plinth: mgr.Identity().ID, Created: start.UTC(),
		By: actor.Name(), Item: item.ID, ItemName: item.Name, ItemKind: item.Kind.String()}
	var tf *TreeFile
	if reuse != nil {
		t := *prev.Tree
		tf = &t
		err = fsys.WriteFile(s.fs, filepath.Join(tmp, tf.File), reuse, fsys.Options{NoDirSync: true})
	} else {
		tf, err = writeTree(s.fs, filepath.Join(tmp, "tree.json.zst"), treeDoc{Item: item.ID, Kind: item.Kind.String(), Name: item.Name, Entries: tree})
	}
	if err != nil {
		return Manifest{}, err
	}
	m.Tree = tf
	m.Added = tf.Bytes + cs.added.Load()
	m.Seconds = s.now().Sub(start).Seconds()
	if err := ir.commit(tmp, &m); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// snapshotWorkers copy chunks at once; most of a first snapshot's time is
// waiting for each chunk file's fsync.
var snapshotWorkers = 4

func chunkPath(target, id string) string {
	return filepath.Join(target, "chunks", id[:2], id+".zst")
}

// storeChunk copies a chunk from the file server into the snapshot target
// unless it is there already.
func (s *Service) storeChunk(cs *chunkStore, id string) error {
	if cs.has(id) {
		return nil
	}
	data, err := s.files.ReadChunk(id)
	if err != nil {
		return err
	}
	return cs.put(id, chunkEncoder().EncodeAll(data, nil))
}

// Shared zstd coders for chunks and trees: EncodeAll and DecodeAll may be
// called concurrently, and a coder per chunk would cost more than the chunk.
var (
	chunkEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2), zstd.WithLowerEncoderMem(true))
		return e
	})
	chunkDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(2), zstd.WithDecoderLowmem(true))
		return d
	})
)

// chunkStore writes chunks into a snapshot target, counts the bytes it
// adds and syncs the folders it touched, once, before the snapshot that
// needs them is committed.
type chunkStore struct {
	fs     fsys.FS
	target string
	added  atomic.Int64
	mu     sync.Mutex
	dirs   map[string]bool
}

func newChunkStore(fs fsys.FS, target string) *chunkStore {
	return &chunkStore{fs: fsys.Or(fs), target: target, dirs: map[string]bool{}}
}

func (cs *chunkStore) has(id string) bool {
	_, err := cs.fs.Stat(chunkPath(cs.target, id))
	return err == nil
}

// put stores a chunk as compressed; the caller has checked it.
func (cs *chunkStore) put(id string, stored []byte) error {
	p := chunkPath(cs.target, id)
	dir := filepath.Dir(p)
	if err := cs.fs.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := fsys.WriteFile(cs.fs, p, stored, fsys.Options{NoDirSync: true}); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	cs.added.Add(int64(len(stored)))
	cs.mu.Lock()
	cs.dirs[dir] = true
	cs.mu.Unlock()
	return nil
}

// sync makes the renames of every chunk written so far durable.
func (cs *chunkStore) sync() error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if len(cs.dirs) == 0 {
		return nil
	}
	for dir := range cs.dirs {
		if err := cs.fs.SyncDir(dir); err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
	}
	if err := cs.fs.SyncDir(filepath.Join(cs.target, "chunks")); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	cs.dirs = map[string]bool{}
	return nil
}

// maxTree and maxStoredChunk bound what is read of a stored tree and a
// stored chunk; anything larger is damaged (a chunk holds at most 4 MiB,
// and zstd never grows it by much).
const (
	maxTree        = 256 << 20
	maxStoredChunk = files.ChunkSize + 1<<20
)

func writeTree(fs fsys.FS, path string, doc treeDoc) (*TreeFile, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	tf := &TreeFile{File: filepath.Base(path), Entries: len(doc.Entries), Hash: treeHash(doc.Entries)}
	for _, e := range doc.Entries {
		if e.Kind == files.KindFile {
			tf.Files++
			tf.Content += e.Size
		}
	}
	stored := chunkEncoder().EncodeAll(raw, nil)
	sum := sha256.Sum256(stored)
	tf.Bytes, tf.SHA256 = int64(len(stored)), hex.EncodeToString(sum[:])
	return tf, fsys.WriteFile(fs, path, stored, fsys.Options{NoDirSync: true})
}

// treeHash identifies a tree's content: paths, kinds and content hashes.
func treeHash(entries []files.TreeEntry) string {
	h := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(h, "%s\x00%s\x00%s\n", e.Path, e.Kind, e.Hash)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkTree checks a stored tree against its checksum.
func checkTree(m Manifest, stored []byte) error {
	sum := sha256.Sum256(stored)
	if int64(len(stored)) != m.Tree.Bytes || hex.EncodeToString(sum[:]) != m.Tree.SHA256 {
		return fmt.Errorf("the tree of snapshot %s does not match its checksum: %w", m.ID, ErrDamaged)
	}
	return nil
}

// readTree reads and checks a snapshot's tree.
func readTree(fs fsys.FS, m Manifest) (treeDoc, error) {
	var doc treeDoc
	if m.Tree == nil {
		return doc, fmt.Errorf("snapshot %s has no tree: %w", m.ID, ErrDamaged)
	}
	stored, err := fsys.ReadFileLimit(fs, filepath.Join(m.Path, m.Tree.File), maxTree)
	if err != nil {
		return doc, fmt.Errorf("the tree of snapshot %s is missing: %w", m.ID, ErrDamaged)
	}
	return decodeTree(m, stored)
}

func decodeTree(m Manifest, stored []byte) (treeDoc, error) {
	var doc treeDoc
	if err := checkTree(m, stored); err != nil {
		return doc, err
	}
	raw, err := chunkDecoder().DecodeAll(stored, nil)
	if err != nil {
		return doc, fmt.Errorf("the tree of snapshot %s cannot be read: %w", m.ID, ErrDamaged)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return doc, fmt.Errorf("the tree of snapshot %s cannot be read: %w", m.ID, ErrDamaged)
	}
	return doc, nil
}

// chunkReader streams a file's content from snapshot chunks, checking
// each against its hash.
type chunkReader struct {
	load   func(id string) ([]byte, error)
	chunks []string
	cur    []byte
	name   string
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if len(r.chunks) == 0 {
			return 0, io.EOF
		}
		data, err := r.load(r.chunks[0])
		if err != nil {
			return 0, fmt.Errorf("%s: %w", r.name, err)
		}
		r.cur, r.chunks = data, r.chunks[1:]
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

func (r *chunkReader) Close() error { return nil }

// loadChunk reads a chunk from the snapshot target, checked.
func loadChunk(fs fsys.FS, target, id string) ([]byte, error) {
	stored, err := fsys.ReadFileLimit(fs, chunkPath(target, id), maxStoredChunk)
	if err != nil {
		return nil, fmt.Errorf("a chunk of the snapshot is missing: %w", ErrDamaged)
	}
	return decodeChunk(id, stored)
}

// isChunkID reports whether id is a hex SHA-256, so that a name taken
// from an archive can never point outside the chunk folders.
func isChunkID(id string) bool {
	if len(id) != 64 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

func decodeChunk(id string, stored []byte) ([]byte, error) {
	data, err := chunkDecoder().DecodeAll(stored, nil)
	if err != nil {
		return nil, fmt.Errorf("a chunk of the snapshot cannot be read: %w", ErrDamaged)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != id {
		return nil, fmt.Errorf("a chunk of the snapshot is damaged: %w", ErrDamaged)
	}
	return data, nil
}

func (s *Service) checkSnapshotChunks(ctx context.Context, m Manifest) error {
	doc, err := readTree(s.fs, m)
	if err != nil {
		return err
	}
	for _, e := range doc.Entries {
		for _, c := range e.Chunks {
			if err := ctx.Err(); err != nil {
				return err
			}
			if _, err := s.fs.Stat(chunkPath(s.snapshotTarget(), c)); err != nil {
				return fmt.Errorf("a chunk of %s in snapshot %s is missing: %w", e.Path, m.ID, ErrDamaged)
			}
		}
	}
	return nil
}

func (s *Service) verifySnapshot(ctx context.Context, m Manifest, _ string) (int, error) {
	doc, err := readTree(s.fs, m)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range doc.Entries {
		for _, c := range e.Chunks {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			if _, err := loadChunk(s.fs, s.snapshotTarget(), c); err != nil {
				return n, fmt.Errorf("%s in snapshot %s: %w", e.Path, m.ID, err)
			}
			n++
		}
	}
	return n, nil
}

func (s *Service) previewSnapshot(ctx context.Context, m Manifest) ([]string, error) {
	doc, err := readTree(s.fs, m)
	if err != nil {
		return nil, err
	}
	master, _ := s.acc.ActAs(ctx, account.MasterAdmin)
	_, cur, err := s.files.TreeOfNodes(ctx, master, m.Item)
	if err != nil {
		return []string{fmt.Sprintf("%s %q no longer exists; restore it as a new %s from this snapshot.", m.ItemKind, m.ItemName, m.ItemKind)}, nil
	}
	var changed, added, removed int
	in := map[string]bool{}
	for _, e := range doc.Entries {
		in[e.Path] = true
		n, ok := cur[e.Path]
		switch {
		case !ok:
			added++
		case e.Kind == files.KindFile && n.Hash != e.Hash:
			changed++
		}
	}
	for p := range cur {
		if !in[p] {
			removed++
		}
	}
	return []string{
		fmt.Sprintf("%s %q goes back to %s.", strings.ToUpper(m.ItemKind[:1])+m.ItemKind[1:], m.ItemName, m.Created.Local().Format("2006-01-02 15:04")),
		changeSummary(changed, added, removed),
		"The current state is saved as a snapshot first.",
	}, nil
}

// changeSummary says in one sentence what a rollback changes.
func changeSummary(changed, added, removed int) string {
	one := func(n int, single, many string) string {
		if n == 1 {
			return single
		}
		return many
	}
	var parts []string
	if changed > 0 {
		parts = append(parts, text.Count(changed, "file")+one(changed, " gets its", " get their")+" earlier content back (as a new version)")
	}
	if added > 0 {
		parts = append(parts, text.Count(added, "item")+one(added, " comes back", " come back"))
	}
	if removed > 0 {
		parts = append(parts, text.Count(removed, "item")+" added since"+one(removed, " is", " are")+" deleted")
	}
	if len(parts) == 0 {
		return "Nothing has changed since the snapshot."
	}
	s := strings.Join(parts, ", ") + "."
	return strings.ToUpper(s[:1]) + s[1:]
}

// RestoreSnapshot rolls an item back to a snapshot in place (asNew "")
// after saving its current state as a snapshot, or creates a new project
// or library named asNew from it. In place needs Modify content and
// Delete content on the item; as new, Modify content on the Projects root.
func (s *Service) RestoreSnapshot(ctx context.Context, actor account.Actor, id, asNew string, prog progress.Func) (Result, error) {
	m, err := s.Get(id)
	if err != nil {
		return Result{}, err
	}
	if m.Level != 1 {
		return Result{}, fmt.Errorf("backup %s is not a project or library snapshot", m.ID)
	}
	return s.restoreSnapshot(ctx, actor, m, asNew, "", prog)
}

func (s *Service) restoreSnapshot(ctx context.Context, actor account.Actor, m Manifest, asNew, _ string, prog progress.Func) (Result, error) {
	res := Result{Backup: m.ID, Scope: ScopeItem}
	doc, err := readTree(s.fs, m)
	if err != nil {
		return res, err
	}
	target := s.snapshotTarget()
	open := func(e files.TreeEntry) (io.ReadCloser, error) {
		return &chunkReader{load: func(id string) ([]byte, error) { return loadChunk(s.fs, target, id) }, chunks: e.Chunks, name: e.Path}, nil
	}
	if err := s.checkSnapshotChunks(ctx, m); err != nil {
		return res, err
	}
	if asNew == "" {
		item, err := s.files.Get(ctx, actor, m.Item)
		if err != nil {
			return res, fmt.Errorf("%s %q no longer exists; restore it as a new %s: %w", m.ItemKind, m.ItemName, m.ItemKind, err)
		}
		if err := s.acc.Check(ctx, actor, item.Item(), account.ModifyContent|account.DeleteContent); err != nil {
			return res, err
		}
		// Save what is there now, so the rollback itself can be undone.
		if _, err := s.Snapshot(ctx, actor, item.ID, nil); err != nil {
			return res, fmt.Errorf("save the current state first: %w", err)
		}
		if err := s.files.PutTree(ctx, actor, item.ID, doc.Entries, true, open, prog); err != nil {
			return res, err
		}
		res.Item = item.Name
	} else {
		kind, err := files.ParseKind(doc.Kind)
		if err != nil || (kind != files.KindProject && kind != files.KindLibrary) {
			kind = files.KindProject
		}
		n, err := s.files.Create(ctx, actor, files.RootID, asNew, kind)
		if err != nil {
			return res, err
		}
		if err := s.files.PutTree(ctx, actor, n.ID, doc.Entries, false, open, prog); err != nil {
			return res, err
		}
		res.Item = n.Name
	}
	s.tell(ctx, notify.RestoreCompleted, notify.Info, fmt.Sprintf("%s %q was restored from the snapshot of %s.",
		strings.ToUpper(m.ItemKind[:1])+m.ItemKind[1:], res.Item, m.Created.Local().Format("2006-01-02 15:04")))
	return res, nil
}

// ExportSnapshot writes a snapshot with every chunk it needs into one
// portable archive file (tar), atomically. An existing dest is refused
// unless force says to replace it.
func (s *Service) ExportSnapshot(ctx context.Context, actor account.Actor, id, dest string, force bool) error {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.View); err != nil {
		return err
	}
	m, err := s.Get(id)
	if err != nil {
		return err
	}
	if m.Level != 1 {
		return fmt.Errorf("backup %s is not a project or library snapshot; only snapshots export to one file", m.ID)
	}
	doc, err := readTree(s.fs, m)
	if err != nil {
		return err
	}
	f, err := fsys.Create(s.fs, dest, fsys.Options{NoReplace: !force, Perm: 0o644})
	if errors.Is(err, fsys.ErrExists) {
		return fmt.Errorf("%s already exists; choose another file name or replace it (--force)", dest)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	defer f.Abort()
	tw := tar.NewWriter(f)
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: m.Created}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	mb, _ := json.MarshalIndent(m, "", "  ")
	if err := add(manifestName, mb); err != nil {
		return err
	}
	tree, err := fsys.ReadFileLimit(s.fs, filepath.Join(m.Path, m.Tree.File), maxTree)
	if err != nil {
		return fmt.Errorf("the tree of snapshot %s is missing: %w", m.ID, ErrDamaged)
	}
	if err := add(m.Tree.File, tree); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, e := range doc.Entries {
		for _, c := range e.Chunks {
			if seen[c] {
				continue
			}
			seen[c] = true
			if err := ctx.Err(); err != nil {
				return err
			}
			stored, err := fsys.ReadFileLimit(s.fs, chunkPath(s.snapshotTarget(), c), maxStoredChunk)
			if err != nil {
				return fmt.Errorf("a chunk of snapshot %s is missing: %w", m.ID, ErrDamaged)
			}
			if err := add("chunks/"+c+".zst", stored); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	if err := f.Commit(); err != nil {
		if errors.Is(err, fsys.ErrExists) {
			return fmt.Errorf("%s appeared while the snapshot was exported; nothing was replaced", dest)
		}
		return fmt.Errorf("write %s: %w", dest, err)
	}
	return nil
}

// ImportSnapshot creates a new project or library from a portable archive
// made by ExportSnapshot (on this Plinth or another), named asNew or as in
// the archive. It needs Modify content on the Projects root.
func (s *Service) ImportSnapshot(ctx context.Context, actor account.Actor, archive, asNew string, prog progress.Func) (Result, error) {
	f, err := s.fs.Open(archive)
	if err != nil {
		return Result{}, fmt.Errorf("cannot read %s: %w", archive, err)
	}
	defer f.Close()
	// Chunks go straight into this Plinth's snapshot target, each checked
	// against its hash as it arrives, so an archive of any size needs no
	// more memory than one chunk. Chunks of a failed import are removed
	// by the next prune, like any chunk no snapshot uses.
	var m Manifest
	var tree []byte
	r, err := openRepo(ctx, s.fs, s.snapshotTarget())
	if err != nil {
		return Result{}, err
	}
	defer r.close()
	cs := newChunkStore(s.fs, s.snapshotTarget())
	notArchive := fmt.Errorf("%s is not a Plinth snapshot archive: %w", archive, ErrDamaged)
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Result{}, notArchive
		}
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, io.LimitReader(tr, 64<<20)); err != nil {
			return Result{}, fmt.Errorf("%s cannot be read to the end: %w", archive, ErrDamaged)
		}
		switch {
		case h.Name == manifestName:
			if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
				return Result{}, fmt.Errorf("the manifest in %s cannot be read: %w", archive, ErrDamaged)
			}
		case strings.HasPrefix(h.Name, "chunks/"):
			id := strings.TrimSuffix(strings.TrimPrefix(h.Name, "chunks/"), ".zst")
			if !isChunkID(id) {
				return Result{}, notArchive
			}
			// Checked even when this Plinth has the chunk: a damaged
			// archive is refused, whatever it would have been used for.
			if _, err := decodeChunk(id, buf.Bytes()); err != nil {
				return Result{}, fmt.Errorf("%s: %w", archive, err)
			}
			if cs.has(id) {
				continue
			}
			if err := cs.put(id, buf.Bytes()); err != nil {
				return Result{}, err
			}
		default:
			tree = buf.Bytes()
		}
	}
	cs.sync()
	if m.Format != formatV2 || m.Level != 1 || m.Tree == nil {
		return Result{}, notArchive
	}
	doc, err := decodeTree(m, tree)
	if err != nil {
		return Result{}, err
	}
	name := asNew
	if name == "" {
		name = doc.Name
	}
	kind, err := files.ParseKind(doc.Kind)
	if err != nil || (kind != files.KindProject && kind != files.KindLibrary) {
		kind = files.KindProject
	}
	// Every chunk must be there before anything is created.
	for _, e := range doc.Entries {
		for _, c := range e.Chunks {
			if !isChunkID(c) || !cs.has(c) {
				return Result{}, fmt.Errorf("%s in %s: a chunk is missing from the archive: %w", e.Path, archive, ErrDamaged)
			}
		}
	}
	target := s.snapshotTarget()
	open := func(e files.TreeEntry) (io.ReadCloser, error) {
		return &chunkReader{load: func(id string) ([]byte, error) { return loadChunk(s.fs, target, id) }, chunks: e.Chunks, name: e.Path}, nil
	}
	n, err := s.files.Create(ctx, actor, files.RootID, name, kind)
	if err != nil {
		return Result{}, err
	}
	if err := s.files.PutTree(ctx, actor, n.ID, doc.Entries, false, open, prog); err != nil {
		return Result{}, err
	}
	return Result{Backup: m.ID, Scope: ScopeItem, Item: n.Name}, nil
}

// pruneSnapshots keeps each item's last N snapshots (N from its schedule)
// and removes chunks no remaining snapshot uses.
func (s *Service) pruneSnapshots(ctx context.Context) ([]Manifest, error) {
	r, err := openRepo(ctx, s.fs, s.snapshotTarget())
	if err != nil {
		return nil, err
	}
	defer r.close()
	all, err := s.Snapshots("")
	if err != nil {
		return nil, err
	}
	byItem := map[string][]Manifest{}
	for _, m := range all {
		byItem[m.Item] = append(byItem[m.Item], m)
	}
	var gone []Manifest
	used := map[string]bool{}
	for item, ms := range byItem {
		keepN := DefaultSnapSchedule.Keep
		if c, _, err := s.SnapshotSchedule(ctx, item); err == nil && c.Keep > 0 {
			keepN = c.Keep
		}
		for i, m := range ms { // newest first
			if i < keepN {
				if doc, err := readTree(s.fs, m); err == nil {
					for _, e := range doc.Entries {
						for _, c := range e.Chunks {
							used[c] = true
						}
					}
				} else {
					return gone, err // never delete chunks on a tree we cannot read
				}
				continue
			}
			ir := &repo{fs: s.fs, dir: filepath.Dir(m.Path)}
			if err := ir.remove(m); err != nil {
				return gone, err
			}
			gone = append(gone, m)
		}
	}
	if len(gone) == 0 {
		return nil, nil
	}
	err = filepath.WalkDir(filepath.Join(r.dir, "chunks"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		id := strings.TrimSuffix(d.Name(), ".zst")
		if !used[id] && !strings.HasSuffix(d.Name(), ".tmp") {
			_ = os.Remove(p)
		}
		return nil
	})
	return gone, err
}

// DueSnapshots takes the snapshots whose time has come: hourly items whose
// newest snapshot is an hour old or more, daily items that passed their
// time of day since their newest one. The scheduler runs it every 15
// minutes, so missed hours are caught up on start.
func (s *Service) DueSnapshots(ctx context.Context) (int, error) {
	master, err := s.acc.ActAs(ctx, account.MasterAdmin)
	if err != nil {
		return 0, err
	}
	items, err := s.files.Items(ctx)
	if err != nil {
		return 0, err
	}
	now := s.now()
	taken := 0
	var errs []error
	for _, it := range items {
		c, _, err := s.SnapshotSchedule(ctx, it.ID)
		if err != nil || c.Mode == "none" {
			continue
		}
		last := time.Time{}
		if ms, err := s.Snapshots(it.ID); err == nil && len(ms) > 0 {
			last = ms[0].Created
		}
		due := false
		switch c.Mode {
		case "hourly":
			due = now.Sub(last) >= time.Hour-time.Minute
		case "daily":
			at := time.Date(now.Year(), now.Month(), now.Day(), c.Hour, c.Minute, 0, 0, now.Location())
			if at.After(now) {
				at = at.AddDate(0, 0, -1)
			}
			due = last.Before(at)
		}
		if !due {
			continue
		}
		if _, err := s.Snapshot(ctx, master, it.ID, nil); err != nil {
			errs = append(errs, err)
			continue
		}
		taken++
	}
	if taken > 0 {
		if _, err := s.pruneSnapshots(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return taken, errors.Join(errs...)
}
