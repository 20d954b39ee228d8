package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/imodel"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/schedule"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A connection scheduled every 4 hours runs on the shared scheduler as its
// owner while the owner's token is valid; from day 30 scheduled runs fail
// with an authentication error and the owner is told, once it is close
// and once it has expired. Rescheduling to Manually takes the job off.
func TestScheduledConnectionAndTokenExpiry(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.Local)
	clock := clockwork.NewFakeClockAt(start)
	a, err := Open(ctx, Config{DataDir: t.TempDir(), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	master, err := a.Accounts.Bootstrap(ctx, "master password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Files.Create(ctx, master, files.RootID, "Tower", files.KindProject); err != nil {
		t.Fatal(err)
	}
	m, err := a.IModels.Create(ctx, master, "/Tower", "Coordination")
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "ifc", "samples", "Sample_entities.ifc"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "site.ifc"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := a.IModels.AddConnection(ctx, master, m.ID, imodel.NewConnection{Name: "Site",
		Source: imodel.Source{Kind: imodel.SourceDisk, Path: src}, Mapped: []imodel.Composite{{Main: "site.ifc"}},
		Schedule: schedule.EveryInterval(4 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Token.Expires.Equal(start.Add(30 * 24 * time.Hour)) {
		t.Fatalf("token expires %v, want 30 days after %v", c.Token.Expires, start)
	}
	// What the window does at start: every connection on the scheduler.
	if err := a.ScheduleConnections(); err != nil {
		t.Fatal(err)
	}
	a.IModels.Changed = func() { _ = a.ScheduleConnections() }
	a.Scheduler.Start()
	job := "imodel.sync." + c.ID
	runs := func() []imodel.Run {
		r, err := a.IModels.Runs(ctx, master, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// advanceUntil moves the clock by step, after both jobs (the sync and
	// the daily token check) wait for their next time, until cond holds.
	// A tick can fall while the scheduler is still closing the previous
	// run (singleton mode skips it), so it may take one more step.
	advanceUntil := func(step time.Duration, what string, cond func() bool) {
		t.Helper()
		for range 10 {
			if err := clock.BlockUntilContext(ctx, 2); err != nil {
				t.Fatal(err)
			}
			clock.Advance(step)
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) {
				if cond() && !jobStatus(a, job).Running {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		t.Fatalf("no %s after 10 steps of %v", what, step)
	}
	ranAfter := func(after time.Time, ok func(imodel.Run) bool) func() bool {
		return func() bool {
			for _, r := range runs() {
				if r.Started.After(after) && r.State == "finished" && ok(r) {
					return true
				}
			}
			return false
		}
	}
	anyRun := func(imodel.Run) bool { return true }
	refused := func(r imodel.Run) bool {
		return len(r.Errors) > 0 && r.Errors[0].Category == imodel.CategoryAuthentication
	}

	advanceUntil(4*time.Hour, "first scheduled run", ranAfter(start, anyRun))
	r := runs()[0]
	if r.Trigger != imodel.TriggerScheduled || r.By != "masteradmin" || r.Result != imodel.ResultSuccess {
		t.Fatalf("scheduled run = %+v", r)
	}
	if st, _ := a.IModels.Stats(m.ID); st.Elements != 10 {
		t.Fatalf("after the scheduled run the iModel has %d elements", st.Elements)
	}

	// Day 29: still valid; the daily check warns the owner it ends soon.
	day29 := start.Add(29 * 24 * time.Hour)
	advanceUntil(day29.Sub(clock.Now()), "run on day 29", ranAfter(day29.Add(-time.Hour), anyRun))
	waitFor(t, "the warning that the token expires soon", func() bool { return hasKind(t, a, master, notify.TokenExpiring) })
	for _, r := range runs() {
		if r.Result != imodel.ResultSuccess {
			t.Fatalf("a run before day 30 failed: %+v", r)
		}
	}

	// Day 30 and after: authentication error, the owner told.
	advanceUntil(24*time.Hour, "run refused for the expired token", ranAfter(c.Token.Expires.Add(-time.Second), refused))
	waitFor(t, "the expired-token notification", func() bool { return hasKind(t, a, master, notify.TokenExpired) })
	for _, r := range runs() {
		expired := !r.Started.Before(c.Token.Expires) // day 30 itself included
		if expired && !refused(r) {
			t.Fatalf("a run after expiry = %+v", r)
		}
		if !expired && refused(r) {
			t.Fatalf("a run before expiry was refused: %+v", r)
		}
	}
	waitFor(t, "the scheduler to show the failure", func() bool { return jobStatus(a, job).Failures > 0 })
	if st := jobStatus(a, job); !strings.Contains(st.LastError, "token has expired") {
		t.Fatalf("the scheduler shows %q for the expired token", st.LastError)
	}

	// Manually: the job leaves the scheduler.
	if _, err := a.IModels.SetSchedule(ctx, master, c.ID, schedule.Spec{Kind: schedule.Manual}); err != nil {
		t.Fatal(err)
	}
	if st := jobStatus(a, job); st.Spec != "Manually" {
		t.Fatalf("after Manually the job is %+v", st)
	}
}

func hasKind(t *testing.T, a *App, actor account.Actor, k notify.Kind) bool {
	t.Helper()
	l, err := a.Notify.List(context.Background(), actor, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l {
		if e.Kind == k {
			return true
		}
	}
	return false
}

func jobStatus(a *App, name string) schedule.Status {
	for _, j := range a.Scheduler.Jobs() {
		if j.Name == name {
			return j
		}
	}
	return schedule.Status{}
}
