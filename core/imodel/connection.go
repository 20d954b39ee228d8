package imodel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/names"
	"codeberg.org/plinth/plinth/core/schedule"
	"codeberg.org/plinth/plinth/storage"
)

// NewConnection is what the New connection dialog asks for.
type NewConnection struct {
	Name     string
	Source   Source
	Mapped   []Composite
	Schedule schedule.Spec // zero: Manually
}

// AddConnection creates a connection on an iModel, owned by the actor
// with a fresh 30-day token. It needs Modify content on the iModel.
func (s *Service) AddConnection(ctx context.Context, actor account.Actor, imodel string, nc NewConnection) (Connection, error) {
	node, err := s.checkIModel(ctx, actor, imodel, account.ModifyContent)
	if err != nil {
		return Connection{}, err
	}
	nc.Name = strings.TrimSpace(nc.Name)
	if nc.Name == "" {
		return Connection{}, errors.New("give the connection a name")
	}
	if nc.Schedule.Kind == "" {
		nc.Schedule = schedule.Spec{Kind: schedule.Manual}
	}
	if err := checkSchedule(nc.Schedule); err != nil {
		return Connection{}, err
	}
	if len(nc.Mapped) == 0 {
		return Connection{}, errors.New("map at least one design file")
	}
	src, err := s.checkSource(ctx, actor, nc.Source)
	if err != nil {
		return Connection{}, err
	}
	nc.Source = src
	mapped, err := cleanMapping(nc.Mapped)
	if err != nil {
		return Connection{}, err
	}
	for _, f := range flatten(mapped) {
		if err := s.checkMappedFile(ctx, actor, src, f); err != nil {
			return Connection{}, err
		}
	}
	now := s.now()
	c := Connection{ID: newID(now), IModel: node.ID, Name: nc.Name, Source: src, Mapped: mapped, Schedule: nc.Schedule,
		Owner: actor.Name(), Created: now, CreatedBy: actor.Name(),
		Token: Token{Owner: actor.Name(), Issued: now, Expires: now.Add(TokenLifetime)}}
	err = s.mgr.Update(func(tx *storage.Tx) error {
		all, err := imodelConnections(tx, node.ID)
		if err != nil {
			return err
		}
		if err := checkLimits(all, c, nc.Name); err != nil {
			return err
		}
		if err := connections.Put(tx, c.ID, c); err != nil {
			return err
		}
		for _, f := range c.MappedFiles() {
			if err := statuses.Put(tx, c.ID+"/"+fileKey(f), FileStatus{File: f, State: StateNotSynced, Updated: now}); err != nil {
				return err
			}
		}
		return touchMember(tx, node.ID, actor.Name(), now)
	})
	if err == nil {
		s.changed()
	}
	return c, err
}

// checkLimits refuses a connection (new or changed) that would break the
// iModel's limits or clash with another connection.
func checkLimits(all []Connection, c Connection, newName string) error {
	conns, files := 1, len(c.MappedFiles())
	for _, o := range all {
		if o.ID == c.ID {
			continue
		}
		conns++
		files += len(o.MappedFiles())
		if strings.EqualFold(o.Name, newName) {
			return fmt.Errorf("the iModel already has a connection named %q", o.Name)
		}
		if o.Source == c.Source {
			mine := map[string]bool{}
			for _, f := range c.MappedFiles() {
				mine[f] = true
			}
			for _, f := range o.MappedFiles() {
				if mine[f] {
					return fmt.Errorf("%s is already mapped by the connection %q", f, o.Name)
				}
			}
		}
	}
	if conns > MaxConnections {
		return fmt.Errorf("an iModel can have at most %d connections; delete one first: %w", MaxConnections, ErrLimit)
	}
	if files > MaxMappedFiles {
		return fmt.Errorf("an iModel can have at most %d mapped files across its connections (this would make %d): %w", MaxMappedFiles, files, ErrLimit)
	}
	return nil
}

func checkSchedule(sp schedule.Spec) error {
	if err := sp.Validate(); err != nil {
		return err
	}
	if sp.Kind == schedule.Every && sp.Interval < ShortestEvery {
		return fmt.Errorf("a connection syncs at most %s", strings.ToLower(schedule.EveryInterval(ShortestEvery).String()))
	}
	return nil
}

// cleanMapping normalizes paths and refuses duplicates.
func cleanMapping(in []Composite) ([]Composite, error) {
	seen := map[string]bool{}
	var out []Composite
	for _, c := range in {
		var files []string
		for _, f := range c.Files() {
			f, err := cleanRel(f)
			if err != nil {
				return nil, err
			}
			if seen[strings.ToLower(f)] {
				return nil, fmt.Errorf("%s is mapped twice", f)
			}
			seen[strings.ToLower(f)] = true
			files = append(files, f)
		}
		out = append(out, Composite{Main: files[0], Refs: files[1:]})
	}
	return out, nil
}

// cleanRel checks a mapped file's path as a user typed it: relative to
// the source folder (a "\" is taken as "/"; "." and empty names are
// dropped), never out of it (no "..", not absolute), and every name one
// that names.Check accepts. Sync checks it again where it joins it onto
// the folder (sourcePath), for mappings stored before.
func cleanRel(f string) (string, error) {
	f = strings.TrimSpace(strings.ReplaceAll(f, "\\", "/"))
	if strings.HasPrefix(f, "/") || filepath.IsAbs(f) || filepath.VolumeName(f) != "" || hasDrive(f) {
		return "", fmt.Errorf("%s is not inside the source folder: give the file's path relative to the source folder", f)
	}
	var parts []string
	for _, part := range strings.Split(f, "/") {
		switch part {
		case "..":
			return "", fmt.Errorf("%s leads outside the source folder", f)
		case "", ".":
			continue
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return "", errors.New("a mapped file has no name")
	}
	c := strings.Join(parts, "/")
	if err := names.CheckPath(c); err != nil {
		return "", fmt.Errorf("%s cannot be mapped: %w", f, err)
	}
	return c, nil
}

// hasDrive reports whether p starts with a Windows drive ("C:"), which is
// absolute wherever Plinth runs.
func hasDrive(p string) bool {
	return len(p) >= 2 && p[1] == ':' && (p[0] >= 'A' && p[0] <= 'Z' || p[0] >= 'a' && p[0] <= 'z')
}

// normRel is how a mapped file is matched when it is named (to unmap
// it): the slashes and dots a user may type are evened out, nothing is
// refused, so that a mapping stored before the names were checked can
// still be removed.
func normRel(f string) string {
	return path.Clean("/" + strings.TrimSpace(strings.ReplaceAll(f, "\\", "/")))[1:]
}

func flatten(m []Composite) []string {
	var out []string
	for _, c := range m {
		out = append(out, c.Files()...)
	}
	return out
}

// checkSource makes sure the source folder is there and readable.
func (s *Service) checkSource(ctx context.Context, actor account.Actor, src Source) (Source, error) {
	switch src.Kind {
	case SourceDisk:
		p := filepath.Clean(src.Path)
		if !filepath.IsAbs(p) {
			return src, fmt.Errorf("the source folder %q must be a full path", src.Path)
		}
		st, err := os.Stat(p)
		if err != nil {
			return src, fmt.Errorf("the source folder %s cannot be read: %w", p, err)
		}
		if !st.IsDir() {
			return src, fmt.Errorf("the source %s is a file, not a folder", p)
		}
		src.Path = p
	case SourceFileServer:
		p := "/" + strings.Trim(src.Path, "/")
		if p != "/" {
			if err := names.CheckPath(p[1:]); err != nil {
				return src, fmt.Errorf("the source folder %s cannot be used: %w", src.Path, err)
			}
		}
		n, err := s.files.Lookup(ctx, actor, p)
		if err != nil {
			return src, fmt.Errorf("the source folder %s: %w", p, err)
		}
		if !n.Kind.IsContainer() {
			return src, fmt.Errorf("the source %s is a %s, not a folder", p, n.Kind)
		}
		src.Path = p
	default:
		return src, fmt.Errorf("unknown source kind %q: use disk or fileserver", src.Kind)
	}
	return src, nil
}

func (s *Service) checkMappedFile(ctx context.Context, actor account.Actor, src Source, f string) error {
	if !strings.EqualFold(path.Ext(f), ".ifc") {
		return fmt.Errorf("%s is not an IFC file (.ifc)", f)
	}
	if _, err := s.stat(ctx, actor, src, f); err != nil {
		return err
	}
	return nil
}

// Connections lists an iModel's connections by name. It needs View item
// on the iModel.
func (s *Service) Connections(ctx context.Context, actor account.Actor, imodel string) ([]Connection, error) {
	if _, err := s.checkIModel(ctx, actor, imodel, account.View); err != nil {
		return nil, err
	}
	var out []Connection
	err := s.mgr.View(func(tx *storage.Tx) (err error) {
		out, err = imodelConnections(tx, imodel)
		return err
	})
	return out, err
}

// AllConnections lists every connection (for the scheduler).
func (s *Service) AllConnections() ([]Connection, error) {
	var out []Connection
	err := s.mgr.View(func(tx *storage.Tx) (err error) {
		out, err = connections.List(tx, "")
		return err
	})
	return out, err
}

func imodelConnections(tx *storage.Tx, imodel string) ([]Connection, error) {
	all, err := connections.List(tx, "")
	if err != nil {
		return nil, err
	}
	var out []Connection
	for _, c := range all {
		if c.IModel == imodel {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out, nil
}

// Connection returns one connection. It needs View item on its iModel.
func (s *Service) Connection(ctx context.Context, actor account.Actor, id string) (Connection, error) {
	c, err := s.conn(id)
	if err != nil {
		return c, err
	}
	_, err = s.checkIModel(ctx, actor, c.IModel, account.View)
	return c, err
}

func (s *Service) conn(id string) (Connection, error) {
	var c Connection
	err := s.mgr.View(func(tx *storage.Tx) (err error) {
		c, err = connections.Get(tx, id)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return c, fmt.Errorf("connection %s: %w", id, ErrNotFound)
	}
	return c, err
}

// FindConnection finds a connection of an iModel by name.
func (s *Service) FindConnection(ctx context.Context, actor account.Actor, imodel, name string) (Connection, error) {
	all, err := s.Connections(ctx, actor, imodel)
	if err != nil {
		return Connection{}, err
	}
	for _, c := range all {
		if strings.EqualFold(c.Name, name) {
			return c, nil
		}
	}
	return Connection{}, fmt.Errorf("the iModel has no connection named %q: %w", name, ErrNotFound)
}

// change applies fn to a connection after checking Modify content on its
// iModel; fn sees the stored connection inside the transaction.
func (s *Service) change(ctx context.Context, actor account.Actor, id string, fn func(tx *storage.Tx, c *Connection) error) (Connection, error) {
	c, err := s.conn(id)
	if err != nil {
		return c, err
	}
	if _, err := s.checkIModel(ctx, actor, c.IModel, account.ModifyContent); err != nil {
		return c, err
	}
	err = s.mgr.Update(func(tx *storage.Tx) error {
		cur, err := connections.Get(tx, id)
		if err != nil {
			return err
		}
		if err := fn(tx, &cur); err != nil {
			return err
		}
		c = cur
		return connections.Put(tx, id, cur)
	})
	return c, err
}

// Rename renames a connection.
func (s *Service) Rename(ctx context.Context, actor account.Actor, id, name string) (Connection, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Connection{}, errors.New("give the connection a name")
	}
	return s.change(ctx, actor, id, func(tx *storage.Tx, c *Connection) error {
		all, err := imodelConnections(tx, c.IModel)
		if err != nil {
			return err
		}
		for _, o := range all {
			if o.ID != c.ID && strings.EqualFold(o.Name, name) {
				return fmt.Errorf("the iModel already has a connection named %q", o.Name)
			}
		}
		c.Name = name
		return nil
	})
}

// SetSchedule changes when a connection syncs by itself.
func (s *Service) SetSchedule(ctx context.Context, actor account.Actor, id string, sp schedule.Spec) (Connection, error) {
	if err := checkSchedule(sp); err != nil {
		return Connection{}, err
	}
	c, err := s.change(ctx, actor, id, func(_ *storage.Tx, c *Connection) error {
		c.Schedule = sp
		return nil
	})
	if err == nil {
		s.changed()
	}
	return c, err
}

// Members lists the users who have interacted with an iModel: those a
// connection's ownership can go to.
func (s *Service) Members(ctx context.Context, actor account.Actor, imodel string) ([]string, error) {
	if _, err := s.checkIModel(ctx, actor, imodel, account.View); err != nil {
		return nil, err
	}
	var out []string
	err := s.mgr.View(func(tx *storage.Tx) error {
		return members.Scan(tx, imodel+"/", func(_ string, m Member) error {
			out = append(out, m.User)
			return nil
		})
	})
	sort.Strings(out)
	return out, err
}

// Touch records that the actor has interacted with the iModel.
func (s *Service) Touch(ctx context.Context, actor account.Actor, imodel string) error {
	if _, err := s.checkIModel(ctx, actor, imodel, account.View); err != nil {
		return err
	}
	return s.mgr.Update(func(tx *storage.Tx) error { return touchMember(tx, imodel, actor.Name(), s.now()) })
}

func touchMember(tx *storage.Tx, imodel, user string, now time.Time) error {
	return members.Put(tx, imodel+"/"+user, Member{User: user, Last: now})
}

// SetOwner gives a connection to another user who has interacted with its
// iModel, or lets such a user take it. Not while a sync runs. The new
// owner has no valid token until their first manual sync: the returned
// sentence says so.
func (s *Service) SetOwner(ctx context.Context, actor account.Actor, id, owner string) (Connection, string, error) {
	c, err := s.change(ctx, actor, id, func(tx *storage.Tx, c *Connection) error {
		if c.Running != "" {
			return fmt.Errorf("the connection's owner cannot change while it syncs; try again when the sync has finished: %w", ErrRunning)
		}
		if actor.Name() != c.Owner && actor.Name() != owner && !actor.IsMaster() {
			return fmt.Errorf("only the owner (%s) can give the connection away, or a user can take it: %w", c.Owner, account.ErrPermission)
		}
		ok, err := members.Has(tx, c.IModel+"/"+owner)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("ownership can only go to a user who has worked with this iModel, and %s has not yet", owner)
		}
		if owner == c.Owner {
			return nil
		}
		now := s.now()
		c.Owner = owner
		c.Token = Token{Owner: owner, Issued: now, Expires: now} // renewed by the new owner's manual sync
		return touchMember(tx, c.IModel, actor.Name(), now)
	})
	if err != nil {
		return c, "", err
	}
	return c, fmt.Sprintf("User %s now owns %q. Run Sync now as %s to renew the sync token; scheduled syncs fail until then.", owner, c.Name, owner), nil
}

// TouchTokens refreshes the tokens of the actor's connections that expire
// within their last 10 days (not those already expired); the iModels page
// calls it when its owner opens it. It returns how many were refreshed.
func (s *Service) TouchTokens(ctx context.Context, actor account.Actor) (int, error) {
	now := s.now()
	n := 0
	err := s.mgr.Update(func(tx *storage.Tx) error {
		n = 0
		return connections.Scan(tx, "", func(id string, c Connection) error {
			if c.Owner != actor.Name() || !c.Token.Expires.After(now) || c.Token.Expires.Sub(now) > TokenRefresh {
				return nil
			}
			c.Token = Token{Owner: c.Owner, Issued: now, Expires: now.Add(TokenLifetime)}
			n++
			return connections.Put(tx, id, c)
		})
	})
	return n, err
}

// renewToken gives the owner a fresh token (a manual sync by the owner).
func (s *Service) renewToken(id, owner string) error {
	now := s.now()
	return s.mgr.Update(func(tx *storage.Tx) error {
		c, err := connections.Get(tx, id)
		if err != nil || c.Owner != owner {
			return err
		}
		c.Token = Token{Owner: owner, Issued: now, Expires: now.Add(TokenLifetime)}
		return connections.Put(tx, id, c)
	})
}

// CheckTokens tells owners whose tokens entered their last 10 days, or
// expired, once each; the daily job runs it.
func (s *Service) CheckTokens(ctx context.Context) error {
	now := s.now()
	type tell struct {
		c       Connection
		expired bool
	}
	var todo []tell
	err := s.mgr.Update(func(tx *storage.Tx) error {
		todo = todo[:0]
		return connections.Scan(tx, "", func(id string, c Connection) error {
			if c.Schedule.Kind == schedule.Manual || c.Schedule.Kind == "" {
				return nil // only scheduled syncs need the token
			}
			switch left := c.Token.Expires.Sub(now); {
			case left <= 0 && !c.Token.WarnedExpired:
				c.Token.WarnedExpired = true
				todo = append(todo, tell{c, true})
			case left > 0 && left <= TokenRefresh && !c.Token.WarnedExpiring:
				c.Token.WarnedExpiring = true
				todo = append(todo, tell{c, false})
			default:
				return nil
			}
			return connections.Put(tx, id, c)
		})
	})
	if err != nil {
		return err
	}
	for _, t := range todo {
		if t.expired {
			s.tellOwner(ctx, t.c, notifyTokenExpired(t.c))
		} else {
			s.tellOwner(ctx, t.c, notifyTokenExpiring(t.c, now))
		}
	}
	return nil
}

// Map adds a composite model (a design file and its references).
func (s *Service) Map(ctx context.Context, actor account.Actor, id string, comp Composite) (Connection, error) {
	cm, err := cleanMapping([]Composite{comp})
	if err != nil {
		return Connection{}, err
	}
	c, err := s.conn(id)
	if err != nil {
		return c, err
	}
	for _, f := range cm[0].Files() {
		if err := s.checkMappedFile(ctx, actor, c.Source, f); err != nil {
			return c, err
		}
	}
	return s.change(ctx, actor, id, func(tx *storage.Tx, c *Connection) error {
		if c.Running != "" {
			return fmt.Errorf("the mapping cannot change while the connection syncs: %w", ErrRunning)
		}
		next := *c
		next.Mapped = append(append([]Composite(nil), c.Mapped...), cm[0])
		if _, err := cleanMapping(next.Mapped); err != nil {
			return err
		}
		all, err := imodelConnections(tx, c.IModel)
		if err != nil {
			return err
		}
		if err := checkLimits(all, next, c.Name); err != nil {
			return err
		}
		*c = next
		now := s.now()
		for _, f := range cm[0].Files() {
			if err := statuses.Put(tx, c.ID+"/"+fileKey(f), FileStatus{File: f, State: StateNotSynced, Updated: now}); err != nil {
				return err
			}
		}
		return touchMember(tx, c.IModel, actor.Name(), now)
	})
}

// Unmap removes a composite model with its references; a reference alone
// cannot be unmapped. With deleteElements the files' elements leave the
// iModel at once (a delete job, recorded as a changeset); otherwise they
// stay and future syncs just leave those files out. Unmapping the last
// composite deletes the connection. It returns the connection (zero when
// it was deleted).
func (s *Service) Unmap(ctx context.Context, actor account.Actor, id, main string, deleteElements bool) (Connection, error) {
	main = normRel(main)
	c, err := s.conn(id)
	if err != nil {
		return c, err
	}
	idx := -1
	for i, m := range c.Mapped {
		if strings.EqualFold(normRel(m.Main), main) {
			idx = i
		}
		for _, r := range m.Refs {
			if strings.EqualFold(normRel(r), main) {
				return c, fmt.Errorf("%s is a reference file of %s; unmap %s with its references", r, m.Main, m.Main)
			}
		}
	}
	if idx < 0 {
		return c, fmt.Errorf("%s is not mapped in %q", main, c.Name)
	}
	gone := c.Mapped[idx]
	if len(c.Mapped) == 1 {
		// Removing every file deletes the connection; only these files'
		// elements go with it (those of files unmapped before were kept).
		if _, err := s.checkIModel(ctx, actor, c.IModel, account.ModifyContent|account.DeleteContent); err != nil {
			return Connection{}, err
		}
		if deleteElements {
			if err := s.deleteJob(ctx, actor, c, gone.Files(), "unmap", fmt.Sprintf("unmapped %s with its elements", gone.Main)); err != nil {
				return Connection{}, err
			}
		}
		return Connection{}, s.Delete(ctx, actor, id, false)
	}
	c, err = s.change(ctx, actor, id, func(tx *storage.Tx, c *Connection) error {
		if c.Running != "" {
			return fmt.Errorf("the mapping cannot change while the connection syncs: %w", ErrRunning)
		}
		var keep []Composite
		for _, m := range c.Mapped {
			if !strings.EqualFold(m.Main, gone.Main) {
				keep = append(keep, m)
			}
		}
		c.Mapped = keep
		for _, f := range gone.Files() {
			if err := statuses.Delete(tx, c.ID+"/"+fileKey(f)); err != nil {
				return err
			}
		}
		return touchMember(tx, c.IModel, actor.Name(), s.now())
	})
	if err != nil || !deleteElements {
		return c, err
	}
	return c, s.deleteJob(ctx, actor, c, gone.Files(), "unmap", fmt.Sprintf("unmapped %s with its elements", gone.Main))
}

// Delete removes a connection: its elements stay in the iModel unless
// deleteElements. The connection that defined the iModel's geographic
// coordinate system cannot go while the iModel has other connections.
func (s *Service) Delete(ctx context.Context, actor account.Actor, id string, deleteElements bool) error {
	c, err := s.conn(id)
	if err != nil {
		return err
	}
	if _, err := s.checkIModel(ctx, actor, c.IModel, account.ModifyContent|account.DeleteContent); err != nil {
		return err
	}
	if g, ok, err := s.GeoOf(c.IModel); err != nil {
		return err
	} else if ok && g.Connection == c.ID {
		var others int
		_ = s.mgr.View(func(tx *storage.Tx) error {
			all, err := imodelConnections(tx, c.IModel)
			others = len(all) - 1
			return err
		})
		if others > 0 {
			return fmt.Errorf("%q defined the iModel's geographic coordinate system (from %s); it can be deleted only when it is the iModel's last connection", c.Name, g.File)
		}
	}
	if deleteElements {
		if err := s.deleteJob(ctx, actor, c, s.scopeFiles(c), "delete", fmt.Sprintf("connection %q deleted with its elements", c.Name)); err != nil {
			return err
		}
	}
	err = s.mgr.Update(func(tx *storage.Tx) error {
		cur, err := connections.Get(tx, id)
		if err != nil {
			return err
		}
		if cur.Running != "" {
			return fmt.Errorf("the connection cannot be deleted while it syncs: %w", ErrRunning)
		}
		if err := statuses.Scan(tx, id+"/", func(key string, _ FileStatus) error { return statuses.Delete(tx, key) }); err != nil {
			return err
		}
		return connections.Delete(tx, id)
	})
	if err == nil {
		s.changed()
	}
	return err
}

func (s *Service) changed() {
	if s.Changed != nil {
		s.Changed()
	}
}

// scopeFiles lists the files a connection has elements from (mapped or
// unmapped-but-kept).
func (s *Service) scopeFiles(c Connection) []string {
	var out []string
	_ = s.fsr.View(func(tx *storage.Tx) error {
		return scopes.Scan(tx, c.IModel+"/"+c.ID+"/", func(_ string, sc Scope) error {
			out = append(out, sc.File)
			return nil
		})
	})
	return out
}

func newID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

var _ = files.KindIModel
