package upgrade

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// Plan is the upgrade a data folder needs.
type Plan struct {
	From, To int
	// Steps are the steps still to run, in order.
	Steps []Step
	// Resume is the journal of an upgrade a crash cut short, which this
	// plan finishes; nil for a new upgrade.
	Resume *Journal
	// folder is the folder's format as format.json says it.
	folder int
}

// NewPlan works out the upgrade from the folder's state and the format
// each store records.
func NewPlan(st State, stores map[storage.Kind]int) Plan {
	from := st.Folder
	for _, f := range stores {
		from = min(from, f)
	}
	p := Plan{From: from, To: Data, Resume: st.Journal, folder: st.Folder}
	done := map[string]bool{}
	if st.Journal != nil {
		p.From = min(p.From, st.Journal.From)
		for _, d := range st.Journal.Done {
			done[d] = true
		}
	}
	for _, s := range steps {
		switch {
		case s.To > Data || done[s.Name]:
		case s.Store != "":
			if f, ok := stores[s.Store]; ok && f < s.To {
				p.Steps = append(p.Steps, s)
			}
		case st.Folder < s.To:
			p.Steps = append(p.Steps, s)
		}
	}
	return p
}

// Needed reports whether the folder needs an upgrade (or the end of one).
func (p Plan) Needed() bool { return p.Resume != nil || p.From < p.To }

// Describe says in words what the upgrade does, before it starts;
// withBackup says whether it starts with a full backup (a folder nobody
// has set up holds nothing to back up).
func (p Plan) Describe(dir string, withBackup bool) string {
	var b strings.Builder
	if p.Resume != nil {
		fmt.Fprintf(&b, "Plinth is finishing the upgrade of the data folder %s from format %d to %d that was cut short on %s", dir, p.Resume.From, p.Resume.To, p.Resume.Started.Local().Format("2 January 2006 at 15:04"))
	} else {
		fmt.Fprintf(&b, "Plinth is upgrading the data folder %s from format %d to %d", dir, p.From, p.To)
		if withBackup {
			b.WriteString(": it takes a full backup first, so that an older Plinth can go back to it")
		}
	}
	if len(p.Steps) > 0 {
		fmt.Fprintf(&b, "; then it will %s", strings.Join(StepNames(p.Steps), "; "))
	}
	return b.String() + "."
}

// Points lists where Run calls its Hook, in order, for the tests that
// crash an upgrade at each of them.
func (p Plan) Points() []string {
	pts := []string{"backup", "journal"}
	for _, s := range p.Steps {
		pts = append(pts, s.Name)
	}
	return append(pts, "stores", "format")
}

// Runner carries out upgrades of one data folder.
type Runner struct {
	FS      fsys.FS
	Dir     string
	Stores  map[storage.Kind]*storage.Store
	Version string           // this Plinth's version, recorded with the upgrade
	Now     func() time.Time // nil: time.Now
	// Hook, when set, is called at each of Plan.Points once it is
	// passed; the tests crash the process there.
	Hook func(point string)
}

func (r *Runner) hook(p string) {
	if r.Hook != nil {
		r.Hook(p)
	}
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

// Run carries out the plan. backup takes the full backup before the first
// change (the zero Backup when the folder holds nothing to back up); when
// it fails, nothing was changed and its error is returned. A plan that
// resumes a journal takes no new backup.
//
// Each store step commits with the store's new format record, each
// folder step is journaled once done, and format.json is written last,
// so a crash anywhere leaves a folder the next Run finishes: older
// Plinths refuse it meanwhile (the journal names a newer format).
func (r *Runner) Run(ctx context.Context, p Plan, backup func(context.Context) (Backup, error)) (Upgrade, error) {
	jpath := filepath.Join(r.Dir, JournalName)
	j := p.Resume
	if j != nil && p.folder >= j.To {
		// Cut short after format.json was written: only the journal is left.
		return Upgrade{}, removeControl(r.FS, jpath)
	}
	if j != nil && j.To < p.To {
		// An earlier Plinth's upgrade, cut short, finished by this one: it
		// goes on to this Plinth's format, and says so before any step
		// past the earlier one's, so that the earlier Plinth refuses the
		// folder from here on.
		j.To, j.By = p.To, r.Version
		if err := writeControl(r.FS, jpath, j); err != nil {
			return Upgrade{}, fmt.Errorf("record the upgrade: %w", err)
		}
	}
	if j == nil {
		b, err := backup(ctx)
		if err != nil {
			return Upgrade{}, fmt.Errorf("the full backup before the upgrade failed, and nothing was changed: %w", err)
		}
		r.hook("backup")
		j = &Journal{Format: Control, From: p.From, To: p.To, By: r.Version, Started: r.now(), Backup: b}
		if err := writeControl(r.FS, jpath, j); err != nil {
			_ = removeControl(r.FS, jpath) // the write may have put it in place
			return Upgrade{}, fmt.Errorf("record the upgrade, and nothing was changed: %w", err)
		}
		r.hook("journal")
	}
	for i := 0; i < len(p.Steps); {
		if err := ctx.Err(); err != nil {
			return Upgrade{}, err
		}
		s := p.Steps[i]
		group := []Step{s}
		if s.Store != "" {
			for i+len(group) < len(p.Steps) {
				n := p.Steps[i+len(group)]
				if n.Store != s.Store || n.To != s.To {
					break
				}
				group = append(group, n)
			}
			if err := r.storeSteps(s.Store, s.To, group); err != nil {
				return Upgrade{}, err
			}
		} else if err := s.Dir(r.FS, r.Dir); err != nil {
			return Upgrade{}, fmt.Errorf("upgrade step %q: %w", s.Name, err)
		}
		for _, g := range group {
			r.hook(g.Name)
			j.Done = append(j.Done, g.Name)
		}
		if err := writeControl(r.FS, jpath, j); err != nil {
			return Upgrade{}, fmt.Errorf("record the upgrade's progress: %w", err)
		}
		i += len(group)
	}
	if err := r.UpgradeStores(); err != nil {
		return Upgrade{}, err
	}
	r.hook("stores")
	old, _ := readFolderFile(r.FS, r.Dir)
	u := Upgrade{From: j.From, To: j.To, By: r.Version, At: r.now(), Backup: j.Backup, Steps: j.Done}
	f := FolderFile{Format: j.To, WrittenBy: r.Version, Upgrades: append(old.Upgrades, u)}
	if err := writeControl(r.FS, filepath.Join(r.Dir, FolderFileName), f); err != nil {
		return Upgrade{}, fmt.Errorf("record the data folder's new format: %w", err)
	}
	r.hook("format")
	if err := removeControl(r.FS, jpath); err != nil {
		return u, fmt.Errorf("remove the finished upgrade's journal: %w", err)
	}
	return u, nil
}

func readFolderFile(fs fsys.FS, dir string) (FolderFile, error) {
	var f FolderFile
	_, err := readControl(fs, filepath.Join(dir, FolderFileName), &f)
	return f, err
}

// storeSteps runs the steps of one store for one format in one
// transaction that records the format, unless the store is there already
// (a crash after the commit, before the journal said so).
func (r *Runner) storeSteps(k storage.Kind, to int, group []Step) error {
	st := r.Stores[k]
	if st == nil {
		return fmt.Errorf("upgrade the %s store: it is not open", k.Name())
	}
	err := st.Update(func(tx *storage.Tx) error {
		f, err := tx.Format()
		if err != nil || f >= to {
			return err
		}
		if f != to-1 {
			return fmt.Errorf("the store is of format %d, and the steps to %d start from %d", f, to, to-1)
		}
		for _, s := range group {
			if err := s.Tx(tx); err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
		}
		return tx.SetFormat(to)
	})
	if err != nil {
		return fmt.Errorf("upgrade the %s store to format %d: %w", k.Name(), to, err)
	}
	return nil
}

// UpgradeStores brings every open store to Data by its own steps, each
// format in one transaction: after a store alone was restored from an
// older backup, or when an upgrade has no steps for a store. It needs no
// journal: a store is always wholly at one format.
func (r *Runner) UpgradeStores() error {
	for _, k := range []storage.Kind{storage.Manager, storage.FileServer} {
		st := r.Stores[k]
		if st == nil {
			continue
		}
		f, err := st.Format()
		if err != nil {
			return err
		}
		for to := f + 1; to <= Data; to++ {
			var group []Step
			for _, s := range steps {
				if s.Store == k && s.To == to {
					group = append(group, s)
				}
			}
			if err := r.storeSteps(k, to, group); err != nil {
				return err
			}
		}
	}
	return nil
}

// Stamp writes format.json for a data folder Plinth has just set up: its
// stores were created at Data (storage.Options.Format).
func Stamp(fs fsys.FS, dir, version string) error {
	return writeControl(fs, filepath.Join(dir, FolderFileName), FolderFile{Format: Data, WrittenBy: version})
}

// StepNames lists the names of steps, for History and the tests.
func StepNames(l []Step) []string {
	names := make([]string, len(l))
	for i, s := range l {
		names[i] = s.Name
	}
	return slices.Clip(names)
}
