package schedule

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/storage"
)

// A catch-up run during which Plinth stopped (LastStart after LastEnd: the
// process died; the job may be what killed it) is not caught up again at
// the next start, or it could stop Plinth at every start. A scheduled run
// that was cut off is caught up once, as before; and a catch-up records
// that it is one before the job's work starts.
func TestInterruptedCatchUpIsNotRepeated(t *testing.T) {
	s, _, st := newScheduler(t, monday9)
	saturday := time.Date(2026, 11, 21, 2, 0, 0, 0, time.Local).UTC()
	cutOff := func(name string, catchUp bool) {
		err := st.Update(func(tx *storage.Tx) error {
			return states.Put(tx, name, State{Name: name, Registered: monday9.AddDate(0, -1, 0).UTC(),
				LastSuccess: saturday, LastEnd: saturday.Add(time.Hour),
				LastStart: monday9.Add(-time.Hour).UTC(), CatchUp: catchUp})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	cutOff("crashed", true)
	cutOff("killed", false)
	var crashed, killed atomic.Int32
	var wasCatchUp atomic.Bool
	must(t, s.Add(Job{Name: "crashed", Title: "Crashed at the last start", Spec: DailyAt(2, 0), CatchUp: true,
		Run: func(context.Context) error { crashed.Add(1); return nil }}))
	must(t, s.Add(Job{Name: "killed", Title: "Killed on schedule", Spec: DailyAt(2, 0), CatchUp: true,
		Run: func(context.Context) error {
			cur, err := s.state("killed")
			wasCatchUp.Store(err == nil && cur.CatchUp)
			killed.Add(1)
			return nil
		}}))
	s.Start()
	waitFor(t, "the catch-up of the job cut off on schedule", func() bool { return status(s, "killed").Runs == 1 })
	time.Sleep(100 * time.Millisecond)
	if crashed.Load() != 0 || killed.Load() != 1 {
		t.Fatalf("caught up the crashed catch-up %d times and the killed run %d times; want 0 and 1", crashed.Load(), killed.Load())
	}
	if !wasCatchUp.Load() {
		t.Fatal("the catch-up was not recorded as one before it ran")
	}
	if got := status(s, "crashed").LastError; !strings.Contains(got, "Plinth stopped during this job's catch-up at the last start") {
		t.Fatalf("the crashed job shows %q", got)
	}
	if st := status(s, "killed"); st.CatchUp != true || st.LastEnd.Before(st.LastStart) {
		t.Fatalf("after its catch-up: %+v", st.State)
	}
}
