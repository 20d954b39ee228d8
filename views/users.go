package views

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
)

// usersPage lists the users and lets an admin do in the window what
// `plinth user` does: add them, change their role and e-mail address,
// reset their password and remove them. Every action ends in the green
// bar; a line under the buttons says why those that are off are off.
type usersPage struct {
	ui    *UI
	obj   fyne.CanvasObject
	table *rowTable
	note  *widget.Label
	why   *widget.Label // why the selected user's buttons are off

	add, role, email, reset, remove *widget.Button

	users    []account.Info
	selected int // row in users, -1 for none
	manage   bool

	dialog *formDialog // the open dialog, for tests
}

var userColumns = []struct {
	title string
	width float32
	cell  func(account.Info) string
}{
	{"Name", 120, func(u account.Info) string { return u.Name }},
	{"Role", 0, func(u account.Info) string { return u.RoleLabel }},
	{"E-mail", 100, func(u account.Info) string { return u.Email }},
	{"Last login", 0, func(u account.Info) string {
		if u.LastLogin.IsZero() {
			return "never"
		}
		return u.LastLogin.Local().Format("2006-01-02 15:04")
	}},
	{"State", 0, func(u account.Info) string {
		if u.Locked {
			return "locked"
		}
		return ""
	}},
}

// userEmailColumn is the column that takes the room the others leave.
const userEmailColumn = 2

// userWidths are the columns' widths: the least width given, or what the
// longest role, a login time and "locked" need.
func userWidths() []float32 {
	titles := make([]string, len(userColumns))
	widths := make([]float32, len(userColumns))
	for i, c := range userColumns {
		titles[i], widths[i] = c.title, c.width
	}
	for _, r := range account.Roles {
		widths[1] = max(widths[1], textWidth(r.Label()))
	}
	widths[3] = textWidth("2006-01-02 15:04")
	widths[4] = textWidth("locked")
	return columnWidths(titles, widths)
}

func newUsersPage(u *UI) *usersPage {
	p := &usersPage{ui: u, selected: -1, note: &widget.Label{Wrapping: fyne.TextWrapWord},
		why: &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.MediumImportance, TextStyle: fyne.TextStyle{Italic: true}}}
	// A click selects the whole row, as on Projects.
	p.table = newRowTable(len(userColumns), func() int { return len(p.users) },
		func() fyne.CanvasObject { return &widget.Label{Truncation: fyne.TextTruncateEllipsis} },
		func(id widget.TableCellID, o fyne.CanvasObject) {
			text := ""
			if id.Row < len(p.users) {
				text = userColumns[id.Col].cell(p.users[id.Row])
			}
			o.(*widget.Label).SetText(text)
		})
	p.table.ShowHeaderRow = true
	p.table.CreateHeader = func() fyne.CanvasObject {
		return &widget.Label{TextStyle: fyne.TextStyle{Bold: true}}
	}
	p.table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if id.Col >= 0 {
			o.(*widget.Label).SetText(userColumns[id.Col].title)
		}
	}
	p.table.onSelect = func(row int) {
		p.selected = row
		p.updateButtons()
	}
	widths := userWidths()
	for i, w := range widths {
		p.table.SetColumnWidth(i, w)
	}
	p.add = &widget.Button{Text: "Add user…", Icon: theme.ContentAddIcon(), OnTapped: p.showAdd}
	p.role = &widget.Button{Text: "Set role…", Icon: theme.AccountIcon(), OnTapped: p.showRole}
	p.email = &widget.Button{Text: "E-mail…", Icon: theme.MailComposeIcon(), OnTapped: p.showEmail}
	p.reset = &widget.Button{Text: "Reset password…", Icon: theme.VisibilityOffIcon(), OnTapped: p.showReset}
	p.remove = &widget.Button{Text: "Remove…", Icon: theme.DeleteIcon(), OnTapped: p.showRemove}
	refresh := &widget.Button{Icon: theme.ViewRefreshIcon(), Importance: widget.LowImportance, OnTapped: p.shown}
	bar := container.NewHBox(p.add, p.role, p.email, p.reset, p.remove, refresh)
	head := container.NewVBox(
		&widget.Label{Text: "Users", TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameHeadingText},
		bar, p.why, p.note)
	// The e-mail address takes the room the others leave, so that at 800
	// px every column, Last login and State too, is on show.
	p.obj = container.NewBorder(head, nil, nil, nil, fillColumn(p.table, &p.table.Table, userEmailColumn, widths))
	p.updateButtons()
	return p
}

func (p *usersPage) content() fyne.CanvasObject { return container.NewPadded(p.obj) }

// shown reloads the list off the UI goroutine.
func (p *usersPage) shown() {
	actor := p.ui.actor
	var list []account.Info
	var manage bool
	p.ui.background(func(ctx context.Context) (err error) {
		manage = p.ui.svc.Accounts.Can(ctx, actor, account.ServersPage, account.ModifyAccess)
		list, err = p.ui.svc.Accounts.Users(ctx, actor)
		return err
	}, func(err error) {
		p.manage = manage
		keep := ""
		if p.selected >= 0 && p.selected < len(p.users) {
			keep = p.users[p.selected].Name
		}
		p.users, p.selected = list, -1
		switch {
		case errors.Is(err, account.ErrPermission):
			p.note.SetText("You may not see the users: " + err.Error() + ".")
		case err != nil:
			p.note.SetText(sentence(err))
		case !manage:
			p.note.SetText("Only users with Modify access on the Servers page can change users.")
		default:
			p.note.SetText(fmt.Sprintf("%s. %s", countUsers(len(list)), rolesText))
		}
		p.table.UnselectAll()
		p.table.Refresh()
		for i, u := range p.users {
			if u.Name == keep {
				p.table.SelectRow(i)
			}
		}
		p.updateButtons()
	})
}

// rolesText says what the roles may do, and what masteradmin alone may.
const rolesText = "A Server Administrator may do everything except what masteradmin alone may: run the full file synchronization, " +
	"change masteradmin's password and hand another user's iModel connection to someone else. " +
	"A Project Administrator manages projects, libraries and iModels and sees the Servers page. Users without a role see projects and their files."

// roleWords says a new user's role: "as a Server Administrator", "without a role".
func roleWords(r account.Role) string {
	if r == account.RoleNone {
		return "without a role"
	}
	return "as a " + r.Label()
}

func countUsers(n int) string {
	if n == 1 {
		return "1 user"
	}
	return fmt.Sprintf("%d users", n)
}

func (p *usersPage) current() (account.Info, bool) {
	if p.selected < 0 || p.selected >= len(p.users) {
		return account.Info{}, false
	}
	return p.users[p.selected], true
}

func (p *usersPage) updateButtons() {
	for _, b := range []*widget.Button{p.add, p.role, p.reset, p.remove} {
		b.Hidden = !p.manage
	}
	u, ok := p.current()
	self := ok && strings.EqualFold(u.Name, p.ui.actor.Name())
	// Anyone who sees the list may set their own address.
	p.email.Hidden = !p.manage && len(p.users) == 0
	setEnabled(ok && !u.Master, p.role)
	setEnabled(ok && (p.manage || self), p.email)
	setEnabled(ok && (!u.Master || p.ui.actor.IsMaster()), p.reset)
	setEnabled(ok && !u.Master && !self, p.remove)
	p.why.SetText(p.whyOff(u, ok, self))
	p.why.Hidden = p.why.Text == ""
	p.obj.Refresh()
}

// whyOff says in one line why buttons are off for the selected user.
func (p *usersPage) whyOff(u account.Info, ok, self bool) string {
	switch {
	case !ok:
		return ""
	case !p.manage && !self:
		return "You may change only your own e-mail address here."
	case !p.manage:
		return ""
	case u.Master && !p.ui.actor.IsMaster():
		return "masteradmin is built in: it cannot be removed or lose its role, and only masteradmin may change its password."
	case u.Master:
		return "masteradmin is built in: it cannot be removed or lose its role."
	case self:
		return "You cannot remove yourself; another Server Administrator can."
	}
	return ""
}

func roleSelect(selected account.Role) *widget.Select {
	labels := make([]string, len(account.Roles))
	for i, r := range account.Roles {
		labels[i] = r.Label()
	}
	s := widget.NewSelect(labels, nil)
	s.SetSelected(selected.Label())
	return s
}

func newPasswordEntries() (pw, repeat *widget.Entry, check func() error) {
	pw = &widget.Entry{Password: true, PlaceHolder: fmt.Sprintf("at least %d characters", account.MinPassword)}
	repeat = &widget.Entry{Password: true}
	return pw, repeat, func() error {
		if pw.Text != repeat.Text {
			return errors.New("the two passwords differ")
		}
		return account.CheckPassword(pw.Text)
	}
}

func (p *usersPage) showAdd() {
	name := &widget.Entry{PlaceHolder: "e.g. anna.berg"}
	email := &widget.Entry{PlaceHolder: "for notifications (optional)"}
	role := roleSelect(account.RoleNone)
	pw, repeat, checkPw := newPasswordEntries()
	actor := p.ui.actor
	var nu account.NewUser
	p.dialog = p.ui.showForm(formSpec{
		title: "Add user", confirm: "Add user",
		items: []*widget.FormItem{
			widget.NewFormItem("Name", name),
			widget.NewFormItem("Role", role),
			widget.NewFormItem("E-mail", email),
			widget.NewFormItem("Password", pw),
			widget.NewFormItem("Repeat", repeat),
		},
		check: func() error {
			if err := account.CheckName(name.Text); err != nil {
				return err
			}
			r, err := account.ParseRole(role.Selected)
			if err != nil {
				return err
			}
			if err := account.CheckEmail(email.Text); err != nil {
				return err
			}
			nu = account.NewUser{Name: name.Text, Role: r, Email: strings.TrimSpace(email.Text), Password: pw.Text}
			return checkPw()
		},
		work: func(ctx context.Context) error { return p.ui.svc.Accounts.AddUser(ctx, actor, nu) },
		done: p.then(func() string {
			if strings.TrimSpace(nu.Email) == "" {
				return fmt.Sprintf("Added %s %s; no e-mail address yet.", nu.Name, roleWords(nu.Role))
			}
			return fmt.Sprintf("Added %s %s, with the e-mail address %s.", nu.Name, roleWords(nu.Role), strings.TrimSpace(nu.Email))
		}),
	})
}

func (p *usersPage) showRole() {
	u, ok := p.current()
	if !ok {
		return
	}
	role := roleSelect(u.Role)
	actor := p.ui.actor
	var r account.Role
	p.dialog = p.ui.showForm(formSpec{
		title: "Set role of " + u.Name, confirm: "Set role",
		intro: rolesText,
		items: []*widget.FormItem{widget.NewFormItem("Role", role)},
		check: func() (err error) {
			r, err = account.ParseRole(role.Selected)
			return err
		},
		work: func(ctx context.Context) error { return p.ui.svc.Accounts.SetRole(ctx, actor, u.Name, r) },
		done: p.then(func() string {
			if r == account.RoleNone {
				return fmt.Sprintf("%s has no role now.", u.Name)
			}
			return fmt.Sprintf("%s is now a %s.", u.Name, r.Label())
		}),
	})
}

func (p *usersPage) showReset() {
	u, ok := p.current()
	if !ok {
		return
	}
	pw, repeat, checkPw := newPasswordEntries()
	actor := p.ui.actor
	var newPw string
	p.dialog = p.ui.showForm(formSpec{
		title: "Reset the password of " + u.Name, confirm: "Set password",
		intro: "Tell " + u.Name + " the new password; it also lifts a lock after wrong passwords.",
		items: []*widget.FormItem{widget.NewFormItem("New password", pw), widget.NewFormItem("Repeat", repeat)},
		check: func() error { newPw = pw.Text; return checkPw() },
		work:  func(ctx context.Context) error { return p.ui.svc.Accounts.ResetPassword(ctx, actor, u.Name, newPw) },
		done:  p.then(func() string { return fmt.Sprintf("The password of %s is changed; tell them the new one.", u.Name) }),
	})
}

func (p *usersPage) showRemove() {
	u, ok := p.current()
	if !ok {
		return
	}
	actor := p.ui.actor
	p.dialog = p.ui.showForm(formSpec{
		title: "Remove " + u.Name, confirm: "Remove", danger: true,
		intro: fmt.Sprintf("Remove the user %s? They can no longer log in and their permissions are removed. Files they uploaded stay.", u.Name),
		work:  func(ctx context.Context) error { return p.ui.svc.Accounts.RemoveUser(ctx, actor, u.Name) },
		done:  p.then(func() string { return fmt.Sprintf("Removed %s.", u.Name) }),
	})
}

// showEmail sets the selected user's e-mail address, checked as
// `plinth user email` checks it; an empty address removes it.
func (p *usersPage) showEmail() {
	u, ok := p.current()
	if !ok {
		return
	}
	email := &widget.Entry{Text: u.Email, PlaceHolder: "name@office.example (empty for none)"}
	actor := p.ui.actor
	var addr string
	p.dialog = p.ui.showForm(formSpec{
		title: "E-mail address of " + u.Name, confirm: "Set address",
		intro: "Plinth sends " + u.Name + "'s e-mail notifications to this address, once e-mail works (Servers › Manager › Settings › Email).",
		items: []*widget.FormItem{widget.NewFormItem("E-mail", email)},
		check: func() error {
			addr = strings.TrimSpace(email.Text)
			return account.CheckEmail(addr)
		},
		work: func(ctx context.Context) error { return p.ui.svc.Accounts.SetEmail(ctx, actor, u.Name, addr) },
		done: p.then(func() string {
			if addr == "" {
				return fmt.Sprintf("%s has no e-mail address now.", u.Name)
			}
			return fmt.Sprintf("%s's e-mail address is %s.", u.Name, addr)
		}),
	})
}

// then is what follows an action that went through: the green bar with
// what happened, and the list again.
func (p *usersPage) then(what func() string) func() {
	return func() {
		p.ui.banner.Done(what())
		p.shown()
	}
}
