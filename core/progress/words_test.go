package progress

import (
	"testing"
	"time"
)

func TestAmountsAndPace(t *testing.T) {
	for _, c := range []struct {
		name string
		r    Report
		rate float64
		want string
	}{
		{"bytes, no rate yet", Report{Done: 163577856, Total: 300000000, Bytes: true}, 0, "156 MiB of 286 MiB"},
		{"bytes with rate and time left", Report{Done: 163577856, Total: 300000000, Bytes: true}, 45e6, "156 MiB of 286 MiB, 45 MB/s, about 4 s left"},
		{"bytes, total unknown", Report{Done: 5 << 20, Bytes: true}, 2e6, "5.0 MiB, 2.0 MB/s"},
		{"bytes, done", Report{Done: 300000000, Total: 300000000, Bytes: true}, 45e6, "286 MiB of 286 MiB, 45 MB/s"},
		{"bytes, slow, minutes left", Report{Done: 1 << 30, Total: 4 << 30, Bytes: true}, 10e6, "1.0 GiB of 4.0 GiB, 10 MB/s, about 5 min left"},
		{"bytes, hours left", Report{Done: 0, Total: 100e9, Bytes: true}, 10e6, "0 B of 93 GiB, 10 MB/s, about 2 h 50 min left"},
		{"bytes, days left: no estimate", Report{Done: 1, Total: 10e12, Bytes: true}, 1e3, "1 B of 9.1 TiB, 1.0 kB/s"},
		{"files", Report{Done: 120, Total: 300, Unit: "file"}, 0, "120 of 300 files"},
		{"files with time left", Report{Done: 120, Total: 300, Unit: "file"}, 60, "120 of 300 files, about 3 s left"},
		{"one entry", Report{Done: 0, Total: 1, Unit: "entry"}, 0, "0 of 1 entry"},
		{"entries", Report{Done: 1200, Total: 30000, Unit: "entry"}, 0, "1,200 of 30,000 entries"},
		{"files, total unknown", Report{Done: 1, Unit: "file"}, 5, "1 file"},
		{"bare numbers", Report{Done: 12345, Total: 100000}, 0, "12,345 of 100,000"},
		{"bare numbers, total unknown", Report{Done: 7}, 0, "7"},
		{"nonsense rate", Report{Done: 1, Total: 2}, -3, "1 of 2"},
	} {
		if got := Describe(c.r, c.rate); got != c.want {
			t.Errorf("%s: Describe(%+v, %g) = %q, want %q", c.name, c.r, c.rate, got, c.want)
		}
	}
}

func TestLeft(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "about 1 s left"},
		{300 * time.Millisecond, "about 1 s left"},
		{2100 * time.Millisecond, "about 3 s left"},
		{59 * time.Second, "about 59 s left"},
		{90 * time.Second, "about 2 min left"},
		{44*time.Minute + 10*time.Second, "about 44 min left"},
		{time.Hour + 2*time.Minute, "about 1 h left"},
		{2*time.Hour + 48*time.Minute, "about 2 h 50 min left"},
		{97 * time.Hour, ""},
		{-time.Second, ""},
	} {
		if got := Left(c.d); got != c.want {
			t.Errorf("Left(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestMeter(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	mb := func(n int64) Report { return Report{Done: n << 20, Total: 100 << 20, Bytes: true} }

	type step struct {
		ms   int
		r    Report
		want string // what Describe shows with the meter's rate
	}
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"no estimate in the first seconds", []step{
			{0, mb(0), "0 B of 100 MiB"},
			{500, mb(5), "5.0 MiB of 100 MiB"},
			{1000, mb(10), "10 MiB of 100 MiB"},
			{2900, mb(29), "29 MiB of 100 MiB"},
		}},
		{"an estimate once a few seconds of data exist", []step{
			{0, mb(0), "0 B of 100 MiB"},
			{1000, mb(10), "10 MiB of 100 MiB"},
			{2000, mb(20), "20 MiB of 100 MiB"},
			{3000, mb(30), "30 MiB of 100 MiB, 10 MB/s, about 7 s left"},
			{4000, mb(40), "40 MiB of 100 MiB, 10 MB/s, about 6 s left"},
		}},
		{"a burst moves the estimate only a little", []step{
			{0, mb(0), "0 B of 100 MiB"},
			{1000, mb(10), "10 MiB of 100 MiB"},
			{2000, mb(20), "20 MiB of 100 MiB"},
			{3000, mb(30), "30 MiB of 100 MiB, 10 MB/s, about 7 s left"},
			{3200, mb(40), "40 MiB of 100 MiB, 12 MB/s, about 6 s left"}, // 50 MiB/s for 0.2 s,
		}},
		{"reports too close together wait for a later one", []step{
			{0, mb(0), "0 B of 100 MiB"},
			{3000, mb(30), "30 MiB of 100 MiB, 10 MB/s, about 7 s left"},
			{3050, mb(90), "90 MiB of 100 MiB, 10 MB/s, about 1 s left"},
		}},
		{"a new total starts again", []step{
			{0, mb(0), "0 B of 100 MiB"},
			{3000, mb(30), "30 MiB of 100 MiB, 10 MB/s, about 7 s left"},
			{3500, Report{Done: 1 << 20, Total: 10 << 20, Bytes: true}, "1.0 MiB of 10 MiB"},
			{5000, Report{Done: 2 << 20, Total: 10 << 20, Bytes: true}, "2.0 MiB of 10 MiB"},
		}},
		{"stalled from the start: no estimate", []step{
			{0, mb(0), "0 B of 100 MiB"},
			{4000, mb(0), "0 B of 100 MiB"},
		}},
		{"counts", []step{
			{0, Report{Done: 0, Total: 300, Unit: "file"}, "0 of 300 files"},
			{4000, Report{Done: 120, Total: 300, Unit: "file"}, "120 of 300 files, about 6 s left"},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var m Meter
			for _, s := range c.steps {
				if got := Describe(s.r, m.Add(at(s.ms), s.r)); got != s.want {
					t.Errorf("at %d ms: %q, want %q", s.ms, got, s.want)
				}
			}
		})
	}
}
