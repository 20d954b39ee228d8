package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/text"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
)

// RestoreKeepDays is how long a full backup that a restore read is kept
// after that restore, whatever the retention rule says. The backup most
// recently restored from is kept beyond that, until another restore
// takes its place.
const RestoreKeepDays = 30

// Reasons a full backup is kept, as Decision.Why says them (besides
// "newest N", "restored from on …" and "incremental chain of …").
const (
	WhyDaily       = "daily"
	WhyWeekly      = "weekly"
	WhyPinned      = "pre-upgrade backup"
	WhySound       = "newest sound backup"
	WhyHeld        = "an unfinished restore of a project needs it"
	WhyOtherPlinth = "backup of another Plinth"
	WhyNewerPlinth = "a newer Plinth uses this target"
)

// Decision says whether retention keeps one full backup, and why.
type Decision struct {
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Created time.Time `json:"created"`
	Kept    bool      `json:"kept"`
	Why     []string  `json:"why"` // empty when it goes
}

// PruneReport says what a prune removed (a dry run: would remove) and why
// the rest stayed.
type PruneReport struct {
	DryRun bool `json:"dryRun"`
	// Rule is the retention rule in words: "kept 7 daily, 4 weekly, 3 newest".
	Rule string `json:"rule"`
	// Backups are the full backups in the target, newest first.
	Backups []Decision `json:"backups"`
	// Removed are the full backups removed (or, in a dry run, that would
	// be), newest first, then the snapshots removed.
	Removed []Manifest `json:"-"`
	// Copies is what the rule did in the copy target, if one is set.
	Copies *TargetPrune `json:"copies,omitempty"`
	// Into is what the rule did in the target scheduled backups are
	// written into, if one is set.
	Into *TargetPrune `json:"into,omitempty"`
}

// facts is what the retention rule looks at besides the backups and the
// settings.
type facts struct {
	plinth   string               // this Plinth's identity: only its backups are pruned
	bad      map[string]bool      // backups whose last verification failed
	restored map[string]time.Time // backup → when a restore last read it
	pinned   []string             // pre-upgrade backups
	held     map[string]bool      // backups an unfinished restore of a project needs
	now      time.Time
}

// keep works out which level-2 backups the retention rule keeps, and why:
//
//   - the newest KeepNewest backups (at least the newest one);
//   - the newest of each of the last KeepDaily days that have backups, and
//     the newest of each of the last KeepWeekly weeks;
//   - every backup a restore read in the last RestoreKeepDays days, and
//     the one most recently restored from however long ago;
//   - the pinned ones (the backup taken before an upgrade) and those an
//     unfinished restore of a project needs;
//   - the newest sound one (its chain intact and no link of it failed a
//     verification), when a newer one is not;
//   - every backup a kept incremental needs.
//
// Everything else may go. Backups of another Plinth are not looked at.
func keep(all []Manifest, c Level2Settings, f facts) map[string][]string {
	var mine []Manifest // newest first
	for _, m := range all {
		if m.Level == 2 && m.Plinth == f.plinth {
			mine = append(mine, m)
		}
	}
	why := map[string][]string{}
	if len(mine) == 0 {
		return why
	}
	add := func(id, reason string) {
		for _, r := range why[id] {
			if r == reason {
				return
			}
		}
		why[id] = append(why[id], reason)
	}
	newest := max(c.KeepNewest, 1)
	days, weeks := map[string]bool{}, map[string]bool{}
	for i, m := range mine {
		if i < newest {
			add(m.ID, fmt.Sprintf("newest %d", newest))
		}
		t := m.Created.Local()
		day := t.Format("2006-01-02")
		y, w := t.ISOWeek()
		week := fmt.Sprintf("%d-%02d", y, w)
		if !days[day] && len(days) < c.KeepDaily {
			days[day] = true
			add(m.ID, WhyDaily)
		}
		if !weeks[week] && len(weeks) < c.KeepWeekly {
			weeks[week] = true
			add(m.ID, WhyWeekly)
		}
	}
	// Restores: the latest source stays however long ago; the others for
	// RestoreKeepDays days after the restore.
	var latest string
	for _, m := range mine {
		at, ok := f.restored[m.ID]
		if ok && (latest == "" || at.After(f.restored[latest])) {
			latest = m.ID
		}
	}
	since := f.now.AddDate(0, 0, -RestoreKeepDays)
	for _, m := range mine {
		at, ok := f.restored[m.ID]
		switch {
		case !ok:
		case at.After(since):
			add(m.ID, "restored from on "+at.Local().Format("2006-01-02"))
		case m.ID == latest:
			add(m.ID, "restored from on "+at.Local().Format("2006-01-02")+", the latest restore")
		}
	}
	ours := map[string]bool{}
	for _, m := range mine {
		ours[m.ID] = true
	}
	for _, id := range f.pinned {
		if ours[id] {
			add(id, WhyPinned)
		}
	}
	for id := range f.held {
		if ours[id] {
			add(id, WhyHeld)
		}
	}
	// A failed or damaged backup after the last sound one never pushes
	// that one out.
	for i, m := range mine {
		if sound(all, m, f.bad) {
			if i > 0 {
				add(m.ID, WhySound)
			}
			break
		}
	}
	// Whatever a kept incremental continues must stay. When a link of its
	// chain cannot be read just now (or is damaged), everything older of
	// the same chain stays: the missing link may come back. Newest first,
	// so each backup names the newest kept incremental that needs it.
	type need struct{ id, by string }
	var needs []need
	for _, m := range mine {
		if len(why[m.ID]) == 0 || m.Type != TypeIncremental {
			continue
		}
		ch, err := chain(all, m)
		if err == nil {
			for _, b := range ch[:len(ch)-1] {
				needs = append(needs, need{b.ID, m.ID})
			}
			continue
		}
		for _, b := range mine {
			if b.ID == m.Base || b.Base == m.Base && newer(m, b) {
				needs = append(needs, need{b.ID, m.ID})
			}
		}
	}
	chained := map[string]bool{}
	for _, n := range needs {
		if !chained[n.id] {
			chained[n.id] = true
			add(n.id, "incremental chain of "+n.by)
		}
	}
	return why
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

// restoreSources says, for every full backup a restore read, when it
// last did (History's TypeRestore records).
func (s *Service) restoreSources() (map[string]time.Time, error) {
	at := map[string]time.Time{}
	err := s.mgr.View(func(tx *storage.Tx) error {
		return history.Scan(tx, "", func(id string, r Record) error {
			if r.Type == TypeRestore && r.OK && r.From != "" && r.Finished.After(at[r.From]) {
				at[r.From] = r.Finished
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read which backups were restored from: %w", err)
	}
	return at, nil
}

// Prune removes the level-2 backups the retention rule no longer keeps
// (with dryRun, only says which) and the snapshots theirs no longer keeps.
// It returns what went; Retention says also why the rest stayed. It needs
// Delete content on the Servers page.
func (s *Service) Prune(ctx context.Context, actor account.Actor, dryRun bool) ([]Manifest, error) {
	rep, err := s.Retention(ctx, actor, dryRun)
	return rep.Removed, err
}

// Retention applies the retention rules: it removes the level-2 backups
// the rule no longer keeps (see keep), writing each removal to History
// and telling the Server Administrators once, then the snapshots their
// rule no longer keeps (see pruneSnapshots). With dryRun it removes
// nothing and only says what would go. Either way it says, for every
// full backup in the target, whether it is kept and why. Backups of
// another Plinth in the same target, and folders whose manifest is
// damaged, are left alone. It needs Delete content on the Servers page.
func (s *Service) Retention(ctx context.Context, actor account.Actor, dryRun bool) (PruneReport, error) {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.DeleteContent); err != nil {
		return PruneReport{DryRun: dryRun}, err
	}
	cfg, err := s.Level2()
	if err != nil {
		return PruneReport{DryRun: dryRun}, err
	}
	r, err := openRepo(ctx, s.fs, cfg.Target)
	if err != nil {
		return PruneReport{DryRun: dryRun, Rule: cfg.Rule()}, err
	}
	defer r.close()
	rep, err := s.prune(ctx, r, cfg, dryRun)
	if err != nil {
		return rep, err
	}
	if rep.Copies, err = s.PruneCopies(ctx, cfg, dryRun); err != nil {
		return rep, err
	}
	if cfg.Into != "" {
		if rep.Into, err = s.pruneTarget(ctx, cfg, cfg.Into, dryRun); err != nil {
			return rep, err
		}
	}
	if !dryRun {
		n, err := s.pruneSnapshots(ctx)
		rep.Removed = append(rep.Removed, n...)
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// prune applies the level-2 retention rule to the target r (see keep).
// Each removal goes into History as a record of its own, and the removed
// backup's record is marked removed; one notification tells of the run.
func (s *Service) prune(ctx context.Context, r *repo, cfg Level2Settings, dryRun bool) (PruneReport, error) {
	rep := PruneReport{DryRun: dryRun, Rule: cfg.Rule(), Backups: []Decision{}}
	all, bad, err := scan(s.fs, r.dir)
	if err != nil {
		return rep, err
	}
	mgr, _ := s.files.Stores()
	me := mgr.Identity().ID
	leave := func(why string) PruneReport {
		for _, m := range all {
			if m.Level == 2 {
				rep.Backups = append(rep.Backups, Decision{ID: m.ID, Type: m.Type, Created: m.Created, Kept: true, Why: []string{why}})
			}
		}
		return rep
	}
	// A newer Plinth uses this target too (after going back to this one,
	// say): its chains may build on backups this one would remove, and
	// its own backups are the only ones of the data it holds. Its own
	// prune looks after them.
	for _, d := range bad {
		if errors.Is(d.Err, ErrNewerBackup) {
			s.log.Warn("not pruning a backup target that holds backups of a newer Plinth", "target", r.dir, "backup", d.ID)
			return leave(WhyNewerPlinth), nil
		}
	}
	for _, m := range all {
		if newerPayload(m) {
			s.log.Warn("not pruning a backup target that holds backups of a newer Plinth", "target", r.dir, "backup", m.ID)
			return leave(WhyNewerPlinth), nil
		}
	}
	r.sweep() // what interrupted backups and removals left
	f, err := s.facts()
	if err != nil {
		return rep, err
	}
	why := keep(all, cfg, f)
	var gone []Manifest
	for _, m := range all {
		if m.Level != 2 {
			continue
		}
		d := Decision{ID: m.ID, Type: m.Type, Created: m.Created, Why: why[m.ID]}
		if m.Plinth != me {
			d.Why = []string{WhyOtherPlinth}
		}
		d.Kept = len(d.Why) > 0
		if d.Why == nil {
			d.Why = []string{}
		}
		rep.Backups = append(rep.Backups, d)
		if !d.Kept {
			gone = append(gone, m)
		}
	}
	if dryRun {
		rep.Removed = gone
		return rep, nil
	}
	// Newest first: an incremental goes before the backup it continues, so
	// a crash part-way never leaves an incremental without its parent.
	defer func() { s.tellPruned(ctx, rep) }()
	for _, m := range gone {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		err := r.remove(m)
		if err != nil && exists(s.fs, m.Path) {
			return rep, err // still there
		}
		// Renamed away: no longer a backup, even when deleting its files
		// failed (the next sweep finishes that).
		rep.Removed = append(rep.Removed, m)
		s.recordRemoval(m, cfg)
		s.log.Info("pruned backup", "id", m.ID)
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// facts gathers what the retention rule looks at besides the backups.
func (s *Service) facts() (facts, error) {
	mgr, _ := s.files.Stores()
	f := facts{plinth: mgr.Identity().ID, bad: s.failedVerifications(), now: s.now()}
	if s.Pinned != nil {
		f.pinned = s.Pinned()
	}
	var err error
	if f.restored, err = s.restoreSources(); err != nil {
		return f, err
	}
	f.held, err = s.heldSnapshots()
	return f, err
}

// PruneCopies applies the retention rule to the copy target (see
// pruneCopies) and tells of what it removed.
func (s *Service) PruneCopies(ctx context.Context, cfg Level2Settings, dryRun bool) (*TargetPrune, error) {
	f, err := s.facts()
	if err != nil {
		return nil, err
	}
	p := s.pruneCopies(ctx, cfg, f, dryRun)
	if !dryRun && p != nil && (len(p.Removed) > 0 || len(p.Refused) > 0) {
		s.tellPruned(ctx, PruneReport{Rule: cfg.Rule(), Copies: p})
	}
	return p, nil
}

// recordRemoval writes a removal by retention to History: a record of its
// own, and the removed backup's record marked removed (made from its
// manifest when History has none).
func (s *Service) recordRemoval(m Manifest, cfg Level2Settings) {
	now := s.now().UTC()
	what := fmt.Sprintf("%s backup %s removed by retention: %s", strings.ToUpper(m.Type[:1])+m.Type[1:], m.ID, cfg.Rule())
	err := s.mgr.Update(func(tx *storage.Tx) error {
		own, err := history.Get(tx, m.ID)
		if errors.Is(err, storage.ErrNotFound) {
			own, err = Record{ID: m.ID, Level: m.Level, Type: m.Type, Item: m.ItemName, Started: m.Created, Finished: m.Created, OK: true, Bytes: m.Bytes()}, nil
		}
		if err != nil {
			return err
		}
		own.Removed = now
		if err := history.Put(tx, own.ID, own); err != nil {
			return err
		}
		r := Record{ID: "removed-" + m.ID, Level: m.Level, Type: TypeRemoval, Item: what, From: m.ID, Started: now, Finished: now, OK: true, Bytes: m.Bytes()}
		return history.Put(tx, r.ID, r)
	})
	if err != nil {
		s.log.Error("record a removal by retention in History", "backup", m.ID, "err", err)
	}
}

// markRemoved marks the History record of a snapshot retention removed;
// snapshots come and go hourly, so there is no record of the removal
// itself.
func (s *Service) markRemoved(m Manifest) {
	err := s.mgr.Update(func(tx *storage.Tx) error {
		own, err := history.Get(tx, m.ID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		own.Removed = s.now().UTC()
		return history.Put(tx, own.ID, own)
	})
	if err != nil {
		s.log.Error("mark a removed snapshot in History", "snapshot", m.ID, "err", err)
	}
}

// tellPruned tells the Server Administrators, once per run, how many full
// backups retention removed.
func (s *Service) tellPruned(ctx context.Context, rep PruneReport) {
	n := len(rep.Removed)
	if n == 0 {
		if w := rep.Copies.words(); w != "" {
			s.tell(ctx, notify.BackupPruned, notify.Info, fmt.Sprintf("Retention (%s): %s. History lists each.", rep.Rule, w))
		}
		return
	}
	ids := make([]string, 0, n)
	for _, m := range rep.Removed {
		ids = append(ids, m.ID)
	}
	list := strings.Join(ids, ", ")
	if n > 5 {
		list = strings.Join(ids[:5], ", ") + fmt.Sprintf(" and %d more", n-5)
	}
	s.tell(ctx, notify.BackupPruned, notify.Info, fmt.Sprintf("Retention removed %s (%s): %s. History lists each.",
		text.Count(n, "full backup"), rep.Rule, list))
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
