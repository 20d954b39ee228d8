package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/storage"
)

// Work that fills a project or library from backup data writes to the
// live stores file by file, so a process killed part-way would leave the
// item half-filled. Such work therefore keeps a pending record in the
// Manager store while it runs, and Recover deals with every record a
// stopped Plinth left:
//
//   - Creating an item (a snapshot import, a snapshot restored as new, an
//     item out of a full backup restored as new): the record is written in
//     the same transaction as the new node and removed once the item is
//     full. Recover deletes every item that still has one, through
//     files.Delete, whose intent journal finishes a deletion that a crash
//     cut off in turn: after a restart the new item is there whole, or
//     not at all.
//   - Rolling an item back in place (to a snapshot, or to its content in a
//     full backup): the record is written once the safety snapshot of the
//     item's state exists, before the first change, and removed when the
//     rollback is done (or undone after a failure). Recover finishes a
//     rollback to a snapshot that opens without the backup passphrase, and
//     otherwise puts the item back from the safety snapshot; when neither
//     opens without the passphrase, it tells the Server Administrators
//     which item needs attention and which snapshots to roll it back to,
//     and keeps the record (so that prune keeps those snapshots) until a
//     rollback of the item succeeds or the item is deleted.

// What a pending record's work is (Pending.Op).
const (
	opImport       = "import"        // ImportSnapshot
	opRestoreNew   = "restore-new"   // a snapshot restored as a new item
	opItemNew      = "item-new"      // an item out of a full backup, as a new item
	opRollback     = "rollback"      // a rollback to a snapshot, in place
	opItemRollback = "item-rollback" // an item out of a full backup, in place
)

// Pending is the record of work on an item that has not finished.
type Pending struct {
	Node    string    `json:"node"` // the item created or rolled back
	Op      string    `json:"op"`
	Name    string    `json:"name"`
	Kind    string    `json:"kind"`
	By      string    `json:"by"`
	Started time.Time `json:"started"`
	// From is the snapshot or full backup the content comes from; for an
	// import, the archive's file name.
	From     string `json:"from,omitempty"`
	ItemPath string `json:"itemPath,omitempty"` // item-*: the item's path in the full backup
	// Rollbacks: the safety snapshot of the item's state before, and
	// whether the rollback had failed and was being undone.
	Safety string `json:"safety,omitempty"`
	Undo   bool   `json:"undo,omitempty"`
	// Told: the Server Administrators were told that the item needs
	// attention (once is enough).
	Told bool `json:"told,omitempty"`
}

// pendings holds the records, by node id.
var pendings = storage.NewCollection[Pending]("bkpending")

func (p Pending) creates() bool {
	return p.Op == opImport || p.Op == opRestoreNew || p.Op == opItemNew
}

func (s *Service) putPending(p Pending) error {
	return s.mgr.Update(func(tx *storage.Tx) error { return pendings.Put(tx, p.Node, p) })
}

func (s *Service) clearPending(node string) error {
	return s.mgr.Update(func(tx *storage.Tx) error { return pendings.Delete(tx, node) })
}

// heldSnapshots are the snapshots pending rollbacks may still need.
func (s *Service) heldSnapshots() (map[string]bool, error) {
	held := map[string]bool{}
	err := s.mgr.View(func(tx *storage.Tx) error {
		return pendings.Scan(tx, "", func(_ string, p Pending) error {
			if !p.creates() {
				held[p.From], held[p.Safety] = true, true
			}
			return nil
		})
	})
	return held, err
}

// rollbackKey marks an item that a rollback is changing.
type rollbackKey struct{ node string }

// Recover deals with the work on items that a stopped Plinth left
// unfinished (see above), and tells the Server Administrators what it
// did. Run it at start, after files.Service.Recover. It fails only when
// the records cannot be read: an item it cannot deal with now is
// reported, and tried again at the next start.
func (s *Service) Recover(ctx context.Context) error {
	var all []Pending
	if err := s.mgr.View(func(tx *storage.Tx) (err error) { all, err = pendings.List(tx, ""); return err }); err != nil {
		return fmt.Errorf("read the work on projects that was interrupted: %w", err)
	}
	for _, p := range all {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.creates() {
			s.recoverCreated(ctx, p)
		} else {
			s.recoverRollback(ctx, p)
		}
	}
	return nil
}

// interrupted says what was cut off, as the start of a sentence.
func (p Pending) interrupted() string {
	switch p.Op {
	case opImport:
		return fmt.Sprintf("The import of %q from %s was interrupted when Plinth stopped", p.Name, p.From)
	case opRestoreNew:
		return fmt.Sprintf("Creating %q from snapshot %s was interrupted when Plinth stopped", p.Name, p.From)
	case opItemNew:
		return fmt.Sprintf("Creating %q from %s in backup %s was interrupted when Plinth stopped", p.Name, p.ItemPath, p.From)
	case opItemRollback:
		return fmt.Sprintf("Restoring %q to its content in backup %s was interrupted when Plinth stopped", p.Name, p.From)
	}
	return fmt.Sprintf("The rollback of %q to snapshot %s was interrupted when Plinth stopped", p.Name, p.From)
}

// again says how to do the work again.
func (p Pending) again() string {
	if p.Op == opImport {
		return "Import it again."
	}
	if p.Op == opRollback {
		return "Roll it back again."
	}
	return "Restore it again."
}

// recoverCreated removes an item whose creation was cut off.
func (s *Service) recoverCreated(ctx context.Context, p Pending) {
	err := s.removeItem(ctx, p.Node)
	if err != nil && !errors.Is(err, files.ErrNotFound) {
		s.log.Error("remove the half-filled item of interrupted work", "op", p.Op, "item", p.Name, "err", err)
		if !p.Told {
			s.tell(ctx, notify.BackupFailed, notify.Error, fmt.Sprintf("%s, and the half-filled %s could not be removed (%v); Plinth tries again at its next start, or delete %q.",
				p.interrupted(), p.Kind, err, p.Name))
			p.Told = true
			if err := s.putPending(p); err != nil {
				s.log.Error("record interrupted work", "item", p.Name, "err", err)
			}
		}
		return
	}
	s.log.Warn("removed the half-filled item of interrupted work", "op", p.Op, "item", p.Name, "from", p.From, "started", p.Started)
	s.tell(ctx, notify.BackupFailed, notify.Warning, p.interrupted()+"; nothing of it was kept. "+p.again())
	if err := s.clearPending(p.Node); err != nil {
		s.log.Error("clear the record of interrupted work", "item", p.Name, "err", err)
	}
}

// recoverRollback finishes a rollback that was cut off, or puts the item
// back as it was, or says that it needs attention.
func (s *Service) recoverRollback(ctx context.Context, p Pending) {
	master, err := s.acc.ActAs(ctx, account.MasterAdmin)
	if err != nil {
		s.log.Error("finish an interrupted rollback", "item", p.Name, "err", err)
		return
	}
	if _, err := s.files.Get(ctx, master, p.Node); errors.Is(err, files.ErrNotFound) {
		s.log.Warn("the item of an interrupted rollback was deleted since", "item", p.Name)
		if err := s.clearPending(p.Node); err != nil {
			s.log.Error("clear the record of interrupted work", "item", p.Name, "err", err)
		}
		return
	} else if err != nil {
		s.log.Error("finish an interrupted rollback", "item", p.Name, "err", err)
		return
	}
	name := p.Name
	if path, err := s.files.Path(ctx, p.Node); err == nil {
		name = "/" + path
	}
	type way struct{ snapshot, done string }
	var ways []way
	if p.Op == opRollback && !p.Undo {
		ways = append(ways, way{p.From, fmt.Sprintf("%s; it was finished when Plinth started again.", p.interrupted())})
	}
	ways = append(ways, way{p.Safety, fmt.Sprintf("%s; %s was put back as it was before (from safety snapshot %s). %s",
		p.interrupted(), name, p.Safety, p.again())})
	var errs []error
	for _, w := range ways {
		err := s.rollTo(ctx, master, p.Node, w.snapshot)
		if err == nil {
			s.log.Warn("dealt with an interrupted rollback", "item", name, "op", p.Op, "to", w.snapshot)
			s.tell(ctx, notify.RestoreCompleted, notify.Warning, w.done)
			if err := s.clearPending(p.Node); err != nil {
				s.log.Error("clear the record of interrupted work", "item", name, "err", err)
			}
			return
		}
		errs = append(errs, err)
	}
	why := "the snapshots are encrypted and need the backup passphrase"
	for _, err := range errs {
		if !errors.Is(err, ErrNeedPassphase) {
			why = strings.TrimSuffix(err.Error(), ".")
		}
	}
	s.log.Error("an interrupted rollback needs attention", "item", name, "op", p.Op, "from", p.From, "safety", p.Safety, "err", errors.Join(errs...))
	if p.Told {
		return
	}
	redo := fmt.Sprintf("Roll it back to snapshot %s again", p.From)
	if p.Op == opItemRollback {
		redo = fmt.Sprintf("Restore it from backup %s again", p.From)
	}
	s.tellAt(ctx, notify.BackupFailed, notify.Error, notify.TargetProjects+":"+name,
		fmt.Sprintf("%s and could not be finished at start (%s): %s may hold part of each state and needs attention. %s, or roll it back to safety snapshot %s to have it as it was before.",
			p.interrupted(), why, name, redo, p.Safety))
	p.Told = true
	if err := s.putPending(p); err != nil {
		s.log.Error("record interrupted work", "item", name, "err", err)
	}
}

// rollTo makes item node hold the content of its plain snapshot id.
func (s *Service) rollTo(ctx context.Context, actor account.Actor, node, id string) error {
	m, err := s.Get(id)
	if err != nil {
		return err
	}
	if m.Level != 1 || m.Item != node {
		return fmt.Errorf("backup %s is not a snapshot of this item", m.ID)
	}
	if m.Encrypted() {
		return refusal(ErrNeedPassphase, "snapshot %s is encrypted; give the backup passphrase", m.ID)
	}
	doc, want, err := s.readTree(m, plain)
	if err != nil {
		return err
	}
	if _, err := s.readChunks(ctx, m, plain, want); err != nil {
		return err
	}
	ps, err := s.packsOf(s.snapshotTarget())
	if err != nil {
		return err
	}
	return s.files.PutTree(ctx, actor, node, doc.Entries, true, chunkOpener(s.fs, s.snapshotTarget(), ps, plain, want), nil)
}
