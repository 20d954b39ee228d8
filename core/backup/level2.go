package backup

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dustin/go-humanize"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// List returns the level-2 backups in the target, newest first.
func (s *Service) List() ([]Manifest, error) {
	c, err := s.Level2()
	if err != nil {
		return nil, err
	}
	return list(s.fs, c.Target)
}

// Get finds a backup of any level by id; a unique prefix is enough. A
// backup whose manifest is damaged is refused with a sentence naming it
// (ErrDamaged).
func (s *Service) Get(id string) (Manifest, error) {
	m, _, err := s.get(id)
	return m, err
}

// get is Get that also returns the damaged backup it refused, if any.
func (s *Service) get(id string) (Manifest, *Damaged, error) {
	all, err := s.All()
	if err != nil {
		return Manifest{}, nil, err
	}
	var found []Manifest
	for _, m := range all {
		if m.ID == id {
			return m, nil, nil
		}
		if len(id) >= 6 && len(m.ID) > len(id) && m.ID[:len(id)] == id {
			found = append(found, m)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil, nil
	case 0:
		if _, err := s.Snapshots(""); errors.Is(err, ErrNewerBackup) && snapshotID.MatchString(id) {
			return Manifest{}, nil, err // it may be one of those
		}
		bad, err := s.Damaged()
		if err != nil {
			return Manifest{}, nil, err
		}
		var match []Damaged
		for _, d := range bad {
			if d.ID == id {
				return Manifest{}, &d, d.Err
			}
			if len(id) >= 6 && strings.HasPrefix(d.ID, id) {
				match = append(match, d)
			}
		}
		if len(match) == 1 {
			return Manifest{}, &match[0], match[0].Err
		}
		return s.findInTargets(id)
	}
	return Manifest{}, nil, fmt.Errorf("%s matches %d backups; give more of the id", quote(id), len(found))
}

// findInTargets looks for a backup in the named targets (a copy off
// site; the only copy after the machine was lost). A target that cannot
// be read is said when the backup is not found elsewhere.
func (s *Service) findInTargets(id string) (Manifest, *Damaged, error) {
	l, err := s.BackupTargets()
	if err != nil {
		return Manifest{}, nil, err
	}
	var unread error
	var found []Manifest
	for _, t := range l {
		good, bad, err := s.TargetBackups(context.Background(), t.Name)
		if err != nil {
			unread = fmt.Errorf("target %s could not be read: %w", t.Name, err)
			continue
		}
		for _, m := range good {
			if m.ID == id {
				return m, nil, nil
			}
			if len(id) >= 6 && strings.HasPrefix(m.ID, id) {
				found = append(found, m)
			}
		}
		for _, d := range bad {
			if d.ID == id {
				return Manifest{}, &d, d.Err
			}
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil, nil
	case len(found) > 1:
		return Manifest{}, nil, fmt.Errorf("%s matches %d backups; give more of the id", quote(id), len(found))
	case unread != nil:
		return Manifest{}, nil, fmt.Errorf("there is no backup %s here, and %w", quote(id), unread)
	}
	return Manifest{}, nil, fmt.Errorf("there is no backup %s: %w", quote(id), ErrNotFound)
}

// Damaged lists the folders in the backup targets (full backups and
// snapshots) whose manifest is damaged, newest first: they are not
// backups to rely on, and nothing but a person removes them.
func (s *Service) Damaged() ([]Damaged, error) {
	cfg, err := s.Level2()
	if err != nil {
		return nil, err
	}
	_, bad, err := scan(s.fs, cfg.Target)
	if err != nil {
		return nil, err
	}
	items := filepath.Join(s.snapshotTarget(), "items")
	ents, err := s.fs.ReadDir(items)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		_, b, err := scan(s.fs, filepath.Join(items, e.Name()))
		if err != nil {
			return nil, err
		}
		bad = append(bad, b...)
	}
	sort.SliceStable(bad, func(i, j int) bool { return bad[i].ID > bad[j].ID })
	return bad, nil
}

// All lists every backup, level 1 and 2, newest first.
func (s *Service) All() ([]Manifest, error) {
	l2, err := s.List()
	if err != nil {
		return nil, err
	}
	l1, err := s.Snapshots("")
	if errors.Is(err, ErrNewerBackup) {
		// A newer Plinth's snapshot folder hides no full backup.
		s.log.Warn("snapshots not listed", "why", err)
		l1, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	all := append(l2, l1...)
	sortNewestFirst(all)
	return all, nil
}

// chain returns the backups a restore of m reads, the full one first. It
// fails when a link is missing.
func chain(all []Manifest, m Manifest) ([]Manifest, error) {
	byID := map[string]Manifest{}
	for _, x := range all {
		byID[x.ID] = x
	}
	out := []Manifest{m}
	for cur := m; cur.Type == TypeIncremental; {
		parent, ok := byID[cur.Parent]
		if !ok {
			return nil, fmt.Errorf("backup %s continues backup %s, which is missing or damaged: %w", cur.ID, cur.Parent, ErrDamaged)
		}
		out = append(out, parent)
		cur = parent
		if len(out) > 1000 {
			return nil, fmt.Errorf("the chain of backup %s does not end: %w", m.ID, ErrDamaged)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// Full takes a level-2 backup: a full one, or an incremental continuing
// the newest one when the chain is intact, less than FullEvery days old,
// and the stores were not restored since. No two-store change runs while
// the stores are read, so the pair is consistent; uploads wait only for
// that, not for the content packs, which are copied afterwards. It needs
// Modify content on the Servers page.
func (s *Service) Full(ctx context.Context, actor account.Actor, prog progress.Func) (m Manifest, err error) {
	return s.FullTo(ctx, actor, "", prog)
}

// FullTo is Full into a named target (a bucket, typically), written
// there directly; "" is the backup folder. Retention then applies there.
func (s *Service) FullTo(ctx context.Context, actor account.Actor, into string, prog progress.Func) (m Manifest, err error) {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyContent); err != nil {
		return Manifest{}, err
	}
	end, err := s.begin(2)
	if err != nil {
		return Manifest{}, err
	}
	defer end()
	start := s.now()
	rec := Record{ID: newID(start), Level: 2, Started: start.UTC(), Target: into}
	defer func() {
		rec.Finished = s.now().UTC()
		if err != nil {
			rec.Error = err.Error()
			s.record(rec)
			s.tell(ctx, notify.BackupFailed, notify.Error, "The full data backup failed: "+err.Error()+". The earlier backups are untouched.")
			return
		}
		rec.OK, rec.Type, rec.Bytes = true, m.Type, m.Bytes()
		s.record(rec)
		s.tell(ctx, notify.BackupSucceeded, notify.Info, fmt.Sprintf("Full data backup %s (%s, %s) finished.", m.ID, m.Type, humanize.IBytes(uint64(m.Bytes()))))
	}()
	cfg, err := s.Level2()
	if err != nil {
		return Manifest{}, err
	}
	var d dest
	if into == "" {
		d, err = s.folderDest(ctx, cfg.Target)
	} else {
		var td *targetDest
		if td, err = s.targetDest(ctx, into); err == nil && td.cfg.Offsite() && cfg.Recipient == "" {
			err = fmt.Errorf("backups going to %s leave the building and must be encrypted: set a backup passphrase first", into)
		}
		d = td
	}
	if err != nil {
		return Manifest{}, err
	}
	defer d.close()
	all, err := d.list(ctx)
	if err != nil {
		return Manifest{}, err
	}
	mgr, fsr := s.files.Stores()
	m = Manifest{Format: upgrade.Manifest, Writer: s.Version, ID: rec.ID, Level: 2, Type: TypeFull, Plinth: mgr.Identity().ID,
		Created: start.UTC(), By: actor.Name(), Recipient: cfg.Recipient}
	prev := s.continuable(all, cfg, mgr, fsr)
	var before map[string]int64 // pack sizes the previous backup holds
	if prev != nil {
		m.Type, m.Parent, m.Base = TypeIncremental, prev.ID, prev.ID
		if prev.Type == TypeIncremental {
			m.Base = prev.Base
		}
		pp, _ := prev.Payload(storage.FileServer)
		before = pp.Committed
	}
	seal, err := newSealer(s.fs, cfg.Recipient, d)
	if err != nil {
		return Manifest{}, err
	}
	// Refuse before writing anything when the target's disk cannot hold
	// the backup: the stores, and the pack bytes to copy.
	need := storeBytes(mgr) + storeBytes(fsr)
	now, err := s.files.CommittedPacks()
	if err != nil {
		return Manifest{}, err
	}
	for id, size := range now {
		need += max(0, size-before[storage.PackName(id)])
	}
	if err := d.needSpace(need); err != nil {
		return Manifest{}, err
	}
	defer func() {
		err = diskFull(err, "the backup target "+d.where(), "free some space there and try again")
	}()
	committedOK := false
	defer func() {
		if !committedOK {
			d.abort() // also what a begin that failed half-way made
		}
	}()
	if err := d.begin(ctx, m.ID); err != nil {
		return Manifest{}, err
	}

	unpin := s.files.PinPacks()
	defer unpin()
	var committed map[uint32]int64
	err = s.files.Exclusive(func() error {
		for i, st := range []*storage.Store{mgr, fsr} {
			prog.Send(progress.Report{Phase: "Backing up the " + storeName(st.Kind()), Done: int64(i), Total: 2, Unit: "store"})
			var from uint64
			if prev != nil {
				pp, _ := prev.Payload(st.Kind())
				from = pp.Since
			}
			p, err := writeStore(ctx, seal, st, from)
			if err != nil {
				return err
			}
			m.Payloads = append(m.Payloads, p)
		}
		var err error
		committed, err = s.files.CommittedPacks()
		return err
	})
	if err != nil {
		return Manifest{}, err
	}
	// Content packs, outside the pause: only what was committed then, and
	// for an incremental only what was appended since the previous backup.
	fp := &m.Payloads[1]
	fp.Committed = map[string]int64{}
	ids := make([]uint32, 0, len(committed))
	var total int64
	for id, size := range committed {
		ids = append(ids, id)
		name := storage.PackName(id)
		fp.Committed[name] = size
		if before[name] > size {
			return Manifest{}, fmt.Errorf("pack %s shrank since backup %s; take a full backup", name, prev.ID)
		}
		total += size - before[name]
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	// Two packs at a time: reading, compressing and writing overlap.
	type job struct {
		id       uint32
		from, to int64
	}
	var jobs []job
	for _, id := range ids {
		name := storage.PackName(id)
		if from, to := before[name], committed[id]; to > from {
			jobs = append(jobs, job{id, from, to})
		}
	}
	segs := make([][]Segment, len(jobs))
	var (
		done   int64
		sendMu sync.Mutex // prog need not be safe for concurrent use
		wg     sync.WaitGroup
	)
	errs := make([]error, len(jobs))
	next := atomic.Int64{}
	for range 2 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				j := jobs[i]
				segs[i], errs[i] = copyPack(ctx, seal, fsr.Blobs().Path(j.id), storage.PackName(j.id), j.from, j.to, d.cut())
				if errs[i] != nil {
					next.Store(int64(len(jobs))) // stop the others early
					return
				}
				sendMu.Lock()
				done += j.to - j.from
				prog.Send(progress.Report{Phase: "Backing up file contents", Done: done, Total: total, Bytes: true})
				sendMu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return Manifest{}, err // one sentence: the first failure
		}
	}
	for _, ss := range segs {
		fp.Segments = append(fp.Segments, ss...)
	}
	m.Seconds = s.now().Sub(start).Seconds()
	if err := d.commit(ctx, &m); err != nil {
		return Manifest{}, err
	}
	committedOK = true
	s.log.Info("full data backup", "id", m.ID, "type", m.Type, "bytes", m.Bytes(), "seconds", m.Seconds, "where", d.where())
	if fd, ok := d.(*folderDest); ok {
		if _, err := s.prune(ctx, fd.r, cfg, false); err != nil {
			s.log.Warn("prune after backup", "err", err)
		}
	} else if _, err := s.pruneTarget(ctx, cfg, into, false); err != nil {
		s.log.Warn("prune after backup", "target", into, "err", err)
	}
	return m, nil
}

// continuable returns the newest backup an incremental can continue, or
// nil when the next backup must be full.
func (s *Service) continuable(all []Manifest, cfg Level2Settings, mgr, fsr *storage.Store) *Manifest {
	bad := s.failedVerifications()
	for _, m := range all {
		if m.Level != 2 || m.Plinth != mgr.Identity().ID {
			continue
		}
		ch, err := chain(all, m)
		if err != nil || ch[0].Type != TypeFull || !sound(all, m, bad) {
			return nil // a broken chain is not continued
		}
		if s.now().Sub(ch[0].Created) > time.Duration(cfg.FullEvery)*24*time.Hour {
			return nil // time for a new full backup
		}
		if m.Recipient != cfg.Recipient {
			return nil // encryption changed
		}
		for _, st := range []*storage.Store{mgr, fsr} {
			p, ok := m.Payload(st.Kind())
			id := st.Identity()
			if !ok || p.Identity != id.ID || p.Generation != id.Generation {
				return nil // restored since: versions may have gone back
			}
			if f, err := st.Format(); err != nil || max(p.Format, 1) != f {
				return nil // another data format: a newer Plinth's, or from before an upgrade
			}
		}
		return &m
	}
	return nil
}

func storeName(k storage.Kind) string {
	if k == storage.Manager {
		return "Manager"
	}
	return "File Server"
}

// writeStore writes one store's Badger stream from version from.
func writeStore(ctx context.Context, seal *sealer, st *storage.Store, from uint64) (Payload, error) {
	id := st.Identity()
	p := Payload{Kind: st.Kind(), Identity: id.ID, Generation: id.Generation, From: from, File: string(st.Kind()) + ".badger.zst"}
	// A backup whose counts could not be read would pass for an empty
	// store: checkStaged compares a restore against them.
	if err := st.View(func(tx *storage.Tx) error {
		set, err := tx.FileSet()
		p.Files, p.Content, p.Digest = set.Count, set.Bytes, hex.EncodeToString(set.Digest[:])
		if err == nil {
			p.Format, err = tx.Format()
		}
		return err
	}); err != nil {
		return p, fmt.Errorf("read the file count of the %s: %w", storeName(st.Kind()), err)
	}
	w, err := seal.create(p.File)
	if err != nil {
		return p, err
	}
	since, err := st.Backup(&ctxWriter{ctx: ctx, w: w}, from)
	if err != nil {
		w.abort()
		return p, err
	}
	p.Since = since
	if p.Bytes, p.SHA256, err = w.finish(); err != nil {
		return p, err
	}
	return p, nil
}

// storeBytes is about what a store's Badger stream takes: the store on
// disk without its packs.
func storeBytes(st *storage.Store) int64 {
	n := st.DiskSize()
	if b := st.Blobs(); b != nil {
		if packs, err := b.Packs(); err == nil {
			for _, size := range packs {
				n -= size
			}
		}
	}
	return max(n, 0)
}

// copyPack stores bytes [from, to) of a pack, checking every chunk in
// them against its SHA-256 on the way: a damaged chunk fails the backup.
// The bytes go into one stored file, or, where the destination cuts
// (a target: one object each, sent while the next is compressed, and
// read back in parallel by a restore), into files of cut bytes of the
// pack each; cuts need not fall between chunks, restores join them up.
func copyPack(ctx context.Context, seal *sealer, path, name string, from, to, cut int64) ([]Segment, error) {
	src, err := seal.fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read content pack %s: %w", name, err)
	}
	defer src.Close()
	check := newPackCheck(from, to)
	r := io.TeeReader(&ctxReader{ctx: ctx, r: io.NewSectionReader(src, from, to-from)}, check)
	var segs []Segment
	for at := from; at < to; {
		end := to
		if cut > 0 && end-at > cut {
			end = at + cut
		}
		seg := Segment{Name: name, From: at, To: end, File: "packs/" + name + "." + strconv.FormatInt(at, 10) + ".zst"}
		w, err := seal.create(seg.File)
		if err != nil {
			return nil, err
		}
		n, err := io.Copy(w, io.LimitReader(r, end-at))
		if err == nil && n != end-at {
			err = fmt.Errorf("content pack %s is shorter than recorded (%d of %d bytes)", name, at+n, to)
		}
		if err == nil && end == to {
			err = check.done()
		}
		if err != nil {
			w.abort()
			var d *damagedPack
			if errors.As(err, &d) {
				return nil, refusal(files.ErrDamaged, "content pack %s is damaged: %v; run plinth check --deep to list the affected files", name, d)
			}
			return nil, err
		}
		if seg.Bytes, seg.SHA256, err = w.finish(); err != nil {
			return nil, err
		}
		segs = append(segs, seg)
		at = end
	}
	return segs, nil
}

// Check verifies every stored file of a backup (and of the backups it
// continues) against its checksum, without needing the passphrase.
func (s *Service) Check(ctx context.Context, m Manifest) error {
	ch := []Manifest{m}
	if m.Level == 2 {
		all, err := s.siblings(ctx, m)
		if err != nil {
			return err
		}
		if ch, err = chain(all, m); err != nil {
			return err
		}
	}
	return s.checkChain(ctx, ch, nil)
}

// checkChain verifies every stored file of the backups ch against its
// checksum, but the segments skip says are checked as they are decoded.
// Restores run it before they decode anything: a file that does not
// match is never loaded. Two files are hashed at once: the stores'
// streams one after another (a chain of any length has one of them open
// at a time) while the other goroutine takes segments, which both take
// once the streams are done; after a failure no more are begun. Of the
// files that failed, the first in the chain's order is reported.
func (s *Service) checkChain(ctx context.Context, ch []Manifest, skip func(Manifest, Segment) bool) error {
	type stored struct {
		b         Manifest
		rel       string
		size      int64
		sum, what string
	}
	var all []stored
	var streams, segs []int // indexes into all
	for _, b := range ch {
		for _, p := range b.Payloads {
			streams = append(streams, len(all))
			all = append(all, stored{b, p.File, p.Bytes, p.SHA256, fmt.Sprintf("the %s part of backup %s", storeName(p.Kind), b.ID)})
			for _, seg := range p.Segments {
				if skip != nil && skip(b, seg) {
					continue
				}
				segs = append(segs, len(all))
				all = append(all, stored{b, seg.File, seg.Bytes, seg.SHA256, fmt.Sprintf("content pack %s of backup %s", seg.Name, b.ID)})
			}
		}
	}
	errs := make([]error, len(all))
	var failed atomic.Bool // the files not begun need not be read
	check := func(i int) {
		f := all[i]
		if errs[i] = checkStored(ctx, s.fs, f.b, f.rel, f.size, f.sum, f.what); errs[i] != nil {
			failed.Store(true)
		}
	}
	var next atomic.Int64
	takeSegments := func() {
		for !failed.Load() {
			k := int(next.Add(1)) - 1
			if k >= len(segs) {
				return
			}
			check(segs[k])
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, i := range streams {
			if failed.Load() {
				return
			}
			check(i)
		}
		takeSegments()
	})
	wg.Go(takeSegments)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	for _, b := range ch {
		if b.Level == 1 {
			if err := s.checkSnapshotChunks(ctx, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// opener returns what reads a backup: with the key the passphrase opens
// when the backup is encrypted.
func (s *Service) opener(m Manifest, target, passphrase string) (*opener, error) {
	if !m.Encrypted() {
		return &opener{fs: s.fs}, nil
	}
	if passphrase == "" {
		return nil, refusal(ErrNeedPassphase, "backup %s is encrypted; give its passphrase", m.ID)
	}
	raw, err := readKey(context.Background(), s.fs, m, target, m.Recipient)
	if err != nil {
		if isOffline(err) {
			return nil, err
		}
		return nil, fmt.Errorf("the key of this encrypted backup is missing from %s: %w", m.whereDir(), ErrDamaged)
	}
	id, err := unlockKey(raw, passphrase)
	if err != nil {
		if errors.Is(err, ErrPassphrase) {
			return nil, refusal(ErrPassphrase, "the passphrase does not open backup %s; nothing was changed", m.ID)
		}
		return nil, err
	}
	return &opener{fs: s.fs, identity: id}, nil
}

// stage rebuilds stores from a chain of level-2 backups into folders
// named by dirs (kind → folder), which must not exist yet.
func stage(ctx context.Context, ch []Manifest, op *opener, dirs map[storage.Kind]string, opt storage.Options, prog progress.Func) error {
	step := 0
	for kind, dir := range dirs {
		step++
		prog.Send(progress.Report{Phase: "Loading the " + storeName(kind) + " from the backup", Done: int64(step - 1), Total: int64(len(dirs)), Unit: "part"})
		// Each part is opened when the load reaches it and closed at its
		// end: a chain of any length holds one decoder at a time.
		parts := make([]*part, 0, len(ch))
		streams := make([]io.Reader, 0, len(ch))
		for _, b := range ch {
			p, ok := b.Payload(kind)
			if !ok {
				return fmt.Errorf("backup %s has no %s part: %w", b.ID, storeName(kind), ErrDamaged)
			}
			x := &part{ctx: ctx, op: op, b: b, rel: p.File, size: p.Bytes, sum: p.SHA256, what: fmt.Sprintf("the %s part of backup %s", storeName(kind), b.ID)}
			parts = append(parts, x)
			streams = append(streams, x)
		}
		err := storage.LoadInto(dir, kind, opt, streams...)
		for _, x := range parts {
			x.close()
		}
		if err != nil {
			return loadFailed(err, kind, ch, parts)
		}
		if kind != storage.FileServer {
			continue
		}
		if err := rebuildPacks(ctx, ch, op, filepath.Join(dir, "packs")); err != nil {
			return err
		}
	}
	return nil
}

// loadFailed gives a failed load of a chain its sentence: a part that
// does not match its checksum, or is not what Plinth writes, makes its
// backup damaged.
func loadFailed(err error, kind storage.Kind, ch []Manifest, parts []*part) error {
	var bad *storage.BackupError
	if errors.As(err, &bad) && bad.Part >= 1 && bad.Part <= len(ch) {
		return refusal(ErrDamaged, "backup %s is damaged: its %s part %s", ch[bad.Part-1].ID, storeName(kind), bad.Reason)
	}
	for _, p := range parts {
		if errors.Is(p.end, ErrDamaged) {
			return p.end // names the part
		}
	}
	if errors.Is(err, storage.ErrNoSpace) {
		return err // its own sentence
	}
	return fmt.Errorf("restore the %s: %w", storeName(kind), err)
}

// part is one stored stream of a chain, opened when it is first read and
// closed at its end.
type part struct {
	ctx       context.Context
	op        *opener
	b         Manifest
	rel       string
	size      int64
	sum, what string
	rc        io.ReadCloser
	end       error // what ended it: io.EOF, or what failed
}

func (p *part) Read(b []byte) (int, error) {
	if p.end != nil {
		return 0, p.end
	}
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	if p.rc == nil {
		rc, err := p.op.open(p.ctx, p.b, p.rel, p.size, p.sum, p.what)
		if err != nil {
			p.end = err
			return 0, err
		}
		p.rc = rc
	}
	n, err := p.rc.Read(b)
	if err != nil {
		p.end = err
		p.close()
	}
	return n, err
}

func (p *part) close() {
	if p.rc != nil {
		_ = p.rc.Close()
		p.rc = nil
	}
}

// segOf is a segment, the backup it is in and where its file lies.
type segOf struct {
	seg Segment
	b   Manifest
}

// rebuildPacks writes every pack committed at the last backup of the chain
// from the segments of the chain, which must join up exactly. Every name
// is checked before anything is created, and every chunk against its
// SHA-256 as it is written.
func rebuildPacks(ctx context.Context, ch []Manifest, op *opener, dir string) error {
	last := ch[len(ch)-1]
	lp, _ := last.Payload(storage.FileServer)
	committed := lp.Committed
	segs := map[string][]segOf{}
	for _, b := range ch {
		p, _ := b.Payload(storage.FileServer)
		for _, seg := range p.Segments {
			if err := checkPackName(seg.Name); err != nil {
				return refusal(ErrDamaged, "backup %s is damaged: its manifest names the content pack %s", b.ID, quote(seg.Name))
			}
			if _, err := join(b, seg.File); err != nil {
				return err
			}
			segs[seg.Name] = append(segs[seg.Name], segOf{seg, b})
		}
	}
	type pack struct {
		name, path string
		size       int64
	}
	packs := make([]pack, 0, len(committed))
	for name, size := range committed {
		path, err := packPath(dir, name, last)
		if err != nil {
			return err
		}
		packs = append(packs, pack{name, path, size})
	}
	if err := op.fs.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	errs := make([]error, len(packs))
	synced := make([]error, len(packs))
	var next atomic.Int64
	var wg, syncs sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(packs) {
					return
				}
				p := packs[i]
				var f fsys.File
				if f, errs[i] = rebuildPack(ctx, op, p.name, p.path, p.size, segs[p.name]); errs[i] != nil {
					next.Store(int64(len(packs)))
					return
				}
				// The pack reaches the disk while the next one is
				// decoded; everything is synced before the swap.
				syncs.Go(func() {
					synced[i] = f.Sync()
					if err := f.Close(); synced[i] == nil {
						synced[i] = err
					}
				})
			}
		})
	}
	wg.Wait()
	syncs.Wait()
	for _, err := range append(errs, synced...) {
		if err != nil {
			return err // one sentence: the first failure
		}
	}
	return op.fs.SyncDir(dir)
}

// rebuildPack writes one pack from its segments, which must join up, and
// checks every chunk in it against its SHA-256. Segments of a target's
// size (objectCut) are fetched and decoded ahead, a few at once, while
// the one before is written: with a bucket, waiting for the next object
// and writing the last overlap.
func rebuildPack(ctx context.Context, op *opener, name, path string, size int64, parts []segOf) (_ fsys.File, err error) {
	// The segments that make the pack: each starts where the one before
	// ended; one that starts before is of an older generation of a
	// removed pack id.
	var use []segOf
	var at int64
	for _, x := range parts {
		if at >= size {
			break
		}
		if x.seg.From != at {
			if x.seg.From < at {
				continue
			}
			return nil, fmt.Errorf("content pack %s has a gap at byte %d in backup %s: %w", name, at, x.b.ID, ErrDamaged)
		}
		use = append(use, x)
		at = x.seg.To
	}
	if at < size {
		return nil, fmt.Errorf("content pack %s is incomplete in the backup (%d of %d bytes): %w", name, at, size, ErrDamaged)
	}
	out, err := op.fs.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = out.Close()
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ahead, taken := prefetch(ctx, op, name, use)
	check := newPackCheck(0, size)
	w := io.MultiWriter(check, out)
	at = 0
	for i, x := range use {
		var n int64
		if ahead[i] != nil {
			got := <-ahead[i]
			taken()
			if got.err != nil {
				return nil, got.err
			}
			n, err = writeSmall(ctx, w, got.data)
			got.close()
		} else {
			var rc io.ReadCloser
			if rc, err = op.open(ctx, x.b, x.seg.File, x.seg.Bytes, x.seg.SHA256, segWhat(name, x)); err != nil {
				return nil, err
			}
			n, err = io.Copy(w, &ctxReader{ctx: ctx, r: rc})
			rc.Close()
		}
		var d *damagedPack
		if errors.As(err, &d) {
			return nil, refusal(ErrDamaged, "backup %s is damaged: in content pack %s %v", x.b.ID, name, d)
		}
		if err != nil {
			return nil, err
		}
		if n != x.seg.To-x.seg.From {
			return nil, refusal(ErrDamaged, "backup %s is damaged: it holds %d bytes of content pack %s where its manifest says %d", x.b.ID, n, name, x.seg.To-x.seg.From)
		}
		at += n
	}
	if at != size {
		return nil, fmt.Errorf("content pack %s is incomplete in the backup (%d of %d bytes): %w", name, at, size, ErrDamaged)
	}
	if err = check.done(); err != nil {
		return nil, refusal(ErrDamaged, "content pack %s is damaged in the backup: %v", name, err)
	}
	return out, nil // the caller syncs and closes it
}

// writeSmall writes b to w a quarter MiB at a time: each piece is checked
// and then written while it is still in the processor's cache (one write
// of a whole segment made the kernel copy it from memory, at a third of
// the speed).
func writeSmall(ctx context.Context, w io.Writer, b []byte) (int64, error) {
	var n int64
	for len(b) > 0 {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k := min(len(b), 256<<10)
		if _, err := w.Write(b[:k]); err != nil {
			return n, err
		}
		n += int64(k)
		b = b[k:]
	}
	return n, nil
}

func segWhat(name string, x segOf) string {
	return fmt.Sprintf("content pack %s of backup %s", name, x.b.ID)
}

// segmentsAhead segments of a pack are fetched and decoded at once, each
// into memory, when they are no larger than a target's objects: with two
// packs rebuilt at once, 4 × 12 MiB at most.
const segmentsAhead = 2

// fetched is a segment decoded ahead, or why it could not be.
type fetched struct {
	data []byte
	buf  *[]byte // data's memory, for the next segment
	err  error
}

func (f fetched) close() {
	if f.buf != nil {
		segmentBuffers.Put(f.buf)
	}
}

var segmentBuffers = sync.Pool{New: func() any { b := make([]byte, objectCut); return &b }}

// prefetch starts decoding the small segments of use ahead, in order, at
// most segmentsAhead not yet taken (the writer calls taken for each it
// receives); the channel of a segment it does not take is nil.
func prefetch(ctx context.Context, op *opener, name string, use []segOf) ([]chan fetched, func()) {
	out := make([]chan fetched, len(use))
	var small []int
	for i, x := range use {
		if x.seg.To-x.seg.From <= objectCut {
			out[i] = make(chan fetched, 1)
			small = append(small, i)
		}
	}
	slots := make(chan struct{}, segmentsAhead)
	taken := func() { <-slots }
	if len(small) == 0 {
		return out, taken
	}
	go func() {
		for _, i := range small {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				x := use[i]
				rc, err := op.open(ctx, x.b, x.seg.File, x.seg.Bytes, x.seg.SHA256, segWhat(name, x))
				if err != nil {
					out[i] <- fetched{err: err}
					return
				}
				defer rc.Close()
				pooled := segmentBuffers.Get().(*[]byte)
				buf := (*pooled)[:x.seg.To-x.seg.From]
				n, err := io.ReadFull(&ctxReader{ctx: ctx, r: rc}, buf)
				if err == nil {
					// To its end: the stored file's checksum is checked
					// there, and more than the manifest says is damage.
					var extra [1]byte
					var k int
					k, err = io.ReadFull(rc, extra[:])
					switch {
					case k > 0:
						err = refusal(ErrDamaged, "backup %s is damaged: it holds more than the %d bytes of content pack %s its manifest says", x.b.ID, len(buf), name)
					case errors.Is(err, io.EOF):
						err = nil
					}
				} else if errors.Is(err, io.ErrUnexpectedEOF) {
					buf, err = buf[:n], nil // short: the writer says so
				}
				if err != nil {
					segmentBuffers.Put(pooled)
					out[i] <- fetched{err: err}
					return
				}
				out[i] <- fetched{data: buf, buf: pooled}
			}()
		}
	}()
	return out, taken
}
