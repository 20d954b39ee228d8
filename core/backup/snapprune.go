package backup

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"codeberg.org/plinth/plinth/storage/fsys"
)

// ManualKeepDays is how long a snapshot taken by hand (Snapshot now,
// backup --level 1) and a safety snapshot (the state a rollback or item
// restore replaced) are kept: 30 days from when it was taken.
const ManualKeepDays = 30

// scheduled reports whether a snapshot was taken by the schedule.
func scheduled(m Manifest) bool { return m.Trigger == "" || m.Trigger == TriggerSchedule }

// pruneSnapshots applies the snapshot retention rule, item by item:
//
//   - of the snapshots the schedule took, the newest N are kept, N being
//     the item's Keep last N;
//   - a snapshot taken by hand, or a safety snapshot, is kept for
//     ManualKeepDays days; these never push a scheduled snapshot out, and
//     scheduled ones never push them out;
//   - an item's newest snapshot is always kept, and so are the snapshots
//     a rollback that was cut off needs (see Recover).
//
// Then it removes every chunk no remaining snapshot needs (also those
// that failed or interrupted snapshots and imports left behind) and
// leftovers of interrupted writes. If a snapshot cannot be read, no chunk
// is removed: it might need them. Then retention follows in the snapshot
// copy target (pruneSnapshotCopies); a target that cannot be pruned now
// is tried again the next time, and does not fail the prune here.
func (s *Service) pruneSnapshots(ctx context.Context) ([]Manifest, error) {
	gone, err := s.pruneSnapshotsHere(ctx)
	if perr := s.pruneSnapshotCopies(ctx); perr != nil {
		s.log.Warn("prune the snapshot copy target", "err", perr)
	}
	return gone, err
}

// pruneSnapshotsHere applies the rule in the snapshot folder (see
// pruneSnapshots).
func (s *Service) pruneSnapshotsHere(ctx context.Context) ([]Manifest, error) {
	r, err := openRepo(ctx, s.fs, s.snapshotTarget())
	if err != nil {
		return nil, err
	}
	defer r.close()
	if err := s.checkSnapshotRepo(r.dir, true); err != nil {
		return nil, err
	}
	all, unreadable, err := s.scanSnapshots(r.dir)
	if err != nil {
		return nil, err
	}
	byItem := map[string][]Manifest{}
	for _, m := range all {
		byItem[m.Item] = append(byItem[m.Item], m)
	}
	// Snapshots a rollback that was cut off may still need stay.
	held, err := s.heldSnapshots()
	if err != nil {
		return nil, err
	}
	items := sortedIDs(byItem)
	now := s.now()
	var gone, kept []Manifest
	for _, item := range items {
		keepN := DefaultSnapSchedule.Keep
		if c, _, err := s.SnapshotSchedule(ctx, item); err == nil && c.Keep > 0 {
			keepN = c.Keep
		}
		n := 0
		for i, m := range byItem[item] { // newest first
			keep := i == 0 || held[m.ID]
			if scheduled(m) {
				n++
				keep = keep || n <= keepN
			} else {
				keep = keep || now.Sub(m.Created) < ManualKeepDays*24*time.Hour
			}
			if keep {
				kept = append(kept, m)
				continue
			}
			if err := ctx.Err(); err != nil {
				return gone, err
			}
			ir := &repo{fs: s.fs, dir: filepath.Dir(m.Path)}
			if err := ir.remove(m); err != nil {
				return gone, err
			}
			s.markRemoved(m)
			s.log.Info("pruned snapshot", "id", m.ID, "item", m.ItemName)
			gone = append(gone, m)
		}
	}
	if len(unreadable) > 0 {
		return gone, refusal(ErrDamaged, "the snapshot in %s cannot be read, so no unused chunk was removed; repair or remove that folder", unreadable[0])
	}
	used := map[string]bool{}
	for _, m := range kept {
		chunks, err := s.chunksOf(m)
		if err != nil {
			return gone, fmt.Errorf("%w; no unused chunk was removed", err)
		}
		for id := range chunks {
			used[chunkName(id, m.Recipient)] = true
		}
	}
	if err := s.sweepChunks(ctx, r.dir, used); err != nil {
		return gone, err
	}
	return gone, s.sweepPacks(ctx, r.dir, used)
}

// scanSnapshots lists every snapshot in a target, newest first per item,
// and the folders that should hold one but cannot be read. It removes
// what interrupted snapshots and removals left in the item folders.
func (s *Service) scanSnapshots(target string) (all []Manifest, unreadable []string, err error) {
	dir := filepath.Join(target, "items")
	items, err := s.fs.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read snapshot target %s: %w", target, err)
	}
	for _, it := range items {
		if !it.IsDir() || strings.HasPrefix(it.Name(), ".") {
			continue
		}
		itemDir := filepath.Join(dir, it.Name())
		ents, err := s.fs.ReadDir(itemDir)
		if err != nil {
			return nil, nil, fmt.Errorf("read snapshot target %s: %w", target, err)
		}
		var mine []Manifest
		for _, e := range ents {
			p := filepath.Join(itemDir, e.Name())
			switch {
			case strings.HasPrefix(e.Name(), ".incomplete-") || strings.HasPrefix(e.Name(), ".removing-") || fsys.IsTemp(e.Name()):
				_ = s.fs.RemoveAll(p)
			case !e.IsDir() || strings.HasPrefix(e.Name(), "."):
			default:
				m, err := readManifest(s.fs, p)
				if err != nil || m.Level != 1 {
					unreadable = append(unreadable, p)
					continue
				}
				mine = append(mine, m)
			}
		}
		sortNewestFirst(mine)
		all = append(all, mine...)
	}
	return all, unreadable, nil
}

// sweepChunks removes the chunk files of target not in used (by file
// name) and temporary files left by interrupted writes.
func (s *Service) sweepChunks(ctx context.Context, target string, used map[string]bool) error {
	root := filepath.Join(target, "chunks")
	dirs, err := s.fs.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read snapshot target %s: %w", target, err)
	}
	var first error
	for _, d := range dirs {
		if !d.IsDir() || len(d.Name()) != 2 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		ents, err := s.fs.ReadDir(filepath.Join(root, d.Name()))
		if err != nil {
			return fmt.Errorf("read snapshot target %s: %w", target, err)
		}
		for _, e := range ents {
			name := e.Name()
			if e.IsDir() || !(fsys.IsTemp(name) || (isChunkFile(d.Name(), name) && !used[name])) {
				continue
			}
			if err := s.fs.Remove(filepath.Join(root, d.Name(), name)); err != nil && first == nil {
				first = fmt.Errorf("remove an unused chunk: %w", err)
			}
		}
	}
	return first
}

// repackBelow is the share of a pack's bytes still used below which prune
// rewrites the pack with only those chunks.
const repackBelow = 0.5

// sweepPacks removes the packs of target none of whose chunks is in used
// (by chunkName), rewrites those mostly unused (repackBelow) with just the
// used chunks, and removes temporary files left by interrupted writes. A
// new pack is durable before the one it replaces is removed, so a crash
// at any point leaves every used chunk in some pack (perhaps in two). A
// pack whose index is damaged is left alone: what it holds is unknown.
func (s *Service) sweepPacks(ctx context.Context, target string, used map[string]bool) error {
	ps, err := s.packsOf(target)
	if err != nil {
		return err
	}
	dir := filepath.Join(target, packsDir)
	ents, err := s.fs.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read snapshot target %s: %w", target, err)
	}
	var first error
	removed := false
	for _, e := range ents {
		if !e.IsDir() && fsys.IsTemp(e.Name()) {
			if err := s.fs.Remove(filepath.Join(dir, e.Name())); err != nil && first == nil {
				first = fmt.Errorf("remove an unfinished pack: %w", err)
			}
			removed = true
		}
	}
	if bad := ps.damaged(); bad != "" {
		s.log.Warn("a snapshot pack's index is damaged; it is left as it is", "pack", filepath.Join(dir, bad))
	}
	for _, name := range ps.list() {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, ok := ps.meta(name)
		if !ok {
			continue
		}
		var keep []packEntry
		var keepBytes int64
		for _, e := range m.entries {
			if used[tagKey(e.id, m.tag)] {
				keep = append(keep, e)
				keepBytes += e.stored
			}
		}
		switch {
		case len(keep) == len(m.entries):
			continue
		case len(keep) > 0 && float64(keepBytes) >= repackBelow*float64(m.data):
			continue
		case len(keep) > 0:
			if err := s.repack(dir, ps, name, m, keep); err != nil {
				return fmt.Errorf("repack a snapshot pack: %w", err)
			}
		}
		if err := s.fs.Remove(filepath.Join(dir, name)); err != nil {
			if first == nil {
				first = fmt.Errorf("remove an unused pack: %w", err)
			}
			continue
		}
		ps.drop(name)
		removed = true
	}
	if removed {
		if err := s.fs.SyncDir(dir); err != nil && first == nil {
			first = fmt.Errorf("remove an unused pack: %w", err)
		}
	}
	return first
}

// repack writes the entries keep of pack name into a new pack, durable
// (folder synced) when it returns.
func (s *Service) repack(dir string, ps *packSet, name string, m *packMeta, keep []packEntry) error {
	src, err := s.fs.Open(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	defer src.Close()
	w, err := newPackWriter(s.fs, dir, "")
	if err != nil {
		return err
	}
	w.tag = m.tag
	for _, e := range keep {
		b := make([]byte, e.stored)
		if _, err := src.ReadAt(b, e.off); err != nil {
			w.abort()
			return err
		}
		if err := w.add(hex.EncodeToString(e.id[:]), b, e.raw); err != nil {
			w.abort()
			return err
		}
	}
	size, err := w.commit()
	if err != nil {
		return err
	}
	if err := s.fs.SyncDir(dir); err != nil {
		return err
	}
	ps.add(w.name, size, w.tag, w.entries)
	return nil
}
