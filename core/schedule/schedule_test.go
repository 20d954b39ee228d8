package schedule

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"codeberg.org/plinth/plinth/storage"
)

func newScheduler(t *testing.T, now time.Time) (*Scheduler, *clockwork.FakeClock, *storage.Store) {
	t.Helper()
	st, err := storage.Open(t.TempDir(), storage.Manager, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clock := clockwork.NewFakeClockAt(now)
	s, err := New(st, clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Stop()
		_ = st.Close()
	})
	return s, clock, st
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func status(s *Scheduler, name string) Status {
	for _, j := range s.Jobs() {
		if j.Name == name {
			return j
		}
	}
	return Status{}
}

var monday9 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.Local)

func TestIntervalJobRunsOnTheClock(t *testing.T) {
	s, clock, _ := newScheduler(t, monday9)
	var runs atomic.Int32
	err := s.Add(Job{Name: "gc", Title: "Reclaim space", Spec: EveryInterval(time.Hour),
		Run: func(context.Context) error { runs.Add(1); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if err := clock.BlockUntilContext(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if got := status(s, "gc").NextRun; !got.Equal(monday9.Add(time.Hour)) {
		t.Errorf("NextRun = %v, want %v", got, monday9.Add(time.Hour))
	}
	clock.Advance(time.Hour)
	waitFor(t, "first run", func() bool { return status(s, "gc").Runs == 1 })
	if runs.Load() != 1 {
		t.Fatalf("ran %d times, want 1", runs.Load())
	}
	st := status(s, "gc")
	if !st.LastSuccess.Equal(monday9.Add(time.Hour)) || st.LastError != "" || st.Spec != "Every hour" {
		t.Errorf("status after run = %+v", st)
	}
}

func TestOverdue(t *testing.T) {
	at := func(day, h, m int) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, time.Local) }
	reg := at(1, 12, 0) // registered after 02:00 on the 1st
	tests := []struct {
		name string
		spec Spec
		last time.Time
		now  time.Time
		want bool
	}{
		{"daily ran last night", DailyAt(2, 0), at(25, 2, 0), at(25, 15, 0), false},
		{"daily missed last night", DailyAt(2, 0), at(24, 2, 0), at(25, 15, 0), true},
		{"daily before today's time", DailyAt(2, 0), at(24, 2, 0), at(25, 1, 59), false},
		{"daily never ran, registered after the time", DailyAt(2, 0), time.Time{}, at(1, 15, 0), false},
		{"daily never ran, old job", DailyAt(2, 0), time.Time{}, at(3, 15, 0), true},
		{"hourly on time", EveryInterval(time.Hour), at(25, 14, 30), at(25, 15, 0), false},
		{"hourly missed", EveryInterval(time.Hour), at(25, 13, 0), at(25, 15, 0), true},
		// 2026-11-23 is a Monday.
		{"weekly ran this Monday", WeeklyAt(time.Monday, 2, 0), at(23, 2, 0), at(25, 9, 0), false},
		{"weekly missed this Monday", WeeklyAt(time.Monday, 2, 0), at(16, 2, 0), at(25, 9, 0), true},
		{"weekly on the day, before the time", WeeklyAt(time.Wednesday, 10, 0), at(18, 10, 0), at(25, 9, 0), false},
		{"manual never overdue", Spec{Kind: Manual}, time.Time{}, at(25, 9, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.spec.Overdue(tt.last, reg, tt.now); got != tt.want {
				t.Errorf("Overdue(last %v, now %v) = %v, want %v", tt.last, tt.now, got, tt.want)
			}
		})
	}
}

// A daily job that missed its run while Plinth was closed runs once on start.
func TestCatchUpAfterDowntime(t *testing.T) {
	s, _, st := newScheduler(t, monday9)
	// What an earlier session stored: registered long ago, last ran Saturday.
	err := st.Update(func(tx *storage.Tx) error {
		return states.Put(tx, "backup", State{Name: "backup",
			Registered:  monday9.AddDate(0, -1, 0).UTC(),
			LastSuccess: time.Date(2026, 11, 21, 2, 0, 0, 0, time.Local).UTC()})
	})
	if err != nil {
		t.Fatal(err)
	}
	var runs, fresh atomic.Int32
	must(t, s.Add(Job{Name: "backup", Title: "Full backup", Spec: DailyAt(2, 0), CatchUp: true,
		Run: func(context.Context) error { runs.Add(1); return nil }}))
	must(t, s.Add(Job{Name: "fresh", Title: "New job", Spec: DailyAt(2, 0), CatchUp: true,
		Run: func(context.Context) error { fresh.Add(1); return nil }}))
	s.Start()
	waitFor(t, "catch-up run", func() bool { return status(s, "backup").Runs == 1 })
	time.Sleep(50 * time.Millisecond)
	if runs.Load() != 1 || fresh.Load() != 0 {
		t.Fatalf("catch-up ran backup %d times and the new job %d times; want 1 and 0", runs.Load(), fresh.Load())
	}
}

func TestFailuresAndPanicsAreRecorded(t *testing.T) {
	s, _, _ := newScheduler(t, monday9)
	ctx := context.Background()
	must(t, s.Add(Job{Name: "bad", Title: "Bad", Spec: Spec{Kind: Manual},
		Run: func(context.Context) error { return errors.New("target folder is missing") }}))
	must(t, s.Add(Job{Name: "crash", Title: "Crash", Spec: Spec{Kind: Manual},
		Run: func(context.Context) error { panic("nil map") }}))
	s.Start()

	if err := s.RunNow(ctx, "bad"); err == nil {
		t.Fatal("RunNow of a failing job returned nil")
	}
	if st := status(s, "bad"); st.Failures != 1 || st.LastError != "target folder is missing" || !st.LastSuccess.IsZero() {
		t.Errorf("after failure: %+v", st)
	}
	err := s.RunNow(ctx, "crash")
	if err == nil || !strings.Contains(err.Error(), "crashed: nil map") {
		t.Fatalf("RunNow of a panicking job = %v", err)
	}
	if st := status(s, "crash"); st.Failures != 1 {
		t.Errorf("panic not recorded: %+v", st)
	}
	if err := s.RunNow(ctx, "nope"); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("unknown job: %v", err)
	}
}

func TestNoOverlapAndStopCancels(t *testing.T) {
	s, _, _ := newScheduler(t, monday9)
	started := make(chan struct{})
	var cancelled atomic.Bool
	must(t, s.Add(Job{Name: "slow", Title: "Slow", Spec: Spec{Kind: Manual},
		Run: func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			cancelled.Store(true)
			return ctx.Err()
		}}))
	s.Start()
	done := make(chan error)
	go func() { done <- s.RunNow(context.Background(), "slow") }()
	<-started
	if !status(s, "slow").Running {
		t.Error("a running job is not shown as running")
	}
	if err := s.RunNow(context.Background(), "slow"); !errors.Is(err, ErrBusy) {
		t.Fatalf("second RunNow while running = %v, want ErrBusy", err)
	}
	must(t, s.Stop())
	if err := <-done; !errors.Is(err, context.Canceled) || !cancelled.Load() {
		t.Fatalf("Stop did not cancel the running job: %v", err)
	}
}

func TestSpecValidateAndString(t *testing.T) {
	tests := []struct {
		spec    Spec
		str     string
		invalid bool
	}{
		{EveryInterval(4 * time.Hour), "Every 4 hours", false},
		{EveryInterval(24 * time.Hour), "Every day", false},
		{DailyAt(2, 0), "Daily at 02:00", false},
		{WeeklyAt(time.Friday, 18, 30), "Weekly on Friday at 18:30", false},
		{Spec{Kind: Manual}, "Manually", false},
		{DailyAt(24, 0), "", true},
		{EveryInterval(time.Second), "", true},
		{Spec{Kind: "yearly"}, "", true},
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		if (err != nil) != tt.invalid {
			t.Errorf("%+v: Validate = %v, want invalid=%v", tt.spec, err, tt.invalid)
		}
		if !tt.invalid && tt.spec.String() != tt.str {
			t.Errorf("%+v: String = %q, want %q", tt.spec, tt.spec.String(), tt.str)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
