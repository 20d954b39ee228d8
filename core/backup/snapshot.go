package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// Level 1: project and library snapshots. The snapshot target holds
//
//	format.json                      the target's format (snaprepo.go): 3
//	packs/<random>.pack              the content chunks, each once,
//	                                 compressed (and encrypted: snapcodec.go),
//	                                 packed up to 32 MiB a file, each pack
//	                                 ending with its index (snappack.go)
//	chunks/<aa>/<sha-256>.zst        chunks as formats 1 and 2 stored them,
//	                                 one file each (.<tag>.age when
//	                                 encrypted); read, never written now
//	items/<item id>/<snapshot id>/   manifest.json, the tree and the chunk
//	                                 index (snaptree.go)
//	keys/<recipient>.age             the key of encrypted snapshots
//
// A snapshot's tree lists the item's folders and files with the chunks of
// each file's current version. Chunks already in the target (in a pack or
// loose) are not written again, so a snapshot of an unchanged project
// costs its tree; the new ones are appended to packs, each pack fsynced
// once, and the snapshot's manifest is written only after its packs and
// their folder are durable. A chunk is reused only when the size it has
// as stored is the one recorded when it was written (or, with no record,
// when it decodes to its hash), so a loose chunk cut short by a full disk
// is written again, and so is one whose pack's index is damaged (a pack
// itself is never half there: it is renamed into place whole).
//
// Snapshots are taken on the schedule (TriggerSchedule), by hand
// (TriggerManual), or by a rollback or item restore to save the state it
// replaces (TriggerSafety); see pruneSnapshots for how long each is kept.

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
	if err := s.checkSnapshotRepo(s.snapshotTarget(), false); err != nil {
		return nil, err
	}
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
	sortNewestFirst(out)
	return out, nil
}

// Why a snapshot was taken (Manifest.Trigger).
const (
	TriggerSchedule = "schedule" // by the schedule (snapshots taken before triggers existed count as these)
	TriggerManual   = "manual"   // by hand: Snapshot now, backup --level 1
	TriggerSafety   = "safety"   // by a rollback or item restore, of the state it replaces
)

// Snapshot takes a level-1 snapshot of a project or library (or folder)
// by hand. It needs Modify content on the item. Snapshots taken by hand
// do not count against the schedule's Keep last N (see pruneSnapshots).
func (s *Service) Snapshot(ctx context.Context, actor account.Actor, itemID string, prog progress.Func) (Manifest, error) {
	m, err := s.snapshot(ctx, actor, itemID, TriggerManual, prog)
	if err == nil {
		s.copySnapshotsAfter(ctx, prog)
	}
	return m, err
}

// copySnapshotsAfter copies the snapshots just taken to the snapshot copy
// target, if there is one. The snapshots are fine whatever happens to
// their copy: a failure is in History and told once (copySnapshot), and
// the hourly run tries again.
func (s *Service) copySnapshotsAfter(ctx context.Context, prog progress.Func) {
	if _, err := s.copySnapshots(ctx, prog); err != nil {
		s.log.Warn("copy snapshots", "err", err)
	}
}

func (s *Service) snapshot(ctx context.Context, actor account.Actor, itemID, trigger string, prog progress.Func) (m Manifest, err error) {
	// Permission first: a refusal is not a failed backup to tell anyone about.
	node, err := s.files.Get(ctx, actor, itemID)
	if err != nil {
		return Manifest{}, err
	}
	if err := s.acc.Check(ctx, actor, node.Item(), account.ModifyContent); err != nil {
		return Manifest{}, err
	}
	start := s.now()
	rec := Record{ID: newID(start), Level: 1, Type: TypeSnapshot, Item: node.Name, Started: start.UTC()}
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
	cfg, err := s.Level2()
	if err != nil {
		return Manifest{}, err
	}
	cd, err := sealingCodec(cfg.Recipient)
	if err != nil {
		return Manifest{}, err
	}
	target := s.snapshotTarget()
	r, err := openRepo(ctx, s.fs, target)
	if err != nil {
		return Manifest{}, err
	}
	defer r.close()
	if err := s.checkSnapshotRepo(target, true); err != nil {
		return Manifest{}, err
	}
	if cd.encrypted() {
		if err := s.placeKey(target, cd.recipient); err != nil {
			return Manifest{}, err
		}
	}
	// The item's tree as the manager has it and, on the other core, the
	// target's packs and what the item's last snapshot left: neither
	// waits for the other.
	type packsAndLast struct {
		ps   *packSet
		last reused
		ok   bool
		err  error
	}
	loaded := make(chan packsAndLast, 1)
	go func() {
		var l packsAndLast
		if l.ps, l.err = s.packsOf(target); l.err == nil {
			l.last, l.ok = s.lastSnapshot(target, cd.recipient, itemID)
		}
		loaded <- l
	}()
	item, tree, err := s.files.TreeShape(ctx, actor, itemID)
	l := <-loaded
	if err != nil {
		return Manifest{}, err
	}
	rec.Item = item.Name
	if l.err != nil {
		return Manifest{}, l.err
	}
	cs := newChunkStore(s.fs, target, cd.recipient, l.ps)
	// An unchanged item takes over the tree and chunk index of its last
	// snapshot, as the manager remembers them (snapreuse.go). Otherwise
	// the tree is made from the live stores, never taken from the target,
	// and chunks the target has are reused when they check out against
	// the sizes the item's newest snapshot recorded (or, with no record,
	// as chunkSound says). Chunks come first: a snapshot appears only when
	// everything it needs is there.
	shape := shapeHash(item, tree)
	mgr, server := s.files.Stores()
	gen := serverGeneration(server.Identity())
	last := l.last
	same := l.ok && last.shape == shape && last.server == gen && cs.keepAll(last.chunks)
	var want map[string]int64 // chunk → length
	var check []string
	need := int64(1 << 20) // tree and index
	if !same {
		recorded := map[string]int64{}
		if prev, err := s.Snapshots(item.ID); err == nil && len(prev) > 0 && prev[0].Recipient == cd.recipient {
			if idx, ok, err := s.readIndex(prev[0]); err == nil && ok {
				recorded = idx.Chunks
			}
		}
		if err := s.files.FillChunks(tree, nil); err != nil {
			return Manifest{}, err
		}
		if want, err = chunkLengths(tree); err != nil {
			return Manifest{}, fmt.Errorf("the file server's record of %s: %w", item.Name, err)
		}
		// A chunk the previous snapshot recorded, with that size on disk, is
		// reused as it is; every other one is checked or written.
		for _, id := range sortedIDs(want) {
			if n, ok := recorded[id]; ok {
				if size, ok := cs.size(id); ok && size == n {
					cs.keep(id, n)
					continue
				}
			}
			check = append(check, id)
			need += want[id]
		}
	}
	if err := storage.NeedSpace(target, need, "the snapshot of "+item.Name); err != nil {
		return Manifest{}, err
	}
	committed := false
	defer func() {
		if !committed {
			cs.discard()
		}
	}()
	others := sync.OnceValue(func() map[string]int64 { return s.recordedSizes(cd.recipient) })
	// Several workers: reading from the packs, compressing, writing and
	// waiting for fsync overlap.
	work := make(chan string)
	errc := make(chan error, snapshotWorkers)
	var done atomic.Int64
	for range snapshotWorkers {
		go func() {
			var first error
			for id := range work {
				if first != nil {
					continue
				}
				if first = s.storeChunk(cs, cd, id, want[id], others); first == nil {
					prog.Send(progress.Report{Phase: "Snapshot of " + item.Name, Done: done.Add(1), Total: int64(len(check)), Unit: "file"})
				}
			}
			errc <- first
		}()
	}
	for _, id := range check {
		if ctx.Err() != nil {
			break
		}
		work <- id
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
	n := len(want)
	if same {
		n = len(last.chunks)
	}
	if len(cs.sizes) != n {
		return Manifest{}, fmt.Errorf("snapshot of %s: %d of %d chunks stored", item.Name, len(cs.sizes), n)
	}
	itemDir := filepath.Join(r.dir, "items", item.ID)
	if err := s.fs.MkdirAll(itemDir, 0o700); err != nil {
		return Manifest{}, fmt.Errorf("write snapshot: %w", err)
	}
	ir := &repo{fs: s.fs, dir: itemDir}
	tmp, err := ir.begin()
	if err != nil {
		return Manifest{}, fmt.Errorf("write snapshot: %w", err)
	}
	defer s.fs.RemoveAll(tmp)
	m = Manifest{Format: upgrade.Manifest, Writer: s.Version, ID: rec.ID, Level: 1, Type: TypeSnapshot, Plinth: mgr.Identity().ID, Created: start.UTC(),
		By: actor.Name(), Recipient: cd.recipient, Item: item.ID, ItemName: item.Name, ItemKind: item.Kind.String(), Trigger: trigger}
	var tf *TreeFile
	if same {
		tf = &last.tf
		err = fsys.WriteFile(s.fs, filepath.Join(tmp, tf.File), last.tree, fsys.Options{NoDirSync: true})
		if err == nil {
			err = fsys.WriteFile(s.fs, filepath.Join(tmp, tf.Index), last.index, fsys.Options{NoDirSync: true})
		}
	} else {
		tf, err = writeTree(s.fs, cd, tmp, treeDoc{Item: item.ID, Kind: item.Kind.String(), Name: item.Name, Entries: tree})
		if err == nil {
			err = writeIndex(s.fs, tmp, chunkIndex{Recipient: cd.recipient, Chunks: cs.sizes}, tf)
		}
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("write snapshot: %w", err)
	}
	m.Tree = tf
	m.Added = tf.Bytes + tf.IndexBytes + cs.added.Load()
	m.Seconds = s.now().Sub(start).Seconds()
	if err := ir.commit(tmp, &m); err != nil {
		// After the rename the snapshot is there, and needs its chunks.
		if _, serr := s.fs.Stat(filepath.Join(itemDir, m.ID)); serr == nil {
			committed = true
		}
		return Manifest{}, err
	}
	committed = true
	s.rememberSnapshot(item.ID, lastSnap{Snapshot: m.ID, Target: target, Recipient: cd.recipient, Shape: shape, Server: gen, Tree: *tf})
	return m, nil
}

// readBufs hold a chunk read from the file server for storeChunk: a
// first snapshot reads every chunk, and a new 4 MiB slice for each was 5 %
// of its CPU (clearing it) and most of its garbage.
var readBufs = sync.Pool{New: func() any { b := make([]byte, files.ChunkSize); return &b }}

// snapshotWorkers copy chunks at once: reading from the file server,
// compressing (or encrypting) on both cores, and the fsync of a full pack
// overlap.
var snapshotWorkers = 4

// storeChunk makes sure chunk id is in the snapshot target, sound: one
// that is there and checks out stays, anything else is (re)written from
// the file server.
func (s *Service) storeChunk(cs *chunkStore, cd *codec, id string, want int64, others func() map[string]int64) error {
	if size, ok := cs.size(id); ok && s.chunkSound(cs, id, size, want, others) {
		cs.keep(id, size)
		return nil
	}
	buf := readBufs.Get().(*[]byte)
	defer readBufs.Put(buf)
	data, err := s.files.ReadChunkInto(id, *buf)
	if err != nil {
		return err
	}
	stored, err := cd.sealChunk(data)
	if err != nil {
		return err
	}
	err = cs.put(id, stored, int64(len(data)))
	cd.freeSealed(stored)
	return err
}

// chunkSound says whether a chunk already in the target, of which the
// previous snapshot has no record, may be reused: a plain one when it
// decodes to its hash; an encrypted one (which cannot be opened without
// the passphrase) when another snapshot recorded it with the size it has.
func (s *Service) chunkSound(cs *chunkStore, id string, size, want int64, others func() map[string]int64) bool {
	if cs.recipient == "" {
		stored, err := cs.stored(id)
		if err != nil {
			return false
		}
		_, err = plain.openChunk(id, stored, want)
		return err == nil
	}
	n, ok := others()[id]
	return ok && n == size
}

// recordedSizes gathers the stored sizes every readable snapshot of the
// target recorded for chunks encrypted to recipient.
func (s *Service) recordedSizes(recipient string) map[string]int64 {
	out := map[string]int64{}
	all, err := s.Snapshots("")
	if err != nil {
		return out
	}
	for _, m := range all {
		if m.Recipient != recipient {
			continue
		}
		if idx, ok, err := s.readIndex(m); err == nil && ok {
			for id, n := range idx.Chunks {
				out[id] = n
			}
		}
	}
	return out
}

// chunkStore writes chunks into a snapshot target for one recipient,
// appending them to packs (snappack.go), records the stored size of every
// chunk the snapshot needs, counts the bytes it adds, and syncs the packs
// folder, once, before the snapshot that needs them is committed. A
// snapshot that fails removes the packs it created (discard).
type chunkStore struct {
	fs        fsys.FS
	target    string
	recipient string
	ps        *packSet
	added     atomic.Int64
	mu        sync.Mutex
	cur       *packWriter // the pack being filled
	created   []string    // packs committed
	newDir    bool        // the packs folder was created
	sizes     map[string]int64
	failed    error
}

func newChunkStore(fs fsys.FS, target, recipient string, ps *packSet) *chunkStore {
	return &chunkStore{fs: fsys.Or(fs), target: target, recipient: recipient, ps: ps, sizes: map[string]int64{}}
}

func (cs *chunkStore) packDir() string { return filepath.Join(cs.target, packsDir) }

// size is the size chunk id has as stored, if it is there.
func (cs *chunkStore) size(id string) (int64, bool) {
	return storedSize(cs.fs, cs.target, cs.ps, id, cs.recipient)
}

// stored reads chunk id as stored.
func (cs *chunkStore) stored(id string) ([]byte, error) {
	b, _, err := storedChunk(cs.fs, cs.target, cs.ps, id, cs.recipient)
	return b, err
}

// keep records a chunk that is reused as it is.
func (cs *chunkStore) keep(id string, size int64) {
	cs.mu.Lock()
	cs.sizes[id] = size
	cs.mu.Unlock()
}

// put appends a chunk, as sealed and raw bytes long when opened, to the
// current pack; a pack that is full is committed.
func (cs *chunkStore) put(id string, stored []byte, raw int64) error {
	cs.mu.Lock()
	if cs.failed != nil {
		cs.mu.Unlock()
		return cs.failed
	}
	if cs.cur == nil {
		if _, err := cs.fs.Stat(cs.packDir()); err != nil {
			if err := cs.fs.MkdirAll(cs.packDir(), 0o700); err != nil {
				cs.mu.Unlock()
				return fmt.Errorf("write snapshot: %w", err)
			}
			cs.newDir = true
		}
		w, err := newPackWriter(cs.fs, cs.packDir(), cs.recipient)
		if err != nil {
			cs.mu.Unlock()
			return fmt.Errorf("write snapshot: %w", err)
		}
		cs.cur = w
	}
	w := cs.cur
	if err := w.add(id, stored, raw); err != nil {
		cs.failed = fmt.Errorf("write snapshot: %w", err)
		cs.mu.Unlock()
		return cs.failed
	}
	cs.added.Add(int64(len(stored)))
	cs.sizes[id] = int64(len(stored))
	if !w.full() {
		cs.mu.Unlock()
		return nil
	}
	cs.cur = nil
	cs.mu.Unlock()
	// Committed outside the lock: the others go on filling the next.
	return cs.commit(w)
}

// commit closes pack w and makes it known.
func (cs *chunkStore) commit(w *packWriter) error {
	size, err := w.commit()
	if err != nil {
		err = fmt.Errorf("write snapshot: %w", err)
		cs.mu.Lock()
		if cs.failed == nil {
			cs.failed = err
		}
		cs.mu.Unlock()
		return err
	}
	cs.mu.Lock()
	cs.created = append(cs.created, w.name)
	cs.mu.Unlock()
	cs.ps.add(w.name, size, w.tag, w.entries)
	return nil
}

// sync commits the pack being filled and makes the packs durable.
func (cs *chunkStore) sync() error {
	cs.mu.Lock()
	w := cs.cur
	cs.cur = nil
	failed := cs.failed
	cs.mu.Unlock()
	if failed != nil {
		if w != nil {
			w.abort()
		}
		return failed
	}
	if w != nil {
		if err := cs.commit(w); err != nil {
			return err
		}
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if len(cs.created) == 0 {
		return nil
	}
	if err := cs.fs.SyncDir(cs.packDir()); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if cs.newDir {
		if err := cs.fs.SyncDir(cs.target); err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
		cs.newDir = false
	}
	return nil
}

// discard removes the packs this store created: no snapshot uses them.
// What cannot be removed now, prune removes later.
func (cs *chunkStore) discard() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.cur != nil {
		cs.cur.abort()
		cs.cur = nil
	}
	for _, name := range cs.created {
		if err := cs.fs.Remove(filepath.Join(cs.packDir(), name)); err == nil {
			cs.ps.drop(name)
		}
	}
	cs.created = nil
}

// DueSnapshots takes the snapshots whose time has come: hourly items whose
// newest scheduled snapshot is an hour old or more, daily items that
// passed their time of day since their newest scheduled one (snapshots
// taken by hand do not put the schedule off). The scheduler runs it every
// 15 minutes, so missed hours are caught up on start.
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
		if ms, err := s.Snapshots(it.ID); err == nil {
			for _, m := range ms {
				if scheduled(m) {
					last = m.Created
					break
				}
			}
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
		if _, err := s.snapshot(ctx, master, it.ID, TriggerSchedule, nil); err != nil {
			errs = append(errs, err)
			continue
		}
		taken++
	}
	if taken > 0 {
		s.copySnapshotsAfter(ctx, nil)
		if _, err := s.pruneSnapshots(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return taken, errors.Join(errs...)
}
