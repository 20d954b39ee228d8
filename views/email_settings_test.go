package views

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/notify/notifytest"
)

// deadPort is a port on 127.0.0.1 that nothing listens on: a mail server
// that is down.
func deadPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

// mutePort accepts connections on 127.0.0.1 and never answers.
func mutePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		for {
			select {
			case c := <-conns:
				_ = c.Close()
			default:
				return
			}
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// emailTab opens Servers › Email as masteradmin, with settings saved
// that point at saved (a port) and come from savedFrom.
func emailTab(t *testing.T, h *harness, saved int, savedFrom string) *emailSection {
	t.Helper()
	master := h.bootstrap()
	ctx := context.Background()
	if err := h.acc.SetEmail(ctx, master, account.MasterAdmin, "master@office.test"); err != nil {
		t.Fatal(err)
	}
	if err := h.notify.SetSMTP(ctx, master, notify.SMTP{Host: "127.0.0.1", Port: saved, Security: notify.SecurityNone, From: savedFrom}, "", false); err != nil {
		t.Fatal(err)
	}
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	h.ui.ShowTarget(notify.TargetEmailSettings)
	h.ui.Wait()
	e := h.ui.built[PageServers].(*serversPage).email
	if e.port.Text != strconv.Itoa(saved) || e.from.Text != savedFrom {
		t.Fatalf("the form shows port %q from %q, not the saved settings", e.port.Text, e.from.Text)
	}
	return e
}

// spinning reports whether an activity indicator shows in the window.
func spinning(h *harness) bool {
	_, ok := findVisible(h, func(*widget.Activity) bool { return true })
	return ok
}

// Send test e-mail sends with what the form shows, not with the saved
// settings, and leaves both as they were: the form as typed, the saved
// settings saved. Save then keeps the tested settings, and e-mail works
// without another test.
func TestTestEmailSendsWhatTheFormShows(t *testing.T) {
	h := newHarness(t)
	cert, _ := notifytest.SelfSigned(t)
	srv := notifytest.Start(t, "", "none", cert, nil)
	dead := deadPort(t)
	e := emailTab(t, h, dead, "saved@office.test")

	e.port.SetText("")
	test.Type(e.port, strconv.Itoa(srv.Port))
	e.from.SetText("")
	test.Type(e.from, "typed@office.test")
	test.Tap(e.test)
	if !spinning(h) || !e.test.Disabled() {
		t.Fatal("no activity indicator while the test e-mail is on its way")
	}
	h.mustSee(fmt.Sprintf("Sending a test e-mail to master@office.test through 127.0.0.1 on port %d…", srv.Port), "[Cancel]")
	h.ui.Wait()

	got := srv.Messages()
	if len(got) != 1 || got[0].From != "typed@office.test" || got[0].To[0] != "master@office.test" {
		t.Fatalf("the server received %+v, want one message from the typed sender", got)
	}
	if e.port.Text != strconv.Itoa(srv.Port) || e.from.Text != "typed@office.test" {
		t.Fatalf("after the test the form shows port %q from %q, not what was typed", e.port.Text, e.from.Text)
	}
	if spinning(h) || e.test.Disabled() {
		t.Fatal("the activity indicator stays after the test")
	}
	if b := h.ui.Banner(); b.State() != BannerShowDone || !strings.Contains(b.Text(), "with the settings on screen. Save them to switch e-mail notifications on.") {
		t.Fatalf("banner after the test: %v %q", b.State(), b.Text())
	}
	ctx := context.Background()
	if c, _ := h.notify.SMTPSettings(ctx); c.Port != dead || c.From != "saved@office.test" {
		t.Fatalf("the test saved settings: %+v", c)
	}
	if ok, _ := h.notify.EmailReady(ctx); ok {
		t.Fatal("e-mail works before the tested settings are saved")
	}
	h.mustSee("E-mail is off: no test e-mail has succeeded with the current SMTP settings")

	// Another page and back: what was typed is still there.
	h.ui.Show(PageUsers)
	h.ui.Wait()
	h.ui.Show(PageServers)
	h.ui.Wait()
	if e.port.Text != strconv.Itoa(srv.Port) || e.from.Text != "typed@office.test" {
		t.Fatalf("opening the page again put back port %q from %q", e.port.Text, e.from.Text)
	}

	// Save: the tested settings are kept, and count as tested.
	test.Tap(e.save)
	h.ui.Wait()
	if c, _ := h.notify.SMTPSettings(ctx); c.Port != srv.Port || c.From != "typed@office.test" {
		t.Fatalf("saved %+v", c)
	}
	if ok, why := h.notify.EmailReady(ctx); !ok {
		t.Fatalf("after saving the tested settings: %s", why)
	}
	if b := h.ui.Banner(); !strings.Contains(b.Text(), "The test e-mail went out with them, so e-mail notifications can be switched on.") {
		t.Fatalf("banner after saving: %q", b.Text())
	}
	h.mustSee("E-mail works: the last test e-mail went out at")
}

// A mail server that is down is told in a sentence, at once, while the
// form keeps what was typed and nothing is saved.
func TestTestEmailToADeadServerSaysRefused(t *testing.T) {
	h := newHarness(t)
	cert, _ := notifytest.SelfSigned(t)
	srv := notifytest.Start(t, "", "none", cert, nil)
	e := emailTab(t, h, srv.Port, "saved@office.test")
	dead := deadPort(t)
	e.port.SetText(strconv.Itoa(dead))
	e.security.SetSelected("STARTTLS")

	start := time.Now()
	test.Tap(e.test)
	if !spinning(h) {
		t.Fatal("no activity indicator while the test e-mail is on its way")
	}
	h.ui.Wait()
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("a refused connection took %v to say so", took)
	}
	want := fmt.Sprintf("The test e-mail did not go out. Could not reach 127.0.0.1 on port %d: the connection was refused.", dead)
	if b := h.ui.Banner(); b.State() != BannerShowFailed || b.Text() != want {
		t.Fatalf("banner: %v %q\nwant %q", b.State(), b.Text(), want)
	}
	if spinning(h) {
		t.Fatal("the activity indicator stays after the test")
	}
	if e.port.Text != strconv.Itoa(dead) || e.security.Selected != "STARTTLS" {
		t.Fatalf("the form lost what was typed: port %q, %s", e.port.Text, e.security.Selected)
	}
	if c, _ := h.notify.SMTPSettings(context.Background()); c.Port != srv.Port || c.Security != notify.SecurityNone {
		t.Fatalf("a failed test changed the saved settings: %+v", c)
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("the test went to the saved server")
	}
}

// Cancel stops a test e-mail to a server that never answers, at once.
func TestTestEmailCancel(t *testing.T) {
	h := newHarness(t)
	e := emailTab(t, h, deadPort(t), "saved@office.test")
	e.port.SetText(strconv.Itoa(mutePort(t)))

	start := time.Now()
	test.Tap(e.test)
	test.Tap(findButton(t, h, "Cancel"))
	h.ui.Wait()
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Cancel took %v", took)
	}
	if b := h.ui.Banner(); b.State() != BannerShowFailed || b.Text() != "The test e-mail was cancelled." {
		t.Fatalf("banner after Cancel: %v %q", b.State(), b.Text())
	}
	if spinning(h) || e.test.Disabled() {
		t.Fatal("the test still shows as running after Cancel")
	}
}
