// Package filesync watches that the Manager and the File Server agree, and
// repairs them when they do not, typically after one was restored from an
// earlier backup.
//
// Drift detection compares the stores' set digests (O(1)); only when they
// differ does it compute the exact difference. The full synchronization
// makes the Manager agree with the File Server: entries whose content is
// missing are deleted, contents nobody lists are adopted into a new dated
// folder keeping their original sub-folders, and differing entries take
// the server's content. Only masteradmin may run it. It keeps a job record,
// so a crash or close part-way finishes on the next start with the same
// end state, and it writes every change into the run's report in the same
// transaction as the change.
package filesync

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/text"
	"codeberg.org/plinth/plinth/storage"
)

// ErrOnlyMaster means someone other than masteradmin tried to synchronize.
var ErrOnlyMaster = errors.New("only masteradmin can run the full file synchronization")

// ErrRunning means a synchronization is running already.
var ErrRunning = errors.New("a full file synchronization is running already")

// Job is the record of a synchronization in progress.
type Job struct {
	ID       string    `json:"id"`
	Started  time.Time `json:"started"`
	By       string    `json:"by"`
	Folder   string    `json:"folder"`   // name of the folder for adopted files
	FolderID string    `json:"folderID"` // once created
	Lines    int       `json:"lines"`    // report lines written so far
}

// Run is one finished synchronization, as the history shows it.
type Run struct {
	ID       string    `json:"id"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	By       string    `json:"by"`
	Deleted  int       `json:"deleted"`
	Adopted  int       `json:"adopted"`
	Updated  int       `json:"updated"`
	Folder   string    `json:"folder"` // "" when nothing was adopted
	Resumed  bool      `json:"resumed"`
}

// Action is what a synchronization did to one entry.
type Action string

// Actions.
const (
	Deleted Action = "deleted"
	Adopted Action = "adopted"
	Updated Action = "updated"
)

// Line is one entry of a run's report.
type Line struct {
	Action Action `json:"action"`
	Path   string `json:"path"`           // where the entry was, or its original path
	To     string `json:"to,omitempty"`   // adopted: where it is now
	Size   int64  `json:"size"`           //
	Hash   string `json:"hash,omitempty"` //
}

// Peer is the File Server the Manager last agreed with.
type Peer struct {
	Identity   string    `json:"identity"`
	Generation uint64    `json:"generation"`
	Agreed     time.Time `json:"agreed"`
}

var (
	jobs    = storage.NewCollection[Job]("syncjob")
	runs    = storage.NewCollection[Run]("synchist")
	lines   = storage.NewCollection[Line]("synclog")
	peers   = storage.NewCollection[Peer]("syncpeer")
	noticed = storage.NewCollection[string]("syncnoticed")
)

// Service runs drift checks and synchronizations.
type Service struct {
	files  *files.Service
	acc    *account.Service
	notify *notify.Service
	mgr    *storage.Store
	log    *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	running bool

	// afterBatch, set by tests, runs after each committed batch; an error
	// stops the run there as if the process had died.
	afterBatch func(batch int) error
}

// NewService returns the drift and synchronization service.
func NewService(fs *files.Service, acc *account.Service, n *notify.Service, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{files: fs, acc: acc, notify: n, mgr: fs.Manager(), log: log, now: time.Now}
}

// Check is the result of a drift check.
type Check struct {
	Consistent       bool      `json:"consistent"`
	MissingOnServer  int       `json:"missingOnServer"`
	UnknownToManager int       `json:"unknownToManager"`
	Differing        int       `json:"differing"`
	Checked          time.Time `json:"checked"`
}

func (c Check) String() string {
	if c.Consistent {
		return "The Manager and the File Server agree."
	}
	return fmt.Sprintf("The Manager and the File Server disagree: %s missing on the File Server, %s unknown to the Manager, %s differing.",
		text.Count(c.MissingOnServer, "file"), text.Count(c.UnknownToManager, "file"), text.Count(c.Differing, "file"))
}

// Detect compares the stores: their digests first, the exact difference
// only when those differ. With raise, a disagreement notifies masteradmin
// and everyone with full access on the Servers page (once per distinct
// disagreement), and an agreement withdraws the notification.
//
// Digests that agree and count files answer at once, at a cost that does
// not grow with the stores (DESIGN.md "Two stores"). Anything else, the
// digests differ or both read as empty, is what a record in a block that
// fails its checksum reads as too (Badger takes such a block for one
// without the record), so every table of both stores is read against its
// checksums first (files.Service.Healthy): a damaged store is refused, and
// never taken for an empty one or for missing files. The hourly check
// (app's filesync.detect job) reads every table even when they agree.
func (s *Service) Detect(ctx context.Context, raise bool) (Check, files.Diff, error) {
	c := Check{Checked: s.now().UTC()}
	var d files.Diff
	err := s.files.Exclusive(func() error {
		if err := s.files.Readable(); err != nil {
			return err
		}
		m, f, err := s.files.Digests()
		if err != nil {
			return err
		}
		if m == f && m.Count > 0 {
			c.Consistent = true
			return nil
		}
		if err := s.files.Healthy(); err != nil {
			return err
		}
		if m, f, err = s.files.Digests(); err != nil { // as of the checked tables
			return err
		}
		if m == f {
			c.Consistent = true
			return nil
		}
		d, err = s.files.Diff(ctx)
		if err != nil {
			return err
		}
		c.MissingOnServer, c.UnknownToManager, c.Differing = len(d.MissingOnServer), len(d.UnknownToManager), len(d.Differing)
		c.Consistent = d.Empty()
		return nil
	})
	if err != nil {
		return c, d, fmt.Errorf("compare the stores: %w", err)
	}
	if c.Consistent {
		s.agreed()
		if raise {
			s.clearNotice(ctx)
		}
		return c, d, nil
	}
	s.log.Warn("stores disagree", "missing", c.MissingOnServer, "unknown", c.UnknownToManager, "differing", c.Differing)
	if raise {
		s.raise(ctx, c)
	}
	return c, d, nil
}

// agreed records which File Server the Manager agrees with now.
func (s *Service) agreed() {
	_, fs := s.files.Stores()
	id := fs.Identity()
	_ = s.mgr.Update(func(tx *storage.Tx) error {
		return peers.Put(tx, "current", Peer{Identity: id.ID, Generation: id.Generation, Agreed: s.now().UTC()})
	})
}

// LastAgreed returns the File Server the Manager last agreed with.
func (s *Service) LastAgreed() (Peer, error) {
	var p Peer
	err := s.mgr.View(func(tx *storage.Tx) error {
		var err error
		p, err = peers.Get(tx, "current")
		if errors.Is(err, storage.ErrNotFound) {
			err = nil
		}
		return err
	})
	return p, err
}

func (s *Service) raise(ctx context.Context, c Check) {
	sig := fmt.Sprintf("%d/%d/%d", c.MissingOnServer, c.UnknownToManager, c.Differing)
	var last string
	_ = s.mgr.View(func(tx *storage.Tx) error { last, _ = noticed.Get(tx, "last"); return nil })
	if last == sig {
		return // told already; the entry is still in everyone's center
	}
	_ = s.notify.Withdraw(ctx, notify.FileSyncNeeded)
	err := s.notify.Publish(ctx, notify.Event{
		Kind: notify.FileSyncNeeded, Severity: notify.Warning, Target: notify.TargetFileServerSettings,
		Text: "Full file synchronization needed. " + c.String() +
			" Open Servers › Manager › Settings › File Server Settings › Synchronize files… to repair it.",
	})
	if err == nil {
		_ = s.mgr.Update(func(tx *storage.Tx) error { return noticed.Put(tx, "last", sig) })
	}
}

func (s *Service) clearNotice(ctx context.Context) {
	var last string
	_ = s.mgr.View(func(tx *storage.Tx) error { last, _ = noticed.Get(tx, "last"); return nil })
	if last == "" {
		return
	}
	_ = s.notify.Withdraw(ctx, notify.FileSyncNeeded)
	_ = s.mgr.Update(func(tx *storage.Tx) error { return noticed.Delete(tx, "last") })
}

// Authorize lets masteradmin through. Anyone else is refused; they are told
// why, and masteradmin is told who tried.
func (s *Service) Authorize(ctx context.Context, actor account.Actor) error {
	if actor.IsMaster() {
		return nil
	}
	who := actor.Name()
	if who == "" {
		who = "someone who is not logged in"
	}
	_ = s.notify.Publish(ctx, notify.Event{
		Kind: notify.FileSyncRefused, Severity: notify.Warning, Target: notify.TargetFileServerSettings,
		To:   []string{actor.Name()},
		Text: "You tried to run the full file synchronization. Only masteradmin can run it, because it deletes entries from the Manager; ask masteradmin to run it.",
	})
	_ = s.notify.Publish(ctx, notify.Event{
		Kind: notify.FileSyncAttempted, Severity: notify.Warning, Target: notify.TargetFileServerSettings,
		To:   []string{account.MasterAdmin},
		Text: fmt.Sprintf("User %s tried to run the full file synchronization and was refused: only masteradmin can run it.", who),
	})
	s.log.Warn("file synchronization refused", "user", who)
	return &account.PermissionError{User: who, Missing: account.All, Item: account.ServersPage}
}

// Plan is what a synchronization will do, for the warning dialog. The
// folder it names is the one Synchronize creates: Synchronize takes the
// plan and uses its Folder, so the warning and the run cannot disagree.
type Plan struct {
	files.Diff
	Folder string `json:"folder"` // the folder adopted files will go into
	// Affected are the projects, libraries and folders whose file entries
	// the run deletes or changes, most changes first. Adopted files go
	// into Folder and change nothing else.
	Affected []Place `json:"affected,omitempty"`
}

// Place is a project or library (or, for files in neither, the top-level
// folder, or the Projects root) whose file entries a synchronization
// deletes or changes.
type Place struct {
	Kind  files.Kind `json:"kind"`
	Path  string     `json:"path"`  // "/Tower"; "/" for files at the top level
	Files int        `json:"files"` // how many of its file entries change
}

// String names the place for a sentence: project “Tower”.
func (p Place) String() string {
	if p.Path == "/" {
		return "the top level of the Projects page"
	}
	return p.Kind.String() + " “" + strings.TrimPrefix(p.Path, "/") + "”"
}

// FolderName is the name of the folder for adopted files, in local time.
func FolderName(t time.Time) string {
	return "Synched from File Server (" + t.Local().Format("2006-01-02 15-04-05") + ")"
}

// Plan works out what a synchronization would do now. Only masteradmin may
// ask; anyone else is refused and notified (see Authorize). When an
// interrupted synchronization waits to be finished, the plan names its
// folder, since Synchronize finishes that one first.
func (s *Service) Plan(ctx context.Context, actor account.Actor) (Plan, error) {
	if err := s.Authorize(ctx, actor); err != nil {
		return Plan{}, onlyMaster(err)
	}
	_, d, err := s.Detect(ctx, false)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Diff: d, Folder: FolderName(s.now())}
	var job Job
	err = s.mgr.View(func(tx *storage.Tx) (err error) { job, err = jobs.Get(tx, "current"); return err })
	switch {
	case err == nil:
		p.Folder = job.Folder
	case !errors.Is(err, storage.ErrNotFound):
		return Plan{}, fmt.Errorf("read the interrupted synchronization: %w", err)
	}
	if p.Affected, err = s.affected(ctx, actor, d); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// affected finds the project or library each deleted or changed entry is
// in: the outermost one on its path, else its top-level folder.
func (s *Service) affected(ctx context.Context, actor account.Actor, d files.Diff) ([]Place, error) {
	kinds := map[string]files.Kind{} // path of a folder → its kind
	kindOf := func(dir string) files.Kind {
		k, ok := kinds[dir]
		if !ok {
			k = files.KindFolder // a name Lookup refuses is still a place
			if n, err := s.files.Lookup(ctx, actor, dir); err == nil {
				k = n.Kind
			}
			kinds[dir] = k
		}
		return k
	}
	byPath := map[string]*Place{}
	var out []*Place
	for _, es := range [][]files.Entry{d.MissingOnServer, d.Differing} {
		for _, e := range es {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			pl := Place{Kind: files.KindFolder, Path: "/"}
			parts := strings.Split(strings.TrimPrefix(e.Path, "/"), "/")
			for i := 1; i < len(parts); i++ { // the folders above the file
				dir := "/" + strings.Join(parts[:i], "/")
				if k := kindOf(dir); k == files.KindProject || k == files.KindLibrary {
					pl = Place{Kind: k, Path: dir}
					break
				}
				if i == 1 {
					pl.Path = dir
				}
			}
			p := byPath[pl.Path]
			if p == nil {
				p = &pl
				byPath[pl.Path] = p
				out = append(out, p)
			}
			p.Files++
		}
	}
	places := make([]Place, len(out))
	for i, p := range out {
		places[i] = *p
	}
	sort.SliceStable(places, func(i, j int) bool {
		if places[i].Files != places[j].Files {
			return places[i].Files > places[j].Files
		}
		return places[i].Path < places[j].Path
	})
	return places, nil
}

// mostPlaces is how many affected places the warning names.
const mostPlaces = 5

// Warning is the plan in sentences, for the dialog before the run and the
// command line: what is deleted, adopted into which folder, and updated,
// and which projects and libraries that touches.
func (p Plan) Warning() string {
	var ls []string
	if n := len(p.MissingOnServer); n > 0 {
		ls = append(ls, fmt.Sprintf("%s shown in the Manager %s no content on the File Server and will be DELETED from the Manager.",
			text.Count(n, "file entry"), text.Agree(n, "has", "have")))
	}
	if n := len(p.UnknownToManager); n > 0 {
		ls = append(ls, fmt.Sprintf("%s on the File Server %s unknown to the Manager and will be added to a new folder “%s”, keeping %s sub-folders.",
			text.Count(n, "file"), text.Agree(n, "is", "are"), p.Folder, text.Agree(n, "its", "their")))
	}
	if n := len(p.Differing); n > 0 {
		ls = append(ls, fmt.Sprintf("%s %s and will take the File Server's content.",
			text.Count(n, "file entry"), text.Agree(n, "differs", "differ")))
	}
	if len(p.Affected) > 0 {
		names := make([]string, 0, mostPlaces+1)
		for i, a := range p.Affected {
			if i == mostPlaces {
				names = append(names, fmt.Sprintf("%d more", len(p.Affected)-mostPlaces))
				break
			}
			names = append(names, a.String())
		}
		ls = append(ls, "This changes files in "+list(names)+".")
	}
	ls = append(ls, "No project, library, folder or iModel is deleted, moved or renamed.")
	return strings.Join(ls, "\n")
}

// list joins names as English does: "a", "a and b", "a, b and c".
func list(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func onlyMaster(err error) error {
	return &refusal{msg: ErrOnlyMaster.Error(), cause: err}
}

type refusal struct {
	msg   string
	cause error
}

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() []error {
	return []error{ErrOnlyMaster, e.cause}
}

// Running reports whether a synchronization is running in this process.
func (s *Service) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// Synchronize makes the Manager agree with the File Server, carrying out
// plan, the one the admin agreed to: adopted files go into plan.Folder, the
// folder its warning named (a zero Plan names one now). It recomputes the
// difference when it starts (the plan may be minutes old); the report says
// what it really did. An interrupted run is finished first, into its own
// folder, which Plan names too. Only masteradmin may run it.
func (s *Service) Synchronize(ctx context.Context, actor account.Actor, plan Plan, prog progress.Func) (Run, error) {
	if err := s.Authorize(ctx, actor); err != nil {
		return Run{}, onlyMaster(err)
	}
	if err := s.files.Healthy(); err != nil {
		return Run{}, err
	}
	now := s.now()
	folder := plan.Folder
	if folder == "" {
		folder = FolderName(now)
	}
	job := Job{ID: newRunID(now), Started: now.UTC(), By: actor.Name(), Folder: folder}
	var existing Job
	err := s.mgr.Update(func(tx *storage.Tx) error {
		var err error
		existing, err = jobs.Get(tx, "current")
		if err == nil {
			return nil
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		return jobs.Put(tx, "current", job)
	})
	if err != nil {
		return Run{}, fmt.Errorf("start the synchronization: %w", err)
	}
	if existing.ID != "" { // an interrupted run: finish that one
		return s.run(ctx, existing, true, prog)
	}
	return s.run(ctx, job, false, prog)
}

// Resume finishes a synchronization that a crash or close interrupted, as
// masteradmin. It does nothing when none was interrupted.
func (s *Service) Resume(ctx context.Context, prog progress.Func) (*Run, error) {
	var job Job
	err := s.mgr.View(func(tx *storage.Tx) (err error) { job, err = jobs.Get(tx, "current"); return err })
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("resuming interrupted file synchronization", "job", job.ID)
	r, err := s.run(ctx, job, true, prog)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Interrupted reports whether a synchronization waits to be finished.
func (s *Service) Interrupted() (bool, error) {
	var ok bool
	err := s.mgr.View(func(tx *storage.Tx) (err error) { ok, err = jobs.Has(tx, "current"); return err })
	return ok, err
}

// batchSize is how many entries one transaction of a synchronization changes.
var batchSize = 1000

func (s *Service) run(ctx context.Context, job Job, resumed bool, prog progress.Func) (r Run, err error) {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return Run{}, ErrRunning
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
		if err != nil && !errors.Is(err, context.Canceled) {
			_ = s.notify.Publish(context.WithoutCancel(ctx), notify.Event{
				Kind: notify.FileSyncFailed, Severity: notify.Error, Target: notify.TargetFileServerSettings,
				Text: "The full file synchronization stopped: " + err.Error() + ". It goes on where it stopped when you run it again or restart Plinth.",
			})
		}
	}()
	err = s.files.Exclusive(func() error {
		d, err := s.files.Diff(ctx)
		if err != nil {
			return err
		}
		total := int64(len(d.MissingOnServer) + len(d.UnknownToManager) + len(d.Differing))
		var done int64
		batch := 0
		report := func(phase string) {
			prog.Send(progress.Report{Phase: phase, Done: done, Total: total, Unit: "entry"})
		}
		// writeLines returns the extra work for a batch's transaction: its
		// report lines and the job's line count.
		writeLines := func(ls []Line) func(*storage.Tx) error {
			return func(tx *storage.Tx) error {
				cur, err := jobs.Get(tx, "current")
				if err != nil {
					return err
				}
				for _, l := range ls {
					if err := lines.Put(tx, lineKey(job.ID, cur.Lines), l); err != nil {
						return err
					}
					cur.Lines++
				}
				job.Lines = cur.Lines
				return jobs.Put(tx, "current", cur)
			}
		}
		after := func() error {
			batch++
			if s.afterBatch != nil {
				if err := s.afterBatch(batch); err != nil {
					return err
				}
			}
			return ctx.Err()
		}

		for i := 0; i < len(d.MissingOnServer); i += batchSize {
			part := d.MissingOnServer[i:min(i+batchSize, len(d.MissingOnServer))]
			ids := make([]string, len(part))
			ls := make([]Line, len(part))
			for k, e := range part {
				ids[k] = e.ID
				ls[k] = Line{Action: Deleted, Path: e.Path, Size: e.Size, Hash: e.Hash}
			}
			if err := s.files.DropMissing(ctx, ids, writeLines(ls)); err != nil {
				return fmt.Errorf("delete entries whose content is missing: %w", err)
			}
			done += int64(len(part))
			report("Deleting entries whose content is missing")
			if err := after(); err != nil {
				return err
			}
		}
		for i := 0; i < len(d.Differing); i += batchSize {
			part := d.Differing[i:min(i+batchSize, len(d.Differing))]
			ids := make([]string, len(part))
			ls := make([]Line, len(part))
			for k, e := range part {
				ids[k] = e.ID
				ls[k] = Line{Action: Updated, Path: e.Path, Size: e.ServerSize, Hash: e.ServerHash}
			}
			if err := s.files.TakeServer(ctx, ids, writeLines(ls)); err != nil {
				return fmt.Errorf("update differing entries: %w", err)
			}
			done += int64(len(part))
			report("Updating differing entries")
			if err := after(); err != nil {
				return err
			}
		}
		if len(d.UnknownToManager) > 0 && job.FolderID == "" {
			id, err := s.folder(ctx, job)
			if err != nil {
				return err
			}
			job.FolderID = id
		}
		for i := 0; i < len(d.UnknownToManager); i += batchSize {
			part := d.UnknownToManager[i:min(i+batchSize, len(d.UnknownToManager))]
			ids := make([]string, len(part))
			ls := make([]Line, len(part))
			for k, e := range part {
				ids[k] = e.ID
				ls[k] = Line{Action: Adopted, Path: e.Path, To: "/" + job.Folder + e.Path, Size: e.Size, Hash: e.Hash}
			}
			if err := s.files.Adopt(ctx, job.FolderID, ids, writeLines(ls)); err != nil {
				return fmt.Errorf("adopt files unknown to the Manager: %w", err)
			}
			done += int64(len(part))
			report("Adopting files unknown to the Manager")
			if err := after(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Run{}, err
	}
	return s.finish(ctx, job, resumed)
}

// folder creates (or finds, after a crash) the folder for adopted files.
// It is created directly below the Projects root, named when the run began.
func (s *Service) folder(ctx context.Context, job Job) (string, error) {
	master, err := s.acc.ActAs(ctx, account.MasterAdmin)
	if err != nil {
		return "", err
	}
	n, err := s.files.Lookup(ctx, master, "/"+job.Folder)
	if err != nil {
		n, err = s.files.Create(ctx, master, files.RootID, job.Folder, files.KindFolder)
	}
	if err != nil {
		return "", fmt.Errorf("create folder %q: %w", job.Folder, err)
	}
	err = s.mgr.Update(func(tx *storage.Tx) error {
		cur, err := jobs.Get(tx, "current")
		if err != nil {
			return err
		}
		cur.FolderID = n.ID
		return jobs.Put(tx, "current", cur)
	})
	return n.ID, err
}

func (s *Service) finish(ctx context.Context, job Job, resumed bool) (Run, error) {
	r := Run{ID: job.ID, Started: job.Started, Finished: s.now().UTC(), By: job.By, Resumed: resumed}
	err := s.mgr.Update(func(tx *storage.Tx) error {
		r.Deleted, r.Adopted, r.Updated = 0, 0, 0
		err := lines.Scan(tx, job.ID+"/", func(_ string, l Line) error {
			switch l.Action {
			case Deleted:
				r.Deleted++
			case Adopted:
				r.Adopted++
			case Updated:
				r.Updated++
			}
			return nil
		})
		if err != nil {
			return err
		}
		if r.Adopted > 0 {
			r.Folder = job.Folder
		}
		if err := runs.Put(tx, r.ID, r); err != nil {
			return err
		}
		return jobs.Delete(tx, "current")
	})
	if err != nil {
		return r, fmt.Errorf("record the synchronization: %w", err)
	}
	s.log.Info("file synchronization finished", "deleted", r.Deleted, "adopted", r.Adopted, "updated", r.Updated)
	msg := fmt.Sprintf("Full file synchronization finished: %s deleted, %s adopted, %s updated.",
		text.Count(r.Deleted, "entry"), text.Count(r.Adopted, "file"), text.Count(r.Updated, "entry"))
	if r.Folder != "" {
		msg += " Adopted files are in the folder “" + r.Folder + "”."
	}
	_ = s.notify.Publish(ctx, notify.Event{Kind: notify.FileSyncCompleted, Severity: notify.Info,
		Target: notify.TargetFileServerSettings, Text: msg})
	// Check again: the stores must agree now.
	if c, _, err := s.Detect(ctx, true); err == nil && !c.Consistent {
		s.log.Error("stores still disagree after synchronization", "check", c.String())
	}
	return r, nil
}

func lineKey(run string, n int) string { return fmt.Sprintf("%s/%09d", run, n) }

// newRunID sorts by time and is unique even for two runs in one instant.
func newRunID(t time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(b[:])
}

// History lists finished synchronizations, newest first. It needs View item
// on the Servers page.
func (s *Service) History(ctx context.Context, actor account.Actor) ([]Run, error) {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.View); err != nil {
		return nil, err
	}
	return s.Runs()
}

// Runs lists finished synchronizations, newest first, for the health
// report: it is no user's action, so it checks no permission (History
// does).
func (s *Service) Runs() ([]Run, error) {
	var out []Run
	err := s.mgr.View(func(tx *storage.Tx) (err error) { out, err = runs.List(tx, ""); return err })
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// Report returns every line of one run's report. It needs View item on the
// Servers page.
func (s *Service) Report(ctx context.Context, actor account.Actor, runID string) ([]Line, error) {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.View); err != nil {
		return nil, err
	}
	var out []Line
	err := s.mgr.View(func(tx *storage.Tx) (err error) { out, err = lines.List(tx, runID+"/"); return err })
	return out, err
}

// WritePlanCSV writes a plan as CSV: action, path, size, hash.
func WritePlanCSV(w io.Writer, p Plan) error {
	var ls []Line
	for _, e := range p.MissingOnServer {
		ls = append(ls, Line{Action: "will be deleted", Path: e.Path, Size: e.Size, Hash: e.Hash})
	}
	for _, e := range p.Differing {
		ls = append(ls, Line{Action: "will take the File Server's content", Path: e.Path, Size: e.ServerSize, Hash: e.ServerHash})
	}
	for _, e := range p.UnknownToManager {
		ls = append(ls, Line{Action: "will be adopted", Path: e.Path, To: "/" + p.Folder + e.Path, Size: e.Size, Hash: e.Hash})
	}
	return WriteCSV(w, ls)
}

// WriteCSV writes report lines as CSV with a header row.
func WriteCSV(w io.Writer, ls []Line) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"action", "path", "new path", "size", "hash"})
	for _, l := range ls {
		_ = cw.Write([]string{string(l.Action), l.Path, l.To, strconv.FormatInt(l.Size, 10), l.Hash})
	}
	cw.Flush()
	return cw.Error()
}
