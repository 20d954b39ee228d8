package backup

import (
	"context"
	"errors"
	"fmt"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
)

// keep works out which level-2 backups the retention rule keeps: the newest
// of each of the last KeepDaily days that have backups, the newest of each
// of the last KeepWeekly weeks, always the newest backup, always the newest
// sound one (its chain intact and no link of it failed a verification: bad
// lists those that did), the pinned ones, and every backup a kept
// incremental needs. Everything else may go.
func keep(all []Manifest, c Level2Settings, plinth string, bad map[string]bool, pinned ...string) map[string]bool {
	var mine []Manifest // newest first
	for _, m := range all {
		if m.Level == 2 && m.Plinth == plinth {
			mine = append(mine, m)
		}
	}
	kept := map[string]bool{}
	if len(mine) == 0 {
		return kept
	}
	kept[mine[0].ID] = true
	for _, id := range pinned {
		kept[id] = true
	}
	// A failed or damaged backup after the last sound one never pushes
	// that one out.
	for _, m := range mine {
		if sound(all, m, bad) {
			kept[m.ID] = true
			break
		}
	}
	days, weeks := map[string]bool{}, map[string]bool{}
	for _, m := range mine {
		t := m.Created.Local()
		day := t.Format("2006-01-02")
		y, w := t.ISOWeek()
		week := fmt.Sprintf("%d-%02d", y, w)
		if !days[day] && len(days) < c.KeepDaily {
			days[day] = true
			kept[m.ID] = true
		}
		if !weeks[week] && len(weeks) < c.KeepWeekly {
			weeks[week] = true
			kept[m.ID] = true
		}
	}
	// Whatever a kept incremental continues must stay. When a link of its
	// chain cannot be read just now (or is damaged), everything older of
	// the same chain stays: the missing link may come back.
	var needs []Manifest
	for _, m := range mine {
		if !kept[m.ID] {
			continue
		}
		ch, err := chain(all, m)
		if err == nil {
			needs = append(needs, ch...)
			continue
		}
		for _, b := range mine {
			if b.ID == m.Base || b.Base == m.Base && newer(m, b) {
				needs = append(needs, b)
			}
		}
	}
	for _, b := range needs {
		kept[b.ID] = true
	}
	return kept
}

// sound reports whether m can be restored as far as is known: its chain
// is intact and no link of it failed a verification.
func sound(all []Manifest, m Manifest, bad map[string]bool) bool {
	ch, err := chain(all, m)
	if err != nil {
		return false
	}
	for _, b := range ch {
		if bad[b.ID] {
			return false
		}
	}
	return true
}

// failedVerifications lists the backups whose last verification failed.
func (s *Service) failedVerifications() map[string]bool {
	bad := map[string]bool{}
	_ = s.mgr.View(func(tx *storage.Tx) error {
		return history.Scan(tx, "", func(id string, r Record) error {
			if !r.Verified.IsZero() && !r.VerifyOK {
				bad[r.ID] = true
			}
			return nil
		})
	})
	return bad
}

// Prune removes the level-2 backups the retention rule no longer keeps
// (with dryRun, only says which). Backups of another Plinth in the same
// target, and folders whose manifest is damaged, are left alone. It needs
// Delete content on the Servers page.
func (s *Service) Prune(ctx context.Context, actor account.Actor, dryRun bool) ([]Manifest, error) {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.DeleteContent); err != nil {
		return nil, err
	}
	cfg, err := s.Level2()
	if err != nil {
		return nil, err
	}
	r, err := openRepo(ctx, s.fs, cfg.Target)
	if err != nil {
		return nil, err
	}
	defer r.close()
	gone, err := s.prune(ctx, r, cfg, dryRun)
	if err != nil {
		return gone, err
	}
	if !dryRun {
		n, err := s.pruneSnapshots(ctx)
		if err != nil {
			return gone, err
		}
		gone = append(gone, n...)
	}
	return gone, nil
}

func (s *Service) prune(ctx context.Context, r *repo, cfg Level2Settings, dryRun bool) ([]Manifest, error) {
	all, bad, err := scan(s.fs, r.dir)
	if err != nil {
		return nil, err
	}
	// A newer Plinth uses this target too (after going back to this one,
	// say): its chains may build on backups this one would remove, and
	// its own backups are the only ones of the data it holds. Its own
	// prune looks after them.
	for _, d := range bad {
		if errors.Is(d.Err, ErrNewerBackup) {
			s.log.Warn("not pruning a backup target that holds backups of a newer Plinth", "target", r.dir, "backup", d.ID)
			return nil, nil
		}
	}
	for _, m := range all {
		if newerPayload(m) {
			s.log.Warn("not pruning a backup target that holds backups of a newer Plinth", "target", r.dir, "backup", m.ID)
			return nil, nil
		}
	}
	r.sweep() // what interrupted backups and removals left
	mgr, _ := s.files.Stores()
	var pinned []string
	if s.Pinned != nil {
		pinned = s.Pinned()
	}
	kept := keep(all, cfg, mgr.Identity().ID, s.failedVerifications(), pinned...)
	var gone []Manifest
	// Newest first: an incremental goes before the backup it continues, so
	// a crash part-way never leaves an incremental without its parent.
	for _, m := range all {
		if m.Level != 2 || m.Plinth != mgr.Identity().ID || kept[m.ID] {
			continue
		}
		gone = append(gone, m)
		if dryRun {
			continue
		}
		if err := ctx.Err(); err != nil {
			return gone, err
		}
		if err := r.remove(m); err != nil {
			return gone, err
		}
		s.log.Info("pruned backup", "id", m.ID)
	}
	return gone, nil
}

// newerPayload reports whether a backup holds a store of a newer data
// format than this Plinth reads.
func newerPayload(m Manifest) bool {
	for _, p := range m.Payloads {
		if p.Format > upgrade.Data {
			return true
		}
	}
	return false
}
