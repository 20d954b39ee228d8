package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"codeberg.org/plinth/plinth/core/backup/target"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/storage"
)

// pruneSnapshotCopies applies snapshot retention in the snapshot copy
// target: the copy of every snapshot that retention removed here
// (History says so) is removed there, its manifest first, unless it is
// locked (then it stays until its date) or the target refused to remove
// it within RefusedDays (said once, when refused). A snapshot there that
// History knows nothing of (a new machine, another Plinth) stays. Then
// every chunk there that no remaining snapshot there needs is removed,
// unless locked. A target that cannot be listed, or any snapshot there
// whose chunk list cannot be read, removes no chunk: a store that cannot
// be read is never taken for an empty one.
func (s *Service) pruneSnapshotCopies(ctx context.Context) error {
	cfg, err := s.Level1()
	if err != nil || cfg.CopyTo == "" {
		return err
	}
	end, err := s.begin(snapCopyLevel)
	if err != nil {
		return nil // a copy is running; the next prune does it
	}
	defer end()
	x, err := s.openSnapTarget(cfg.CopyTo)
	if err != nil {
		return err
	}
	src := &Source{Name: x.name, T: x.t}
	all, bad, err := scanSnapshotCopies(ctx, src, "")
	if err != nil {
		return err
	}
	now := s.now()
	var kept []Manifest
	for _, m := range all {
		r, ok := s.lookupRecord(m.ID)
		if !ok || r.Removed.IsZero() {
			kept = append(kept, m)
			continue
		}
		base := snapItemKey(m.Item, m.ID)
		if o, err := x.t.Stat(ctx, base+manifestName); err == nil && o.RetainUntil.After(now) {
			kept = append(kept, m) // locked until its date
			continue
		}
		if at := copyOf(r, x.name).Refused; !at.IsZero() && now.Sub(at) < RefusedDays*24*time.Hour {
			kept = append(kept, m)
			continue
		}
		err := removeFromTarget(ctx, x.t, snapItemKey(m.Item, m.ID)) // its chunks go with the sweep
		switch {
		case errors.Is(err, target.ErrLocked):
			kept = append(kept, m)
			s.refused(m, x.name)
			s.tell(ctx, notify.BackupPruned, notify.Warning, fmt.Sprintf("%s refused to remove the copy of snapshot %s of %s (locked); it is left there for %d days.", x.name, m.ID, m.ItemName, RefusedDays))
			continue
		case err != nil:
			return err
		}
		s.markCopyRemoved(m, x.name)
		s.log.Info("pruned snapshot copy", "target", x.name, "id", m.ID, "item", m.ItemName)
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w; no unused chunk was removed from %s", bad[0].Err, x.name)
	}
	used := map[string]bool{}
	for _, m := range kept {
		chunks, err := s.copyChunks(ctx, x.t, m)
		if err != nil {
			return fmt.Errorf("%w; no unused chunk was removed from %s", err, x.name)
		}
		for id := range chunks {
			used[snapChunkKey(id, m.Recipient)] = true
		}
	}
	objs, err := x.t.List(ctx, snapPrefix+"chunks/")
	if err != nil {
		return err
	}
	for _, o := range objs {
		if used[o.Key] || !isSnapChunkKey(o.Key) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// A chunk still locked stays until a sweep after its date.
		if err := x.t.Delete(ctx, o.Key); err != nil && !errors.Is(err, target.ErrLocked) {
			return err
		}
	}
	return nil
}

// isSnapChunkKey reports whether key names a chunk file in a target.
func isSnapChunkKey(key string) bool {
	parts := strings.Split(strings.TrimPrefix(key, snapPrefix+"chunks/"), "/")
	return strings.HasPrefix(key, snapPrefix+"chunks/") && len(parts) == 2 && isChunkFile(parts[0], parts[1])
}

// copyChunks returns the chunks a snapshot in a target needs, from its
// chunk index there (or, with none, its plain tree).
func (s *Service) copyChunks(ctx context.Context, t target.Target, m Manifest) (map[string]int64, error) {
	base := snapItemKey(m.Item, m.ID)
	if m.Tree.Index != "" {
		if m.Tree.IndexBytes <= 0 || m.Tree.IndexBytes > maxTree {
			return nil, refusal(ErrDamaged, "the chunk list of snapshot %s is damaged", m.ID)
		}
		b, err := getLimited(ctx, t, base+m.Tree.Index, m.Tree.IndexBytes, "the chunk list of snapshot "+m.ID)
		if err != nil {
			return nil, err
		}
		idx, err := decodeIndex(m, b)
		return idx.Chunks, err
	}
	if m.Encrypted() {
		return nil, refusal(ErrDamaged, "snapshot %s has no chunk list", m.ID)
	}
	b, err := getLimited(ctx, t, base+m.Tree.File, m.Tree.Bytes, "the tree of snapshot "+m.ID)
	if err != nil {
		return nil, err
	}
	_, want, err := decodeTree(m, plain, b)
	return want, err
}

// markCopyRemoved notes in History that retention removed a snapshot's
// copy from a target.
func (s *Service) markCopyRemoved(m Manifest, to string) {
	err := s.mgr.Update(func(tx *storage.Tx) error {
		r, err := history.Get(tx, m.ID)
		if err != nil {
			return err
		}
		i := copyIndex(&r, to)
		r.Copies[i].Removed = s.now().UTC()
		return history.Put(tx, r.ID, r)
	})
	if err != nil {
		s.log.Error("record the removal of a snapshot copy", "id", m.ID, "err", err)
	}
}
