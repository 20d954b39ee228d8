package health

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/filesync"
	"codeberg.org/plinth/plinth/core/imodel"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/notify/notifytest"
	"codeberg.org/plinth/plinth/core/schedule"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys/disktest"
	"codeberg.org/plinth/plinth/storage/fsys/faultfs"
)

// env is a Plinth's core services on real stores in a temporary folder,
// on a fake clock that starts on Wednesday 25 November 2026 at 09:00.
type env struct {
	t      *testing.T
	dir    string
	mgr    *storage.Store
	fs     *storage.Store
	acc    *account.Service
	files  *files.Service
	notify *notify.Service
	sync   *filesync.Service
	b      *backup.Service
	im     *imodel.Service
	sched  *schedule.Scheduler
	clock  *clockwork.FakeClock
	master account.Actor
	h      *Service
	src    string // a connection's source folder
	imodel string // an iModel's id
}

var start = time.Date(2026, 11, 25, 9, 0, 0, 0, time.Local)

func newEnv(t *testing.T) *env { return newEnvAt(t, t.TempDir()) }

func newEnvAt(t *testing.T, dir string) *env {
	t.Helper()
	e := &env{t: t, dir: dir, clock: clockwork.NewFakeClockAt(start)}
	var err error
	if e.mgr, err = storage.Open(filepath.Join(dir, "manager"), storage.Manager, storage.Options{}); err != nil {
		t.Fatal(err)
	}
	if e.fs, err = storage.Open(filepath.Join(dir, "fileserver"), storage.FileServer, storage.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.mgr.Close(); _ = e.fs.Close() })
	ctx := context.Background()
	e.acc = account.NewService(e.mgr)
	if e.master, err = e.acc.Bootstrap(ctx, "master password"); err != nil {
		t.Fatal(err)
	}
	e.notify = notify.NewService(e.mgr, e.acc, nil)
	e.notify.SetClock(e.clock.Now)
	e.files = files.NewService(e.mgr, e.fs, e.acc, nil)
	e.sync = filesync.NewService(e.files, e.acc, e.notify, nil)
	e.b = backup.NewService(e.files, e.acc, e.notify, dir, nil)
	e.b.SetClock(e.clock.Now)
	e.im = imodel.NewService(e.files, e.acc, e.notify, nil)
	e.im.SetClock(e.clock)
	if e.sched, err = schedule.New(e.mgr, e.clock, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.sched.Stop() })
	e.h = NewService(e.b, e.files, e.sync, e.im, e.notify, e.sched)
	e.h.LowSpace = func(total, free uint64) bool { return false } // the test machine's disks are not the point
	return e
}

func (e *env) report(in Inputs) Report {
	e.t.Helper()
	r, err := e.h.Report(context.Background(), e.clock.Now(), in)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) put(path string, data []byte) {
	e.t.Helper()
	ctx := context.Background()
	dir, name := filepath.Split(path)
	parent, err := e.files.MkdirAll(ctx, e.master, dir)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.files.Upload(ctx, e.master, parent.ID, name, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		e.t.Fatal(err)
	}
}

// backupAt takes a full backup at t (the clock then stays there).
func (e *env) backupAt(t time.Time) backup.Manifest {
	e.t.Helper()
	e.clock.Advance(t.Sub(e.clock.Now()))
	m, err := e.b.Full(context.Background(), e.master, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *env) verify(m backup.Manifest) {
	e.t.Helper()
	if _, err := e.b.Verify(context.Background(), e.master, m.ID, "", nil); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) setTarget(dir string) {
	e.t.Helper()
	c, _ := e.b.Level2()
	c.Target = dir
	if err := e.b.SetLevel2(context.Background(), e.master, c); err != nil {
		e.t.Fatal(err)
	}
}

// otherDisk returns a folder on a disk other than the data's: a small
// tmpfs where one can be mounted, else a folder the report is told lies
// on a disk of its own.
func (e *env) otherDisk() string {
	e.t.Helper()
	if runtime.GOOS == "linux" && os.Geteuid() == 0 {
		return disktest.Sized(e.t, storage.Reserve+32<<20) // a full backup keeps Reserve free on its target
	}
	dir := e.t.TempDir()
	e.h.diskOf = func(p string) (string, error) {
		if strings.HasPrefix(p, dir) {
			return "another disk", nil
		}
		return diskOf(p)
	}
	return dir
}

// good makes the data safe: a full backup on another disk, taken at 02:00
// today, and verified.
func (e *env) good() backup.Manifest {
	e.t.Helper()
	e.put("/Tower/plan.pdf", []byte("plan"))
	e.setTarget(e.otherDisk())
	m := e.backupAt(start.Add(-7 * time.Hour))
	e.clock.Advance(30 * time.Minute)
	e.verify(m)
	e.clock.Advance(start.Sub(e.clock.Now()))
	return m
}

// project makes a project with an iModel, and a source folder for its
// connections.
func (e *env) project() {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.files.Create(ctx, e.master, files.RootID, "Site", files.KindProject); err != nil {
		e.t.Fatal(err)
	}
	m, err := e.im.Create(ctx, e.master, "/Site", "Coordination")
	if err != nil {
		e.t.Fatal(err)
	}
	e.imodel, e.src = m.ID, e.t.TempDir()
	if err := os.WriteFile(filepath.Join(e.src, "arch.ifc"), []byte("not IFC at all"), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) connect(name string, sp schedule.Spec) imodel.Connection {
	e.t.Helper()
	c, err := e.im.AddConnection(context.Background(), e.master, e.imodel, imodel.NewConnection{Name: name,
		Source: imodel.Source{Kind: imodel.SourceDisk, Path: e.src}, Mapped: []imodel.Composite{{Main: "arch.ifc"}}, Schedule: sp})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// find returns the reason with code, if any.
func find(r Report, code string) (Reason, bool) {
	for _, x := range r.Reasons {
		if x.Code == code {
			return x, true
		}
	}
	return Reason{}, false
}

func codes(r Report) []string {
	var out []string
	for _, x := range r.Reasons {
		out = append(out, x.Code+" ("+string(x.State)+")")
	}
	return out
}

// failingBackups is the backup service with one read failing, as a
// target on a disk that answers with errors.
type failingBackups struct {
	*backup.Service
	list, records error
}

func (f failingBackups) List() ([]backup.Manifest, error) {
	if f.list != nil {
		return nil, f.list
	}
	return f.Service.List()
}

func (f failingBackups) Records() ([]backup.Record, error) {
	if f.records != nil {
		return nil, f.records
	}
	return f.Service.Records()
}

func TestReasons(t *testing.T) {
	ctx := context.Background()
	off := func() (bool, error) { return false, nil }
	tests := []struct {
		name  string
		setup func(e *env) Inputs
		state State
		want  map[string]State // codes that must be there, with their state
		not   []string         // codes that must not be there
		words []string         // parts of the wanted reasons' sentences
	}{
		{
			name:  "new folder",
			setup: func(e *env) Inputs { return Inputs{} },
			state: AtRisk,
			want:  map[string]State{"backup.none": AtRisk, "backup.same-disk": Attention},
			not:   []string{"backup.old", "verify.never"},
			words: []string{"No full backup has been taken yet", "Choose a target on another disk"},
		},
		{
			name:  "backup three days old on a daily schedule",
			setup: func(e *env) Inputs { m := e.good(); e.clock.Advance(3 * day); _ = m; return Inputs{} },
			state: Attention,
			want:  map[string]State{"backup.old": Attention},
			not:   []string{"backup.none", "verify.old"},
			words: []string{"The last full backup is 3 days old (Wednesday at 02:00); full backups are set to run daily at 02:00."},
		},
		{
			name: "the last backup failed",
			setup: func(e *env) Inputs {
				e.good()
				f := faultfs.New(nil)
				f.Add(faultfs.Rule{Op: faultfs.OpCreate, Err: faultfs.EIO})
				e.b.SetFS(f)
				if _, err := e.b.Full(ctx, e.master, nil); err == nil {
					e.t.Fatal("a backup onto a failing disk worked")
				}
				e.b.SetFS(nil)
				return Inputs{}
			},
			state: Attention,
			want:  map[string]State{"backup.failed": Attention},
			not:   []string{"backup.none", "backup.old"},
			words: []string{"The last full backup, today at 09:00, failed: ", "The backups before it are kept."},
		},
		{
			name: "a scheduled job failed",
			setup: func(e *env) Inputs {
				e.good()
				err := e.sched.Add(schedule.Job{Name: "files.maintenance", Title: "Prune old versions and compact content packs",
					Spec: schedule.DailyAt(3, 30), Run: func(context.Context) error { return errors.New("the pack is damaged") }})
				if err != nil {
					e.t.Fatal(err)
				}
				_ = e.sched.RunNow(ctx, "files.maintenance")
				return Inputs{}
			},
			state: Attention,
			want:  map[string]State{"job.failing": Attention},
			words: []string{"Scheduled job “Prune old versions and compact content packs” failed today at 09:00: the pack is damaged."},
		},
		{
			name: "a failed backup job, then Back up now worked",
			setup: func(e *env) Inputs {
				e.good()
				err := e.sched.Add(schedule.Job{Name: "backup.level2", Title: "Full data backup", Spec: schedule.DailyAt(2, 0),
					Run: func(context.Context) error { return errors.New("there is no user masteradmin") }})
				if err != nil {
					e.t.Fatal(err)
				}
				_ = e.sched.RunNow(ctx, "backup.level2")
				e.backupAt(start.Add(30 * time.Minute))
				return Inputs{}
			},
			state: Safe,
			not:   []string{"job.failing", "backup.failed"},
		},
		{
			name: "never verified",
			setup: func(e *env) Inputs {
				e.setTarget(e.otherDisk())
				e.backupAt(start.Add(-10 * day))
				e.backupAt(start.Add(-7 * time.Hour))
				e.clock.Advance(7 * time.Hour)
				return Inputs{}
			},
			state: Attention,
			want:  map[string]State{"verify.never": Attention},
			not:   []string{"backup.old", "verify.failed"},
			words: []string{"No full backup has been verified yet"},
		},
		{
			name: "verification failed",
			setup: func(e *env) Inputs {
				m := e.good()
				p := filepath.Join(m.Path, m.Payloads[0].File)
				b, err := os.ReadFile(p)
				if err != nil {
					e.t.Fatal(err)
				}
				b[len(b)/2] ^= 0xff
				if err := os.WriteFile(p, b, 0o600); err != nil {
					e.t.Fatal(err)
				}
				if _, err := e.b.Verify(ctx, e.master, m.ID, "", nil); err == nil {
					e.t.Fatal("a damaged backup verified")
				}
				return Inputs{}
			},
			state: AtRisk,
			want:  map[string]State{"verify.failed": AtRisk},
			words: []string{"The last verification of full backup ", "Take a new backup and verify it."},
		},
		{
			name: "verified long ago",
			setup: func(e *env) Inputs {
				e.good()
				e.backupAt(start.Add(10*day - 7*time.Hour))
				e.clock.Advance(7 * time.Hour)
				return Inputs{}
			},
			state: Attention,
			want:  map[string]State{"verify.old": Attention},
			not:   []string{"verify.never", "backup.old"},
			words: []string{"No full backup has been verified for 10 days (the last verification was 25 November at 02:30); verification is set to run weekly on Sunday at 04:00."},
		},
		{
			name: "backups on the data's disk",
			setup: func(e *env) Inputs {
				m := e.backupAt(start.Add(-7 * time.Hour))
				e.verify(m)
				return Inputs{}
			},
			state: Attention,
			want:  map[string]State{"backup.same-disk": Attention},
			not:   []string{"backup.none", "backup.old"},
			words: []string{"The full backups go to the same disk as the data (backups in "},
		},
		{
			name: "the stores disagree after one was restored",
			setup: func(e *env) Inputs {
				e.good()
				if _, _, err := e.sync.Detect(ctx, false); err != nil { // they agree, and that is recorded
					e.t.Fatal(err)
				}
				m := e.backupAt(start)
				e.put("/Tower/later.pdf", []byte("after the backup"))
				if _, err := e.b.Restore(ctx, e.master, m.ID, backup.ScopeManager, "", nil); err != nil {
					e.t.Fatal(err)
				}
				return Inputs{}
			},
			state: AtRisk,
			want:  map[string]State{"stores.disagree": AtRisk},
			words: []string{"The Manager and the File Server disagree: the Manager lists 1 file, the File Server holds 2 files; they last agreed ",
				"the full file synchronization repairs it."},
		},
		{
			name: "a connection paused after a crash",
			setup: func(e *env) Inputs {
				e.good()
				e.project()
				c := e.connect("Arch", schedule.EveryInterval(4*time.Hour))
				// What a process that died during the sync leaves.
				run := imodel.Run{ID: "20261125-085000-crash", Connection: c.ID, ConnName: c.Name, IModel: c.IModel,
					Trigger: imodel.TriggerScheduled, Started: start.Add(-10 * time.Minute), State: "running"}
				err := e.mgr.Update(func(tx *storage.Tx) error {
					return storage.NewCollection[imodel.Run]("imrun").Put(tx, c.ID+"/"+run.ID, run)
				})
				if err != nil {
					e.t.Fatal(err)
				}
				if err := e.im.Recover(ctx); err != nil {
					e.t.Fatal(err)
				}
				return Inputs{}
			},
			state: Attention,
			want:  map[string]State{"connection.paused": Attention},
			not:   []string{"connection.failed", "job.overdue"},
			words: []string{"Plinth stopped during the sync of connection “Arch” (today at 08:50), so its scheduled syncs are paused until a Sync now succeeds."},
		},
		{
			name: "a connection's last sync failed",
			setup: func(e *env) Inputs {
				e.good()
				e.project()
				c := e.connect("Arch", schedule.Spec{})
				if _, err := e.im.Sync(ctx, e.master, c.ID, imodel.TriggerManual, nil); err != nil {
					e.t.Fatal(err)
				}
				return Inputs{}
			},
			state: Attention,
			want:  map[string]State{"connection.failed": Attention},
			not:   []string{"token.expiring", "job.overdue"},
			words: []string{"The last sync of connection “Arch”, today at 09:00, failed: arch.ifc"},
		},
		{
			name: "a token runs out in 5 days",
			setup: func(e *env) Inputs {
				e.project()
				e.connect("Structure", schedule.DailyAt(8, 0))
				e.clock.Advance(25 * day)
				return Inputs{}
			},
			state: AtRisk,
			want:  map[string]State{"token.expiring": Attention, "job.overdue": Attention},
			words: []string{"The sync token of connection “Structure” runs out in 5 days (", "masteradmin renews it",
				"The scheduled sync of connection “Structure” has never run; it is set to run daily at 08:00."},
		},
		{
			name: "e-mail on, SMTP never tested",
			setup: func(e *env) Inputs {
				e.good()
				if err := e.acc.AddUser(ctx, e.master, account.NewUser{Name: "anna", Role: account.RoleServerAdmin, Password: "anna password", Email: "anna@office.test"}); err != nil {
					e.t.Fatal(err)
				}
				if err := e.notify.SetSMTP(ctx, e.master, notify.SMTP{Host: "mail.office.test", Port: 587, Security: notify.SecurityStartTLS, From: "plinth@office.test"}, "", false); err != nil {
					e.t.Fatal(err)
				}
				return Inputs{}
			},
			state: Attention,
			want:  map[string]State{"smtp.untested": Attention},
			not:   []string{"smtp.none"},
			words: []string{"E-mail notifications are on for anna, but e-mail does not work yet: no test e-mail has succeeded"},
		},
		{
			name: "e-mail on, no SMTP server",
			setup: func(e *env) Inputs {
				e.good()
				if err := e.acc.AddUser(ctx, e.master, account.NewUser{Name: "anna", Role: account.RoleServerAdmin, Password: "anna password", Email: "anna@office.test"}); err != nil {
					e.t.Fatal(err)
				}
				return Inputs{}
			},
			state: Attention,
			want:  map[string]State{"smtp.none": Attention},
			words: []string{"E-mail notifications are on for anna, but no e-mail (SMTP) server is set up, so none goes out."},
		},
		{
			name: "e-mails that could not be sent",
			setup: func(e *env) Inputs {
				e.good()
				cert, _ := notifytest.SelfSigned(e.t)
				srv := notifytest.Start(e.t, "", "none", cert, nil)
				e.notify.SetSecrets(notify.NewFileSecrets(e.mgr, filepath.Join(e.dir, "secret.key")))
				if err := e.notify.SetSMTP(ctx, e.master, notify.SMTP{Host: "127.0.0.1", Port: srv.Port, Security: notify.SecurityNone, From: "plinth@office.test"}, "", false); err != nil {
					e.t.Fatal(err)
				}
				if err := e.notify.TestSMTP(ctx, e.master, "admin@office.test"); err != nil {
					e.t.Fatal(err)
				}
				if err := e.acc.AddUser(ctx, e.master, account.NewUser{Name: "anna", Role: account.RoleServerAdmin, Password: "anna password", Email: "anna@office.test"}); err != nil {
					e.t.Fatal(err)
				}
				srv.RefuseRecipients("anna@office.test")
				if err := e.notify.Publish(ctx, notify.Event{Kind: notify.BackupFailed, Severity: notify.Error, Target: notify.TargetBackups, Text: "The full data backup failed."}); err != nil {
					e.t.Fatal(err)
				}
				_, _, _ = e.notify.Dispatch(ctx) // the e-mail to anna fails; desktop ones wait for a window
				return Inputs{}
			},
			state: Attention,
			want:  map[string]State{"smtp.failing": Attention},
			not:   []string{"smtp.none", "smtp.untested"},
			words: []string{"1 e-mail could not be sent since today at 09:00: ", ". Plinth keeps trying."},
		},
		{
			name: "an OS snapshot job that missed its runs",
			setup: func(e *env) Inputs {
				e.good()
				if err := e.b.SetLevel3(ctx, e.master, backup.Level3Settings{Command: "true", Schedule: schedule.DailyAt(1, 0)}); err != nil {
					e.t.Fatal(err)
				}
				err := e.sched.Add(schedule.Job{Name: "backup.level3", Title: "OS snapshot", Spec: schedule.DailyAt(1, 0),
					Run: func(context.Context) error { return nil }})
				if err != nil {
					e.t.Fatal(err)
				}
				e.clock.Advance(2 * day)
				return Inputs{}
			},
			state: Attention,
			want:  map[string]State{"job.overdue": Attention, "backup.old": Attention},
			words: []string{"The OS snapshot has never run; it is set to run daily at 01:00."},
		},
		{
			name:  "Plinth does not start at login",
			setup: func(e *env) Inputs { e.good(); return Inputs{Autostart: off} },
			state: Attention,
			want:  map[string]State{"autostart.off": Attention},
			words: []string{"Plinth does not start when you log in"},
		},
		{
			name: "the backup target cannot be read",
			setup: func(e *env) Inputs {
				e.good()
				e.h.backups = failingBackups{Service: e.b, list: errors.New("input/output error")}
				return Inputs{}
			},
			state: AtRisk,
			want:  map[string]State{"backup.unreadable": AtRisk},
			not:   []string{"backup.none"},
			words: []string{"Plinth could not read the full backups in "},
		},
		{
			name: "the backup history cannot be read",
			setup: func(e *env) Inputs {
				e.good()
				e.h.backups = failingBackups{Service: e.b, records: errors.New("input/output error")}
				return Inputs{}
			},
			state: AtRisk,
			want:  map[string]State{"history.unreadable": AtRisk},
			not:   []string{"verify.never"},
			words: []string{"Plinth could not read the backup history: input/output error."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			in := tt.setup(e)
			r := e.report(in)
			for _, x := range r.Reasons {
				t.Logf("%s (%s, %s, %q): %s", x.Code, x.State, x.Page, x.Action, x.Sentence)
			}
			if r.State != tt.state {
				t.Errorf("state %s, want %s; reasons %v", r.State, tt.state, codes(r))
			}
			var sentences []string
			for code, state := range tt.want {
				got, ok := find(r, code)
				if !ok || got.State != state {
					t.Errorf("no reason %s (%s); reasons %v", code, state, codes(r))
				}
				if got.Page == "" || got.Action == "" {
					t.Errorf("reason %s has no page or button: %+v", code, got)
				}
				sentences = append(sentences, got.Sentence)
			}
			for _, code := range tt.not {
				if got, ok := find(r, code); ok {
					t.Errorf("reason %s is there: %s", code, got.Sentence)
				}
			}
			all := strings.Join(sentences, "\n")
			for _, w := range tt.words {
				if !strings.Contains(all, w) {
					t.Errorf("the reasons say:\n%s\nwant them to say %q", all, w)
				}
			}
			if len(r.Reasons) > 0 && r.Reasons[0].State != r.State {
				t.Errorf("the worst reason is not first: %v", codes(r))
			}
		})
	}
}

// With a recent verified backup on another disk, stores that agree and
// nothing failing, the data is safe, and the report says what is well.
func TestSafe(t *testing.T) {
	e := newEnv(t)
	m := e.good()
	r := e.report(Inputs{Autostart: func() (bool, error) { return true, nil }})
	if r.State != Safe || len(r.Reasons) != 0 {
		t.Fatalf("state %s, reasons %v", r.State, codes(r))
	}
	if want := "Last full backup today at 02:00, verified today at 02:30; the Manager and the File Server agree."; r.Summary != want {
		t.Errorf("summary %q, want %q", r.Summary, want)
	}
	var kinds []string
	for _, ev := range r.Events {
		kinds = append(kinds, ev.Kind)
	}
	if !slices.Equal(kinds, []string{"verify", "backup"}) || !strings.Contains(r.Events[1].Sentence, m.ID) {
		t.Errorf("events %+v", r.Events)
	}
}

// A backup target on a disk of its own is the copy away from the data.
func TestTargetOnAnotherDevice(t *testing.T) {
	e := newEnv(t)
	target := disktest.Sized(t, storage.Reserve+32<<20) // a real other device, or the test is skipped
	e.setTarget(target)
	e.backupAt(start.Add(-7 * time.Hour))
	r := e.report(Inputs{})
	if got, ok := find(r, "backup.same-disk"); ok {
		t.Fatalf("a target on its own tmpfs is said to share the data's disk: %s", got.Sentence)
	}
}

// Free space on real small disks: the backup target's, then the data's.
func TestLowSpace(t *testing.T) {
	data := disktest.Sized(t, storage.Reserve+200<<20)
	e := newEnvAt(t, data)
	e.h.LowSpace = nil // DefaultLow: under 5 GiB is low
	e.setTarget(disktest.Sized(t, storage.Reserve+32<<20))
	e.backupAt(start.Add(-7 * time.Hour))
	r := e.report(Inputs{})
	for _, code := range []string{"target.low", "disk.low"} {
		if got, ok := find(r, code); !ok || got.State != Attention {
			t.Errorf("no %s; reasons %v", code, codes(r))
		}
	}
	if got, _ := find(r, "target.low"); !strings.Contains(got.Sentence, "The disk holding the full backups (") ||
		!strings.Contains(got.Sentence, "free of 288 MiB") {
		t.Errorf("target.low says %q", got.Sentence)
	}
}

// Below the reserve Plinth keeps free the data is at risk; a backup disk
// without room for the next full backup too.
func TestNoRoom(t *testing.T) {
	e := newEnv(t)
	m := e.good()
	e.h.space = func(dir string) (uint64, uint64, error) {
		if strings.HasPrefix(dir, e.dir) {
			return 100 << 30, storage.Reserve - 1<<20, nil
		}
		return 100 << 30, uint64(m.Bytes()) / 2, nil
	}
	r := e.report(Inputs{})
	for _, code := range []string{"disk.full", "target.full"} {
		if got, ok := find(r, code); !ok || got.State != AtRisk {
			t.Errorf("no %s; reasons %v", code, codes(r))
		}
	}
	if got, _ := find(r, "disk.full"); !strings.Contains(got.Sentence, "has only 255 MiB free; below 256 MiB Plinth can no longer change anything") {
		t.Errorf("disk.full says %q", got.Sentence)
	}
}

// flicker is the files service with its first read of the digests
// landing between the two commits of an upload.
type flicker struct {
	*files.Service
	reads int
}

func (f *flicker) Digests() (m, s storage.FileSet, err error) {
	m, s, err = f.Service.Digests()
	if f.reads++; f.reads == 1 {
		s.Count++
	}
	return m, s, err
}

// Digests that differ for a moment, as during an upload, are read again:
// only a difference that lasts is a disagreement.
func TestDigestsReadAgain(t *testing.T) {
	e := newEnv(t)
	e.good()
	f := &flicker{Service: e.files}
	e.h.files = f
	r := e.report(Inputs{})
	if r.State != Safe || f.reads != 2 {
		t.Fatalf("state %s after %d reads; reasons %v", r.State, f.reads, codes(r))
	}
}

// Jobs the scheduler in this process runs now are listed as running.
func TestRunningJobs(t *testing.T) {
	e := newEnv(t)
	e.good()
	r := e.report(Inputs{Jobs: []schedule.Status{
		{State: schedule.State{Name: "backup.level2", LastStart: start.Add(-time.Minute)}, Title: "Full data backup", Running: true},
		{State: schedule.State{Name: "disk.space"}, Title: "Check free disk space"},
	}})
	if len(r.Running) != 1 || r.Running[0].Sentence != "Full data backup is running (since today at 08:59)." {
		t.Fatalf("running %+v", r.Running)
	}
}

// A cancelled context stops the report; nothing else does.
func TestCancelled(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.h.Report(ctx, start, Inputs{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestWhen(t *testing.T) {
	now := start // Wednesday 25 November 2026, 09:00
	at := func(y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, time.Local)
	}
	tests := []struct {
		t    time.Time
		want string
	}{
		{at(2026, 11, 25, 2, 0), "today at 02:00"},
		{at(2026, 11, 24, 23, 10), "yesterday at 23:10"},
		{at(2026, 11, 22, 4, 0), "Sunday at 04:00"},
		{at(2026, 11, 18, 10, 0), "18 November at 10:00"},
		{at(2025, 11, 18, 10, 0), "18 November 2025"},
		{at(2026, 11, 26, 8, 0), "tomorrow at 08:00"},
		{at(2026, 11, 30, 8, 0), "Monday at 08:00"},
	}
	for _, tt := range tests {
		if got := when(tt.t, now); got != tt.want {
			t.Errorf("when(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
	for d, want := range map[time.Duration]string{30 * time.Second: "1 minute", 40 * time.Minute: "40 minutes",
		5 * time.Hour: "5 hours", 47 * time.Hour: "47 hours", 3*day + time.Hour: "3 days"} {
		if got := age(d); got != want {
			t.Errorf("age(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestStateLabels(t *testing.T) {
	for s, want := range map[State]string{Safe: "Safe", Attention: "Needs attention", AtRisk: "At risk"} {
		if got := s.Label(); got != want {
			t.Errorf("%s.Label() = %q, want %q", s, got, want)
		}
	}
}

// The copy of the newest full backup: its state in the summary, a failed
// copy and one a day behind as reasons.
func TestCopies(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	usb := filepath.Join(t.TempDir(), "usb")
	if err := e.b.AddTarget(ctx, e.master, backup.TargetConfig{Name: "usb", Kind: backup.KindFolder, Folder: usb}, ""); err != nil {
		t.Fatal(err)
	}
	c, _ := e.b.Level2()
	c.CopyTo = "usb"
	if err := e.b.SetLevel2(ctx, e.master, c); err != nil {
		t.Fatal(err)
	}
	e.good()
	in := Inputs{Autostart: func() (bool, error) { return true, nil }}
	if r := e.report(in); r.State != Safe || !strings.Contains(r.Summary, "; not yet copied to "+usb+";") {
		t.Fatalf("before the copy: %s %v %q", r.State, codes(r), r.Summary)
	}
	if _, err := e.b.CopyPending(ctx, e.master, nil); err != nil {
		t.Fatal(err)
	}
	if r := e.report(in); r.State != Safe || !strings.Contains(r.Summary, "; copied to "+usb+" (usb);") {
		t.Fatalf("after the copy: %s %v %q", r.State, codes(r), r.Summary)
	}
	// The next backup's copy fails: the disk is gone, a file in its place.
	if err := os.RemoveAll(usb); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(usb, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.put("/Tower/more.pdf", []byte("more"))
	e.backupAt(start.Add(time.Hour))
	if _, err := e.b.CopyPending(ctx, e.master, nil); err == nil {
		t.Fatal("a copy into a file succeeded")
	}
	r := e.report(in)
	if got, ok := find(r, "copy.failed"); !ok || got.State != Attention || !strings.Contains(got.Sentence, "The copy of the last full backup to usb failed: ") {
		t.Fatalf("a failed copy: %v %+v", codes(r), got)
	}
	// A backup not copied for more than a day.
	c.CopyTo = ""
	if err := e.b.SetLevel2(ctx, e.master, c); err != nil {
		t.Fatal(err)
	}
	e.backupAt(start.Add(2 * time.Hour))
	c.CopyTo = "usb"
	if err := e.b.SetLevel2(ctx, e.master, c); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(26 * time.Hour)
	if _, ok := find(e.report(in), "copy.behind"); !ok {
		t.Fatalf("a copy a day behind: %v", codes(e.report(in)))
	}
}

// A snapshot whose copy failed, and still fails after the hourly retry,
// is a reason of its own.
func TestSnapshotCopyFailed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.good()
	usb := filepath.Join(t.TempDir(), "usb")
	if err := e.b.AddTarget(ctx, e.master, backup.TargetConfig{Name: "usb", Kind: backup.KindFolder, Folder: usb}, ""); err != nil {
		t.Fatal(err)
	}
	c, _ := e.b.Level1()
	c.CopyTo = "usb"
	if err := e.b.SetLevel1(ctx, e.master, c); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(usb); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(usb, []byte("not a folder"), 0o600); err != nil { // the disk is gone, a file in its place
		t.Fatal(err)
	}
	e.put("/Tower/more.pdf", []byte("more"))
	tower, err := e.files.Lookup(ctx, e.master, "/Tower")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Snapshot(ctx, e.master, tower.ID, nil); err != nil {
		t.Fatalf("the snapshot fails with its copy: %v", err)
	}
	in := Inputs{Autostart: func() (bool, error) { return true, nil }}
	if _, ok := find(e.report(in), "snapshot-copy.failed"); ok {
		t.Fatal("a copy failed a moment ago is reported before its retry")
	}
	e.clock.Advance(2 * time.Hour)
	r := e.report(in)
	if got, ok := find(r, "snapshot-copy.failed"); !ok || got.State != Attention || !strings.Contains(got.Sentence, "The copy of the last snapshot of Tower to usb failed: ") {
		t.Fatalf("a failed snapshot copy: %v %+v", codes(r), got)
	}
}
