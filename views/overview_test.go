package views

import (
	"context"
	"errors"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/health"
	"codeberg.org/plinth/plinth/core/notify"
)

// The Overview is the first page after login: the state, each reason in
// one sentence with the button that opens the page that fixes it, and
// the last events; a report that cannot be made is "At risk", never safe.
func TestOverviewAnswersIsMyDataSafe(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	report := health.Report{State: health.AtRisk, Summary: "Last full backup today at 02:00; the Manager and the File Server disagree.",
		Reasons: []health.Reason{
			{Code: "stores.disagree", State: health.AtRisk, Page: "servers/fileserver", Action: "Synchronize files…",
				Sentence: "The Manager and the File Server disagree: the Manager lists 7 files, the File Server holds 6 files."},
			{Code: "smtp.untested", State: health.Attention, Page: "servers/email", Action: "Set up e-mail…",
				Sentence: "E-mail notifications are on for anna, but no test e-mail has gone out yet."},
		},
		Events:  []health.Event{{At: time.Now(), Kind: "backup", Sentence: "Full backup 20261203-020000-abcdef (full, 4.6 KiB) was taken.", OK: true}},
		Checked: time.Now()}
	var fail error
	svc := h.services()
	svc.Health = func(context.Context) (health.Report, error) { return report, fail }
	h.ui = New(h.ui.app, h.win, svc)
	h.ui.queued = &callbacks{}
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	if h.ui.Current() != PageOverview {
		t.Fatalf("first page after login = %q, want the Overview", h.ui.Current())
	}
	h.mustSee("At risk", report.Summary, report.Reasons[0].Sentence, report.Reasons[1].Sentence, report.Events[0].Sentence)
	p := h.ui.built[PageOverview].(*overviewPage)
	// Each reason's button opens the page that fixes it.
	var sync *widget.Button
	for _, o := range test.LaidOutObjects(p.reasons) {
		if b, ok := o.(*widget.Button); ok && b.Text == "Synchronize files…" {
			sync = b
		}
	}
	if sync == nil {
		t.Fatal("no Synchronize files… button beside the disagreement")
	}
	test.Tap(sync)
	h.ui.Wait()
	if h.ui.Current() != PageServers {
		t.Fatalf("Synchronize files… opened %q", h.ui.Current())
	}
	// Safe, in green words.
	report = health.Report{State: health.Safe, Summary: "Last full backup today at 02:00, verified Sunday; the stores agree.", Checked: time.Now()}
	h.ui.Show(PageOverview)
	h.ui.Wait()
	h.mustSee("Safe", report.Summary, "Nothing has happened yet.")
	h.mustNotSee("Synchronize files…")
	// A report that cannot be made is at risk, with the reason.
	fail = errors.New("the backup history cannot be read")
	p.shown()
	h.ui.Wait()
	h.mustSee("At risk", "The backup history cannot be read")
}

// Something happening (here: a notification from a backup run elsewhere)
// makes the Overview check again at once.
func TestOverviewFollowsEvents(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	calls := 0
	svc := h.services()
	svc.Health = func(context.Context) (health.Report, error) {
		calls++
		return health.Report{State: health.Safe, Checked: time.Now()}, nil
	}
	h.ui = New(h.ui.app, h.win, svc)
	h.ui.queued = &callbacks{}
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	before := calls
	_ = h.notify.Publish(context.Background(), notify.Event{Kind: notify.BackupSucceeded, Severity: notify.Info, Text: "Full data backup finished.", Target: notify.TargetBackups})
	h.ui.Wait()
	if calls <= before {
		t.Fatalf("the Overview did not check again after a notification (%d calls before, %d after)", before, calls)
	}
}
