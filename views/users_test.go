package views

import (
	"context"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
)

// usersPage opens the Users page as user and returns it.
func (h *harness) usersPage(user, pw string) *usersPage {
	h.t.Helper()
	h.start(StartOptions{User: user, Password: pw, Page: PageUsers})
	p, ok := h.ui.built[PageUsers].(*usersPage)
	if !ok {
		h.t.Fatal("users page not built")
	}
	return p
}

func (p *usersPage) selectUser(t *testing.T, name string) {
	t.Helper()
	for i, u := range p.users {
		if u.Name == name {
			p.table.Select(widget.TableCellID{Row: i, Col: 0})
			return
		}
	}
	t.Fatalf("user %s not listed", name)
}

// field returns the dialog's entry or select for a form label.
func (f *formDialog) entry(t *testing.T, h *harness, label string) *widget.Entry {
	t.Helper()
	for _, it := range f.items(h) {
		if it.Text == label {
			if e := firstOf[*widget.Entry](it.Widget); e != nil {
				return e
			}
		}
	}
	t.Fatalf("dialog has no field %q", label)
	return nil
}

func (f *formDialog) items(h *harness) []*widget.FormItem {
	var out []*widget.FormItem
	for _, o := range h.win.Canvas().Overlays().List() {
		collectForms(o, &out)
	}
	return out
}

func TestUsersPageManagesUsers(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	p := h.usersPage("masteradmin", masterPw)
	h.mustSee("1 user.", "[Add user…]")

	// Add: mismatched passwords keep the dialog open with the reason.
	test.Tap(p.add)
	d := p.dialog
	test.Type(d.entry(t, h, "Name"), "anna.berg")
	test.Type(d.entry(t, h, "E-mail"), "anna@office.test")
	test.Type(d.entry(t, h, "Password"), "anna's password")
	test.Type(d.entry(t, h, "Repeat"), "typo")
	test.Tap(d.submit)
	h.ui.Wait()
	h.mustSee("The two passwords differ", "Add user")
	d.entry(t, h, "Repeat").SetText("anna's password")
	test.Tap(d.submit)
	h.ui.Wait()
	h.mustNotSee("The two passwords differ")
	h.mustSee("2 users.", "anna.berg", "anna@office.test", "None")

	// The same name again is refused by core; the dialog says so.
	test.Tap(p.add)
	d = p.dialog
	test.Type(d.entry(t, h, "Name"), "Anna.Berg")
	test.Type(d.entry(t, h, "Password"), "whatever pw")
	test.Type(d.entry(t, h, "Repeat"), "whatever pw")
	test.Tap(d.submit)
	h.ui.Wait()
	h.mustSee(`A user named "Anna.Berg" already exists`)
	test.Tap(d.cancel)

	// Set role.
	p.selectUser(t, "anna.berg")
	if p.role.Disabled() {
		t.Fatal("Set role is disabled with a user selected")
	}
	test.Tap(p.role)
	for _, it := range p.dialog.items(h) {
		if sel, ok := it.Widget.(*widget.Select); ok {
			sel.SetSelected(account.RoleProjectAdmin.Label())
		}
	}
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	h.mustSee("Project Administrator")
	anna, err := h.acc.Login(context.Background(), "anna.berg", "anna's password")
	if err != nil {
		t.Fatal(err)
	}
	if !h.acc.Can(context.Background(), anna, account.Item{Kind: account.KindProject, ID: "x"}, account.DeleteContent) {
		t.Fatal("role change in the window did not reach core")
	}

	// Reset password.
	p.selectUser(t, "anna.berg")
	test.Tap(p.reset)
	test.Type(p.dialog.entry(t, h, "New password"), "fresh password")
	test.Type(p.dialog.entry(t, h, "Repeat"), "fresh password")
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	if _, err := h.acc.Login(context.Background(), "anna.berg", "fresh password"); err != nil {
		t.Fatalf("reset password does not log in: %v", err)
	}

	// masteradmin's own row: no role change, no removal.
	p.selectUser(t, "masteradmin")
	if !p.role.Disabled() || !p.remove.Disabled() {
		t.Error("masteradmin's role or removal is offered")
	}

	// Remove.
	p.selectUser(t, "anna.berg")
	test.Tap(p.remove)
	h.mustSee("Remove the user anna.berg?")
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	h.mustSee("1 user.", "Removed anna.berg.")
	for _, u := range p.users {
		if u.Name == "anna.berg" {
			t.Fatal("anna.berg is still listed after Remove")
		}
	}
}

func TestUsersPageForUserWithoutRights(t *testing.T) {
	h := newHarness(t)
	master := h.bootstrap()
	ctx := context.Background()
	if err := h.acc.AddUser(ctx, master, account.NewUser{Name: "nora", Role: account.RoleNone, Password: "nora's password"}); err != nil {
		t.Fatal(err)
	}
	if err := h.acc.AddUser(ctx, master, account.NewUser{Name: "pat", Role: account.RoleProjectAdmin, Password: "pat's password"}); err != nil {
		t.Fatal(err)
	}

	p := h.usersPage("nora", "nora's password")
	h.mustSee(`You may not see the users: user nora does not have the "View item" permission on the Servers page.`)
	h.mustNotSee("[Add user…]")
	if len(p.users) != 0 {
		t.Fatal("users listed to a user without View on the Servers page")
	}

	h2 := newHarness(t)
	h2.store, h2.acc = h.store, h.acc
	h2.ui.svc.Accounts = h.acc
	h2.ui.svc.Notifications = h.notify
	p2 := h2.usersPage("pat", "pat's password")
	h2.mustSee("Only users with Modify access on the Servers page can change users.", "nora")
	h2.mustNotSee("[Add user…]")
	if p2.manage {
		t.Fatal("project admin may manage users in the window")
	}
}
