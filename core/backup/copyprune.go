package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"codeberg.org/plinth/plinth/core/backup/target"
	"codeberg.org/plinth/plinth/storage"
)

// TargetPrune is what retention did (or, in a dry run, would do) in the
// copy target.
type TargetPrune struct {
	Target  string     `json:"target"`
	Backups []Decision `json:"backups"`
	Removed []string   `json:"removed"`
	// Refused are the backups the target would not remove (a lock Plinth
	// did not know of): said once, and not tried again for RefusedDays.
	Refused []string `json:"refused,omitempty"`
	// Error is why the target could not be pruned (it could not be read).
	Error string `json:"error,omitempty"`
}

// RefusedDays is how long a backup the target refused to remove is left
// alone before retention tries again.
const RefusedDays = 30

// WhyLocked is the reason a locked copy stays: "locked until 2027-01-04".
const WhyLocked = "locked until "

// WhyRefused is the reason a copy the target would not remove stays.
const WhyRefused = "the target refused to remove it on "

// pruneCopies applies the retention rule to the copies in the copy
// target: the same rule, judged on the backups that are there (a copy
// whose local backup is gone still counts). A locked copy stays until its
// lock ends; one the target refuses to remove is reported once and left
// for RefusedDays. A target that cannot be read prunes nothing and says
// why in the report; the local prune is not held up by it.
func (s *Service) pruneCopies(ctx context.Context, cfg Level2Settings, f facts, dryRun bool) *TargetPrune {
	if cfg.CopyTo == "" {
		return nil
	}
	return s.pruneIn(ctx, cfg, cfg.CopyTo, f, dryRun)
}

// pruneIn applies the retention rule in the named target (see
// pruneCopies).
func (s *Service) pruneIn(ctx context.Context, cfg Level2Settings, name string, f facts, dryRun bool) *TargetPrune {
	rep := &TargetPrune{Target: name, Backups: []Decision{}, Removed: []string{}}
	_, t, err := s.OpenTarget(name)
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	src := &Source{Name: name, T: t}
	all, bad, err := scanSource(ctx, src)
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	for _, d := range bad {
		if errors.Is(d.Err, ErrNewerBackup) {
			rep.Error = "a newer Plinth keeps backups there; its own retention looks after them"
			return rep
		}
	}
	why := keep(all, cfg, f)
	var gone []Manifest
	for _, m := range all {
		if m.Level != 2 {
			continue
		}
		if newerPayload(m) {
			rep.Error = "a newer Plinth keeps backups there; its own retention looks after them"
			return rep
		}
		d := Decision{ID: m.ID, Type: m.Type, Created: m.Created, Why: why[m.ID]}
		if m.Plinth != f.plinth {
			d.Why = []string{WhyOtherPlinth}
		}
		if len(d.Why) == 0 {
			if o, err := t.Stat(ctx, m.ID+"/"+manifestName); err == nil && o.RetainUntil.After(f.now) {
				d.Why = []string{WhyLocked + o.RetainUntil.Local().Format("2006-01-02")}
			} else if r, ok := s.lookupRecord(m.ID); ok {
				if at := copyOf(r, name).Refused; !at.IsZero() && f.now.Sub(at) < RefusedDays*24*time.Hour {
					d.Why = []string{WhyRefused + at.Local().Format("2006-01-02")}
				}
			}
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
		for _, m := range gone {
			rep.Removed = append(rep.Removed, m.ID)
		}
		return rep
	}
	// Newest first, as in the backup folder; the manifest of each goes
	// first, so that a backup cut short by a crash is not listed as one.
	for _, m := range gone {
		if ctx.Err() != nil {
			rep.Error = ctx.Err().Error()
			return rep
		}
		err := removeFromTarget(ctx, t, m.ID+"/")
		switch {
		case errors.Is(err, target.ErrLocked):
			rep.Refused = append(rep.Refused, m.ID)
			s.refused(m, name)
			s.log.Warn("the copy target refused to remove a backup", "target", name, "id", m.ID, "err", err)
			continue
		case err != nil:
			rep.Error = err.Error()
			return rep
		}
		rep.Removed = append(rep.Removed, m.ID)
		s.recordCopyRemoval(m, cfg, name)
		s.log.Info("pruned backup copy", "target", name, "id", m.ID)
	}
	return rep
}

// removeFromTarget removes the objects of a backup or snapshot copy from a
// target, those under dir (a key prefix ending in "/"), its manifest
// first.
func removeFromTarget(ctx context.Context, t target.Target, dir string) error {
	if err := t.Delete(ctx, dir+manifestName); err != nil {
		return err
	}
	objs, err := t.List(ctx, dir)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := t.Delete(ctx, o.Key); err != nil {
			return err
		}
	}
	return nil
}

// pruneTarget applies the retention rule to the full backups written
// straight into a named target, and tells of what it removed.
func (s *Service) pruneTarget(ctx context.Context, cfg Level2Settings, name string, dryRun bool) (*TargetPrune, error) {
	f, err := s.facts()
	if err != nil {
		return nil, err
	}
	p := s.pruneIn(ctx, cfg, name, f, dryRun)
	if !dryRun && (len(p.Removed) > 0 || len(p.Refused) > 0) {
		s.tellPruned(ctx, PruneReport{Rule: cfg.Rule(), Copies: p})
	}
	return p, nil
}

// refused notes in History that the target would not remove a copy.
func (s *Service) refused(m Manifest, to string) {
	err := s.mgr.Update(func(tx *storage.Tx) error {
		r, err := history.Get(tx, m.ID)
		if errors.Is(err, storage.ErrNotFound) {
			r, err = Record{ID: m.ID, Level: m.Level, Type: m.Type, Started: m.Created, Finished: m.Created, OK: true, Bytes: m.Bytes()}, nil
		}
		if err != nil {
			return err
		}
		i := copyIndex(&r, to)
		r.Copies[i].Refused = s.now().UTC()
		return history.Put(tx, r.ID, r)
	})
	if err != nil {
		s.log.Error("record a refused removal", "id", m.ID, "err", err)
	}
}

// copyIndex finds (or adds) the record's copy to a target.
func copyIndex(r *Record, to string) int {
	for i := range r.Copies {
		if r.Copies[i].Target == to {
			return i
		}
	}
	r.Copies = append(r.Copies, CopyState{Target: to, State: CopyCopied})
	return len(r.Copies) - 1
}

// recordCopyRemoval writes the removal of a copy by retention to History.
func (s *Service) recordCopyRemoval(m Manifest, cfg Level2Settings, name string) {
	now := s.now().UTC()
	what := fmt.Sprintf("The copy of %s backup %s in %s removed by retention: %s", m.Type, m.ID, name, cfg.Rule())
	err := s.mgr.Update(func(tx *storage.Tx) error {
		if own, err := history.Get(tx, m.ID); err == nil {
			i := copyIndex(&own, name)
			own.Copies[i].Removed = now
			if err := history.Put(tx, own.ID, own); err != nil {
				return err
			}
		}
		r := Record{ID: "removed-" + name + "-" + m.ID, Level: m.Level, Type: TypeRemoval, Item: what, From: m.ID, Started: now, Finished: now, OK: true, Bytes: m.Bytes()}
		return history.Put(tx, r.ID, r)
	})
	if err != nil {
		s.log.Error("record a removal by retention in History", "backup", m.ID, "target", name, "err", err)
	}
}

// words says what retention did in the copy target, for the
// notification: "from offsite it removed 2", or "".
func (p *TargetPrune) words() string {
	if p == nil {
		return ""
	}
	var w []string
	if n := len(p.Removed); n > 0 {
		w = append(w, fmt.Sprintf("from %s it removed %d", p.Target, n))
	}
	if n := len(p.Refused); n > 0 {
		w = append(w, fmt.Sprintf("%s refused to remove %s (locked); they are left for %d days", p.Target, strings.Join(p.Refused, ", "), RefusedDays))
	}
	return strings.Join(w, "; ")
}
