// Package app is Plinth's composition root. It finds the data folder, takes
// the single-instance lock, opens the two stores, builds the core services,
// starts the background scheduler, and shuts all of it down in order. The
// window (RunWindow) and the headless commands (RunCommand) both start here.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"codeberg.org/plinth/plinth/app/datadir"
	"codeberg.org/plinth/plinth/app/localefix"
	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/filesync"
	"codeberg.org/plinth/plinth/core/health"
	"codeberg.org/plinth/plinth/core/imodel"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/schedule"
	"codeberg.org/plinth/plinth/core/text"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
	"codeberg.org/plinth/plinth/views"
)

// Name and ID identify the application to the OS.
const (
	Name = "Plinth"
	ID   = "org.plinth.console"
)

// Version is set at build time with -ldflags "-X codeberg.org/plinth/plinth/app.Version=…".
var Version = "dev"

// Fyne's packages have initialised by now; give child processes the
// environment Plinth was started with.
func init() { localefix.Restore() }

// ErrAlreadyRunning means another Plinth process holds the data folder.
var ErrAlreadyRunning = errors.New("another Plinth is already running with this data folder")

// ErrNotSetUp means the data folder holds no stores yet.
var ErrNotSetUp = errors.New("data folder is not set up")

type runningError struct{ dir string }

func (e *runningError) Error() string {
	return fmt.Sprintf("Plinth is already running with data folder %s", e.dir)
}
func (e *runningError) Is(target error) bool { return target == ErrAlreadyRunning }

type notSetUpError struct{ dir string }

func (e *notSetUpError) Error() string {
	return fmt.Sprintf("data folder %s is not set up yet; run 'plinth init' or start the window to set it up", e.dir)
}
func (e *notSetUpError) Is(target error) bool { return target == ErrNotSetUp }

// DefaultDataDir is where Plinth keeps its data: PLINTH_DATA when set, else
// where the OS keeps a user's application data (datadir.Default):
// %LOCALAPPDATA%\Plinth, ~/Library/Application Support/Plinth,
// ~/.local/share/plinth.
func DefaultDataDir() string {
	if d := os.Getenv("PLINTH_DATA"); d != "" {
		return d
	}
	return datadir.Default()
}

// moveDefaultFolder moves a data folder from where Plinth kept it before
// (datadir.Old) to DefaultDataDir, when Plinth runs on the default folder
// (no -data, no PLINTH_DATA). It says where in one sentence on stderr. A
// refusal (data in both places, the old one in use) stops Plinth: running
// on an empty new folder would hide the office's data.
func moveDefaultFolder(ctx context.Context, given string, stderr io.Writer) error {
	if given != "" || os.Getenv("PLINTH_DATA") != "" {
		return nil
	}
	msg, err := datadir.MoveOld(ctx, func(msg string) { fmt.Fprintln(stderr, text.Safe(msg)) })
	if err != nil {
		return err
	}
	if msg != "" {
		fmt.Fprintln(stderr, text.Safe(msg))
	}
	return nil
}

// movedFrom is the old place of a data folder Plinth moved to dir, for
// the stored backup targets that still point there; "" when dir is not
// the default folder or nothing was moved.
func movedFrom(dir string) string {
	old := datadir.Old()
	if old == "" || filepath.Clean(dir) != filepath.Clean(datadir.Default()) || filepath.Clean(old) == filepath.Clean(dir) {
		return ""
	}
	if _, err := os.Lstat(old); err == nil {
		return "" // not moved (it holds no Plinth data, or the move was refused)
	}
	return old
}

// Config says where and how to open Plinth.
type Config struct {
	DataDir string
	// MustExist refuses to create stores in a data folder that has none.
	MustExist bool
	// LogToStderr mirrors warnings to stderr as well as the log file.
	LogToStderr bool
	// Clock drives the scheduler and the connections' tokens; nil is the
	// real clock (tests pass a fake one).
	Clock clockwork.Clock
	// Announce, when set, is told in one sentence what an upgrade of the
	// data folder is about to do, before it starts.
	Announce func(msg string)
}

// App is an open Plinth: both stores and the services on them.
type App struct {
	DataDir    string
	Manager    *storage.Store
	FileServer *storage.Store
	Accounts   *account.Service
	Files      *files.Service
	Notify     *notify.Service
	Sync       *filesync.Service
	Backups    *backup.Service
	IModels    *imodel.Service
	Scheduler  *schedule.Scheduler
	Log        *slog.Logger
	// Upgraded is the upgrade this Open carried out, or nil.
	Upgraded *upgrade.Upgrade
	// Health answers "is my data safe?" for the overview, the tray and
	// plinth status (HealthReport).
	Health *health.Service

	lock     *folderLock
	storeLog *slog.Logger // the log file alone, for Badger
	closeLog func() error
	clock    clockwork.Clock // nil: the real clock

	stopBackground context.CancelFunc
	background     sync.WaitGroup
	control        *controlServer // the control endpoint, when this process serves it
}

// Open takes the data folder's lock, opens both stores, and finishes what a
// crash interrupted: two-store changes half-done, and a full file
// synchronization that was running. A second process on the same folder
// gets ErrAlreadyRunning; an unwritable or full folder gets its
// one-sentence error from storage; a damaged or missing store gets
// storage.ErrDamaged with the sentence that names it and the newest backup.
// On a disk below storage.Reserve the stores open read-only (ReadOnly).
// Every failure is one sentence, and leaves nothing open.
func Open(ctx context.Context, cfg Config) (*App, error) {
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data folder %s: %w", cfg.DataDir, err)
	}
	// A restore of an older backup cut short has the stores half moved:
	// finish it before asking what the folder holds.
	if err := finishRestoreOlder(dir); err != nil {
		return nil, err
	}
	mgr, fsr := storage.Path(dir, storage.Manager), storage.Path(dir, storage.FileServer)
	setUp := storage.Exists(mgr) || storage.Exists(fsr)
	if cfg.MustExist && !setUp {
		return nil, &notSetUpError{dir}
	}
	if _, err := checkFormat(dir, setUp); err != nil {
		return nil, err
	}
	if setUp {
		// A full disk must not stop Plinth from showing what it holds.
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("data folder %s cannot be read", dir)
		}
	} else if err := storage.CheckFolder(dir); err != nil {
		return nil, err
	}
	lock, ok, err := lockFolder(dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &runningError{dir}
	}
	a := &App{DataDir: dir, lock: lock, clock: cfg.Clock}
	if err := a.open(ctx, cfg, setUp); err != nil {
		_ = a.shutdown(false)
		var damaged *storage.DamageError
		if errors.As(err, &damaged) {
			damaged.Advice = restoreAdvice(dir)
		}
		return nil, err
	}
	if from := movedFrom(dir); from != "" && a.ReadOnly() == nil {
		if err := a.Backups.RebaseTargets(from); err != nil {
			a.Log.Warn("point backup targets into the moved data folder", "err", err)
		}
	}
	a.rememberTargets()
	return a, nil
}

// open does the work of Open once the folder is locked: everything it
// opens, a.shutdown closes.
func (a *App) open(ctx context.Context, cfg Config, setUp bool) error {
	a.Log, a.storeLog, a.closeLog = openLog(a.DataDir, cfg.LogToStderr)
	a.Log.Info("opening", "version", Version, "data", a.DataDir, "pid", os.Getpid())
	// Only now, with the folder locked, may leftovers be cleaned up: a
	// restore's staging folder belongs to whoever holds the lock.
	if msg, err := backup.RecoverRestore(a.DataDir); err != nil {
		return err
	} else if msg != "" {
		a.Log.Warn(msg)
	}
	if err := checkPair(a.DataDir); err != nil {
		return err
	}
	if err := a.openStores(); err != nil {
		return err
	}
	if err := a.ReadOnly(); err != nil {
		a.Log.Info("opened read-only", "why", err)
	}
	if err := a.upgradeFolder(ctx, cfg, setUp); err != nil {
		return err
	}
	if err := a.Files.Recover(ctx); err != nil {
		return err
	}
	if err := a.Backups.Recover(ctx); err != nil {
		return err
	}
	if _, err := a.Sync.Resume(ctx, nil); err != nil {
		return fmt.Errorf("finish the interrupted file synchronization: %w", err)
	}
	return a.IModels.Recover(ctx)
}

// checkPair refuses a data folder where one store is there and the other
// is missing: opening would create the missing one empty beside the data
// of the other.
func checkPair(dir string) error {
	for _, k := range []storage.Kind{storage.Manager, storage.FileServer} {
		other := storage.FileServer
		if k == storage.FileServer {
			other = storage.Manager
		}
		if !storage.Exists(storage.Path(dir, k)) && storage.Exists(storage.Path(dir, other)) {
			return &storage.DamageError{Kind: k, Dir: storage.Path(dir, k),
				Reason: "its files are missing, while the " + other.Name() + " store is there"}
		}
	}
	return nil
}

// ReadOnly returns why the stores were opened read-only (their disk is
// below storage.Reserve), or nil.
func (a *App) ReadOnly() error {
	for _, st := range []*storage.Store{a.Manager, a.FileServer} {
		if st != nil && st.ReadOnly() != nil {
			return st.ReadOnly()
		}
	}
	return nil
}

// openStores opens both stores and builds the services on them.
func (a *App) openStores() (err error) {
	sopt := storage.Options{Logger: a.storeLog, Format: upgrade.Data}
	if a.Manager, err = storage.Open(storage.Path(a.DataDir, storage.Manager), storage.Manager, sopt); err != nil {
		return err
	}
	if a.FileServer, err = storage.Open(storage.Path(a.DataDir, storage.FileServer), storage.FileServer, sopt); err != nil {
		return err
	}
	a.Accounts = account.NewService(a.Manager)
	a.Notify = notify.NewService(a.Manager, a.Accounts, a.Log)
	secrets := a.secrets()
	a.Notify.SetSecrets(secrets)
	a.Files = files.NewService(a.Manager, a.FileServer, a.Accounts, a.Log)
	a.Sync = filesync.NewService(a.Files, a.Accounts, a.Notify, a.Log)
	a.Backups = backup.NewService(a.Files, a.Accounts, a.Notify, a.DataDir, a.Log)
	a.Backups.Version = Version
	a.Backups.Secrets = secrets
	a.Backups.Pinned = a.pinnedBackups
	a.Backups.UpgradeRestored = func() error {
		r := upgrade.Runner{FS: fsys.OS, Dir: a.DataDir, Stores: map[storage.Kind]*storage.Store{storage.Manager: a.Manager, storage.FileServer: a.FileServer}, Version: Version}
		return r.UpgradeStores()
	}
	a.Backups.AfterRestore = func(ctx context.Context) {
		// Restoring one store makes the two disagree: say so at once.
		if _, _, err := a.Sync.Detect(ctx, true); err != nil {
			a.Log.Warn("drift check after restore", "err", err)
		}
	}
	a.IModels = imodel.NewService(a.Files, a.Accounts, a.Notify, a.Log)
	a.IModels.Reserve = reserveMemory
	if a.clock != nil {
		a.IModels.SetClock(a.clock)
	}
	if a.Scheduler, err = schedule.New(a.Manager, a.clock, a.Log); err != nil {
		return err
	}
	a.Health = health.NewService(a.Backups, a.Files, a.Sync, a.IModels, a.Notify, a.Scheduler)
	a.Health.LowSpace = lowDisk
	return nil
}

// closeStores stops the scheduler and closes both stores; the lock stays.
func (a *App) closeStores() error {
	var errs []error
	if a.Scheduler != nil {
		errs = append(errs, a.Scheduler.Stop())
		a.Scheduler = nil
	}
	for _, st := range []*storage.Store{a.FileServer, a.Manager} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// StartBackground registers Plinth's timed maintenance jobs and starts the
// scheduler. The window calls it; one-shot commands do not. Stores opened
// read-only (a full disk) get none: every job would write.
func (a *App) StartBackground(desktop notify.Desktop) error {
	if err := a.ReadOnly(); err != nil {
		a.Log.Info("no background jobs while the data is read-only", "why", err)
		return nil
	}
	if desktop != nil {
		a.Notify.SetDesktop(desktop)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stopBackground = cancel
	a.background.Go(func() { a.Notify.Run(ctx) })
	err := a.Scheduler.Add(schedule.Job{
		Name: "disk.space", Title: "Check free disk space",
		Spec: schedule.EveryInterval(time.Hour),
		Run:  a.checkDiskSpace,
	})
	if err != nil {
		return err
	}
	err = a.Scheduler.Add(schedule.Job{
		Name: "filesync.detect", Title: "Compare the Manager and the File Server",
		Spec: schedule.EveryInterval(time.Hour),
		Run: func(ctx context.Context) error {
			// Agreeing digests answer at once; once an hour every table
			// of both stores is read against its checksums too, so that
			// damage on disk is found within the hour even with no window
			// showing the health report.
			if err := a.Files.Healthy(); err != nil {
				return fmt.Errorf("compare the stores: %w", err)
			}
			_, _, err := a.Sync.Detect(ctx, true)
			return err
		},
	})
	if err != nil {
		return err
	}
	err = a.Scheduler.Add(schedule.Job{
		Name: "files.maintenance", Title: "Prune old versions and compact content packs",
		Spec: schedule.DailyAt(3, 30), CatchUp: true,
		Run: func(ctx context.Context) error {
			pruned, err := a.Files.PruneVersions(ctx)
			if err != nil {
				return err
			}
			freed, err := a.Files.Compact(ctx)
			a.Log.Info("file maintenance", "prunedVersions", pruned, "freedBytes", freed)
			return err
		},
	})
	if err != nil {
		return err
	}
	if err := a.ScheduleBackups(); err != nil {
		return err
	}
	if err := a.ScheduleConnections(); err != nil {
		return err
	}
	a.IModels.Changed = func() {
		if err := a.ScheduleConnections(); err != nil {
			a.Log.Warn("schedule connections", "err", err)
		}
	}
	for _, st := range []*storage.Store{a.Manager, a.FileServer} {
		err := a.Scheduler.Add(schedule.Job{
			Name:  "maintenance.gc." + string(st.Kind()),
			Title: "Reclaim disk space (" + string(st.Kind()) + " store)",
			Spec:  schedule.EveryInterval(time.Hour),
			Run: func(ctx context.Context) error {
				n, err := st.RunGC(ctx)
				if n > 0 {
					a.Log.Info("value-log gc", "store", st.Kind(), "rewritten", n)
				}
				return err
			},
		})
		if err != nil {
			return err
		}
	}
	a.Scheduler.Start()
	// Compare the stores and look at the disks once at start.
	if err := a.Scheduler.RunSoon("disk.space"); err != nil {
		return err
	}
	return a.Scheduler.RunSoon("filesync.detect")
}

// Close stops background work, then closes the stores, then releases the
// lock: the order in which nothing is left half-done.
func (a *App) Close() error { return a.shutdown(true) }

// shutdown is Close; dispatch says whether a command's queued e-mails are
// tried once (not after a failed Open).
func (a *App) shutdown(dispatch bool) error {
	// Commands sent here stop first: they use everything below.
	if a.control != nil {
		a.control.close()
		a.control = nil
	}
	if a.stopBackground != nil {
		a.stopBackground()
		a.background.Wait()
	} else if a.Notify != nil && dispatch && a.ReadOnly() == nil {
		// A command: try the e-mails it queued once, briefly; what fails
		// waits in the outbox for the next start of the window.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		if sent, left, err := a.Notify.Dispatch(ctx); sent+left > 0 || err != nil {
			a.Log.Info("notifications at exit", "sent", sent, "waiting", left, "err", err)
		}
		cancel()
	}
	errs := []error{a.closeStores()}
	if a.Log != nil {
		a.Log.Info("closed")
	}
	if a.closeLog != nil {
		errs = append(errs, a.closeLog())
	}
	if a.lock != nil {
		errs = append(errs, a.lock.release())
		a.lock = nil
	}
	return errors.Join(errs...)
}

// ViewServices are the services the window uses.
func (a *App) ViewServices() views.Services {
	return views.Services{
		Accounts: a.Accounts, Files: a.Files, Sync: a.Sync, Notifications: a.Notify, Backups: a.Backups, IModels: a.IModels,
		DataDir:    a.DataDir,
		Autostart:  autostartSetting(a.DataDir),
		Health:     a.HealthReport,
		Jobs:       func() []schedule.Status { return a.Scheduler.Jobs() },
		Reschedule: a.ScheduleBackups,
		Stores: func(ctx context.Context) ([]views.StoreInfo, error) {
			var out []views.StoreInfo
			for _, st := range []*storage.Store{a.Manager, a.FileServer} {
				s := storeStatus(st)
				name := "Manager"
				if st.Kind() == storage.FileServer {
					name = "File Server"
				}
				out = append(out, views.StoreInfo{Name: name, Path: s.Path, Identity: s.Identity, Generation: s.Generation,
					Files: s.Files, Bytes: s.FileBytes, Disk: s.DiskBytes, Format: s.Format})
			}
			return out, nil
		},
	}
}

// ScheduleBackups puts the backup jobs on the scheduler as their settings
// say; the window calls it again after the settings change. Scheduled
// backups run as masteradmin.
func (a *App) ScheduleBackups() error {
	asMaster := func(run func(ctx context.Context, m account.Actor) error) func(context.Context) error {
		return func(ctx context.Context) error {
			m, err := a.Accounts.ActAs(ctx, account.MasterAdmin)
			if err != nil {
				return err
			}
			return run(ctx, m)
		}
	}
	l2, err := a.Backups.Level2()
	if err != nil {
		return err
	}
	l3, err := a.Backups.Level3()
	if err != nil {
		return err
	}
	jobs := []schedule.Job{
		{Name: "backup.level1", Title: "Project and library snapshots (as each one's schedule says)",
			Spec: schedule.EveryInterval(15 * time.Minute),
			Run: func(ctx context.Context) error {
				_, err := a.Backups.DueSnapshots(ctx)
				return err
			}},
		{Name: "backup.level2", Title: "Full data backup", Spec: l2.Schedule, CatchUp: true,
			Run: asMaster(func(ctx context.Context, m account.Actor) error {
				c, err := a.Backups.Level2()
				if err != nil {
					return err
				}
				_, err = a.Backups.FullTo(ctx, m, c.Into, nil)
				// The copy follows, also of earlier backups whose copy
				// was interrupted, when the backup itself failed too.
				if _, cerr := a.Backups.CopyPending(ctx, m, nil); err == nil {
					err = cerr
				}
				return err
			})},
		{Name: "backup.copy", Title: "Finish interrupted copies of full backups and snapshots", Spec: schedule.EveryInterval(time.Hour),
			Run: func(ctx context.Context) error {
				c2, err := a.Backups.Level2()
				if err != nil {
					return err
				}
				c1, err := a.Backups.Level1()
				if err != nil {
					return err
				}
				if c2.CopyTo == "" && c1.CopyTo == "" {
					return nil // nothing is copied anywhere
				}
				return asMaster(func(ctx context.Context, m account.Actor) error {
					var err error
					if c2.CopyTo != "" {
						_, err = a.Backups.CopyPending(ctx, m, nil)
					}
					if c1.CopyTo != "" {
						_, serr := a.Backups.CopySnapshots(ctx, m, nil)
						err = errors.Join(err, serr)
					}
					return err
				})(ctx)
			}},
		{Name: "backup.verify", Title: "Verify the newest full backup", Spec: backup.VerifySchedule, CatchUp: true,
			Run: asMaster(func(ctx context.Context, m account.Actor) error {
				_, err := a.Backups.VerifyNewest(ctx, m)
				return err
			})},
	}
	os := schedule.Job{Name: "backup.level3", Title: "OS snapshot", Spec: l3.Schedule, CatchUp: true,
		Run: asMaster(func(ctx context.Context, m account.Actor) error {
			_, err := a.Backups.OSSnapshot(ctx, m)
			return err
		})}
	if l3.Command == "" {
		os.Spec = schedule.Spec{Kind: schedule.Manual}
	}
	jobs = append(jobs, os)
	for _, j := range jobs {
		if err := a.Scheduler.Add(j); err != nil {
			return err
		}
	}
	// The target may have changed: the control file follows.
	a.rememberTargets()
	return nil
}

// ScheduleConnections puts every connection's sync on the scheduler as its
// schedule says (runs act as the connection's owner and need the owner's
// token), plus the daily token check; jobs of deleted connections go.
func (a *App) ScheduleConnections() error {
	conns, err := a.IModels.AllConnections()
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, c := range conns {
		name := "imodel.sync." + c.ID
		want[name] = true
		id := c.ID
		err := a.Scheduler.Add(schedule.Job{Name: name, Title: "Sync connection " + c.Name, Spec: c.Schedule, CatchUp: true,
			Run: func(ctx context.Context) error {
				r, err := a.IModels.Sync(ctx, account.Actor{}, id, imodel.TriggerScheduled, nil)
				if err == nil && r.Result == imodel.ResultFailed {
					err = fmt.Errorf("the sync failed")
				}
				return err
			}})
		if err != nil {
			return err
		}
	}
	for _, j := range a.Scheduler.Jobs() {
		if strings.HasPrefix(j.Name, "imodel.sync.") && !want[j.Name] {
			if err := a.Scheduler.Remove(j.Name); err != nil {
				return err
			}
		}
	}
	return a.Scheduler.Add(schedule.Job{Name: "imodel.tokens", Title: "Check connection sync tokens", Spec: schedule.DailyAt(8, 0), CatchUp: true,
		Run: a.IModels.CheckTokens})
}
