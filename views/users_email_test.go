package views

import (
	"context"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
)

// bannerSays fails unless the green bar shows want.
func bannerSays(t *testing.T, h *harness, want string) {
	t.Helper()
	if b := h.ui.Banner(); b.State() != BannerShowDone || b.Text() != want {
		t.Fatalf("banner: %v %q\nwant the green bar with %q", b.State(), b.Text(), want)
	}
}

// emailOf is a user's address as the service (and `plinth user list
// --json`, which lists Users) has it.
func emailOf(t *testing.T, h *harness, name string) string {
	t.Helper()
	master, err := h.acc.Login(context.Background(), account.MasterAdmin, masterPw)
	if err != nil {
		t.Fatal(err)
	}
	users, err := h.acc.Users(context.Background(), master)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Name == name {
			return u.Email
		}
	}
	t.Fatalf("user %s not listed", name)
	return ""
}

// The Users page sets a user's e-mail address, checked as `plinth user
// email` checks it, masteradmin's own included.
func TestUsersPageSetsEmail(t *testing.T) {
	h := newHarness(t)
	master := h.bootstrap()
	ctx := context.Background()
	if err := h.acc.AddUser(ctx, master, account.NewUser{Name: "anna.berg", Role: account.RoleNone, Password: "anna's password"}); err != nil {
		t.Fatal(err)
	}
	p := h.usersPage("masteradmin", masterPw)

	p.selectUser(t, "anna.berg")
	if p.email.Disabled() {
		t.Fatal("E-mail… is off with a user selected")
	}
	test.Tap(p.email)
	h.mustSee("E-mail address of anna.berg")
	test.Type(p.dialog.entry(t, h, "E-mail"), "anna at office")
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	h.mustSee(`"anna at office" is not an e-mail address`)
	if got := emailOf(t, h, "anna.berg"); got != "" {
		t.Fatalf("a refused address was saved: %q", got)
	}
	p.dialog.entry(t, h, "E-mail").SetText(" anna@office.test ")
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	bannerSays(t, h, "anna.berg's e-mail address is anna@office.test.")
	h.mustSee("anna@office.test")
	if got := emailOf(t, h, "anna.berg"); got != "anna@office.test" {
		t.Fatalf("the service has %q", got)
	}

	// masteradmin sets their own, which Notification settings asks for.
	p.selectUser(t, "masteradmin")
	if p.email.Disabled() {
		t.Fatal("masteradmin cannot set their own address")
	}
	test.Tap(p.email)
	test.Type(p.dialog.entry(t, h, "E-mail"), "master@office.test")
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	bannerSays(t, h, "masteradmin's e-mail address is master@office.test.")
	if got := emailOf(t, h, "masteradmin"); got != "master@office.test" {
		t.Fatalf("masteradmin's address in the service: %q", got)
	}

	// An empty address removes it.
	p.selectUser(t, "anna.berg")
	test.Tap(p.email)
	if e := p.dialog.entry(t, h, "E-mail"); e.Text != "anna@office.test" {
		t.Fatalf("the dialog starts from %q, not the current address", e.Text)
	}
	p.dialog.entry(t, h, "E-mail").SetText("")
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	bannerSays(t, h, "anna.berg has no e-mail address now.")
	if got := emailOf(t, h, "anna.berg"); got != "" {
		t.Fatalf("the address stays: %q", got)
	}
}

// Every action on the Users page ends with a sentence in the green bar.
func TestUsersActionsSayWhatHappened(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	p := h.usersPage("masteradmin", masterPw)

	test.Tap(p.add)
	test.Type(p.dialog.entry(t, h, "Name"), "anna.berg")
	test.Type(p.dialog.entry(t, h, "E-mail"), "anna@office.test")
	test.Type(p.dialog.entry(t, h, "Password"), "anna's password")
	test.Type(p.dialog.entry(t, h, "Repeat"), "anna's password")
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	bannerSays(t, h, "Added anna.berg without a role, with the e-mail address anna@office.test.")

	p.selectUser(t, "anna.berg")
	test.Tap(p.role)
	for _, it := range p.dialog.items(h) {
		if sel, ok := it.Widget.(*widget.Select); ok {
			sel.SetSelected(account.RoleProjectAdmin.Label())
		}
	}
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	bannerSays(t, h, "anna.berg is now a Project Administrator.")

	p.selectUser(t, "anna.berg")
	test.Tap(p.reset)
	test.Type(p.dialog.entry(t, h, "New password"), "fresh password")
	test.Type(p.dialog.entry(t, h, "Repeat"), "fresh password")
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	bannerSays(t, h, "The password of anna.berg is changed; tell them the new one.")

	p.selectUser(t, "anna.berg")
	test.Tap(p.remove)
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	bannerSays(t, h, "Removed anna.berg.")
}

// The page says what masteradmin alone may do, and why buttons are off on
// masteradmin's row and on one's own.
func TestUsersPageSaysWhyButtonsAreOff(t *testing.T) {
	h := newHarness(t)
	master := h.bootstrap()
	ctx := context.Background()
	for _, nu := range []account.NewUser{
		{Name: "sam", Role: account.RoleServerAdmin, Password: "sam's password"},
		{Name: "pat", Role: account.RoleProjectAdmin, Password: "pat's password"},
	} {
		if err := h.acc.AddUser(ctx, master, nu); err != nil {
			t.Fatal(err)
		}
	}
	p := h.usersPage("masteradmin", masterPw)
	h.mustSee("A Server Administrator may do everything except what masteradmin alone may: run the full file synchronization")
	h.mustNotSee("may do everything;")

	p.selectUser(t, "masteradmin")
	if !p.role.Disabled() || !p.remove.Disabled() {
		t.Fatal("masteradmin's role or removal is offered")
	}
	h.mustSee("masteradmin is built in: it cannot be removed or lose its role.")
	p.selectUser(t, "sam")
	h.mustNotSee("masteradmin is built in")
	if p.role.Disabled() || p.remove.Disabled() {
		t.Fatal("sam's buttons are off")
	}

	// Another Server Administrator: masteradmin's password is not theirs
	// to change, and they cannot remove themselves.
	hs := newHarness(t)
	hs.store, hs.acc, hs.notify = h.store, h.acc, h.notify
	hs.ui.svc.Accounts, hs.ui.svc.Notifications = h.acc, h.notify
	ps := hs.usersPage("sam", "sam's password")
	ps.selectUser(t, "masteradmin")
	if !ps.reset.Disabled() {
		t.Fatal("sam may reset masteradmin's password")
	}
	hs.mustSee("masteradmin is built in: it cannot be removed or lose its role, and only masteradmin may change its password.")
	ps.selectUser(t, "sam")
	if !ps.remove.Disabled() {
		t.Fatal("sam may remove himself")
	}
	hs.mustSee("You cannot remove yourself; another Server Administrator can.")

	// A Project Administrator sees the list and may set only their own
	// address.
	hp := newHarness(t)
	hp.store, hp.acc, hp.notify = h.store, h.acc, h.notify
	hp.ui.svc.Accounts, hp.ui.svc.Notifications = h.acc, h.notify
	pp := hp.usersPage("pat", "pat's password")
	hp.mustNotSee("[Add user…]")
	pp.selectUser(t, "sam")
	if !pp.email.Disabled() {
		t.Fatal("pat may change sam's address")
	}
	hp.mustSee("You may change only your own e-mail address here.")
	pp.selectUser(t, "pat")
	test.Tap(pp.email)
	test.Type(pp.dialog.entry(t, hp, "E-mail"), "pat@office.test")
	test.Tap(pp.dialog.submit)
	hp.ui.Wait()
	bannerSays(t, hp, "pat's e-mail address is pat@office.test.")
	if got := emailOf(t, h, "pat"); got != "pat@office.test" {
		t.Fatalf("pat's address: %q", got)
	}
}

// The E-mail dialog, masteradmin's row with its explanation and the
// e-mail settings while a test runs, and after it failed, fit 800×600
// with long names.
func TestUsersEmailAndEmailTestFit800x600(t *testing.T) {
	h := newHarness(t)
	master := h.bootstrap()
	ctx := context.Background()
	if err := h.acc.AddUser(ctx, master, account.NewUser{Name: fitUser, Role: account.RoleProjectAdmin, Email: fitEmail, Password: "a long enough password"}); err != nil {
		t.Fatal(err)
	}
	h.win.Resize(fitSize)
	p := h.usersPage("masteradmin", masterPw)
	emailTab := func() *emailSection {
		sp := h.servers()
		sp.showTab("email")
		return sp.email
	}
	steps := []struct {
		name   string
		dialog bool
		open   func()
	}{
		{"Users, masteradmin selected", false, func() { p.selectUser(t, "masteradmin") }},
		{"Users › E-mail", true, func() { p.selectUser(t, fitUser); test.Tap(p.email) }},
		{"Servers › Email, testing", false, func() {
			e := emailTab()
			e.host.SetText("smtp.architecten-keizersgracht.example")
			e.port.SetText("2525")
			e.testTo.SetText(fitEmail)
			e.setTesting("Sending a test e-mail to " + fitEmail + " through smtp.architecten-keizersgracht.example on port 2525…")
		}},
		{"Servers › Email, the test failed", false, func() {
			e := emailTab()
			e.setTesting("")
			h.ui.banner.Failed("The test e-mail did not go out. Could not find the mail server smtp.architecten-keizersgracht.example: no computer by that name is known; check the host name.")
		}},
	}
	for _, st := range steps {
		closeOverlays(h)
		h.ui.banner.Done(fitBanner)
		st.open()
		h.ui.Wait()
		if open := len(visibleOverlays(h)) > 0; open != st.dialog {
			t.Fatalf("%s: a dialog is open: %v, want %v", st.name, open, st.dialog)
		}
		assertFits(t, h, st.name)
		switch st.name {
		case "Users, masteradmin selected":
			h.mustSee("masteradmin is built in")
		case "Servers › Email, testing":
			if !spinning(h) {
				t.Fatal("no activity indicator while testing")
			}
		case "Servers › Email, the test failed":
			h.mustSee("Could not find the mail server")
		}
	}
}
