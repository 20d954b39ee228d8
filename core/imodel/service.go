package imodel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/ifc"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/storage"
)

// Errors with a sentence for the user.
var (
	ErrNotFound    = errors.New("no such connection")
	ErrNotIModel   = errors.New("not an iModel")
	ErrRunning     = errors.New("a sync of this connection is running")
	ErrLimit       = errors.New("limit reached")
	ErrTokenExpire = errors.New("the owner's sync token has expired")
	ErrPaused      = errors.New("scheduled syncs of this connection are paused")
)

// Service keeps iModels and their connections.
type Service struct {
	files  *files.Service
	acc    *account.Service
	notify *notify.Service
	mgr    *storage.Store
	fsr    *storage.Store
	log    *slog.Logger
	clock  clockwork.Clock

	// Reserve, if set, is told how many bytes a sync is about to hold in
	// memory (a parsed design file) and returns the function that gives
	// them back; the app raises its memory limit in between.
	Reserve func(bytes int64) (release func())
	// Changed, if set, runs after a connection was added, deleted or
	// rescheduled (the app puts its jobs on the scheduler again).
	Changed func()

	// parse reads a design file; tests replace it.
	parse func(ctx context.Context, name string, r io.Reader, size int64, sum hash.Hash) (*ifc.Model, error)

	mu      sync.Mutex
	cancels map[string]context.CancelFunc // connection id → its running sync
}

// NewService returns the iModel service.
func NewService(fs *files.Service, acc *account.Service, n *notify.Service, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mgr, fsr := fs.Stores()
	s := &Service{files: fs, acc: acc, notify: n, mgr: mgr, fsr: fsr, log: log, clock: clockwork.NewRealClock(),
		cancels: map[string]context.CancelFunc{}, parse: ifc.ReadSum}
	// Deleting an iModel node on the Projects page: refused while it has
	// connections; afterwards its elements and history go too.
	fs.IModelGuard = s.guardDelete
	fs.IModelGone = s.purge
	return s
}

// SetClock replaces the clock (tests of tokens and schedules).
func (s *Service) SetClock(c clockwork.Clock) { s.clock = c }

func (s *Service) now() time.Time { return s.clock.Now().UTC() }

// IModel is an iModel as lists show it.
type IModel struct {
	files.Node
	Path  string `json:"path"`
	Stats Stats  `json:"stats"`
}

// Create makes an iModel in a project. It needs Modify content on the
// project.
func (s *Service) Create(ctx context.Context, actor account.Actor, projectPath, name string) (IModel, error) {
	p, err := s.files.Lookup(ctx, actor, projectPath)
	if err != nil {
		return IModel{}, err
	}
	if p.Kind != files.KindProject {
		return IModel{}, fmt.Errorf("%s is a %s; an iModel lives in a project", projectPath, p.Kind)
	}
	n, err := s.files.Create(ctx, actor, p.ID, name, files.KindIModel)
	if err != nil {
		return IModel{}, err
	}
	return s.info(ctx, n)
}

// Get returns an iModel by node id or path. It needs View item on it.
func (s *Service) Get(ctx context.Context, actor account.Actor, idOrPath string) (IModel, error) {
	var n files.Node
	var err error
	if strings.HasPrefix(idOrPath, "/") {
		n, err = s.files.Lookup(ctx, actor, idOrPath)
	} else {
		n, err = s.files.Get(ctx, actor, idOrPath)
		if errors.Is(err, files.ErrNotFound) {
			return s.byName(ctx, actor, idOrPath)
		}
	}
	if err != nil {
		return IModel{}, err
	}
	if n.Kind != files.KindIModel {
		return IModel{}, fmt.Errorf("%q is a %s: %w", n.Name, n.Kind, ErrNotIModel)
	}
	return s.info(ctx, n)
}

// byName finds the one iModel the actor can see with this name (without
// its folders), for a name typed where a path was wanted.
func (s *Service) byName(ctx context.Context, actor account.Actor, name string) (IModel, error) {
	all, err := s.List(ctx, actor)
	if err != nil {
		return IModel{}, err
	}
	var found []IModel
	for _, m := range all {
		if strings.EqualFold(m.Name, name) {
			found = append(found, m)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return IModel{}, fmt.Errorf("there is no iModel named %q; 'plinth imodel ls' lists them with their paths, e.g. /Tower/Model", name)
	}
	paths := make([]string, len(found))
	for i, m := range found {
		paths[i] = m.Path
	}
	return IModel{}, fmt.Errorf("%d iModels are named %q (%s); give the path of one", len(found), name, strings.Join(paths, ", "))
}

func (s *Service) info(ctx context.Context, n files.Node) (IModel, error) {
	m := IModel{Node: n}
	m.Path, _ = s.files.Path(ctx, n.ID)
	m.Path = "/" + strings.TrimPrefix(m.Path, "/")
	st, err := s.Stats(n.ID)
	m.Stats = st
	return m, err
}

// List returns the iModels the actor can see, by path.
func (s *Service) List(ctx context.Context, actor account.Actor) ([]IModel, error) {
	items, err := s.files.Items(ctx)
	if err != nil {
		return nil, err
	}
	var out []IModel
	for _, it := range items {
		kids, err := s.files.List(ctx, actor, it.ID)
		if err != nil {
			continue // not visible to this user
		}
		for _, k := range kids {
			if k.Kind != files.KindIModel {
				continue
			}
			m, err := s.info(ctx, k)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Stats returns an iModel's element counts.
func (s *Service) Stats(imodel string) (Stats, error) {
	st := Stats{ByType: map[string]int{}}
	err := s.fsr.View(func(tx *storage.Tx) error {
		got, err := stats.Get(tx, imodel)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err == nil {
			st = got
			if st.ByType == nil {
				st.ByType = map[string]int{}
			}
		}
		return err
	})
	return st, err
}

// Changesets lists an iModel's changesets, newest first. It needs View
// item on the iModel.
func (s *Service) Changesets(ctx context.Context, actor account.Actor, imodel string) ([]Changeset, error) {
	if _, err := s.checkIModel(ctx, actor, imodel, account.View); err != nil {
		return nil, err
	}
	var out []Changeset
	err := s.fsr.View(func(tx *storage.Tx) (err error) {
		out, err = changesets.List(tx, imodel+"/")
		return err
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Seq > out[j].Seq })
	return out, err
}

// Search finds elements whose GlobalId starts with q or whose name (or
// type, tag, object type) contains q, case-insensitively; at most limit.
// It needs View item on the iModel.
func (s *Service) Search(ctx context.Context, actor account.Actor, imodel, q string, limit int) ([]Element, error) {
	return s.Find(ctx, actor, imodel, Filter{Text: q}, limit)
}

// Filter says which elements Find lists: those that match Text as Search
// matches it and are of the IFC type Type (compared without regard to
// case); an empty field matches every element.
type Filter struct {
	Text string
	Type string
}

// Find lists the elements f matches, at most limit (0: all of them). It
// needs View item on the iModel.
func (s *Service) Find(ctx context.Context, actor account.Actor, imodel string, f Filter, limit int) ([]Element, error) {
	if _, err := s.checkIModel(ctx, actor, imodel, account.View); err != nil {
		return nil, err
	}
	q := strings.TrimSpace(f.Text)
	lq := strings.ToLower(q)
	typ := strings.TrimSpace(f.Type)
	var out []Element
	stop := errors.New("enough")
	err := s.fsr.View(func(tx *storage.Tx) error {
		// A file's first elements are written in place before the sync
		// commits them (apply): they are not shown until it has.
		var hidden []string
		err := scopes.Scan(tx, imodel+"/", func(id string, sc Scope) error {
			if sc.Pending != nil && sc.Pending.Direct && !sc.Pending.Committed {
				hidden = append(hidden, id+"/")
			}
			return nil
		})
		if err != nil {
			return err
		}
		return elements.Scan(tx, imodel+"/", func(id string, e Element) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			for _, h := range hidden {
				if strings.HasPrefix(id, h) {
					return nil
				}
			}
			if typ != "" && !strings.EqualFold(e.Type, typ) {
				return nil
			}
			if q == "" || strings.HasPrefix(e.GlobalID, q) || strings.Contains(strings.ToLower(e.Name), lq) ||
				strings.Contains(strings.ToLower(e.Type), lq) || strings.Contains(strings.ToLower(e.Tag), lq) ||
				strings.Contains(strings.ToLower(e.ObjectType), lq) {
				if parts := strings.SplitN(id, "/", 4); len(parts) == 4 {
					e.Connection, e.File = parts[1], parts[1]+"/"+parts[2] // the file's name is filled in below
				}
				out = append(out, e)
				if limit > 0 && len(out) >= limit {
					return stop
				}
			}
			return nil
		})
	})
	if errors.Is(err, stop) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	// Name the file each element comes from.
	names := map[string]string{}
	_ = s.fsr.View(func(tx *storage.Tx) error {
		return scopes.Scan(tx, imodel+"/", func(id string, sc Scope) error {
			names[sc.Connection+"/"+fileKey(sc.File)] = sc.File
			return nil
		})
	})
	for i := range out {
		out[i].File = names[out[i].File]
	}
	return out, nil
}

// GeoOf returns the iModel's geographic coordinate system, if a sync set
// one.
func (s *Service) GeoOf(imodel string) (Geo, bool, error) {
	var g Geo
	found := false
	err := s.fsr.View(func(tx *storage.Tx) error {
		got, err := geos.Get(tx, imodel)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		g, found = got, err == nil
		return err
	})
	return g, found, err
}

// checkIModel returns the iModel node after checking the actor's
// permission on it.
func (s *Service) checkIModel(ctx context.Context, actor account.Actor, imodel string, want account.Permission) (files.Node, error) {
	n, err := s.files.Get(ctx, actor, imodel)
	if err != nil {
		return n, err
	}
	if n.Kind != files.KindIModel {
		return n, fmt.Errorf("%q is a %s: %w", n.Name, n.Kind, ErrNotIModel)
	}
	return n, s.acc.Check(ctx, actor, n.Item(), want)
}

// fileKey names a mapped file in store keys.
func fileKey(file string) string {
	sum := sha256.Sum256([]byte(file))
	return hex.EncodeToString(sum[:8])
}

func scopeID(imodel, conn, file string) string { return imodel + "/" + conn + "/" + fileKey(file) }

func csID(imodel string, seq int64) string { return fmt.Sprintf("%s/%012d", imodel, seq) }
