package schedule

import (
	"context"
	"errors"
	"testing"
	"time"
)

// States reads every job's stored state, titles included, in a process
// that runs no scheduler: a second Scheduler on the same store that adds
// no job, as a one-shot command has.
func TestStatesWithoutRunningJobs(t *testing.T) {
	s, clock, st := newScheduler(t, monday9)
	err := s.Add(Job{Name: "maint", Title: "Prune old versions", Spec: DailyAt(3, 30),
		Run: func(context.Context) error { return errors.New("the pack is damaged") }})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.RunNow(context.Background(), "maint")
	clock.Advance(time.Hour)
	// A new title replaces the stored one; the rest stays.
	if err := s.Add(Job{Name: "maint", Title: "Prune old versions and compact", Spec: DailyAt(3, 30),
		Run: func(context.Context) error { return nil }}); err != nil {
		t.Fatal(err)
	}

	other, err := New(st, clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Stop()
	got, err := other.States()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "maint" || got[0].Title != "Prune old versions and compact" ||
		got[0].LastError != "the pack is damaged" || !got[0].Registered.Equal(monday9.UTC()) || got[0].Runs != 1 {
		t.Fatalf("states = %+v", got)
	}
}
