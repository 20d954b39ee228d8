package imodel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/ifc"
	"codeberg.org/plinth/plinth/core/names"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/text"
	"codeberg.org/plinth/plinth/storage"
)

// Triggers of a run.
const (
	TriggerManual    = "manual"
	TriggerScheduled = "scheduled"
)

// sourceFile is what a sync knows of a design file before reading it.
type sourceFile struct {
	size    int64
	modTime time.Time
	hash    string // known without reading (file server), else ""
	id      string // file server node
}

// stat looks a mapped file up in the source.
func (s *Service) stat(ctx context.Context, actor account.Actor, src Source, file string) (sourceFile, error) {
	switch src.Kind {
	case SourceFileServer:
		if err := names.CheckPath(file); err != nil {
			return sourceFile{}, err
		}
		n, err := s.files.Lookup(ctx, actor, src.Path+"/"+file)
		if err != nil {
			return sourceFile{}, fmt.Errorf("there is no %s in %s: %w", file, src.Path, err)
		}
		return sourceFile{size: n.Size, modTime: n.Modified.UTC(), hash: n.Hash.String(), id: n.ID}, nil
	default:
		p, err := sourcePath(src, file)
		if err != nil {
			return sourceFile{}, err
		}
		st, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return sourceFile{}, fmt.Errorf("there is no %s in %s", file, src.Path)
			}
			return sourceFile{}, fmt.Errorf("%s cannot be read: %w", file, err)
		}
		if st.IsDir() {
			return sourceFile{}, fmt.Errorf("%s is a folder, not a design file", file)
		}
		return sourceFile{size: st.Size(), modTime: st.ModTime().UTC()}, nil
	}
}

// sourcePath is where a mapped file of a disk source is: joined onto the
// source folder by names.Join (a mapping is a name from outside: typed by
// a user, or read from a restored Manager store), and still inside the
// folder once links are followed.
func sourcePath(src Source, file string) (string, error) {
	p, err := names.Join(src.Path, file)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(p)
	switch {
	case err != nil:
		return p, nil // missing or unreadable: the caller says which
	case real == p:
		return p, nil // no link on the way
	}
	base, err := filepath.EvalSymlinks(src.Path)
	if err != nil {
		return "", fmt.Errorf("the source folder %s cannot be read: %w", src.Path, err)
	}
	if rel, err := filepath.Rel(base, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%s leads outside the source folder %s through a link", file, src.Path)
	}
	return real, nil
}

// read reads a mapped file with ifc.Read, which holds only a window of
// it, and its SHA-256 in the same pass. It refuses what is not an IFC
// file from its first bytes. The category says whose an error is: the
// source's (it cannot be read) or the file's (it is not one Plinth reads).
func (s *Service) read(ctx context.Context, actor account.Actor, src Source, file string, sf sourceFile) (m *ifc.Model, hash, category string, err error) {
	var r io.ReadCloser
	switch src.Kind {
	case SourceFileServer:
		rd, _, err := s.files.Open(ctx, actor, sf.id, "")
		if err != nil {
			return nil, "", CategorySource, err
		}
		r = rd
	default:
		p, err := sourcePath(src, file)
		if err != nil {
			return nil, "", CategorySource, err
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, "", CategorySource, fmt.Errorf("%s cannot be read: %w", file, err)
		}
		r = f
	}
	defer r.Close()
	h := sha256.New()
	m, err = s.parse(ctx, file, r, sf.size, h)
	switch {
	case errors.Is(err, ifc.ErrUnreadable):
		return nil, "", CategorySource, err
	case err != nil:
		return nil, "", CategoryFile, err
	}
	return m, hex.EncodeToString(h.Sum(nil)), "", nil
}

// Sync runs a connection now: each mapped file is compared with what the
// last sync stored and its changes applied atomically. A manual run needs
// Modify content on the iModel and renews the token when the owner runs
// it; a scheduled run acts as the owner and needs a valid token. The run
// is recorded (also when it fails) and returned.
func (s *Service) Sync(ctx context.Context, actor account.Actor, id, trigger string, prog progress.Func) (Run, error) {
	c, err := s.conn(id)
	if err != nil {
		return Run{}, err
	}
	if trigger == TriggerScheduled && c.Paused != nil {
		return Run{}, pausedError(c)
	}
	now := s.now()
	run := Run{ID: newID(now), Connection: c.ID, ConnName: c.Name, IModel: c.IModel, By: actor.Name(), Trigger: trigger, Started: now, State: "running"}
	if trigger == TriggerScheduled {
		run.By = c.Owner
		if !c.Token.Expires.After(now) {
			run.Errors = []ReportError{{Category: CategoryAuthentication, UserFixable: true,
				Message: fmt.Sprintf("the sync token of %s expired on %s; %s must run Sync now to renew it", c.Owner, c.Token.Expires.Local().Format("2006-01-02"), c.Owner)}}
			s.finish(ctx, &run, c)
			return run, fmt.Errorf("scheduled sync of %q: %w", c.Name, ErrTokenExpire)
		}
		owner, err := s.acc.ActAs(ctx, c.Owner)
		if err != nil {
			run.Errors = []ReportError{{Category: CategoryAuthentication, UserFixable: true, Message: fmt.Sprintf("the owner %s is no longer a user; give the connection to another user", c.Owner)}}
			s.finish(ctx, &run, c)
			return run, err
		}
		actor = owner
	}
	if _, err := s.checkIModel(ctx, actor, c.IModel, account.ModifyContent); err != nil {
		if trigger != TriggerScheduled {
			return Run{}, err
		}
		run.Errors = []ReportError{{Category: CategoryPermission, UserFixable: true, Message: err.Error()}}
		s.finish(ctx, &run, c)
		return run, err
	}
	// One run at a time per connection.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err = s.mgr.Update(func(tx *storage.Tx) error {
		cur, err := connections.Get(tx, id)
		if err != nil {
			return err
		}
		if cur.Running != "" {
			return fmt.Errorf("%q is syncing already: %w", cur.Name, ErrRunning)
		}
		if trigger == TriggerScheduled && cur.Paused != nil {
			return pausedError(cur)
		}
		// Stored before any file is read: if the process dies during the
		// run, the next start finds it and pauses the schedule (Recover).
		cur.Running = run.ID
		c = cur
		if err := connections.Put(tx, id, cur); err != nil {
			return err
		}
		if err := runs.Put(tx, c.ID+"/"+run.ID, run); err != nil {
			return err
		}
		for _, f := range c.MappedFiles() {
			if err := statuses.Put(tx, c.ID+"/"+fileKey(f), FileStatus{File: f, State: StateQueued, Run: run.ID, Updated: now}); err != nil {
				return err
			}
		}
		if trigger == TriggerManual {
			return touchMember(tx, c.IModel, actor.Name(), now)
		}
		return nil
	})
	if err != nil {
		return Run{}, err
	}
	s.mu.Lock()
	s.cancels[c.ID] = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.cancels, c.ID)
		s.mu.Unlock()
	}()
	if trigger == TriggerManual && actor.Name() == c.Owner {
		if err := s.renewToken(c.ID, c.Owner); err != nil {
			s.log.Warn("renew token", "err", err)
		}
	}

	others := &globalIDs{s: s, c: c}
	files := c.MappedFiles()
	for i, f := range files {
		prog.Send(progress.Report{Phase: "Synchronizing " + f, Done: int64(i), Total: int64(len(files)), Item: f, Unit: "design file"})
		s.setStatus(c.ID, FileStatus{File: f, State: StateRunning, Run: run.ID, Updated: s.now()})
		rep := s.syncFileSafe(ctx, actor, c, f, &run, others)
		run.Files = append(run.Files, rep)
		st := FileStatus{File: f, State: rep.State, Run: run.ID, Updated: s.now()}
		if len(rep.Errors) > 0 {
			st.Reason = rep.Errors[0].Message
		} else if len(rep.Warnings) > 0 {
			st.Reason = text.Count(len(rep.Warnings), "warning") + "; see the run report"
		}
		s.setStatus(c.ID, st)
		_ = s.mgr.Update(func(tx *storage.Tx) error { return runs.Put(tx, c.ID+"/"+run.ID, run) })
	}
	prog.Send(progress.Report{Phase: "Synchronized", Done: int64(len(files)), Total: int64(len(files)), Unit: "design file"})
	if ctx.Err() != nil {
		run.State = "cancelled"
	}
	s.finish(ctx, &run, c)
	return run, nil
}

// pausedError says that a connection's scheduled runs wait for Sync now.
func pausedError(c Connection) error {
	return fmt.Errorf("scheduled syncs of %q are paused because Plinth stopped during its sync of %s; run Sync now to resume them: %w",
		c.Name, c.Paused.Since.Local().Format("2006-01-02 15:04"), ErrPaused)
}

// Cancel stops a connection's running sync; files already applied stay.
func (s *Service) Cancel(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cancel, ok := s.cancels[id]; ok {
		cancel()
		return true
	}
	return false
}

func (s *Service) setStatus(conn string, st FileStatus) {
	_ = s.mgr.Update(func(tx *storage.Tx) error { return statuses.Put(tx, conn+"/"+fileKey(st.File), st) })
}

// finish decides the run's result, stores it, frees the connection and
// tells the owner about failures.
func (s *Service) finish(ctx context.Context, run *Run, c Connection) {
	run.Finished = s.now()
	if run.State == "running" {
		run.State = "finished"
	}
	failed, ok := 0, 0
	for _, f := range run.Files {
		if f.State == StateFailed || f.State == StateCancelled {
			failed++
		} else {
			ok++
		}
	}
	switch {
	case len(run.Errors) > 0 || (failed > 0 && ok == 0):
		run.Result = ResultFailed
	case failed > 0:
		run.Result = ResultPartialSuccess
	default:
		run.Result = ResultSuccess
	}
	// A manual run that synced its files shows that they no longer stop
	// Plinth: the scheduled runs resume.
	resume := run.Trigger == TriggerManual && run.State == "finished" && run.Result != ResultFailed
	_ = s.mgr.Update(func(tx *storage.Tx) error {
		if cur, err := connections.Get(tx, c.ID); err == nil && (cur.Running == run.ID || resume && cur.Paused != nil) {
			if cur.Running == run.ID {
				cur.Running = ""
			}
			if resume && cur.Paused != nil {
				s.log.Info("scheduled syncs resume", "connection", c.ID, "run", run.ID)
				cur.Paused = nil
			}
			if err := connections.Put(tx, c.ID, cur); err != nil {
				return err
			}
		}
		return runs.Put(tx, c.ID+"/"+run.ID, *run)
	})
	switch {
	case run.State == "cancelled":
	case run.Result == ResultFailed:
		s.tellOwner(ctx, c, notice{notify.ConnectionFailed, notify.Error, fmt.Sprintf("The sync of %q failed: %s.", c.Name, firstError(*run))}, run.By)
	case run.Result == ResultPartialSuccess:
		s.tellOwner(ctx, c, notice{notify.ConnectionPartial, notify.Warning, fmt.Sprintf("The sync of %q partly succeeded: %d of %d files failed (%s).", c.Name, failed, failed+ok, firstError(*run))}, run.By)
	}
}

func firstError(r Run) string {
	if e := r.FirstError(); e != "" {
		return e
	}
	return "no reason given"
}

// globalIDs maps each GlobalId stored for a connection to its file key,
// to warn about duplicates across files. It is read on first use: a run
// whose files are all unchanged never needs it.
type globalIDs struct {
	s      *Service
	c      Connection
	m      map[string]string
	loaded bool
}

func (g *globalIDs) get() map[string]string {
	if g.loaded {
		return g.m
	}
	g.loaded = true
	g.m = map[string]string{}
	prefix := elements.Key(g.c.IModel + "/" + g.c.ID + "/")
	_ = g.s.fsr.View(func(tx *storage.Tx) error {
		return tx.ScanKeys(prefix, func(key []byte) error {
			// imel/<imodel>/<conn>/<file>/<gid>
			rest := key[len(prefix):]
			if i := bytes.IndexByte(rest, '/'); i >= 0 {
				g.m[string(rest[i+1:])] = string(rest[:i])
			}
			return nil
		})
	})
	return g.m
}

// syncFileSafe is syncFile with a panic turned into the file's failure:
// the other files still sync and the process lives on. What the file had
// staged is finished or dropped as its stored mark says, as Recover would.
func (s *Service) syncFileSafe(ctx context.Context, actor account.Actor, c Connection, file string, run *Run, ids *globalIDs) (rep FileReport) {
	start := time.Now()
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		s.log.Error("a sync failed inside Plinth", "connection", c.ID, "file", file, "panic", r, "stack", string(debug.Stack()))
		if err := s.cleanStage(scopeID(c.IModel, c.ID, file), true); err != nil {
			s.log.Warn("finish the staged change after the failure", "file", file, "err", err)
		}
		rep = FileReport{File: file, State: StateFailed, Seconds: time.Since(start).Seconds(), Errors: []ReportError{{File: file, Category: CategoryInternal,
			Message: fmt.Sprintf("Plinth failed while syncing this file (%v); it was applied completely or not at all, and the other files still sync", r)}}}
	}()
	return s.syncFile(ctx, actor, c, file, run, ids)
}

// syncFile brings one file's changes into the iModel, all or nothing.
func (s *Service) syncFile(ctx context.Context, actor account.Actor, c Connection, file string, run *Run, ids *globalIDs) FileReport {
	start := time.Now()
	rep := FileReport{File: file}
	fail := func(cat, msg string, line int, fixable bool) FileReport {
		rep.State = StateFailed
		if cat == CategoryCancelled {
			rep.State = StateCancelled
		}
		rep.Errors = append(rep.Errors, ReportError{File: file, Line: line, Category: cat, Message: msg, UserFixable: fixable})
		rep.Seconds = time.Since(start).Seconds()
		return rep
	}
	if ctx.Err() != nil {
		return fail(CategoryCancelled, "the sync was cancelled before this file", 0, false)
	}
	sf, err := s.stat(ctx, actor, c.Source, file)
	if err != nil {
		return fail(CategorySource, err.Error(), 0, true)
	}
	sid := scopeID(c.IModel, c.ID, file)
	var sc Scope
	found := false
	_ = s.fsr.View(func(tx *storage.Tx) error {
		got, err := scopes.Get(tx, sid)
		sc, found = got, err == nil
		return nil
	})
	unchanged := func() FileReport {
		rep.State, rep.Unchanged = StateUnchanged, sc.Elements
		rep.Seconds = time.Since(start).Seconds()
		return rep
	}
	if found && sc.Pending == nil && sc.Size == sf.size && sc.ModTime.Equal(sf.modTime) && sc.Hash != "" {
		return unchanged()
	}
	if found && sc.Pending == nil && sf.hash != "" && sf.hash == sc.Hash {
		return unchanged()
	}
	if err := ifc.CheckSize(file, sf.size); err != nil {
		return fail(CategoryFile, err.Error()+"; the iModel keeps what this file gave before", 0, true)
	}
	if s.Reserve != nil {
		// ifc.Read holds a window of the file and an index of about 16
		// bytes an instance (files average 60 bytes or more an instance).
		release := s.Reserve(sf.size/2 + 64<<20)
		defer release()
	}
	m, hash, category, err := s.read(ctx, actor, c.Source, file, sf)
	if err != nil {
		var se *ifc.SyntaxError
		switch {
		case ctx.Err() != nil:
			return fail(CategoryCancelled, "the sync was cancelled", 0, false)
		case category == CategorySource:
			return fail(CategorySource, err.Error(), 0, true)
		case errors.As(err, &se):
			return fail(CategoryFile, err.Error()+"; the iModel keeps what this file gave before", se.Line, true)
		}
		return fail(CategoryFile, err.Error()+"; the iModel keeps what this file gave before", 0, true)
	}
	if sf.hash != "" {
		hash = sf.hash
	}
	if found && sc.Pending == nil && hash == sc.Hash {
		// Same content, new time stamp: remember it so the next run is quick.
		sc.Size, sc.ModTime = sf.size, sf.modTime
		_ = s.fsr.Update(func(tx *storage.Tx) error { return scopes.Put(tx, sid, sc) })
		return unchanged()
	}
	els, warns := m.Elements, m.Warnings
	if len(m.Unknown) > 0 {
		var names []string
		for n := range m.Unknown {
			names = append(names, n)
		}
		sort.Strings(names)
		warns = append(warns, ifc.Warning{Msg: fmt.Sprintf("%s uses types %s does not define (%s); they are read but not checked", file, m.Schema.Name, strings.Join(names, ", "))})
	}
	key := fileKey(file)
	others := ids.get()
	for _, e := range els {
		if other, ok := others[e.GlobalID]; ok && other != key {
			warns = append(warns, ifc.Warning{Line: e.Line, GlobalID: e.GlobalID, Msg: fmt.Sprintf("#%d %s has a GlobalId that another file of this connection also has", e.ID, e.Type)})
		}
	}
	rep.Warnings = warns
	var geo *Geo
	if m.HasGeo {
		geo = &Geo{Connection: c.ID, File: file, Reference: m.Geo}
	}
	d, err := s.diff(c, file, els)
	if err != nil {
		return fail(CategoryInternal, err.Error(), 0, false)
	}
	if ctx.Err() != nil {
		return fail(CategoryCancelled, "the sync was cancelled; this file was left as it was", 0, false)
	}
	newScope := Scope{IModel: c.IModel, Connection: c.ID, File: file, Size: sf.size, ModTime: sf.modTime, Hash: hash, Elements: len(els)}
	if err := s.apply(ctx, actor, c, run, file, newScope, d, geo, ""); err != nil {
		if ctx.Err() != nil {
			return fail(CategoryCancelled, "the sync was cancelled; this file was left as it was", 0, false)
		}
		return fail(CategoryInternal, "the changes could not be stored: "+err.Error(), 0, false)
	}
	for _, e := range els {
		if _, ok := others[e.GlobalID]; !ok {
			others[e.GlobalID] = key
		}
	}
	rep.Inserted, rep.Updated, rep.Deleted, rep.Unchanged = len(d.inserted), len(d.updated), len(d.deleted), d.unchanged
	rep.State = StateSucceeded
	if len(warns) > 0 {
		rep.State = StateWarnings
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep
}

// diff is what a file changes in its scope.
type diff struct {
	inserted, updated []Element
	deleted           []Element // the stored ones
	oldTypes          map[string]string
	unchanged         int
}

func (d diff) empty() bool { return len(d.inserted)+len(d.updated)+len(d.deleted) == 0 }

func (s *Service) diff(c Connection, file string, els []ifc.Element) (diff, error) {
	stored := map[string]Element{}
	err := s.fsr.View(func(tx *storage.Tx) error {
		return elements.Scan(tx, scopeID(c.IModel, c.ID, file)+"/", func(_ string, e Element) error {
			stored[e.GlobalID] = e
			return nil
		})
	})
	if err != nil {
		return diff{}, err
	}
	d := diff{oldTypes: map[string]string{}}
	for _, e := range els {
		el := Element{GlobalID: e.GlobalID, Type: e.Type, Name: e.Name, ObjectType: e.ObjectType, Tag: e.Tag, Description: e.Description, Checksum: e.Checksum}
		old, ok := stored[e.GlobalID]
		switch {
		case !ok:
			d.inserted = append(d.inserted, el)
		case old.Checksum != el.Checksum || old.Type != el.Type:
			d.oldTypes[el.GlobalID] = old.Type
			d.updated = append(d.updated, el)
		default:
			d.unchanged++
		}
		delete(stored, e.GlobalID)
	}
	for _, e := range stored {
		d.deleted = append(d.deleted, e)
	}
	sort.Slice(d.deleted, func(i, j int) bool { return d.deleted[i].GlobalID < d.deleted[j].GlobalID })
	return d, nil
}

// apply writes a file's change so that it is all there or not at all: the
// changes are staged, one small transaction commits them together with
// the scope, the counts and the changeset, then they are merged into
// place. A crash before the commit leaves the iModel as it was (Recover
// drops the staged rows); after it, Recover finishes the merge.
// newScope.File == "" removes the scope (a delete job).
func (s *Service) apply(ctx context.Context, actor account.Actor, c Connection, run *Run, file string, newScope Scope, d diff, geo *Geo, note string) error {
	sid := scopeID(c.IModel, c.ID, file)
	if d.empty() {
		// Only the file's time stamp or hash moved: no changeset.
		return s.fsr.Update(func(tx *storage.Tx) error {
			if newScope.File == "" {
				return scopes.Delete(tx, sid)
			}
			old, err := scopes.Get(tx, sid)
			if err == nil {
				newScope.Changeset = old.Changeset
			}
			if geo != nil {
				if err := setGeo(tx, c.IModel, *geo); err != nil {
					return err
				}
			}
			return scopes.Put(tx, sid, newScope)
		})
	}
	seq, err := s.changeset(c, run, actor, note)
	if err != nil {
		return err
	}
	stage := fmt.Sprintf("%s/%d", sid, seq)
	// A file's first elements (nothing stored for it, so nothing to lose)
	// are written in place once instead of staged and then moved.
	direct := len(d.updated) == 0 && len(d.deleted) == 0 && d.unchanged == 0
	// 1. Say that a change is being staged, so a crash can be cleaned up.
	err = s.fsr.Update(func(tx *storage.Tx) error {
		sc, err := scopes.Get(tx, sid)
		if errors.Is(err, storage.ErrNotFound) {
			sc = Scope{IModel: c.IModel, Connection: c.ID, File: file}
		} else if err != nil {
			return err
		}
		sc.Pending = &Pending{Stage: stage, Direct: direct}
		return scopes.Put(tx, sid, sc)
	})
	if err != nil {
		return err
	}
	// 2. Stage every change (or write the first ones in place).
	b := s.fsr.NewBatch()
	if direct {
		for _, e := range d.inserted {
			e.Changeset = seq
			if err := elements.PutBatch(b, sid+"/"+e.GlobalID, e); err != nil {
				b.Cancel()
				return s.dropStage(sid, err)
			}
		}
	}
	for _, list := range [][]Element{d.inserted, d.updated} {
		if direct {
			break
		}
		for _, e := range list {
			e.Changeset = seq
			e := e
			if err := staged.PutBatch(b, stage+"/"+e.GlobalID, stagedEl{El: &e, OldType: d.oldTypes[e.GlobalID]}); err != nil {
				b.Cancel()
				return s.dropStage(sid, err)
			}
		}
	}
	for _, e := range d.deleted {
		if err := staged.PutBatch(b, stage+"/"+e.GlobalID, stagedEl{OldType: e.Type}); err != nil {
			b.Cancel()
			return s.dropStage(sid, err)
		}
	}
	if err := b.Flush(); err != nil {
		return s.dropStage(sid, err)
	}
	if err := ctx.Err(); err != nil {
		return s.dropStage(sid, err)
	}
	// 3. Commit: scope, counts, changeset, geo — one transaction.
	err = s.fsr.Update(func(tx *storage.Tx) error {
		st, err := stats.Get(tx, c.IModel)
		if errors.Is(err, storage.ErrNotFound) {
			st = Stats{}
		} else if err != nil {
			return err
		}
		if st.ByType == nil {
			st.ByType = map[string]int{}
		}
		for _, e := range d.inserted {
			st.ByType[e.Type]++
			st.Elements++
		}
		for _, e := range d.updated {
			st.ByType[d.oldTypes[e.GlobalID]]--
			st.ByType[e.Type]++
		}
		for _, e := range d.deleted {
			st.ByType[e.Type]--
			st.Elements--
		}
		for t, n := range st.ByType {
			if n <= 0 {
				delete(st.ByType, t)
			}
		}
		if err := stats.Put(tx, c.IModel, st); err != nil {
			return err
		}
		cs, err := changesets.Get(tx, csID(c.IModel, seq))
		if err != nil {
			return err
		}
		cs.Files = append(cs.Files, file)
		cs.Inserted += len(d.inserted)
		cs.Updated += len(d.updated)
		cs.Deleted += len(d.deleted)
		if err := changesets.Put(tx, csID(c.IModel, seq), cs); err != nil {
			return err
		}
		if geo != nil {
			if err := setGeo(tx, c.IModel, *geo); err != nil {
				return err
			}
		}
		sc := newScope
		remove := sc.File == "" // a delete job: the scope goes once merged
		if remove {
			sc = Scope{IModel: c.IModel, Connection: c.ID, File: file}
		}
		sc.Changeset = seq
		sc.Pending = &Pending{Stage: stage, Committed: true, Remove: remove}
		if direct {
			sc.Pending = nil // nothing to merge
		}
		return scopes.Put(tx, sid, sc)
	})
	if err != nil {
		return s.dropStage(sid, err)
	}
	run.Changeset = seq
	if direct {
		return nil
	}
	// 4. Merge.
	return s.merge(sid)
}

// setGeo sets the iModel's coordinate system if it has none yet.
func setGeo(tx *storage.Tx, imodel string, g Geo) error {
	if ok, err := geos.Has(tx, imodel); err != nil || ok {
		return err
	}
	return geos.Put(tx, imodel, g)
}

// changeset returns the run's changeset, creating it on the run's first
// change.
func (s *Service) changeset(c Connection, run *Run, actor account.Actor, note string) (int64, error) {
	if run.Changeset != 0 {
		return run.Changeset, nil
	}
	var seq int64
	err := s.fsr.Update(func(tx *storage.Tx) error {
		st, err := stats.Get(tx, c.IModel)
		if errors.Is(err, storage.ErrNotFound) {
			st = Stats{ByType: map[string]int{}}
		} else if err != nil {
			return err
		}
		st.Changesets++
		seq = st.Changesets
		if err := stats.Put(tx, c.IModel, st); err != nil {
			return err
		}
		return changesets.Put(tx, csID(c.IModel, seq), Changeset{Seq: seq, IModel: c.IModel, Time: s.now(), By: actor.Name(),
			Connection: c.ID, ConnName: c.Name, Run: run.ID, Note: note})
	})
	if err == nil {
		run.Changeset = seq
	}
	return seq, err
}

// dropStage throws a staged, uncommitted change away and returns cause.
func (s *Service) dropStage(sid string, cause error) error {
	if err := s.cleanStage(sid, false); err != nil {
		s.log.Warn("drop staged changes", "scope", sid, "err", err)
	}
	return cause
}

// merge moves a committed change into place and clears the pending mark;
// it can run again after a crash.
func (s *Service) merge(sid string) error {
	return s.cleanStage(sid, true)
}

// cleanStage merges (committed) or drops (not) a scope's staged change.
func (s *Service) cleanStage(sid string, commit bool) error {
	var sc Scope
	err := s.fsr.View(func(tx *storage.Tx) (err error) {
		sc, err = scopes.Get(tx, sid)
		return err
	})
	if err != nil || sc.Pending == nil {
		return err
	}
	if sc.Pending.Committed != commit {
		commit = sc.Pending.Committed // the stored mark decides
	}
	stage := sc.Pending.Stage
	if sc.Pending.Direct && !sc.Pending.Committed {
		// Nothing was staged: the elements in place go.
		if err := s.dropDirect(sid); err != nil {
			return err
		}
	}
	type row struct {
		id string
		v  stagedEl
	}
	for {
		var chunk []row
		err := s.fsr.View(func(tx *storage.Tx) error {
			return staged.Scan(tx, stage+"/", func(id string, v stagedEl) error {
				if len(chunk) >= 2000 {
					return errStop
				}
				chunk = append(chunk, row{id, v})
				return nil
			})
		})
		if err != nil && !errors.Is(err, errStop) {
			return err
		}
		if len(chunk) == 0 {
			break
		}
		b := s.fsr.NewBatch()
		for _, r := range chunk {
			gid := r.id[len(stage)+1:]
			if commit {
				if r.v.El != nil {
					if err := elements.PutBatch(b, sid+"/"+gid, *r.v.El); err != nil {
						b.Cancel()
						return err
					}
				} else if err := elements.DeleteBatch(b, sid+"/"+gid); err != nil {
					b.Cancel()
					return err
				}
			}
			if err := staged.DeleteBatch(b, r.id); err != nil {
				b.Cancel()
				return err
			}
		}
		if err := b.Flush(); err != nil {
			return err
		}
	}
	return s.fsr.Update(func(tx *storage.Tx) error {
		cur, err := scopes.Get(tx, sid)
		if err != nil || cur.Pending == nil || cur.Pending.Stage != stage {
			return err
		}
		if commit && cur.Pending.Remove {
			return scopes.Delete(tx, sid) // a delete job's scope
		}
		cur.Pending = nil
		return scopes.Put(tx, sid, cur)
	})
}

var errStop = errors.New("stop")

// dropDirect deletes the elements of a scope whose first elements were
// written in place and not committed: the scope had none before.
func (s *Service) dropDirect(sid string) error {
	for {
		var ids []string
		err := s.fsr.View(func(tx *storage.Tx) error {
			return elements.Scan(tx, sid+"/", func(id string, _ Element) error {
				if len(ids) >= 2000 {
					return errStop
				}
				ids = append(ids, id)
				return nil
			})
		})
		if err != nil && !errors.Is(err, errStop) {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		b := s.fsr.NewBatch()
		for _, id := range ids {
			if err := elements.DeleteBatch(b, id); err != nil {
				b.Cancel()
				return err
			}
		}
		if err := b.Flush(); err != nil {
			return err
		}
	}
}

// deleteJob removes the elements of the given files of a connection from
// the iModel, each file atomically, as one changeset.
func (s *Service) deleteJob(ctx context.Context, actor account.Actor, c Connection, files []string, trigger, note string) error {
	run := Run{ID: newID(s.now()), Connection: c.ID, ConnName: c.Name, IModel: c.IModel, By: actor.Name(), Trigger: trigger, Started: s.now(), State: "running"}
	for _, f := range files {
		d, err := s.diff(c, f, nil)
		if err != nil {
			return err
		}
		rep := FileReport{File: f, Deleted: len(d.deleted), State: StateSucceeded}
		if err := s.apply(ctx, actor, c, &run, f, Scope{}, d, nil, note); err != nil {
			return fmt.Errorf("delete the elements of %s: %w", f, err)
		}
		run.Files = append(run.Files, rep)
	}
	run.State, run.Finished, run.Result = "finished", s.now(), ResultSuccess
	return s.mgr.Update(func(tx *storage.Tx) error { return runs.Put(tx, c.ID+"/"+run.ID, run) })
}

// Recover finishes what a crash interrupted: committed file changes are
// merged, uncommitted ones dropped, runs left "running" are marked
// interrupted and their connections freed. The app calls it on start.
func (s *Service) Recover(ctx context.Context) error {
	var pending []string
	err := s.fsr.View(func(tx *storage.Tx) error {
		return scopes.Scan(tx, "", func(id string, sc Scope) error {
			if sc.Pending != nil {
				pending = append(pending, id)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, sid := range pending {
		if err := s.cleanStage(sid, true); err != nil {
			return fmt.Errorf("finish an interrupted iModel change: %w", err)
		}
	}
	// Staged rows whose scope no longer points at them (a crash between
	// staging and marking) are dropped too.
	var strays []string
	_ = s.fsr.View(func(tx *storage.Tx) error {
		return tx.ScanKeys([]byte(staged.Prefix()), func(key []byte) error {
			strays = append(strays, string(key))
			return nil
		})
	})
	if len(strays) > 0 {
		b := s.fsr.NewBatch()
		for _, k := range strays {
			_ = b.Delete([]byte(k))
		}
		if err := b.Flush(); err != nil {
			return err
		}
	}
	// Runs left running: the process died during them (a crash, a kill, a
	// power cut). Their connections' scheduled runs pause until a manual
	// Sync now succeeds: if a design file crashed Plinth, the catch-up at
	// the next start would run it again, and again at every start.
	now := s.now()
	var paused []Connection
	err = s.mgr.Update(func(tx *storage.Tx) error {
		paused = paused[:0]
		stopped := map[string]Run{} // connection → its interrupted run
		err := runs.Scan(tx, "", func(id string, r Run) error {
			if r.State != "running" {
				return nil
			}
			stopped[r.Connection] = r
			r.State, r.Finished, r.Result = "interrupted", now, ResultFailed
			r.Errors = append(r.Errors, ReportError{Category: CategoryInternal, Message: "Plinth stopped during this sync; each file was either applied completely or left as it was"}, ReportError{Category: CategoryInternal,
				Message: "scheduled syncs of this connection are paused until Sync now succeeds"})
			return runs.Put(tx, id, r)
		})
		if err != nil {
			return err
		}
		reading := map[string]string{} // run → the file it was reading
		if err := statuses.Scan(tx, "", func(id string, st FileStatus) error {
			if st.State != StateRunning && st.State != StateQueued {
				return nil
			}
			if st.State == StateRunning {
				reading[st.Run] = st.File
			}
			st.State, st.Reason, st.Updated = StateInterrupted, "Plinth stopped during the sync", now
			return statuses.Put(tx, id, st)
		}); err != nil {
			return err
		}
		return connections.Scan(tx, "", func(id string, c Connection) error {
			r, ok := stopped[id]
			if c.Running == "" && !ok {
				return nil
			}
			if !ok {
				r = Run{ID: c.Running, Started: now}
			}
			c.Running = ""
			c.Paused = &Pause{Run: r.ID, File: reading[r.ID], Since: r.Started}
			paused = append(paused, c)
			return connections.Put(tx, id, c)
		})
	})
	if err != nil {
		return err
	}
	for _, c := range paused {
		s.log.Warn("a sync was interrupted; its scheduled runs pause", "connection", c.ID, "run", c.Paused.Run, "file", c.Paused.File)
		s.tellOwner(ctx, c, notifyPaused(c))
	}
	return s.purgeOrphans(ctx)
}

// Runs lists a connection's runs, newest first. It needs View item on the
// iModel.
func (s *Service) Runs(ctx context.Context, actor account.Actor, id string) ([]Run, error) {
	if _, err := s.Connection(ctx, actor, id); err != nil {
		return nil, err
	}
	var out []Run
	err := s.mgr.View(func(tx *storage.Tx) (err error) {
		out, err = runs.List(tx, id+"/")
		return err
	})
	sort.Slice(out, func(i, j int) bool {
		return out[i].Started.After(out[j].Started) || out[i].Started.Equal(out[j].Started) && out[i].ID > out[j].ID
	})
	return out, err
}

// LastRuns returns the newest run of every connection that has run, by
// connection id, for the health report: it is no user's action, so it
// checks no permission (Runs does).
func (s *Service) LastRuns() (map[string]Run, error) {
	out := map[string]Run{}
	err := s.mgr.View(func(tx *storage.Tx) error {
		return runs.Scan(tx, "", func(_ string, r Run) error {
			if last, ok := out[r.Connection]; !ok || r.Started.After(last.Started) || r.Started.Equal(last.Started) && r.ID > last.ID {
				out[r.Connection] = r
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read the connections' runs: %w", err)
	}
	return out, nil
}

// FileStatuses lists a connection's mapped files with their state, in
// mapping order.
func (s *Service) FileStatuses(ctx context.Context, actor account.Actor, id string) ([]FileStatus, error) {
	c, err := s.Connection(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	var out []FileStatus
	err = s.mgr.View(func(tx *storage.Tx) error {
		for _, f := range c.MappedFiles() {
			st, err := statuses.Get(tx, id+"/"+fileKey(f))
			if errors.Is(err, storage.ErrNotFound) {
				st, err = FileStatus{File: f, State: StateNotSynced}, nil
			}
			if err != nil {
				return err
			}
			out = append(out, st)
		}
		return nil
	})
	return out, err
}

// notice is a notification about a connection.
type notice struct {
	kind notify.Kind
	sev  notify.Severity
	text string
}

func notifyPaused(c Connection) notice {
	during := fmt.Sprintf("the last sync of %q", c.Name)
	if c.Paused.File != "" {
		during += " (while it read " + c.Paused.File + ")"
	}
	return notice{notify.ConnectionFailed, notify.Error, fmt.Sprintf("Plinth stopped during %s; it will not run automatically until you run Sync now.", during)}
}

func notifyTokenExpired(c Connection) notice {
	return notice{notify.TokenExpired, notify.Error, fmt.Sprintf("Your sync token for %q has expired: its scheduled syncs fail until you run Sync now.", c.Name)}
}

func notifyTokenExpiring(c Connection, now time.Time) notice {
	days := int(c.Token.Expires.Sub(now).Hours()/24 + 0.5)
	return notice{notify.TokenExpiring, notify.Warning, fmt.Sprintf("Your sync token for %q expires in %s; open the iModels page or run Sync now to renew it.", c.Name, text.Count(days, "day"))}
}

// tellOwner notifies the connection's owner (and others named).
func (s *Service) tellOwner(ctx context.Context, c Connection, n notice, also ...string) {
	if s.notify == nil {
		return
	}
	to := []string{c.Owner}
	for _, u := range also {
		if u != "" && u != c.Owner {
			to = append(to, u)
		}
	}
	if err := s.notify.Publish(context.WithoutCancel(ctx), notify.Event{Kind: n.kind, Severity: n.sev, Text: n.text, Target: notify.TargetIModels, To: to}); err != nil {
		s.log.Warn("notify", "kind", n.kind, "err", err)
	}
}
