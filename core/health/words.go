package health

import (
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"codeberg.org/plinth/plinth/core/schedule"
	"codeberg.org/plinth/plinth/core/text"
)

// when says a moment the way a person does, relative to now and in now's
// time zone: "today at 02:00", "yesterday at 14:10", "Sunday at 04:00"
// (within the week around now), "3 May at 02:00", "3 May 2025".
func when(t, now time.Time) string {
	t = t.In(now.Location())
	days := dayNumber(now) - dayNumber(t)
	clock := t.Format("15:04")
	switch {
	case days == 0:
		return "today at " + clock
	case days == 1:
		return "yesterday at " + clock
	case days == -1:
		return "tomorrow at " + clock
	case days > 1 && days < 7, days < -1 && days > -7:
		return t.Format("Monday") + " at " + clock
	case t.Year() == now.Year():
		return t.Format("2 January") + " at " + clock
	}
	return t.Format("2 January 2006")
}

// dayNumber counts calendar days, so that two moments compare by date
// whatever the hours in between (a day with a clock change included).
func dayNumber(t time.Time) int {
	y, m, d := t.Date()
	return int(time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Unix() / 86400)
}

// age says a duration the way a person does: "40 minutes", "5 hours",
// "3 days".
func age(d time.Duration) string {
	switch {
	case d < time.Hour:
		return text.Count(max(1, int(d/time.Minute)), "minute")
	case d < 48*time.Hour:
		return text.Count(int(d/time.Hour), "hour")
	}
	return text.Count(int(d/(24*time.Hour)), "day")
}

// size says a size: "1.2 GiB".
func size(n uint64) string { return humanize.IBytes(n) }

// phrase is an error as part of a sentence: no trailing period.
func phrase(err error) string { return strings.TrimRight(err.Error(), ". ") }

// sentence is an error message as a sentence of its own.
func sentence(msg string) string { return text.Sentence(strings.TrimRight(msg, ". ")) + "." }

// often says how often a schedule runs, inside a sentence: "daily at
// 02:00", "every 4 hours", "only when someone starts it".
func often(sp schedule.Spec) string {
	if sp.Kind == schedule.Manual || sp.Kind == "" {
		return "only when someone starts it"
	}
	s := sp.String()
	return strings.ToLower(s[:1]) + s[1:]
}

// period is the longest wait between two runs of a schedule; 0 for one
// that runs only by hand.
func period(sp schedule.Spec) time.Duration {
	switch sp.Kind {
	case schedule.Every:
		return sp.Interval
	case schedule.Daily:
		return 24 * time.Hour
	case schedule.Weekly:
		return 7 * 24 * time.Hour
	}
	return 0
}

// openLabel is the button that opens a page.
func openLabel(page string) string {
	switch page {
	case PageBackups:
		return "Open Backups"
	case PageFileServer:
		return "Open File Server settings"
	case PageEmail:
		return "Open e-mail settings"
	case PageIModels:
		return "Open iModels"
	}
	return "Open Servers"
}

// names lists names for a sentence: "anna", "anna and bob", "anna, bob
// and 3 others".
func names(ns []string) string {
	switch len(ns) {
	case 0:
		return ""
	case 1:
		return ns[0]
	case 2:
		return ns[0] + " and " + ns[1]
	case 3:
		return ns[0] + ", " + ns[1] + " and " + ns[2]
	}
	return ns[0] + ", " + ns[1] + " and " + text.Count(len(ns)-2, "other")
}

// quoted is a name inside a sentence: “Arch”.
func quoted(name string) string { return "“" + text.Safe(name) + "”" }
