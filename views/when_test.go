package views

import (
	"testing"
	"time"
)

func TestLocalTime(t *testing.T) {
	now := time.Date(2026, 11, 25, 14, 30, 0, 0, time.Local) // a Wednesday
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 11, 25, 14, 3, 0, 0, time.Local), "today at 14:03"},
		{time.Date(2026, 11, 25, 0, 0, 0, 0, time.Local), "today at 00:00"},
		{time.Date(2026, 11, 24, 23, 59, 0, 0, time.Local), "yesterday at 23:59"},
		{time.Date(2026, 11, 23, 9, 5, 0, 0, time.Local), "Monday at 09:05"},
		{time.Date(2026, 11, 19, 9, 5, 0, 0, time.Local), "Thursday at 09:05"},
		{time.Date(2026, 11, 18, 9, 5, 0, 0, time.Local), "18 November at 09:05"},
		{time.Date(2026, 1, 2, 10, 0, 0, 0, time.Local), "2 January at 10:00"},
		{time.Date(2025, 12, 31, 10, 0, 0, 0, time.Local), "31 December 2025 at 10:00"},
		{time.Date(2026, 11, 26, 8, 0, 0, 0, time.Local), "26 November at 08:00"}, // a clock ahead
		{time.Time{}, ""},
	} {
		if got := localTimeFrom(c.t, now); got != c.want {
			t.Errorf("localTimeFrom(%v) = %q, want %q", c.t, got, c.want)
		}
	}
}
