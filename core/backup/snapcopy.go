package backup

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/backup/target"
	"codeberg.org/plinth/plinth/core/names"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// Level-1 snapshots are copied, after they are taken, to the target
// Level1Settings.CopyTo names (a bucket off site, or another folder), the
// way full backups are (copy.go): the local snapshot folder stays what
// snapshots are taken into, fast, and the copy follows. In the target,
// under snapPrefix, the layout is the snapshot folder's own:
//
//	snapshots/format.json
//	snapshots/keys/<recipient>.age
//	snapshots/chunks/<aa>/<chunk file>        one object per chunk, as sealed
//	                                          here (in a pack or loose)
//	snapshots/items/<item>/<snapshot>/        tree, chunk index, manifest
//
// A copy puts the format and key files if missing, every chunk the
// snapshot needs that the target does not have with its size (one listing
// of the chunks per run, not a request per chunk), the tree and the index,
// and the manifest last: the target never lists a snapshot that is not
// whole there. Everything uploaded is read back and checked against its
// SHA-256. A copy cut off goes on where it stopped: the chunks there are
// not sent again.

// snapPrefix is where snapshots lie in a target, beside full backups.
const snapPrefix = "snapshots/"

// snapCopyLevel marks snapshot copies and the pruning of their target as
// running (see begin): a sweep of the target's chunks must never meet a
// copy whose manifest is not there yet.
const snapCopyLevel = 103

func snapItemKey(item, id string) string { return snapPrefix + "items/" + item + "/" + id + "/" }

func snapChunkKey(id, recipient string) string {
	return snapPrefix + "chunks/" + id[:2] + "/" + chunkName(id, recipient)
}

func snapKeyKey(recipient string) string { return snapPrefix + keysDir + "/" + recipient + ".age" }

// snapTarget is the copy target of a run of snapshot copies, with what
// its chunk folder holds (key → size), listed once.
type snapTarget struct {
	name   string
	c      TargetConfig
	t      target.Target
	chunks map[string]int64
	told   bool // a failure was told in this run
}

func (s *Service) openSnapTarget(name string) (*snapTarget, error) {
	c, t, err := s.OpenTarget(name)
	if err != nil {
		return nil, err
	}
	return &snapTarget{name: name, c: c, t: t}, nil
}

// listChunks lists the chunks in the target once per run.
func (x *snapTarget) listChunks(ctx context.Context) error {
	if x.chunks != nil {
		return nil
	}
	objs, err := x.t.List(ctx, snapPrefix+"chunks/")
	if err != nil {
		return err
	}
	x.chunks = make(map[string]int64, len(objs))
	for _, o := range objs {
		x.chunks[o.Key] = o.Size
	}
	return nil
}

// CopySnapshots copies every snapshot not yet in the snapshot copy target
// (Level1Settings.CopyTo) there now, oldest first. It needs Modify
// content on the Servers page.
func (s *Service) CopySnapshots(ctx context.Context, actor account.Actor, prog progress.Func) ([]CopyState, error) {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyContent); err != nil {
		return nil, err
	}
	return s.copySnapshots(ctx, prog)
}

// copySnapshots copies the snapshots whose copy is not there yet: the one
// just taken, and any whose copy was interrupted or failed. Finding there
// is nothing to copy costs no request to the target. It stops at the
// first failure, which is said once (copySnapshot).
func (s *Service) copySnapshots(ctx context.Context, prog progress.Func) ([]CopyState, error) {
	cfg, err := s.Level1()
	if err != nil || cfg.CopyTo == "" {
		return nil, err
	}
	all, err := s.Snapshots("")
	if err != nil {
		return nil, err
	}
	var todo []Manifest
	for i := len(all) - 1; i >= 0; i-- {
		if r, ok := s.lookupRecord(all[i].ID); ok && copyOf(r, cfg.CopyTo).State == CopyCopied {
			continue
		}
		todo = append(todo, all[i])
	}
	if len(todo) == 0 {
		return nil, nil
	}
	end, err := s.begin(snapCopyLevel)
	if err != nil {
		return nil, nil // the running copy takes them
	}
	defer end()
	x, err := s.openSnapTarget(cfg.CopyTo)
	if err != nil {
		return nil, err
	}
	var out []CopyState
	var first error
	for _, m := range todo {
		st, err := s.copySnapshot(ctx, m, x, prog)
		out = append(out, st)
		if err == nil {
			continue
		}
		if isOffline(err) || ctx.Err() != nil {
			return out, err // the next run tries again
		}
		// This snapshot's own trouble (one taken before the passphrase,
		// one damaged here): the others are copied all the same.
		first = cmp.Or(first, err)
	}
	return out, first
}

// snapRecord is the History record a snapshot's copy state goes into when
// it has none (a snapshot fetched from a target).
func snapRecord(m Manifest) Record {
	return Record{ID: m.ID, Level: 1, Type: TypeSnapshot, Item: m.ItemName, Started: m.Created, Finished: m.Created, OK: true, Bytes: m.Bytes()}
}

// copySnapshot copies one snapshot to the target and keeps its state in
// History; a failure is told once (the hourly retry of the same failure
// stays quiet).
func (s *Service) copySnapshot(ctx context.Context, m Manifest, x *snapTarget, prog progress.Func) (st CopyState, err error) {
	st = CopyState{Target: x.name, State: CopyCopying, Started: s.now().UTC()}
	def := snapRecord(m)
	defer func() {
		st.Finished = s.now().UTC()
		if err != nil {
			if ctx.Err() != nil {
				st.Error = "stopped before it finished; it continues within the hour"
				s.setCopyIn(def, st)
				return
			}
			st.State, st.Error = CopyFailed, err.Error()
			r, _ := s.lookupRecord(m.ID)
			before := copyOf(r, x.name)
			s.setCopyIn(def, st)
			if (before.State == CopyFailed && before.Error == st.Error) || x.told {
				return // said already: the hourly retry, or another snapshot of this run
			}
			x.told = true
			s.tell(ctx, notify.BackupFailed, notify.Error, fmt.Sprintf("The copy of snapshot %s of %s to %s failed: %s. The snapshot itself is fine; Plinth tries again within the hour.", m.ID, m.ItemName, x.name, err))
			return
		}
		st.State, st.Checked = CopyCopied, true
		s.setCopyIn(def, st)
	}()
	if x.c.Offsite() && !m.Encrypted() {
		return st, fmt.Errorf("snapshot %s of %s was taken before a backup passphrase was set; take a new snapshot to copy it off site", m.ID, m.ItemName)
	}
	if err := checkTreeFile(m); err != nil {
		return st, err
	}
	chunks, err := s.chunksOf(m)
	if err != nil {
		return st, err
	}
	local := s.snapshotTarget()
	ps, err := s.packsOf(local)
	if err != nil {
		return st, err
	}
	for id, n := range chunks {
		if n < 0 { // no index (an old snapshot): the size on disk
			size, ok := storedSize(s.fs, local, ps, id, m.Recipient)
			if !ok {
				return st, refusal(ErrDamaged, "chunk %.12s of snapshot %s is missing", id, m.ID)
			}
			chunks[id] = size
		}
	}
	manifest, err := fsys.ReadFileLimit(s.fs, filepath.Join(m.Path, manifestName), maxManifest)
	if err != nil {
		return st, fmt.Errorf("read the manifest of snapshot %s: %w", m.ID, err)
	}
	base := snapItemKey(m.Item, m.ID)
	for _, n := range chunks {
		st.Total += n
	}
	st.Total += m.Tree.Bytes + m.Tree.IndexBytes + int64(len(manifest))
	if _, err := x.t.Stat(ctx, base+manifestName); err == nil {
		st.Done = st.Total // copied before; History did not hear of it
		st.LockedUntil, st.ChunksLockedUntil = s.snapLocks(m, x.c)
		return st, nil
	} else if !errors.Is(err, target.ErrNotFound) {
		return st, err
	}
	s.setCopyIn(def, st)
	var opt target.PutOptions
	lockUntil, chunkUntil := s.snapLocks(m, x.c)
	if !lockUntil.IsZero() {
		opt.Retain = target.Retention{Mode: x.c.LockMode, Until: lockUntil}
	}
	if err := s.putSnapRepoFiles(ctx, m, x); err != nil {
		return st, err
	}
	if err := x.listChunks(ctx); err != nil {
		return st, err
	}
	phase := fmt.Sprintf("Copying snapshot %s of %s to %s", m.ID, m.ItemName, x.name)
	chunkOpt := opt
	if !chunkUntil.IsZero() {
		chunkOpt.Retain.Until = chunkUntil
	}
	var reused, send []string
	for _, id := range sortedIDs(chunks) {
		key := snapChunkKey(id, m.Recipient)
		if n, ok := x.chunks[key]; ok && n == chunks[id] {
			reused = append(reused, key)
			st.Done += n
			continue
		}
		send = append(send, id)
	}
	// Several chunks go up at once: each is a request and its read-back,
	// and a first copy of a project is thousands of them.
	var (
		mu    sync.Mutex // st, x.chunks, last, first
		first error
		next  atomic.Int64
		wg    sync.WaitGroup
	)
	last := time.Now()
	for range snapCopyWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(send) || ctx.Err() != nil {
					return
				}
				id := send[i]
				key := snapChunkKey(id, m.Recipient)
				stored, _, err := storedChunk(s.fs, local, ps, id, m.Recipient)
				if err != nil || int64(len(stored)) != chunks[id] {
					err = refusal(ErrDamaged, "chunk %.12s of snapshot %s is missing here or not the size it was written with", id, m.ID)
				} else {
					err = putChecked(ctx, x.t, key, stored, chunkOpt)
				}
				mu.Lock()
				if err != nil {
					first = cmp.Or(first, err)
					next.Store(int64(len(send))) // the others stop
					mu.Unlock()
					return
				}
				x.chunks[key] = int64(len(stored))
				st.Done += int64(len(stored))
				prog.Send(progress.Report{Phase: phase, Done: st.Done, Total: st.Total, Bytes: true})
				if time.Since(last) > time.Second {
					s.setCopyIn(def, st)
					last = time.Now()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first != nil {
		return st, first
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if !chunkUntil.IsZero() {
		if err := s.lockChunks(ctx, m, x, reused, chunkUntil); err != nil {
			return st, err
		}
	}
	for _, f := range []struct {
		name string
		size int64
		sum  string
	}{{m.Tree.File, m.Tree.Bytes, m.Tree.SHA256}, {m.Tree.Index, m.Tree.IndexBytes, m.Tree.IndexSHA256}} {
		if f.name == "" {
			continue
		}
		b, err := fsys.ReadFileLimit(s.fs, filepath.Join(m.Path, f.name), maxTree)
		if err != nil || checkSum(ctx, bytes.NewReader(b), f.size, f.sum, f.name+" of snapshot "+m.ID) != nil {
			return st, refusal(ErrDamaged, "%s of snapshot %s is missing here or does not match its checksum", f.name, m.ID)
		}
		if err := putChecked(ctx, x.t, base+f.name, b, opt); err != nil {
			return st, err
		}
		st.Done += f.size
	}
	if err := putChecked(ctx, x.t, base+manifestName, manifest, opt); err != nil {
		return st, err
	}
	st.Done = st.Total
	st.LockedUntil, st.ChunksLockedUntil = lockUntil, chunkUntil
	s.log.Info("snapshot copied", "id", m.ID, "item", m.ItemName, "to", x.name)
	return st, nil
}

// snapCopyWorkers send chunks of a snapshot copy at once.
const snapCopyWorkers = 4

// putChecked uploads b under key, reads it back and compares it with b's
// SHA-256.
func putChecked(ctx context.Context, t target.Target, key string, b []byte, opt target.PutOptions) error {
	if _, err := t.Put(ctx, key, bytes.NewReader(b), int64(len(b)), opt); err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	if err := checkThere(ctx, t, key, file{rel: key, size: int64(len(b)), sum: hex.EncodeToString(sum[:])}); err != nil {
		return fmt.Errorf("%s arrived damaged in %s: %w", key, t, err)
	}
	return nil
}

// putSnapRepoFiles puts the format file and, for an encrypted snapshot,
// the key into the target, unless they are there.
func (s *Service) putSnapRepoFiles(ctx context.Context, m Manifest, x *snapTarget) error {
	if _, err := x.t.Stat(ctx, snapPrefix+repoFormatName); errors.Is(err, target.ErrNotFound) {
		b, _ := json.MarshalIndent(repoFormat{Format: upgrade.SnapshotRepo, Kind: repoKind, WrittenBy: s.Version}, "", "  ")
		if _, err := x.t.Put(ctx, snapPrefix+repoFormatName, bytes.NewReader(b), int64(len(b)), target.PutOptions{}); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if !m.Encrypted() {
		return nil
	}
	key := snapKeyKey(m.Recipient)
	if _, err := x.t.Stat(ctx, key); err == nil {
		return nil
	} else if !errors.Is(err, target.ErrNotFound) {
		return err
	}
	raw, err := s.readKeyFile(m)
	if err != nil {
		return err
	}
	return putChecked(ctx, x.t, key, raw, target.PutOptions{})
}

// snapLocks is when the objects of a snapshot's copy are locked until
// (its date plus the target's LockDays), and when its chunks are (that,
// rounded up to a lock step; see lockChunks); zero when the target does
// not lock or the date is past.
func (s *Service) snapLocks(m Manifest, c TargetConfig) (own, chunks time.Time) {
	if c.LockDays <= 0 {
		return time.Time{}, time.Time{}
	}
	own = lockUntil(m, c)
	if !own.After(s.now()) {
		return time.Time{}, time.Time{}
	}
	return own, chunkLockDate(own, lockStep(c))
}

// lockStep is how far past what a snapshot needs its chunks are locked: a
// quarter of the lock, at least a day and at most 30 days.
func lockStep(c TargetConfig) time.Duration {
	step := time.Duration(c.LockDays) * 24 * time.Hour / 4
	return min(max(step, 24*time.Hour), 30*24*time.Hour)
}

// chunkLockDate rounds a lock date up to a whole step since 1 Jan 2000:
// every snapshot whose own lock ends within the same step asks the same
// date of its chunks.
func chunkLockDate(until time.Time, step time.Duration) time.Time {
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	d := until.Sub(epoch)
	return epoch.Add((d + step - 1) / step * step)
}

// lockChunks makes sure the chunks a snapshot reuses from the target (keys)
// stay locked at least until its own chunk lock date: a chunk uploaded for
// an earlier snapshot is locked only until that one's date.
//
// Extending each chunk's lock for every snapshot would cost one request
// per chunk per snapshot, every hour, for an unchanged project. Instead,
// chunks are locked to a date rounded up to a whole step (chunkLockDate,
// a quarter of the lock days), and History keeps, with each copy, the
// date all of its chunks are locked until (ChunksLockedUntil). A chunk the
// newest earlier copy of the same item needed, whose date is as late, is
// locked long enough already: an hourly snapshot of an unchanged project
// asks nothing, and each chunk is extended once per step. Any other
// reused chunk is extended (Lock with the later date); a target that
// refuses because the chunk is locked longer already is asked (Stat), and
// that is fine.
func (s *Service) lockChunks(ctx context.Context, m Manifest, x *snapTarget, keys []string, until time.Time) error {
	known := map[string]bool{}
	if prev, ok := s.previousCopy(m, x.name); ok {
		for id := range prev {
			known[snapChunkKey(id, m.Recipient)] = true
		}
	}
	for _, key := range keys {
		if known[key] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		err := x.t.Lock(ctx, key, target.Retention{Mode: x.c.LockMode, Until: until})
		if err == nil {
			continue
		}
		if o, serr := x.t.Stat(ctx, key); serr == nil && !o.RetainUntil.Before(until) {
			continue
		}
		return fmt.Errorf("lock a chunk of snapshot %s in %s: %w", m.ID, x.name, err)
	}
	return nil
}

// previousCopy returns the chunks of the newest earlier snapshot of m's
// item whose copy to the target is complete with its chunks locked at
// least as long as m's need, as its index lists them.
func (s *Service) previousCopy(m Manifest, to string) (map[string]int64, bool) {
	all, err := s.Snapshots(m.Item)
	if err != nil {
		return nil, false
	}
	c, _ := s.BackupTarget(to)
	_, need := s.snapLocks(m, c)
	for _, p := range all {
		if !newer(m, p) || p.Recipient != m.Recipient {
			continue
		}
		r, ok := s.lookupRecord(p.ID)
		if !ok {
			continue
		}
		cs := copyOf(r, to)
		if cs.State != CopyCopied || cs.ChunksLockedUntil.Before(need) {
			return nil, false
		}
		idx, ok, err := s.readIndex(p)
		if err != nil || !ok {
			return nil, false
		}
		return idx.Chunks, true
	}
	return nil, false
}

// SnapshotCopies lists the snapshots of an item (or "": of all) that are
// in the snapshot copy target but not in the snapshot folder here
// (removed here by retention, or a new machine), newest first; a restore
// fetches them from there (RestoreSnapshot).
func (s *Service) SnapshotCopies(ctx context.Context, item string) ([]Manifest, error) {
	cfg, err := s.Level1()
	if err != nil || cfg.CopyTo == "" {
		return nil, err
	}
	_, t, err := s.OpenTarget(cfg.CopyTo)
	if err != nil {
		return nil, err
	}
	there, _, err := scanSnapshotCopies(ctx, &Source{Name: cfg.CopyTo, T: t}, item)
	if err != nil {
		return nil, fmt.Errorf("the snapshots in %s could not be listed: %w", cfg.CopyTo, err)
	}
	local, err := s.Snapshots(item)
	if err != nil {
		return nil, err
	}
	here := map[string]bool{}
	for _, m := range local {
		here[m.ID] = true
	}
	var out []Manifest
	for _, m := range there {
		if !here[m.ID] {
			out = append(out, m)
		}
	}
	return out, nil
}

// scanSnapshotCopies reads every snapshot manifest in a target (of one
// item, or "": of all). Every name comes from the target and is checked
// before use; a manifest that fails is damaged. On a failure of the
// target it lists none: a half listing would pass for the truth.
func scanSnapshotCopies(ctx context.Context, src *Source, item string) (good []Manifest, bad []Damaged, err error) {
	prefix := snapPrefix + "items/"
	if item != "" {
		if names.Check(item) != nil {
			return nil, nil, nil
		}
		prefix += item + "/"
	}
	objs, err := src.T.List(ctx, prefix)
	if err != nil {
		return nil, nil, err
	}
	for _, o := range objs {
		parts := strings.Split(strings.TrimPrefix(o.Key, snapPrefix+"items/"), "/")
		if len(parts) != 3 || parts[2] != manifestName {
			continue
		}
		it, id := parts[0], parts[1]
		m, err := readSnapshotCopy(ctx, src, it, id, o.Size)
		switch {
		case err == nil:
			good = append(good, m)
		case isOffline(err), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return nil, nil, err
		default:
			bad = append(bad, Damaged{ID: id, Path: src.Name + ":" + path.Dir(o.Key), Err: err})
		}
	}
	sortNewestFirst(good)
	return good, bad, nil
}

// readSnapshotCopy reads and checks the manifest of snapshot id of item in
// a target.
func readSnapshotCopy(ctx context.Context, src *Source, item, id string, size int64) (Manifest, error) {
	shown := id
	if names.Check(id) != nil || !snapshotID.MatchString(id) {
		shown = quote(id)
	}
	if size > maxArchiveManifest {
		return Manifest{}, refusal(ErrDamaged, "snapshot %s in %s is damaged: its manifest is larger than %d KiB", shown, src.Name, maxArchiveManifest>>10)
	}
	b, err := getLimited(ctx, src.T, snapItemKey(item, id)+manifestName, maxArchiveManifest, "the manifest of snapshot "+shown)
	if err != nil {
		return Manifest{}, err
	}
	m, err := decodeManifest(b, shown, id)
	if err != nil {
		return Manifest{}, err
	}
	if m.Level != 1 || m.Type != TypeSnapshot || !snapshotID.MatchString(m.ID) || m.Item != item || names.Check(item) != nil {
		return Manifest{}, refusal(ErrDamaged, "snapshot %s in %s is damaged: its manifest does not match where it lies", shown, src.Name)
	}
	if err := checkTreeFile(m); err != nil {
		return Manifest{}, err
	}
	m.Path, m.Source = "", src
	return m, nil
}

// getLimited reads a whole object of at most limit bytes; a larger one
// is damaged (what names it in the sentence).
func getLimited(ctx context.Context, t target.Target, key string, limit int64, what string) ([]byte, error) {
	r, err := target.Reader(ctx, t, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, refusal(ErrDamaged, "%s in %s is damaged: it is larger than it can be", what, t)
	}
	return b, nil
}

// FindBackup finds a backup by id (or a unique prefix) as Get does, and
// else among the snapshots in the snapshot copy target.
func (s *Service) FindBackup(ctx context.Context, id string) (Manifest, error) {
	m, err := s.Get(id)
	if err == nil {
		return m, nil
	}
	if cfg, cerr := s.Level1(); cerr != nil || cfg.CopyTo == "" {
		return m, err
	}
	there, lerr := s.SnapshotCopies(ctx, "")
	if lerr != nil {
		return m, err
	}
	var found []Manifest
	for _, c := range there {
		if c.ID == id || (len(id) >= 6 && strings.HasPrefix(c.ID, id)) {
			found = append(found, c)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	return m, err
}

// fetchSnapshot brings a snapshot that lies only in the copy target into
// the snapshot folder here: its key, tree, chunk index and every chunk
// not here, then its manifest. Everything is read into a staging folder
// and checked first — names, sizes, checksums, and each chunk decoded
// (with the passphrase, when encrypted) and compared with its id — so
// that what a target holds, however crafted, changes nothing here unless
// it is a sound snapshot. It returns the snapshot as it now lies here.
func (s *Service) fetchSnapshot(ctx context.Context, m Manifest, passphrase string) (Manifest, error) {
	if local, err := s.Get(m.ID); err == nil && local.Source == nil {
		return local, nil // fetched before
	}
	if m.Source == nil {
		return m, nil
	}
	if err := checkTreeFile(m); err != nil {
		return m, err
	}
	if m.Encrypted() && passphrase == "" {
		return m, refusal(ErrNeedPassphase, "snapshot %s is encrypted; give the backup passphrase", m.ID)
	}
	if _, busy := s.running.LoadOrStore(importKey{}, struct{}{}); busy {
		return m, errors.New("a snapshot import is running; try again when it has finished")
	}
	defer s.running.Delete(importKey{})
	s.sweepStaging()
	stage, err := s.fs.MkdirTemp(s.dataDir, importStaging)
	if err != nil {
		return m, fmt.Errorf("fetch snapshot %s: %w", m.ID, err)
	}
	defer s.fs.RemoveAll(stage)
	t := m.Source.T
	base := snapItemKey(m.Item, m.ID)
	damaged := func(err error) error {
		if isOffline(err) || ctx.Err() != nil || errors.Is(err, ErrDamaged) {
			return err
		}
		return refusal(ErrDamaged, "snapshot %s in %s is damaged: %v", m.ID, m.Source.Name, err)
	}
	write := func(p string, b []byte) error {
		if err := s.fs.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("fetch snapshot %s: %w", m.ID, err)
		}
		if err := fsys.WriteFile(s.fs, p, b, fsys.Options{NoDirSync: true}); err != nil {
			return fmt.Errorf("fetch snapshot %s: %w", m.ID, err)
		}
		return nil
	}
	cd := plain
	var key []byte
	if m.Encrypted() {
		if key, err = getLimited(ctx, t, snapKeyKey(m.Recipient), maxArchiveKey, "the key of snapshot "+m.ID); err != nil {
			return m, damaged(err)
		}
		id, err := unlockKey(key, passphrase)
		if errors.Is(err, ErrPassphrase) {
			return m, refusal(ErrPassphrase, "the passphrase does not open snapshot %s; nothing was changed", m.ID)
		}
		if err != nil {
			return m, refusal(ErrDamaged, "the key of snapshot %s in %s cannot be read", m.ID, m.Source.Name)
		}
		cd = &codec{recipient: m.Recipient, identity: id}
	}
	tree, err := getLimited(ctx, t, base+m.Tree.File, m.Tree.Bytes, "the tree of snapshot "+m.ID)
	if err != nil {
		return m, damaged(err)
	}
	_, want, err := decodeTree(m, cd, tree)
	if err != nil {
		return m, err
	}
	var index []byte
	sizes := map[string]int64{}
	if m.Tree.Index != "" {
		if m.Tree.IndexBytes <= 0 || m.Tree.IndexBytes > maxTree {
			return m, refusal(ErrDamaged, "the chunk list of snapshot %s is damaged", m.ID)
		}
		if index, err = getLimited(ctx, t, base+m.Tree.Index, m.Tree.IndexBytes, "the chunk list of snapshot "+m.ID); err != nil {
			return m, damaged(err)
		}
		idx, err := decodeIndex(m, index)
		if err != nil {
			return m, err
		}
		for id := range want {
			if _, ok := idx.Chunks[id]; !ok {
				return m, refusal(ErrDamaged, "the chunk list of snapshot %s is damaged", m.ID)
			}
		}
		sizes = idx.Chunks
	}
	local := s.snapshotTarget()
	ps, err := s.packsOf(local)
	if err != nil {
		return m, err
	}
	var need int64
	for _, n := range want {
		need += n
	}
	if err := storage.NeedSpace(s.dataDir, need, "fetching snapshot "+m.ID); err != nil {
		return m, err
	}
	var fetched []string
	for _, id := range sortedIDs(want) {
		if err := ctx.Err(); err != nil {
			return m, err
		}
		if _, err := loadChunk(s.fs, local, ps, cd, id, want[id]); err == nil {
			continue // here, sound
		}
		limit := int64(maxStoredChunk)
		if n, ok := sizes[id]; ok {
			limit = n
		}
		stored, err := getLimited(ctx, t, snapChunkKey(id, m.Recipient), limit, fmt.Sprintf("chunk %.12s of snapshot %s", id, m.ID))
		if err != nil {
			return m, damaged(err)
		}
		if _, err := cd.openChunk(id, stored, want[id]); err != nil {
			return m, fmt.Errorf("snapshot %s in %s: %w", m.ID, m.Source.Name, err)
		}
		if err := write(chunkPath(stage, id, m.Recipient), stored); err != nil {
			return m, err
		}
		fetched = append(fetched, id)
	}
	// All of it is here and sound: into the snapshot folder, the
	// snapshot's own folder last.
	r, err := openRepo(ctx, s.fs, local)
	if err != nil {
		return m, err
	}
	defer r.close()
	if err := s.checkSnapshotRepo(local, true); err != nil {
		return m, err
	}
	// Into packs, as a snapshot taken here writes them.
	if ps, err = s.packsOf(local); err != nil {
		return m, err
	}
	cs := newChunkStore(s.fs, local, m.Recipient, ps)
	committed := false
	defer func() {
		if !committed {
			cs.discard()
		}
	}()
	for _, id := range fetched {
		b, err := fsys.ReadFileLimit(s.fs, chunkPath(stage, id, m.Recipient), maxStoredChunk)
		if err != nil {
			return m, fmt.Errorf("fetch snapshot %s: %w", m.ID, err)
		}
		if err := cs.put(id, b, want[id]); err != nil {
			return m, fmt.Errorf("fetch snapshot %s: %w", m.ID, err)
		}
	}
	if err := cs.sync(); err != nil {
		return m, fmt.Errorf("fetch snapshot %s: %w", m.ID, err)
	}
	if key != nil {
		if _, err := s.fs.Stat(keyPath(local, m.Recipient)); err != nil {
			if err := write(keyPath(local, m.Recipient), key); err != nil {
				return m, err
			}
		}
	}
	itemDir := filepath.Join(local, "items", m.Item)
	if err := s.fs.MkdirAll(itemDir, 0o700); err != nil {
		return m, fmt.Errorf("fetch snapshot %s: %w", m.ID, err)
	}
	ir := &repo{fs: s.fs, dir: itemDir}
	tmp, err := ir.begin()
	if err != nil {
		return m, fmt.Errorf("fetch snapshot %s: %w", m.ID, err)
	}
	defer s.fs.RemoveAll(tmp)
	if err := write(filepath.Join(tmp, m.Tree.File), tree); err != nil {
		return m, err
	}
	if index != nil {
		if err := write(filepath.Join(tmp, m.Tree.Index), index); err != nil {
			return m, err
		}
	}
	lm := m
	lm.Path, lm.Source = "", nil
	if err := ir.commit(tmp, &lm); err != nil {
		if _, serr := s.fs.Stat(filepath.Join(itemDir, m.ID)); serr == nil {
			committed = true
		}
		return m, err
	}
	committed = true
	s.log.Info("snapshot fetched", "id", m.ID, "item", m.ItemName, "from", m.Source.Name, "chunks", len(fetched))
	return lm, nil
}
