package views

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// fakeAutostart records what the window asks; the window calls it off
// the UI goroutine.
type fakeAutostart struct {
	mu    sync.Mutex
	on    bool
	err   error // SetEnabled fails with it
	calls []bool
}

func (f *fakeAutostart) Enabled() (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.on, nil
}

func (f *fakeAutostart) SetEnabled(on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, on)
	if f.err != nil {
		return f.err
	}
	f.on = on
	return nil
}

func (f *fakeAutostart) called() []bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

const autostartBox = "Start Plinth when I log in"

// The Servers page's check box shows the setting, turns it on and off,
// and goes back with the reason when that fails.
func TestAutostartCheckBox(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	fake := &fakeAutostart{}
	h.ui.svc.Autostart = fake
	h.app.Preferences().SetBool(prefAutostartOffered, true) // no offer in the way
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	h.servers()
	h.mustSee(autostartExplained)
	box := findCheck(t, h, autostartBox)
	if box.Checked || box.Disabled() {
		t.Fatalf("with autostart off the box is checked %v, disabled %v", box.Checked, box.Disabled())
	}

	test.Tap(box)
	h.ui.Wait()
	if got := fake.called(); !slices.Equal(got, []bool{true}) || !box.Checked {
		t.Fatalf("after a click: calls %v, checked %v; want SetEnabled(true)", got, box.Checked)
	}
	if b := h.ui.Banner(); b.Text() != "Plinth will start in the background when you log in." {
		t.Errorf("banner %q", b.Text())
	}

	fake.mu.Lock()
	fake.err = errors.New("write ~/.config/autostart/org.plinth.console.desktop: permission denied")
	fake.mu.Unlock()
	test.Tap(box)
	h.ui.Wait()
	if got := fake.called(); !slices.Equal(got, []bool{true, false}) || !box.Checked || box.Disabled() {
		t.Fatalf("after a failed click: calls %v, checked %v, disabled %v; want the box back on", got, box.Checked, box.Disabled())
	}
	h.mustSee("Write ~/.config/autostart/org.plinth.console.desktop: permission denied")

	// Changed elsewhere (plinth autostart off): the page shows it when
	// opened again, without writing anything.
	fake.mu.Lock()
	fake.on, fake.err = false, nil
	fake.mu.Unlock()
	h.ui.Show(PageProjects)
	h.servers()
	if box.Checked || len(fake.called()) != 2 {
		t.Fatalf("after reopening: checked %v, calls %v", box.Checked, fake.called())
	}
	h.mustNotSee("permission denied")
}

// Without a way to start at login the box is not there.
func TestAutostartHiddenWhenUnsupported(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	h.servers()
	if _, ok := findVisible(h, func(c *widget.Check) bool { return c.Text == autostartBox }); ok {
		t.Fatal("the check box shows without Autostart")
	}
	h.mustNotSee("Start Plinth when you log in?")
}

// The first login in the window offers start at login once: "Not now"
// is remembered, "Start at login" turns it on, and no offer comes when it
// is on already.
func TestAutostartOfferedOnce(t *testing.T) {
	h := newHarness(t)
	fake := &fakeAutostart{}
	h.ui.svc.Autostart = fake
	prefs := h.app.Preferences()

	// First start: the offer follows the masteradmin password.
	h.start(StartOptions{})
	s := h.ui.firstRun
	test.Type(s.password, masterPw)
	test.Type(s.repeat, masterPw)
	test.Tap(s.submit)
	h.ui.Wait()
	h.mustSee("Start Plinth when you log in?", "[Start at login]", "[Not now]")
	test.Tap(findButton(t, h, "Not now"))
	h.ui.Wait()
	h.mustNotSee("Start Plinth when you log in?")
	if !prefs.Bool(prefAutostartOffered) || len(fake.called()) != 0 {
		t.Fatalf("after Not now: offered %v, calls %v", prefs.Bool(prefAutostartOffered), fake.called())
	}

	// Not again, in this window or the next.
	test.Tap(findButton(t, h, "Log out"))
	h.ui.Wait()
	h.login("masteradmin", masterPw)
	h.mustNotSee("Start Plinth when you log in?")
	h.ui.autostartOffered = false
	test.Tap(findButton(t, h, "Log out"))
	h.ui.Wait()
	h.login("masteradmin", masterPw)
	h.mustNotSee("Start Plinth when you log in?")

	// A fresh preference, asked while the Servers page is open: Start at
	// login turns it on, and the page's box shows it.
	prefs.RemoveValue(prefAutostartOffered)
	h.ui.autostartOffered = false
	h.servers()
	box := findCheck(t, h, autostartBox)
	h.ui.offerAutostart()
	h.ui.Wait()
	test.Tap(findButton(t, h, "Start at login"))
	h.ui.Wait()
	if got := fake.called(); !slices.Equal(got, []bool{true}) || !prefs.Bool(prefAutostartOffered) {
		t.Fatalf("after Start at login: calls %v, offered %v", got, prefs.Bool(prefAutostartOffered))
	}
	if !box.Checked {
		t.Error("the Servers page does not show start at login on")
	}

	// Already on: no offer, and it counts as offered.
	prefs.RemoveValue(prefAutostartOffered)
	h.ui.autostartOffered = false
	test.Tap(findButton(t, h, "Log out"))
	h.ui.Wait()
	h.login("masteradmin", masterPw)
	h.mustNotSee("Start Plinth when you log in?")
	if !prefs.Bool(prefAutostartOffered) {
		t.Error("an offer not needed was not remembered")
	}
}
