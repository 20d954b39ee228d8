//go:build linux || darwin

package app

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/imodel"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/schedule"
)

const crashChildEnv = "PLINTH_TEST_CRASH_CHILD" // data folder|clock time, for the child

// The child: start as the window does (jobs on the scheduler, catch-up
// at start) and wait to be killed. The catch-up of the overdue connection
// sync blocks reading its design file, a named pipe.
func crashChild(t *testing.T, arg string) {
	dir, at, _ := strings.Cut(arg, "|")
	now, err := time.Parse(time.RFC3339, at)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), Config{DataDir: dir, Clock: clockwork.NewFakeClockAt(now)})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ScheduleConnections(); err != nil {
		t.Fatal(err)
	}
	a.Scheduler.Start()
	time.Sleep(time.Minute) // killed long before
	t.Fatal("the child was not killed")
}

// A scheduled connection sync that was overdue ran at start (the
// catch-up) and the process died during it, as when a design file
// crashes Plinth. At the next start it must not run again by itself —
// else the window would crash at every start — and its owner is told;
// the scheduled runs stay paused until a manual Sync now succeeds. The
// death is real: a child process is killed while the catch-up reads the
// design file.
func TestCrashedSyncIsNotRunAgainAtStart(t *testing.T) {
	if arg := os.Getenv(crashChildEnv); arg != "" {
		crashChild(t, arg)
		return
	}
	ctx := context.Background()
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.Local)
	dir, src := t.TempDir(), t.TempDir()
	design := filepath.Join(src, "site.ifc")
	sample, err := os.ReadFile(filepath.Join("..", "testdata", "ifc", "samples", "Sample_entities.ifc"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(design, sample, 0o644); err != nil {
		t.Fatal(err)
	}

	// Set up at 09:00: a connection syncing every 4 hours, on the scheduler.
	a, err := Open(ctx, Config{DataDir: dir, Clock: clockwork.NewFakeClockAt(start)})
	if err != nil {
		t.Fatal(err)
	}
	master, err := a.Accounts.Bootstrap(ctx, "master password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Files.Create(ctx, master, files.RootID, "Site", files.KindProject); err != nil {
		t.Fatal(err)
	}
	m, err := a.IModels.Create(ctx, master, "/Site", "Survey")
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.IModels.AddConnection(ctx, master, m.ID, imodel.NewConnection{Name: "Site",
		Source: imodel.Source{Kind: imodel.SourceDisk, Path: src}, Mapped: []imodel.Composite{{Main: "site.ifc"}},
		Schedule: schedule.EveryInterval(4 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ScheduleConnections(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	// 14:00: the window starts, catches the missed sync up, and dies
	// while it reads the design file.
	if err := os.Remove(design); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(design, 0o644); err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestCrashedSyncIsNotRunAgainAtStart$")
	child.Env = append(os.Environ(), crashChildEnv+"="+dir+"|"+start.Add(5*time.Hour).Format(time.RFC3339))
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		w, err := os.OpenFile(design, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil { // the sync opened the file: it is reading it
			_ = child.Process.Kill()
			<-exited
			_ = w.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the child ended before it read the design file: %v", err)
		default:
		}
		if !errors.Is(err, syscall.ENXIO) || time.Now().After(deadline) {
			_ = child.Process.Kill()
			t.Fatalf("waiting for the catch-up to read the design file: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Were it run again, it would now read a sound file and succeed.
	if err := os.Remove(design); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(design, sample, 0o644); err != nil {
		t.Fatal(err)
	}

	// 15:00: the next start.
	clock := clockwork.NewFakeClockAt(start.Add(6 * time.Hour))
	a, err = Open(ctx, Config{DataDir: dir, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	master, err = a.Accounts.ActAs(ctx, account.MasterAdmin)
	if err != nil {
		t.Fatal(err)
	}
	runs := func() []imodel.Run {
		r, err := a.IModels.Runs(ctx, master, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if rs := runs(); len(rs) != 1 || rs[0].State != "interrupted" || rs[0].Trigger != imodel.TriggerScheduled {
		t.Fatalf("after the crash: runs %+v", rs)
	}
	if !hasKind(t, a, master, notify.ConnectionFailed) {
		t.Fatal("the owner was not told")
	}
	l, _ := a.Notify.List(ctx, master, false)
	if want := `Plinth stopped during the last sync of "Site" (while it read site.ifc); it will not run automatically until you run Sync now.`; len(l) == 0 || l[0].Text != want {
		t.Fatalf("notifications %+v, want %q", l, want)
	}
	if err := a.ScheduleConnections(); err != nil {
		t.Fatal(err)
	}
	a.Scheduler.Start()
	job := "imodel.sync." + c.ID
	// Both the scheduler (this catch-up stopped Plinth) and the
	// connection (its last run stopped Plinth) refuse it.
	waitFor(t, "the scheduler to say why it did not catch up", func() bool {
		e := jobStatus(a, job).LastError
		return strings.Contains(e, "Plinth stopped during this job's catch-up") || strings.Contains(e, `scheduled syncs of "Site" are paused`)
	})
	time.Sleep(100 * time.Millisecond)
	if rs := runs(); len(rs) != 1 {
		t.Fatalf("the crashed sync ran again at start: %+v", rs)
	}
	// 19:00: the next scheduled time comes; the connection stays paused.
	if err := clock.BlockUntilContext(ctx, 2); err != nil {
		t.Fatal(err)
	}
	clock.Advance(4 * time.Hour)
	waitFor(t, "the scheduled run to be refused", func() bool {
		return strings.Contains(jobStatus(a, job).LastError, `scheduled syncs of "Site" are paused`)
	})
	if rs := runs(); len(rs) != 1 {
		t.Fatalf("the crashed sync ran again by itself: %+v", rs)
	}

	// The CLI shows the pause; Sync now succeeds and says the schedule
	// resumes.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	r := run(t, dir, map[string]string{"PLINTH_PASSWORD": "master password"}, "", "connection", "ls", "/Site/Survey")
	if r.code != 0 || !strings.Contains(r.out, `Scheduled syncs are paused: Plinth stopped during the sync of 2026-12-01 14:00. Run 'plinth connection sync /Site/Survey "Site"' to resume them.`) {
		t.Fatalf("connection ls: %+v", r)
	}
	r = run(t, dir, map[string]string{"PLINTH_PASSWORD": "master password"}, "", "connection", "sync", "/Site/Survey", "Site")
	if r.code != 0 || !strings.Contains(r.out, "Result: Success.\nScheduled syncs of \"Site\" resume.\n") {
		t.Fatalf("connection sync: %+v", r)
	}
	// 23:00: the window starts again and the scheduled runs go on.
	a, err = Open(ctx, Config{DataDir: dir, Clock: clockwork.NewFakeClockAt(start.Add(14 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	if cur, _ := a.IModels.Connection(ctx, master, c.ID); cur.Paused != nil {
		t.Fatalf("still paused: %+v", cur.Paused)
	}
	if err := a.ScheduleConnections(); err != nil {
		t.Fatal(err)
	}
	a.Scheduler.Start()
	// (The CLI ran on the real clock: find the run by its trigger.)
	scheduledOK := func() bool {
		for _, r := range runs() {
			if r.Trigger == imodel.TriggerScheduled && r.State == "finished" && r.Result == imodel.ResultSuccess {
				return true
			}
		}
		return false
	}
	waitFor(t, "a scheduled run after Sync now", scheduledOK)
	if rs := runs(); len(rs) != 3 {
		t.Fatalf("runs after Sync now: %+v", rs)
	}
}
