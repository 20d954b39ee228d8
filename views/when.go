package views

import (
	"math"
	"time"
)

// localTime is a moment as a person says it, in local time to the minute:
// "today at 14:03", "yesterday at 09:12", "Monday at 16:40" within the last
// week, "25 November at 10:00" this year, "25 November 2025 at 10:00"
// before. Pages use it wherever they show when something happened.
func localTime(t time.Time) string { return localTimeFrom(t, time.Now()) }

// localTimeFrom is localTime as seen at now.
func localTimeFrom(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	t, now = t.Local(), now.Local()
	at := " at " + t.Format("15:04")
	day := func(x time.Time) time.Time { y, m, d := x.Date(); return time.Date(y, m, d, 0, 0, 0, 0, time.Local) }
	switch days := int(math.Round(day(now).Sub(day(t)).Hours() / 24)); {
	case days == 0:
		return "today" + at
	case days == 1:
		return "yesterday" + at
	case days > 1 && days < 7:
		return t.Format("Monday") + at
	case t.Year() == now.Year():
		return t.Format("2 January") + at
	}
	return t.Format("2 January 2006") + at
}
