package health

import (
	"context"
	"strings"
	"time"

	"codeberg.org/plinth/plinth/core/schedule"
)

// grace is how late a scheduled run may be before it counts as missed:
// a job due at 02:00 is not overdue at 02:00:01.
const grace = time.Hour

// jobs: scheduled jobs that missed a run, or whose last run failed, from
// the stored job history (a one-shot command runs no scheduler, and a
// running one reads the same history), and the ones running now.
func (c *check) jobs(context.Context) {
	running := map[string]bool{}
	for _, j := range c.in.Jobs {
		if !j.Running {
			continue
		}
		running[j.Name] = true
		at := j.LastStart
		if at.IsZero() {
			at = c.now
		}
		c.running = append(c.running, Event{At: at, Kind: "job", OK: true,
			Sentence: j.Title + " is running (since " + when(at, c.now) + ")."})
	}
	list, err := c.s.jobs.States()
	if err != nil {
		c.unreadable("jobs.unreadable", "the scheduled jobs' history", PageBackups, err)
		return
	}
	states := map[string]schedule.State{}
	for _, st := range list {
		states[st.Name] = st
	}

	for _, d := range c.due {
		st, known := states[d.name]
		since := st.Registered
		if !known || since.IsZero() {
			since = d.since
		}
		if running[d.name] || since.IsZero() || !d.spec.Overdue(st.LastStart, since, c.now.Add(-grace)) {
			continue
		}
		last := "has never run"
		if !st.LastStart.IsZero() {
			last = "has not run since " + when(st.LastStart, c.now)
		}
		c.add(Reason{Code: "job.overdue", State: Attention, Page: d.page, Action: d.action,
			Sentence: d.title + " " + last + "; it is set to run " + often(d.spec) + ". Scheduled work runs only while Plinth runs."})
		c.covered[d.name] = true
	}

	for _, st := range list {
		// Connections' runs are told from their own history (paused,
		// failed, token), which also outlives a deleted connection's job.
		if st.LastError == "" || running[st.Name] || c.covered[st.Name] || strings.HasPrefix(st.Name, "imodel.sync.") {
			continue
		}
		at := st.LastEnd
		if at.Before(st.LastStart) {
			at = st.LastStart
		}
		if c.doneSince(st.Name, at) {
			continue
		}
		title := st.Title
		if title == "" {
			title = st.Name
		}
		page := jobPage(st.Name)
		c.add(Reason{Code: "job.failing", State: Attention, Page: page, Action: openLabel(page),
			Sentence: "Scheduled job " + quoted(title) + " failed " + when(at, c.now) + ": " + clip(st.LastError) + "."})
	}
}

// jobPage is the page that shows a job's work.
func jobPage(name string) string {
	switch {
	case strings.HasPrefix(name, "backup."):
		return PageBackups
	case strings.HasPrefix(name, "imodel."):
		return PageIModels
	case strings.HasPrefix(name, "filesync."):
		return PageFileServer
	}
	return PageServers
}

// doneSince says whether the work of a backup job succeeded after its
// failed run at t (Back up now, Verify): the job's failure is old news.
func (c *check) doneSince(job string, t time.Time) bool {
	for _, r := range c.records {
		switch {
		case job == "backup.level2" && r.Level == 2 && r.OK && attempt(r) && r.Started.After(t),
			job == "backup.level3" && r.Level == 3 && r.OK && r.Started.After(t),
			job == "backup.verify" && r.VerifyOK && r.Verified.After(t):
			return true
		}
	}
	return false
}
