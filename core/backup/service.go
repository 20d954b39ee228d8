package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/schedule"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// Level2Settings are the full data backup's settings.
type Level2Settings struct {
	Target     string        `json:"target"`
	Schedule   schedule.Spec `json:"schedule"`
	KeepDaily  int           `json:"keepDaily"`
	KeepWeekly int           `json:"keepWeekly"`
	// KeepNewest is how many of the newest backups are kept whatever
	// their days (0 in settings stored before it existed: DefaultKeepNewest).
	KeepNewest int    `json:"keepNewest,omitempty"`
	FullEvery  int    `json:"fullEvery"` // days between full backups; incrementals in between
	Recipient  string `json:"recipient,omitempty"`
	// CopyTo names the target (TargetConfig) each full backup is copied
	// to after it is taken, typically off site; "" for none.
	CopyTo string `json:"copyTo,omitempty"`
	// Into names the target scheduled full backups are written into
	// directly, instead of the Target folder; "" for the folder.
	Into string `json:"into,omitempty"`
}

// DefaultKeepNewest is how many of the newest full backups retention
// keeps unless set otherwise.
const DefaultKeepNewest = 3

// Rule says the retention rule as History and notifications word it:
// "kept 7 daily, 4 weekly, 3 newest".
func (c Level2Settings) Rule() string {
	return fmt.Sprintf("kept %d daily, %d weekly, %d newest", c.KeepDaily, c.KeepWeekly, c.KeepNewest)
}

// Level1Settings are the project and library snapshots' settings (their
// schedules are per item: SnapshotSchedule).
type Level1Settings struct {
	Target string `json:"target"`
	// CopyTo names the target (TargetConfig) each snapshot is copied to
	// after it is taken (snapcopy.go); "" for none.
	CopyTo string `json:"copyTo,omitempty"`
}

// Level3Settings are the OS snapshot's settings.
type Level3Settings struct {
	Command        string        `json:"command"`
	Args           []string      `json:"args"`
	TimeoutSeconds int           `json:"timeoutSeconds"`
	Schedule       schedule.Spec `json:"schedule"`
}

// Record is one entry of the backup history: every backup, failed ones
// too, every verification, every OS snapshot command run, every restore
// from a full backup (TypeRestore) and every backup retention removed
// (TypeRemoval; the removed backup's own record then has Removed set).
type Record struct {
	ID          string    `json:"id"`
	Level       int       `json:"level"`
	Type        string    `json:"type"`
	Item        string    `json:"item,omitempty"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
	OK          bool      `json:"ok"`
	Error       string    `json:"error,omitempty"`
	Bytes       int64     `json:"bytes,omitempty"`
	Verified    time.Time `json:"verified,omitzero"`
	VerifyOK    bool      `json:"verifyOK,omitempty"`
	VerifyError string    `json:"verifyError,omitempty"`
	ExitCode    int       `json:"exitCode,omitempty"`
	Output      string    `json:"output,omitempty"` // level 3: the last 64 KB
	// From is the backup a restore read (TypeRestore) or retention
	// removed (TypeRemoval).
	From string `json:"from,omitempty"`
	// Removed is when retention removed this backup: it is no longer
	// there to restore.
	Removed time.Time `json:"removed,omitzero"`
	// Copies are the backup's copies to other targets (Copy).
	Copies []CopyState `json:"copies,omitempty"`
	// Target is the named target a full backup was written into ("":
	// the backup folder).
	Target string `json:"target,omitempty"`
}

// History record types besides a backup's own (TypeFull, TypeIncremental,
// TypeSnapshot …) and TypeUpgrade.
const (
	TypeRestore = "restore" // a restore from a full backup
	TypeRemoval = "removal" // retention removed a backup
)

var (
	settings1 = storage.NewCollection[Level1Settings]("setting")
	settings2 = storage.NewCollection[Level2Settings]("setting")
	settings3 = storage.NewCollection[Level3Settings]("setting")
	history   = storage.NewCollection[Record]("bkhist")
)

// VerifySchedule is when the newest full backup is verified: weekly, on
// Sunday at 04:00 (the app schedules the job; the health report expects a
// verification at least this often).
var VerifySchedule = schedule.WeeklyAt(time.Sunday, 4, 0)

// ErrBusy means a backup of that level is running already.
var ErrBusy = errors.New("a backup of that level is running already")

// Service takes, keeps, checks and restores backups.
type Service struct {
	files   *files.Service
	acc     *account.Service
	notify  *notify.Service
	mgr     *storage.Store
	dataDir string
	log     *slog.Logger
	now     func() time.Time
	fs      fsys.FS // backup targets, staging folders, exports

	// AfterRestore runs after a restore swapped data in (the app runs the
	// drift check there, which leads into the file synchronization).
	AfterRestore func(ctx context.Context)
	// UpgradeRestored brings stores just restored from a backup of an
	// older data format to the format this Plinth writes (the app runs
	// the migration steps there), before anything reads them.
	UpgradeRestored func() error

	running  sync.Map // level → struct{}
	packSets sync.Map // snapshot target → *packSet

	// Secrets keeps the named targets' secret keys.
	Secrets Secrets

	// Version is this Plinth's version, written into every manifest.
	Version string
	// Pinned, when set, lists level-2 backups that retention keeps
	// whatever its rule says (the app pins the backup taken before the
	// last upgrade: the way back to the older Plinth).
	Pinned func() []string

	// segment is how many bytes of a content pack one stored file of a
	// backup in the backup folder holds at most (0: objectCut); tests
	// make it small.
	segment int64
}

// NewService returns the backup service for the data folder.
func NewService(fs *files.Service, acc *account.Service, n *notify.Service, dataDir string, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{files: fs, acc: acc, notify: n, mgr: fs.Manager(), dataDir: dataDir, log: log, now: time.Now, fs: fsys.OS}
}

// SetFS replaces the file system backups are written and read through
// (tests put faults in it).
func (s *Service) SetFS(f fsys.FS) { s.fs = fsys.Or(f) }

// SetClock replaces the clock (tests of retention).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

func (s *Service) defaults2() Level2Settings {
	return Level2Settings{Target: filepath.Join(s.dataDir, "backups", "full"), Schedule: schedule.DailyAt(2, 0),
		KeepDaily: 7, KeepWeekly: 4, KeepNewest: DefaultKeepNewest, FullEvery: 7}
}

// Level2 returns the full data backup settings.
func (s *Service) Level2() (Level2Settings, error) {
	c := s.defaults2()
	err := s.mgr.View(func(tx *storage.Tx) error {
		got, err := settings2.Get(tx, "backup2")
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		c = got
		return err
	})
	if c.Target == "" {
		c.Target = s.defaults2().Target
	}
	if c.KeepNewest == 0 { // stored before it existed
		c.KeepNewest = DefaultKeepNewest
	}
	return c, err
}

// SetLevel2 changes the full data backup settings. It needs Modify details
// on the Servers page.
func (s *Service) SetLevel2(ctx context.Context, actor account.Actor, c Level2Settings) error {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyDetails); err != nil {
		return err
	}
	switch {
	case c.Target == "":
		return errors.New("choose a target folder for full backups")
	case c.KeepDaily < 1:
		return errors.New("keep at least 1 daily backup")
	case c.KeepWeekly < 0:
		return errors.New("the number of weekly backups cannot be negative")
	case c.KeepNewest < 1:
		return errors.New("keep at least the newest backup")
	case c.FullEvery < 1:
		c.FullEvery = 7
	}
	if err := c.Schedule.Validate(); err != nil {
		return err
	}
	if err := storage.CheckFolder(c.Target); err != nil {
		return fmt.Errorf("backup target: %w", err)
	}
	for _, name := range []string{c.CopyTo, c.Into} {
		if name == "" {
			continue
		}
		if _, err := s.BackupTarget(name); err != nil {
			return err
		}
	}
	if c.Into != "" && c.Into == c.CopyTo {
		return fmt.Errorf("full backups are written into %s already; copy them to another target, or to none", c.Into)
	}
	return s.mgr.Update(func(tx *storage.Tx) error { return settings2.Put(tx, "backup2", s.stored2(c)) })
}

// Level1 returns the snapshot settings.
func (s *Service) Level1() (Level1Settings, error) {
	c := s.defaults1()
	err := s.mgr.View(func(tx *storage.Tx) error {
		got, err := settings1.Get(tx, "backup1")
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		c = got
		return err
	})
	if c.Target == "" {
		c.Target = s.defaults1().Target
	}
	return c, err
}

func (s *Service) defaults1() Level1Settings {
	return Level1Settings{Target: filepath.Join(s.dataDir, "backups", "snapshots")}
}

// stored2 is c as stored: the default target as "", so that it follows
// the data folder when that moves.
func (s *Service) stored2(c Level2Settings) Level2Settings {
	if filepath.Clean(c.Target) == s.defaults2().Target {
		c.Target = ""
	}
	return c
}

// RebaseTargets points the stored backup targets that lay inside the data
// folder's old place from to the same place inside the data folder now
// (Plinth moved its data folder). It is no user's action: the move
// happened at start, before anyone logged in.
func (s *Service) RebaseTargets(from string) error {
	rebase := func(p string) string {
		rel, err := filepath.Rel(from, p)
		if p == "" || err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			return p
		}
		return filepath.Join(s.dataDir, rel)
	}
	return s.mgr.Update(func(tx *storage.Tx) error {
		c1, err := settings1.Get(tx, "backup1")
		if err == nil {
			if c1.Target = rebase(c1.Target); c1.Target == s.defaults1().Target {
				c1.Target = ""
			}
			err = settings1.Put(tx, "backup1", c1)
		}
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		c2, err := settings2.Get(tx, "backup2")
		if err == nil {
			c2.Target = rebase(c2.Target)
			err = settings2.Put(tx, "backup2", s.stored2(c2))
		}
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		return nil
	})
}

// SetLevel1 changes where snapshots go, and the target they are copied
// to (which must exist). Snapshots taken so far stay where
// they are (and are listed again when that folder is chosen again). It
// needs Modify details on the Servers page.
func (s *Service) SetLevel1(ctx context.Context, actor account.Actor, c Level1Settings) error {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyDetails); err != nil {
		return err
	}
	if c.Target == "" {
		return errors.New("choose a target folder for snapshots")
	}
	if err := storage.CheckFolder(c.Target); err != nil {
		return fmt.Errorf("snapshot target: %w", err)
	}
	if c.CopyTo != "" {
		if _, err := s.BackupTarget(c.CopyTo); err != nil {
			return err
		}
	}
	if c.Target == s.defaults1().Target {
		c.Target = "" // the default: it follows the data folder when that moves
	}
	return s.mgr.Update(func(tx *storage.Tx) error { return settings1.Put(tx, "backup1", c) })
}

// SetPassphrase makes future full backups encrypted with a key that only
// passphrase opens ("" stops encrypting). The passphrase itself is stored
// nowhere; keep it safe, restores need it. It needs Modify details on the
// Servers page.
func (s *Service) SetPassphrase(ctx context.Context, actor account.Actor, passphrase string) error {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyDetails); err != nil {
		return err
	}
	c, err := s.Level2()
	if err != nil {
		return err
	}
	c.Recipient = ""
	if passphrase != "" {
		if err := storage.CheckFolder(c.Target); err != nil {
			return fmt.Errorf("backup target: %w", err)
		}
		if c.Recipient, err = NewKey(s.fs, c.Target, passphrase); err != nil {
			return err
		}
	}
	return s.mgr.Update(func(tx *storage.Tx) error { return settings2.Put(tx, "backup2", s.stored2(c)) })
}

// Level3 returns the OS snapshot settings.
func (s *Service) Level3() (Level3Settings, error) {
	c := Level3Settings{TimeoutSeconds: 600, Schedule: schedule.Spec{Kind: schedule.Manual}}
	err := s.mgr.View(func(tx *storage.Tx) error {
		got, err := settings3.Get(tx, "backup3")
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		c = got
		return err
	})
	return c, err
}

// SetLevel3 changes the OS snapshot settings. It needs every permission on
// the Servers page: the command runs with Plinth's rights.
func (s *Service) SetLevel3(ctx context.Context, actor account.Actor, c Level3Settings) error {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.All); err != nil {
		return err
	}
	if c.TimeoutSeconds < 1 {
		c.TimeoutSeconds = 600
	}
	if c.Schedule.Kind == "" {
		c.Schedule.Kind = schedule.Manual
	}
	if err := c.Schedule.Validate(); err != nil {
		return err
	}
	if c.Command == "" && c.Schedule.Kind != schedule.Manual {
		return errors.New("set the snapshot command before scheduling it")
	}
	return s.mgr.Update(func(tx *storage.Tx) error { return settings3.Put(tx, "backup3", c) })
}

// record stores one history entry.
func (s *Service) record(r Record) {
	if err := s.mgr.Update(func(tx *storage.Tx) error {
		if old, err := history.Get(tx, r.ID); err == nil && r.Copies == nil {
			r.Copies = old.Copies // written meanwhile by a copy
		}
		return history.Put(tx, r.ID, r)
	}); err != nil {
		s.log.Error("record backup history", "err", err)
	}
}

// TypeUpgrade marks an upgrade of the data folder in History.
const TypeUpgrade = "upgrade"

// RecordUpgrade writes an upgrade of the data folder to History, with the
// backup taken before it, unless History has it already.
func (s *Service) RecordUpgrade(u upgrade.Upgrade) error {
	what := fmt.Sprintf("data format %d → %d", u.From, u.To)
	if u.Backup.ID != "" {
		what += ", backup " + u.Backup.ID + " taken before"
	}
	// One record per upgrade, however often it is recorded: the id comes
	// from when it finished.
	id := "upgrade-" + u.At.UTC().Format("20060102-150405.000000000")
	if _, ok := s.lookupRecord(id); ok {
		return nil
	}
	r := Record{ID: id, Type: TypeUpgrade, Item: what, Started: u.At, Finished: u.At, OK: true,
		Output: strings.Join(u.Steps, "\n")}
	return s.mgr.Update(func(tx *storage.Tx) error { return history.Put(tx, r.ID, r) })
}

// History lists the backup history, newest first. It needs View item on
// the Servers page.
func (s *Service) History(ctx context.Context, actor account.Actor) ([]Record, error) {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.View); err != nil {
		return nil, err
	}
	return s.Records()
}

// Records lists the backup history, newest first, for the health report:
// it is no user's action, so it checks no permission (History does).
func (s *Service) Records() ([]Record, error) {
	var out []Record
	err := s.mgr.View(func(tx *storage.Tx) (err error) { out, err = history.List(tx, ""); return err })
	sort.Slice(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, err
}

// lookupRecord returns the history entry of a backup, if any.
func (s *Service) lookupRecord(id string) (Record, bool) {
	var r Record
	err := s.mgr.View(func(tx *storage.Tx) (err error) { r, err = history.Get(tx, id); return err })
	return r, err == nil
}

// begin marks a level as running; the returned function ends it.
func (s *Service) begin(level int) (func(), error) {
	if _, busy := s.running.LoadOrStore(level, struct{}{}); busy {
		return nil, ErrBusy
	}
	return func() { s.running.Delete(level) }, nil
}

// tell publishes a backup notification; it never fails the backup.
func (s *Service) tell(ctx context.Context, kind notify.Kind, sev notify.Severity, text string) {
	s.tellAt(ctx, kind, sev, notify.TargetBackups, text)
}

// tellAt is tell with the panel a click opens.
func (s *Service) tellAt(ctx context.Context, kind notify.Kind, sev notify.Severity, target, text string) {
	if s.notify != nil {
		_ = s.notify.Publish(context.WithoutCancel(ctx), notify.Event{Kind: kind, Severity: sev, Target: target, Text: text})
	}
}

// OnDataDisk reports whether the backup target folder lies on the disk
// that holds the data folder (the default target, inside the data folder,
// does): backups there help after a mistake or a damaged file, not when
// that disk fails. A target not made yet is judged by the nearest folder
// above it that exists.
func (s *Service) OnDataDisk(target string) bool {
	probe := target
	for {
		if _, err := s.fs.Lstat(probe); err == nil {
			break
		}
		up := filepath.Dir(probe)
		if up == probe {
			return false
		}
		probe = up
	}
	return storage.DiskID(probe) == storage.DiskID(s.dataDir)
}

// Targets lists where each level keeps its backups.
func (s *Service) Targets() (level1, level2 string, err error) {
	c, err := s.Level2()
	return s.snapshotTarget(), c.Target, err
}
