package progress

import (
	"math"
	"strconv"
	"time"

	"github.com/dustin/go-humanize"

	"codeberg.org/plinth/plinth/core/text"
)

// Amounts says how far r is in the units a person reads: "156 MiB of
// 286 MiB", "120 of 300 files", "1,024 of 10,000"; without a total, what
// is done so far: "156 MiB", "120 files".
func Amounts(r Report) string {
	done, total := max(r.Done, 0), max(r.Total, 0)
	if r.Bytes {
		if total == 0 {
			return humanize.IBytes(uint64(done))
		}
		return humanize.IBytes(uint64(done)) + " of " + humanize.IBytes(uint64(total))
	}
	switch {
	case total == 0 && r.Unit == "":
		return humanize.Comma(done)
	case total == 0:
		return text.Count(int(done), r.Unit)
	case r.Unit == "":
		return humanize.Comma(done) + " of " + humanize.Comma(total)
	}
	return humanize.Comma(done) + " of " + text.Count(int(total), r.Unit)
}

// Pace says how fast work goes and how long is left, given its speed in
// units a second as a Meter measures it: "45 MB/s, about 3 s left" for
// bytes, "about 2 min left" for counts. A rate of 0 (not known yet) says
// nothing; so does work without a total, or done.
func Pace(r Report, rate float64) string {
	if rate <= 0 || math.IsNaN(rate) || math.IsInf(rate, 0) {
		return ""
	}
	var s string
	if r.Bytes {
		s = humanize.Bytes(uint64(math.Round(rate))) + "/s"
	}
	if r.Total > 0 && r.Done < r.Total {
		left := time.Duration(float64(r.Total-r.Done) / rate * float64(time.Second))
		if l := Left(left); l != "" {
			if s != "" {
				s += ", "
			}
			s += l
		}
	}
	return s
}

// Describe is Amounts followed by Pace: "156 MiB of 286 MiB, 45 MB/s,
// about 3 s left".
func Describe(r Report, rate float64) string {
	s := Amounts(r)
	if p := Pace(r, rate); p != "" {
		s += ", " + p
	}
	return s
}

// Left says roughly how long is left: "about 3 s left", "about 4 min
// left", "about 2 h 10 min left". It says nothing for more than 4 days,
// which is no estimate anyone can use.
func Left(d time.Duration) string {
	switch {
	case d < 0 || d > 96*time.Hour:
		return ""
	case d < time.Minute:
		return "about " + strconv.Itoa(max(int(math.Ceil(d.Seconds())), 1)) + " s left"
	case d < time.Hour:
		return "about " + strconv.Itoa(int(math.Round(d.Minutes()))) + " min left"
	}
	d = d.Round(10 * time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	if m == 0 {
		return "about " + strconv.Itoa(h) + " h left"
	}
	return "about " + strconv.Itoa(h) + " h " + strconv.Itoa(m) + " min left"
}

// Meter estimates how fast work goes from its reports. The rate is
// smoothed (an exponential average over about Smooth), and it is 0 until
// Warmup has passed since the work began, because the first seconds of
// work (opening files, a cold disk cache) say little about the rest. A
// report that goes backwards or changes the total starts a new
// measurement. The zero Meter is ready to use; it is not safe for
// concurrent use.
type Meter struct {
	Warmup time.Duration // 0 means 3 s
	Smooth time.Duration // 0 means 5 s

	start, last time.Time
	done, total int64
	bytes       bool
	rate        float64
	measured    bool
}

// minSample is the shortest time between two reports the Meter measures
// across; reports closer together wait for a later one.
const minSample = 200 * time.Millisecond

// Add records r as seen at now and returns the speed in units a second,
// or 0 while it is not known well enough to show.
func (m *Meter) Add(now time.Time, r Report) float64 {
	if m.start.IsZero() || r.Done < m.done || r.Total != m.total || r.Bytes != m.bytes {
		*m = Meter{Warmup: m.Warmup, Smooth: m.Smooth, start: now, last: now, done: r.Done, total: r.Total, bytes: r.Bytes}
		return 0
	}
	if dt := now.Sub(m.last); dt >= minSample {
		inst := float64(r.Done-m.done) / dt.Seconds()
		if m.measured {
			a := 1 - math.Exp(-dt.Seconds()/or(m.Smooth, 5*time.Second).Seconds())
			m.rate += a * (inst - m.rate)
		} else {
			m.rate, m.measured = inst, true
		}
		m.last, m.done = now, r.Done
	}
	return m.Rate(now)
}

// Rate is the speed in units a second as of now, or 0 while it is not
// known well enough to show.
func (m *Meter) Rate(now time.Time) float64 {
	if !m.measured || now.Sub(m.start) < or(m.Warmup, 3*time.Second) || m.rate <= 0 {
		return 0
	}
	return m.rate
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
