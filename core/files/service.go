// Package files keeps the office's files across Plinth's two stores: the
// catalog of folders, projects, libraries, iModels and file entries with
// their versions in the manager store, and the contents (chunked,
// content-addressed, deduplicated) in the fileserver store.
//
// Every change that touches both stores goes through an intent journal in
// the manager: the intent is recorded first, then the fileserver is
// written, then the manager side is committed and the intent cleared.
// Recover, run at start, finishes or undoes whatever a crash interrupted,
// so the two stores never silently differ. Each store keeps its file-set
// digest in the same transaction as every change to its files.
package files

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// Errors with a sentence for the user.
var (
	ErrNotFound = errors.New("no such file or folder")
	ErrExists   = errors.New("the name is taken")
	ErrNotDir   = errors.New("not a folder")
	ErrDamaged  = errors.New("content is damaged")
)

type refusal struct {
	msg string
	is  error
}

func (e *refusal) Error() string        { return e.msg }
func (e *refusal) Is(target error) bool { return target == e.is }

func refuse(is error, format string, a ...any) error {
	return &refusal{msg: fmt.Sprintf(format, a...), is: is}
}

// Service manages files across the two stores. It is safe for concurrent use.
type Service struct {
	mgr, fs *storage.Store
	acc     *account.Service
	log     *slog.Logger
	now     func() time.Time

	// gate lets drift checks and synchronizations see both stores at rest:
	// two-store changes hold it shared, Exclusive holds it alone.
	gate sync.RWMutex
	// packPin keeps compaction away while a backup copies packs.
	packPin sync.RWMutex

	// IModelGuard, if set, is asked before a deletion that takes iModels
	// with it; an error refuses the whole deletion (an iModel that still
	// has connections). IModelGone, if set, runs after an iModel node is
	// gone, to remove what other services keep for it.
	IModelGuard func(ctx context.Context, imodels []Node) error
	IModelGone  func(ctx context.Context, id string)

	// disk is what exports are written through (nil: the OS); SetFS.
	disk fsys.FS

	// failAfter, when set by tests, makes a two-store change stop after
	// the named step as if the process had been killed there.
	failAfter func(step string) error
}

// NewService returns the file service on the two stores.
func NewService(manager, fileserver *storage.Store, acc *account.Service, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{mgr: manager, fs: fileserver, acc: acc, log: log, now: time.Now}
}

// Stores returns the two stores, for the drift check and synchronization.
func (s *Service) Stores() (manager, fileserver *storage.Store) { return s.mgr, s.fs }

// Exclusive runs fn while no two-store change is in progress, so that fn
// sees both stores at rest.
func (s *Service) Exclusive(fn func() error) error {
	s.gate.Lock()
	defer s.gate.Unlock()
	return fn()
}

// step is a point at which tests may simulate a crash.
func (s *Service) step(name string) error {
	if s.failAfter != nil {
		return s.failAfter(name)
	}
	return nil
}

var root = Node{ID: RootID, Kind: KindFolder, Name: "Projects"}

// RootItem is the Projects root as a permission item.
var RootItem = root.item()

func childKey(parent, name string) string { return parent + "/" + nameKey(name) }

// getNode reads a node by id; the root is not stored.
func getNode(tx *storage.Tx, id string) (Node, error) {
	if id == RootID || id == "" {
		return root, nil
	}
	where, err := nodeIDs.Get(tx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return Node{}, refuse(ErrNotFound, "the item was removed in the meantime")
	}
	if err != nil {
		return Node{}, err
	}
	return nodes.Get(tx, where)
}

func lookupChild(tx *storage.Tx, parent, name string) (Node, bool, error) {
	n, err := nodes.Get(tx, childKey(parent, name))
	if errors.Is(err, storage.ErrNotFound) {
		return Node{}, false, nil
	}
	return n, err == nil, err
}

func putNode(tx *storage.Tx, n Node) error {
	k := childKey(n.Parent, n.Name)
	if err := nodes.Put(tx, k, n); err != nil {
		return err
	}
	return nodeIDs.Put(tx, n.ID, k)
}

func delNode(tx *storage.Tx, n Node) error {
	if err := nodes.Delete(tx, childKey(n.Parent, n.Name)); err != nil {
		return err
	}
	return nodeIDs.Delete(tx, n.ID)
}

// pathOf is the "/"-separated path of a node below the root ("" for root).
func pathOf(tx *storage.Tx, id string) (string, error) {
	var parts []string
	seen := map[string]bool{}
	for id != RootID && id != "" {
		if seen[id] {
			return "", errors.New("folder tree has a loop")
		}
		seen[id] = true
		n, err := getNode(tx, id)
		if err != nil {
			return "", err
		}
		parts = append(parts, n.Name)
		id = n.Parent
		if len(parts) > 1000 {
			return "", errors.New("the folder tree is more than 1000 folders deep")
		}
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "/"), nil
}

// check makes sure actor holds want on the container node.
func (s *Service) check(ctx context.Context, actor account.Actor, container Node, want account.Permission) error {
	return s.acc.Check(ctx, actor, container.item(), want)
}

// Get returns a node by id. It needs View item on the node's folder.
func (s *Service) Get(ctx context.Context, actor account.Actor, id string) (Node, error) {
	var n, parent Node
	err := s.mgr.View(func(tx *storage.Tx) (err error) {
		if n, err = getNode(tx, id); err != nil || id == RootID {
			return err
		}
		parent, err = getNode(tx, n.Parent)
		return err
	})
	if err != nil {
		return Node{}, err
	}
	if id == RootID {
		parent = root
	}
	if err := s.check(ctx, actor, parent, account.View); err != nil {
		return Node{}, err
	}
	return n, nil
}

// Path returns a node's path below the Projects root, "/"-separated.
func (s *Service) Path(ctx context.Context, id string) (string, error) {
	var p string
	err := s.mgr.View(func(tx *storage.Tx) (err error) {
		p, err = pathOf(tx, id)
		return err
	})
	return p, err
}

// Lookup finds a node by its path below the Projects root ("/" or "" is
// the root itself). It needs View item on the node's folder.
func (s *Service) Lookup(ctx context.Context, actor account.Actor, path string) (Node, error) {
	parts, err := SplitPath(path)
	if err != nil {
		return Node{}, err
	}
	n := root
	parent := root
	err = s.mgr.View(func(tx *storage.Tx) error {
		for i, name := range parts {
			if !n.Kind.IsContainer() {
				return refuse(ErrNotDir, "%q is a %s, not a folder", strings.Join(parts[:i], "/"), n.Kind)
			}
			c, ok, err := lookupChild(tx, n.ID, name)
			if err != nil {
				return err
			}
			if !ok {
				return refuse(ErrNotFound, "there is no %q on the Projects page", "/"+strings.Join(parts[:i+1], "/"))
			}
			parent, n = n, c
		}
		return nil
	})
	if err != nil {
		return Node{}, err
	}
	if err := s.check(ctx, actor, parent, account.View); err != nil {
		return Node{}, err
	}
	return n, nil
}

// List returns the nodes in a container, folders first, then by name. It
// needs View item on the container.
func (s *Service) List(ctx context.Context, actor account.Actor, containerID string) ([]Node, error) {
	var dir Node
	var out []Node
	err := s.mgr.View(func(tx *storage.Tx) (err error) {
		if dir, err = getNode(tx, containerID); err != nil {
			return err
		}
		if !dir.Kind.IsContainer() {
			return refuse(ErrNotDir, "%q is a %s, not a folder", dir.Name, dir.Kind)
		}
		return nodes.Scan(tx, containerID+"/", func(_ string, n Node) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			out = append(out, n)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if err := s.check(ctx, actor, dir, account.View); err != nil {
		return nil, err
	}
	SortNodes(out, SortName, false)
	return out, nil
}

// SortBy says how a listing is ordered.
type SortBy int

// Orders for a listing.
const (
	SortName SortBy = iota
	SortSize
	SortDate
	SortKind
)

// SortNodes orders a listing: containers before files, then by the key,
// then by name; desc reverses the key. Sort keys are computed once, so a
// folder of 100,000 entries sorts in well under a second.
func SortNodes(ns []Node, by SortBy, desc bool) {
	type keyed struct {
		n    Node
		name string
		ext  string
	}
	ks := make([]keyed, len(ns))
	for i, n := range ns {
		ks[i] = keyed{n: n, name: strings.ToLower(n.Name)}
		if by == SortKind {
			ks[i].ext = ext(n.Name)
		}
	}
	sort.SliceStable(ks, func(i, j int) bool {
		a, b := &ks[i], &ks[j]
		if ac, bc := a.n.Kind != KindFile, b.n.Kind != KindFile; ac != bc {
			return ac
		}
		var c int
		switch by {
		case SortSize:
			c = cmpInt(a.n.Size, b.n.Size)
		case SortDate:
			c = cmpInt(a.n.Modified.UnixNano(), b.n.Modified.UnixNano())
		case SortKind:
			c = cmpInt(int64(a.n.Kind), int64(b.n.Kind))
			if c == 0 {
				c = strings.Compare(a.ext, b.ext)
			}
		}
		if c == 0 {
			c = strings.Compare(a.name, b.name)
		}
		if desc {
			return c > 0
		}
		return c < 0
	})
	for i := range ks {
		ns[i] = ks[i].n
	}
}

func ext(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return strings.ToLower(name[i+1:])
	}
	return ""
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Create makes a folder, project, library or iModel in a container. It
// needs Modify content on the container.
func (s *Service) Create(ctx context.Context, actor account.Actor, parentID, name string, kind Kind) (Node, error) {
	return s.CreateWith(ctx, actor, parentID, name, kind, nil)
}

// CreateWith is Create that also runs with, when it is not nil, in the
// Manager transaction that adds the node: what with writes lands together
// with the node or not at all (the backup service records there that it
// is still filling the item).
func (s *Service) CreateWith(ctx context.Context, actor account.Actor, parentID, name string, kind Kind,
	with func(tx *storage.Tx, n Node) error) (Node, error) {
	name = normalize(name)
	if err := CheckName(name); err != nil {
		return Node{}, err
	}
	if kind == KindFile || kindNames[kind] == "" {
		return Node{}, fmt.Errorf("cannot create a %s this way", kind)
	}
	var parent Node
	if err := s.mgr.View(func(tx *storage.Tx) (err error) { parent, err = getNode(tx, parentID); return err }); err != nil {
		return Node{}, err
	}
	if err := s.check(ctx, actor, parent, account.ModifyContent); err != nil {
		return Node{}, err
	}
	now := s.now().UTC()
	n := Node{ID: newID(now), Parent: parentID, Kind: kind, Name: name, Created: now, Modified: now, By: actor.Name()}
	err := s.mgr.Update(func(tx *storage.Tx) error {
		p, err := getNode(tx, parentID)
		if err != nil {
			return err
		}
		if !p.Kind.IsContainer() {
			return refuse(ErrNotDir, "%q is a %s; it cannot hold a %s", p.Name, p.Kind, kind)
		}
		if old, ok, err := lookupChild(tx, parentID, name); err != nil {
			return err
		} else if ok {
			return refuse(ErrExists, "%q already holds a %s named %q", p.Name, old.Kind, old.Name)
		}
		if err := putNode(tx, n); err != nil {
			return err
		}
		if with != nil {
			return with(tx, n)
		}
		return nil
	})
	if err != nil {
		return Node{}, err
	}
	return n, nil
}

// MkdirAll makes sure every folder on path exists below the root and
// returns the last one. It needs Modify content on each folder it creates in.
func (s *Service) MkdirAll(ctx context.Context, actor account.Actor, path string) (Node, error) {
	parts, err := SplitPath(path)
	if err != nil {
		return Node{}, err
	}
	return s.mkdirChain(ctx, actor, RootID, parts)
}

// mkdirChain walks names below parent, creating missing folders.
func (s *Service) mkdirChain(ctx context.Context, actor account.Actor, parent string, names []string) (Node, error) {
	cur := root
	if parent != RootID {
		if err := s.mgr.View(func(tx *storage.Tx) (err error) { cur, err = getNode(tx, parent); return err }); err != nil {
			return Node{}, err
		}
	}
	for _, name := range names {
		var next Node
		var ok bool
		err := s.mgr.View(func(tx *storage.Tx) (err error) {
			next, ok, err = lookupChild(tx, cur.ID, name)
			return err
		})
		if err != nil {
			return Node{}, err
		}
		if !ok {
			next, err = s.Create(ctx, actor, cur.ID, name, KindFolder)
			if errors.Is(err, ErrExists) { // made by someone else just now
				err = s.mgr.View(func(tx *storage.Tx) (err error) { next, ok, err = lookupChild(tx, cur.ID, name); return err })
			}
			if err != nil {
				return Node{}, err
			}
		}
		if !next.Kind.IsContainer() {
			return Node{}, refuse(ErrExists, "%q is a %s, not a folder", next.Name, next.Kind)
		}
		cur = next
	}
	return cur, nil
}

// Versioning returns the server's versioning rule.
func (s *Service) Versioning(ctx context.Context) (Versioning, error) {
	var v Versioning
	err := s.mgr.View(func(tx *storage.Tx) error {
		var err error
		v, err = settings.Get(tx, "versioning")
		if errors.Is(err, storage.ErrNotFound) {
			v, err = Versioning{Rule: KeepAll}, nil
		}
		return err
	})
	return v, err
}

// SetVersioning changes the versioning rule. It needs Modify details on
// the Servers page.
func (s *Service) SetVersioning(ctx context.Context, actor account.Actor, v Versioning) error {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyDetails); err != nil {
		return err
	}
	switch v.Rule {
	case KeepAll, KeepNone:
		v.Days = 0
	case KeepLastDays:
		if v.Days < 1 {
			return errors.New("keep the versions of at least the last 1 day")
		}
	default:
		return fmt.Errorf("unknown versioning rule %q", v.Rule)
	}
	return s.mgr.Update(func(tx *storage.Tx) error { return settings.Put(tx, "versioning", v) })
}

// Versions lists a file's versions, newest first. It needs View item on
// the file's folder.
func (s *Service) Versions(ctx context.Context, actor account.Actor, fileID string) ([]Version, error) {
	n, err := s.Get(ctx, actor, fileID)
	if err != nil {
		return nil, err
	}
	if n.Kind != KindFile {
		return nil, refuse(ErrNotFound, "%q is a %s and has no versions", n.Name, n.Kind)
	}
	var out []Version
	err = s.mgr.View(func(tx *storage.Tx) error {
		return entryVer.Scan(tx, fileID+"/", func(id string, _ string) error {
			v, err := versions.Get(tx, strings.TrimPrefix(id, fileID+"/"))
			if err != nil {
				return err
			}
			out = append(out, v)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, err
}
