package backup

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/text"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// Scope says what a restore replaces.
type Scope string

// Restore scopes.
const (
	ScopeAll        Scope = "all"
	ScopeManager    Scope = "manager"
	ScopeFileServer Scope = "fileserver"
	ScopeItem       Scope = "item" // one project or library (a snapshot, or out of a full backup: RestoreItem)
)

// ParseScope reads a scope name.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case ScopeAll, ScopeManager, ScopeFileServer, ScopeItem:
		return Scope(s), nil
	}
	return "", fmt.Errorf("unknown restore scope %q: use all, manager, fileserver or item", s)
}

// words says what the scope restores: "everything", "the Manager".
func (s Scope) words() string {
	switch s {
	case ScopeManager:
		return "the Manager"
	case ScopeFileServer:
		return "the File Server"
	}
	return "everything"
}

func (s Scope) kinds() []storage.Kind {
	switch s {
	case ScopeManager:
		return []storage.Kind{storage.Manager}
	case ScopeFileServer:
		return []storage.Kind{storage.FileServer}
	}
	return []storage.Kind{storage.Manager, storage.FileServer}
}

// Result says what a restore did.
type Result struct {
	Backup     string `json:"backup"`
	Scope      Scope  `json:"scope"`
	SafetyCopy string `json:"safetyCopy,omitempty"` // where the replaced data is kept
	Item       string `json:"item,omitempty"`       // level 1: the project or library restored
}

// Preview says, in sentences, what restoring m with scope would change.
func (s *Service) Preview(ctx context.Context, m Manifest, scope Scope) ([]string, error) {
	mgr, fsr := s.files.Stores()
	var out []string
	if m.Level == 1 {
		return s.previewSnapshot(ctx, m)
	}
	if scope == ScopeItem {
		return nil, errors.New("say which project or library to restore from the full backup")
	}
	for _, k := range scope.kinds() {
		p, ok := m.Payload(k)
		if !ok {
			return nil, fmt.Errorf("backup %s has no %s part", m.ID, storeName(k))
		}
		st := mgr
		if k == storage.FileServer {
			st = fsr
		}
		var now storage.FileSet
		if err := st.View(func(tx *storage.Tx) (err error) { now, err = tx.FileSet(); return err }); err != nil {
			return nil, fmt.Errorf("read the file count of the %s: %w", storeName(k), err)
		}
		out = append(out, fmt.Sprintf("The %s goes back to %s: %s now, %s after the restore.",
			storeName(k), m.Created.Local().Format("2006-01-02 15:04"), text.Count(int(now.Count), "file"), text.Count(int(p.Files), "file")))
	}
	if scope != ScopeAll {
		out = append(out, "Only one store is restored, so the two will disagree: Plinth checks them afterwards and offers the full file synchronization.")
	}
	out = append(out, "The data replaced is kept as a safety copy until you remove it.")
	return out, nil
}

// Restore replaces one or both stores with their state in a level-2
// backup (and the chain it continues). It checks every file of the chain,
// loads the backup into new folders beside the live ones and checks the
// result against the manifest; only then does it pause everything, swap
// the folders by renaming (keeping the replaced ones as a safety copy),
// bump the restore generation and let Plinth go on. Any failure before the
// swap leaves the live data exactly as it was. History stays as it was
// (it goes into the restored Manager), with a record of the restore that
// retention keeps the backup for. It needs every permission on the
// Servers page.
func (s *Service) Restore(ctx context.Context, actor account.Actor, id string, scope Scope, passphrase string, prog progress.Func) (Result, error) {
	res := Result{Scope: scope}
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.All); err != nil {
		return res, err
	}
	m, err := s.Get(id)
	if err != nil {
		return res, err
	}
	res.Backup = m.ID
	if m.Level == 1 {
		return s.restoreSnapshot(ctx, actor, m, "", passphrase, prog)
	}
	if scope == ScopeItem {
		return res, errors.New("say which project or library to restore from the full backup")
	}
	end, err := s.begin(2)
	if err != nil {
		return res, err
	}
	defer end()
	start := s.now()
	all, err := s.siblings(ctx, m)
	if err != nil {
		return res, err
	}
	ch, err := chain(all, m)
	if err != nil {
		return res, err
	}
	if err := newerData(ch, scope.kinds(), m.ID); err != nil {
		return res, err
	}
	op, err := s.opener(m, filepath.Dir(m.Path), passphrase)
	if err != nil {
		return res, err
	}
	mgr, fsr := s.files.Stores()
	stores := map[storage.Kind]*storage.Store{storage.Manager: mgr, storage.FileServer: fsr}
	// A backup of another Plinth may only go onto a fresh one (moving to a
	// new machine), and then only whole.
	for _, k := range scope.kinds() {
		p, _ := m.Payload(k)
		if p.Identity != stores[k].Identity().ID {
			if !s.fresh() {
				return res, fmt.Errorf("backup %s was taken of another Plinth; restore it on a fresh installation to move that Plinth here: %w", m.ID, ErrOtherPlinth)
			}
			if scope != ScopeAll {
				return res, fmt.Errorf("backup %s was taken of another Plinth; restore it whole to move it here: %w", m.ID, ErrOtherPlinth)
			}
		}
	}

	// Refuse before writing anything when the data folder's disk cannot
	// hold the restored stores beside the live ones (the live ones become
	// the safety copy by a rename, which costs nothing).
	need, err := restoreBytes(ch, scope.kinds())
	if err != nil {
		return res, err
	}
	if err := storage.NeedSpace(s.dataDir, need, "the restore"); err != nil {
		return res, err
	}
	// Every file of the chain must match its checksum before it is used:
	// a damaged one stops the restore before anything is swapped in. The
	// stores' streams are checked before they are loaded; the segments of
	// packs a restore decodes ahead in memory are checked as they are read
	// (checkedInMemory), so their bytes are read and hashed once.
	prog.Send(progress.Report{Phase: "Checking checksums"})
	if !sealedRemote(ch) {
		var skip func(Manifest, Segment) bool // a restore of the Manager alone decodes no pack
		if slices.Contains(scope.kinds(), storage.FileServer) {
			skip = checkedInMemory
		}
		if err := s.checkChain(ctx, ch, skip); err != nil {
			return res, err
		}
	}
	stamp, err := s.restoreStamp(scope.kinds())
	if err != nil {
		return res, err
	}
	dirs := map[storage.Kind]string{}
	for _, k := range scope.kinds() {
		dirs[k] = stagingDir(s.dataDir, k, stamp)
	}
	keepJournal := false // a swap could not be undone: the next start finishes it
	defer func() {
		if keepJournal {
			return // RecoverRestore needs the staged folders
		}
		for _, d := range dirs {
			_ = os.RemoveAll(d) // gone after a successful swap
		}
	}()
	if err := stage(ctx, ch, op, dirs, storage.Options{}, prog); err != nil {
		return res, diskFull(err, s.dataDir, "the restore stopped and nothing was changed")
	}
	prog.Send(progress.Report{Phase: "Checking the restored data"})
	for k, dir := range dirs {
		if err := checkStaged(dir, k, m); err != nil {
			return res, err
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	// History goes into the restored Manager as it is now, with this
	// restore: the data goes back, what happened to the backups does not.
	rec := s.restoreRecord(m, scope.words(), start)
	recorded := false
	if dir, ok := dirs[storage.Manager]; ok {
		if err := s.carryHistory(dir, rec); err != nil {
			s.log.Warn("carry History into the restored Manager", "err", err)
		} else {
			recorded = true
		}
	}

	// Swap: from here on everything waits for a moment.
	res.SafetyCopy = filepath.Join(s.dataDir, "safety", stamp)
	if err := s.fs.MkdirAll(res.SafetyCopy, 0o700); err != nil {
		return res, fmt.Errorf("make the safety copy folder: %w", err)
	}
	// A journal lets the next start finish the swap if Plinth dies between
	// the renames (RecoverRestore).
	j := journal{Safety: res.SafetyCopy, Swaps: map[storage.Kind]swap{}}
	for _, k := range scope.kinds() {
		j.Swaps[k] = swap{Live: stores[k].Dir(), Staged: dirs[k], Generation: stores[k].Identity().Generation + 1}
	}
	if err := j.write(s.fs, s.dataDir); err != nil {
		// The write may have put the journal in place before it failed:
		// the next start must not carry out a restore that failed.
		removeJournal(s.dataDir)
		_ = os.Remove(res.SafetyCopy)
		return res, fmt.Errorf("record the restore: %w", err)
	}
	defer func() {
		if !keepJournal {
			removeJournal(s.dataDir)
		}
	}()
	prog.Send(progress.Report{Phase: "Swapping in the restored data"})
	err = s.files.Exclusive(func() error {
		var done []storage.Kind
		for _, k := range scope.kinds() {
			if err := s.swapIn(stores[k], dirs[k], filepath.Join(res.SafetyCopy, string(k))); err != nil {
				stuck := errors.Is(err, errSwapStuck)
				// Put back the stores swapped already, so that the live
				// data is as it was: both stores old, never one of each.
				for i := len(done) - 1; i >= 0 && !stuck; i-- {
					d := done[i]
					stuck = s.swapIn(stores[d], filepath.Join(res.SafetyCopy, string(d)), dirs[d]) != nil
				}
				if stuck {
					keepJournal = true // RecoverRestore finishes the restore
					return fmt.Errorf("swap in the restored %s: %w; restart Plinth to finish the restore", storeName(k), err)
				}
				_ = os.Remove(res.SafetyCopy)
				return fmt.Errorf("swap in the restored %s: %w; the current data was kept", storeName(k), err)
			}
			done = append(done, k)
		}
		for _, k := range done {
			delete(dirs, k)
			if _, err := stores[k].SetGeneration(j.Swaps[k].Generation); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if !recorded {
		s.record(rec)
	}
	if s.UpgradeRestored != nil {
		if err := s.UpgradeRestored(); err != nil {
			return res, fmt.Errorf("backup %s was restored, and upgrading it to this Plinth's data format failed (the next start tries again): %w", m.ID, err)
		}
	}
	if err := s.files.Recover(ctx); err != nil {
		return res, err
	}
	s.log.Info("restored", "backup", m.ID, "scope", scope, "safety", res.SafetyCopy)
	s.tell(ctx, notify.RestoreCompleted, notify.Info, fmt.Sprintf("Restore of backup %s (%s) finished. The data it replaced is kept in %s until you remove it.", m.ID, scope, res.SafetyCopy))
	if s.AfterRestore != nil {
		s.AfterRestore(ctx)
	}
	return res, nil
}

// restoreRecord is the History record of a restore of what (a scope,
// or a project's name) from the full backup m, begun at start. Retention
// keeps the backups restores read (see keep).
func (s *Service) restoreRecord(m Manifest, what string, start time.Time) Record {
	return Record{ID: "restore-" + newID(start), Level: 2, Type: TypeRestore, Item: what + " from backup " + m.ID, From: m.ID,
		Started: start.UTC(), Finished: s.now().UTC(), OK: true}
}

// carryHistory writes History as it is now, and rec, into the Manager
// store staged in dir, which then replaces the live one: a restore brings
// the data back as it was, not what happened to the backups since (which
// were taken, verified, removed or restored from), and the swap brings
// both in at once.
func (s *Service) carryHistory(dir string, rec Record) error {
	var recs []Record
	if err := s.mgr.View(func(tx *storage.Tx) (err error) { recs, err = history.List(tx, ""); return err }); err != nil {
		return err
	}
	st, err := storage.Open(dir, storage.Manager, storage.Options{})
	if err != nil {
		return err
	}
	b := st.NewBatch()
	for _, r := range append(recs, rec) {
		if err = history.PutBatch(b, r.ID, r); err != nil {
			break
		}
	}
	if err != nil {
		b.Cancel()
	} else {
		err = b.Flush()
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return err
}

// errSwapStuck means a swap failed and could not be undone either.
var errSwapStuck = errors.New("and undoing it failed")

// swapIn puts the store folder in for the live folder of st, which goes
// to out. On failure the live folder is as it was, unless the error is
// errSwapStuck.
func (s *Service) swapIn(st *storage.Store, in, out string) error {
	return st.Swap(func() error {
		live := st.Dir()
		if err := s.fs.Rename(live, out); err != nil {
			return err
		}
		if err := s.fs.Rename(in, live); err != nil {
			if rerr := s.fs.Rename(out, live); rerr != nil {
				return fmt.Errorf("%w (%w: %v)", err, errSwapStuck, rerr)
			}
			return err
		}
		if err := s.fs.SyncDir(filepath.Dir(live)); err != nil {
			// The renames may not last: undo them.
			if rerr := s.fs.Rename(live, in); rerr != nil {
				return fmt.Errorf("%w (%w: %v)", err, errSwapStuck, rerr)
			}
			if rerr := s.fs.Rename(out, live); rerr != nil {
				_ = s.fs.Rename(in, live) // never leave the live folder missing
				return fmt.Errorf("%w (%w: %v)", err, errSwapStuck, rerr)
			}
			return err
		}
		return nil
	})
}

// stagingDir is where a restore loads the store of kind k.
func stagingDir(dataDir string, k storage.Kind, stamp string) string {
	return filepath.Join(dataDir, "."+string(k)+".restoring-"+stamp)
}

// restoreStamp names a restore's safety copy and staging folders: the
// time to the second, then -01, -02 … when a restore in the same second
// took that name already, so the names are unique, readable and sort in
// the order the restores ran.
func (s *Service) restoreStamp(kinds []storage.Kind) (string, error) {
	base := s.now().UTC().Format("20060102-150405")
	for i := 0; i < 100; i++ {
		stamp := base
		if i > 0 {
			stamp = fmt.Sprintf("%s-%02d", base, i)
		}
		taken := exists(s.fs, filepath.Join(s.dataDir, "safety", stamp))
		for _, k := range kinds {
			taken = taken || exists(s.fs, stagingDir(s.dataDir, k, stamp))
		}
		if !taken {
			return stamp, nil
		}
	}
	return "", fmt.Errorf("100 restores began at %s; wait a second and try again", base)
}

func exists(fs fsys.FS, path string) bool {
	_, err := fs.Lstat(path)
	return !errors.Is(err, os.ErrNotExist)
}

// restoreBytes is about what restoring the stores of kinds from chain ch
// writes: every pack committed at its last backup, and the Badger streams
// loaded into new stores (taken as four times their compressed size).
// Every size was checked when its manifest was read (at most maxSize
// each); a chain whose sizes add up beyond int64 is damaged.
func restoreBytes(ch []Manifest, kinds []storage.Kind) (int64, error) {
	var n int64
	ok := true
	add := func(x int64) {
		if ok && x >= 0 && n <= math.MaxInt64-x {
			n += x
			return
		}
		ok = false
	}
	for _, k := range kinds {
		for _, b := range ch {
			p, _ := b.Payload(k)
			for range 4 {
				add(p.Bytes)
			}
		}
		if k == storage.FileServer {
			p, _ := ch[len(ch)-1].Payload(k)
			for _, size := range p.Committed {
				add(size)
			}
		}
	}
	if !ok {
		return 0, refusal(ErrDamaged, "backup %s is damaged: the sizes in the manifests of its chain add up to more than any disk holds", ch[len(ch)-1].ID)
	}
	return n, nil
}

// diskFull gives a write that found the disk holding dir full its
// sentence, saying what became of the work. A refusal for lack of space
// (storage.ErrNoSpace) has its own sentence already.
func diskFull(err error, dir, what string) error {
	if storage.IsDiskFull(err) && !errors.Is(err, storage.ErrNoSpace) {
		return refusal(storage.ErrDiskFull, "the disk holding %s is full; %s", dir, what)
	}
	return err
}

// checkStaged opens a restored store and compares it with the manifest.
func checkStaged(dir string, k storage.Kind, m Manifest) error {
	st, err := storage.Open(dir, k, storage.Options{})
	if err != nil {
		return fmt.Errorf("the restored %s does not open: %w", storeName(k), err)
	}
	defer st.Close()
	p, _ := m.Payload(k)
	var set storage.FileSet
	if err := st.View(func(tx *storage.Tx) (err error) { set, err = tx.FileSet(); return err }); err != nil {
		return err
	}
	if set.Count != p.Files || hex.EncodeToString(set.Digest[:]) != p.Digest || st.Identity().ID != p.Identity {
		return fmt.Errorf("the restored %s does not match backup %s (%d files, %d expected): %w", storeName(k), m.ID, set.Count, p.Files, ErrDamaged)
	}
	return nil
}

// fresh reports whether this Plinth holds no files yet (a new installation).
func (s *Service) fresh() bool {
	m, f, err := s.files.Digests()
	return err == nil && m.Count == 0 && f.Count == 0
}

// SafetyCopies lists the folders earlier restores kept.
func (s *Service) SafetyCopies() ([]string, error) {
	dir := filepath.Join(s.dataDir, "safety")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, err
}

// RemoveSafetyCopy deletes what a restore kept. It needs every permission
// on the Servers page.
func (s *Service) RemoveSafetyCopy(ctx context.Context, actor account.Actor, path string) error {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.All); err != nil {
		return err
	}
	if filepath.Dir(path) != filepath.Join(s.dataDir, "safety") {
		return fmt.Errorf("%s is not a safety copy", path)
	}
	return os.RemoveAll(path)
}

// newerData refuses a backup that holds stores of a newer data format
// than this Plinth reads (a newer Plinth took it): restored, they would be
// read wrong.
func newerData(ch []Manifest, kinds []storage.Kind, id string) error {
	for _, b := range ch {
		for _, k := range kinds {
			if p, ok := b.Payload(k); ok && p.Format > upgrade.Data {
				return newerBackup("backup "+id+" holds data that", "data format", p.Format, upgrade.Data, b.Writer)
			}
		}
	}
	return nil
}

// checkedInMemory reports whether the restore of a pack checks the
// stored segment seg of backup b as it reads it, before any of its bytes
// is used: a segment of a local backup that prefetch decodes into memory.
// Its SHA-256 is compared at the end of the stored file, which prefetch
// reads to its end before it hands the segment over, and a segment that
// does not match fails the restore before the swap, with the sentence
// the check before the load would give. (The decoder meets the bytes
// before their hash is known; it is bounded (maxWindow, one segment of
// output), and a local backup's manifest is no more trusted than its
// files, so checking first kept nothing out of it.)
func checkedInMemory(b Manifest, seg Segment) bool {
	return b.Source == nil && seg.To-seg.From <= objectCut
}

// sealedRemote reports whether every backup of a chain is encrypted and
// read from a target. Then the checksum pass before the load is left out:
// it would download everything twice, and it adds nothing. age
// authenticates every 64 KiB chunk before it is decompressed, so bytes
// that were not written with the key are never decoded, and the SHA-256
// of each file is still checked at its end; a mismatch fails the load,
// which runs into staging folders, before anything is swapped in.
func sealedRemote(ch []Manifest) bool {
	for _, b := range ch {
		if b.Source == nil || !b.Encrypted() {
			return false
		}
	}
	return len(ch) > 0
}
