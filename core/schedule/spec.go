package schedule

import (
	"fmt"
	"time"

	"github.com/go-co-op/gocron/v2"

	"codeberg.org/plinth/plinth/core/text"
)

// SpecKind says how a Spec repeats.
type SpecKind string

// The ways a job can repeat.
const (
	Manual SpecKind = "manual" // only when somebody asks
	Every  SpecKind = "every"  // a fixed interval
	Daily  SpecKind = "daily"  // each day at HH:MM local time
	Weekly SpecKind = "weekly" // one day a week at HH:MM local time
)

// Spec is when a job runs.
type Spec struct {
	Kind     SpecKind      `json:"kind"`
	Interval time.Duration `json:"interval,omitempty"`
	Hour     int           `json:"hour,omitempty"`
	Minute   int           `json:"minute,omitempty"`
	Weekday  time.Weekday  `json:"weekday,omitempty"`
}

// EveryInterval repeats a job at a fixed interval.
func EveryInterval(d time.Duration) Spec { return Spec{Kind: Every, Interval: d} }

// DailyAt runs a job each day at hour:minute local time.
func DailyAt(hour, minute int) Spec { return Spec{Kind: Daily, Hour: hour, Minute: minute} }

// WeeklyAt runs a job once a week on day at hour:minute local time.
func WeeklyAt(day time.Weekday, hour, minute int) Spec {
	return Spec{Kind: Weekly, Weekday: day, Hour: hour, Minute: minute}
}

// Validate says what is wrong with a spec, in a sentence, or returns nil.
func (s Spec) Validate() error {
	switch s.Kind {
	case Manual:
		return nil
	case Every:
		if s.Interval < time.Minute {
			return fmt.Errorf("an interval must be at least one minute, not %s", s.Interval)
		}
		return nil
	case Daily, Weekly:
		if s.Hour < 0 || s.Hour > 23 || s.Minute < 0 || s.Minute > 59 {
			return fmt.Errorf("%02d:%02d is not a time of day", s.Hour, s.Minute)
		}
		if s.Kind == Weekly && (s.Weekday < time.Sunday || s.Weekday > time.Saturday) {
			return fmt.Errorf("%d is not a day of the week", s.Weekday)
		}
		return nil
	}
	return fmt.Errorf("unknown schedule kind %q", s.Kind)
}

// String describes the spec the way the window shows it.
func (s Spec) String() string {
	switch s.Kind {
	case Manual:
		return "Manually"
	case Every:
		return "Every " + humanInterval(s.Interval)
	case Daily:
		return fmt.Sprintf("Daily at %02d:%02d", s.Hour, s.Minute)
	case Weekly:
		return fmt.Sprintf("Weekly on %s at %02d:%02d", s.Weekday, s.Hour, s.Minute)
	}
	return string(s.Kind)
}

func humanInterval(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0 && d >= 24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return d.String()
}

// plural is "minute" for one ("every minute"), else "15 minutes".
func plural(n int, unit string) string {
	if n == 1 {
		return unit
	}
	return text.Count(n, unit)
}

// definition turns the spec into gocron's terms; Manual has none.
func (s Spec) definition() gocron.JobDefinition {
	at := gocron.NewAtTimes(gocron.NewAtTime(uint(s.Hour), uint(s.Minute), 0))
	switch s.Kind {
	case Every:
		return gocron.DurationJob(s.Interval)
	case Daily:
		return gocron.DailyJob(1, at)
	case Weekly:
		return gocron.WeeklyJob(1, gocron.NewWeekdays(s.Weekday), at)
	}
	return nil
}

// Overdue reports whether a job with this spec, last successful at last
// (zero if never) and known to Plinth since registered, missed a run that
// should have happened by now. gocron does not run missed jobs after
// downtime; the scheduler uses this to catch up once on start.
func (s Spec) Overdue(last, registered, now time.Time) bool {
	since := last
	if since.IsZero() {
		since = registered
	}
	switch s.Kind {
	case Every:
		return !since.Add(s.Interval).After(now)
	case Daily, Weekly:
		prev := s.previous(now)
		return since.Before(prev)
	}
	return false
}

// previous is the latest scheduled time at or before now, in now's location.
func (s Spec) previous(now time.Time) time.Time {
	t := time.Date(now.Year(), now.Month(), now.Day(), s.Hour, s.Minute, 0, 0, now.Location())
	if s.Kind == Daily {
		if t.After(now) {
			t = t.AddDate(0, 0, -1)
		}
		return t
	}
	back := (int(now.Weekday()) - int(s.Weekday) + 7) % 7
	t = t.AddDate(0, 0, -back)
	if t.After(now) {
		t = t.AddDate(0, 0, -7)
	}
	return t
}
