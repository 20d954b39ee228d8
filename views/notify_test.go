package views

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/notify/notifytest"
)

// E-mail is set up on the Servers page against a real SMTP server; until
// the test e-mail went out, "Receive in email" is disabled and says why.
func TestEmailSetupAndReceiveInEmail(t *testing.T) {
	h := newHarness(t)
	master := h.bootstrap()
	ctx := context.Background()
	_ = h.acc.SetEmail(ctx, master, account.MasterAdmin, "master@office.test")
	cert, _ := notifytest.SelfSigned(t)
	srv := notifytest.Start(t, "", "none", cert, nil)
	h.start(StartOptions{User: "masteradmin", Password: masterPw, Page: PageNotifications})
	np := h.ui.built[PageNotifications].(*notificationsPage)

	np.showSettings()
	h.ui.Wait()
	row := np.prefs.rows[notify.BackupFailed]
	if !row.email.Disabled() || !strings.Contains(np.prefs.reason.Text, "Receive in email is off: no SMTP server is set up") {
		t.Fatalf("before SMTP: email disabled=%v, reason %q", row.email.Disabled(), np.prefs.reason.Text)
	}
	if ch := np.prefs.rows[notify.ChannelFailed]; !ch.desktop.Disabled() {
		t.Error("in-app-only kinds offer the desktop")
	}
	np.prefs.d.Hide()

	// Servers › Email: fill in, save, send the test.
	h.ui.ShowTarget(notify.TargetEmailSettings)
	h.ui.Wait()
	sp := h.ui.built[PageServers].(*serversPage)
	if sp.tabs.SelectedIndex() != 1 {
		t.Fatal("the e-mail target did not open the Email tab")
	}
	e := sp.email
	h.mustSee("E-mail is off: no SMTP server is set up")
	e.host.SetText("127.0.0.1")
	e.port.SetText(fmt.Sprint(srv.Port))
	e.security.SetSelected("None")
	e.from.SetText("plinth@office.test")
	test.Tap(e.save)
	h.ui.Wait()
	h.mustSee("E-mail is off: no test e-mail has succeeded with the current SMTP settings")
	if e.testTo.Text != "master@office.test" {
		t.Fatalf("test address prefilled with %q", e.testTo.Text)
	}
	test.Tap(e.test)
	h.ui.Wait()
	if got := srv.Messages(); len(got) != 1 || got[0].To[0] != "master@office.test" {
		t.Fatalf("server received %+v", got)
	}
	h.mustSee("E-mail works: the last test e-mail went out at")
	if b := h.ui.Banner(); b.State() != BannerShowDone {
		t.Fatalf("banner after the test: %q", b.Text())
	}

	// Now the option is there, and what the user chooses sticks.
	h.ui.Show(PageNotifications)
	np.showSettings()
	h.ui.Wait()
	row = np.prefs.rows[notify.BackupFailed]
	if row.email.Disabled() || !row.email.Checked {
		t.Fatal("after a successful test, Receive in email is not offered")
	}
	test.Tap(row.desktop) // switch the desktop off
	h.ui.Wait()
	prefs, _ := h.notify.Preferences(ctx, master, account.MasterAdmin)
	for _, p := range prefs {
		if p.Kind == notify.BackupFailed && (p.Desktop || !p.Email || !p.InApp) {
			t.Fatalf("stored setting = %+v", p.Channels)
		}
	}
}

func TestDeleteNotification(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	_ = h.notify.Publish(context.Background(), notify.Event{Kind: notify.BackupFailed, Severity: notify.Error, Text: "The backup failed.", Target: notify.TargetBackups})
	h.start(StartOptions{User: "masteradmin", Password: masterPw, Page: PageNotifications})
	np := h.ui.built[PageNotifications].(*notificationsPage)
	h.mustSee("1 notification, 1 new (in bold")
	np.delete(np.entries[0].ID)
	h.ui.Wait()
	h.mustSee("0 notifications, 0 new.")
	if h.ui.bell.Text != "No new notifications" {
		t.Fatalf("bell after delete = %q", h.ui.bell.Text)
	}
}

// Seeing the list is reading it: the bell stops counting what the page
// showed, which stays bold until the page is shown again.
func TestViewingNotificationsMarksThemRead(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	for _, text := range []string{"The backup failed.", "The disk is nearly full."} {
		_ = h.notify.Publish(context.Background(), notify.Event{Kind: notify.BackupFailed, Severity: notify.Error, Text: text, Target: notify.TargetBackups})
	}
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	if h.ui.bell.Text != "2 new notifications" {
		t.Fatalf("bell before = %q", h.ui.bell.Text)
	}
	h.ui.Show(PageNotifications)
	h.ui.Wait()
	h.mustSee("2 notifications, 2 new (in bold")
	if h.ui.bell.Text != "No new notifications" {
		t.Fatalf("bell after viewing the list = %q", h.ui.bell.Text)
	}
	np := h.ui.built[PageNotifications].(*notificationsPage)
	bold := 0
	for _, o := range np.rows.Objects {
		if b, ok := o.(*fyne.Container); ok {
			for _, c := range b.Objects {
				if ta, ok := c.(*tapArea); ok && ta.content.(*widget.Label).TextStyle.Bold {
					bold++
				}
			}
		}
	}
	if bold != 2 {
		t.Fatalf("%d entries bold on this visit, want the 2 new ones", bold)
	}
	h.ui.Show(PageProjects)
	h.ui.Show(PageNotifications)
	h.ui.Wait()
	h.mustSee("2 notifications, 0 new.")
}
