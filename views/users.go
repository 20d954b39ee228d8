package views

import (
	"context"
	"errors"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
)

// usersPage lists the users and lets an admin add them, change their role,
// reset their password and remove them.
type usersPage struct {
	ui    *UI
	obj   fyne.CanvasObject
	table *widget.Table
	note  *widget.Label

	add, role, reset, remove *widget.Button

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
	{"Name", 180, func(u account.Info) string { return u.Name }},
	{"Role", 190, func(u account.Info) string { return u.RoleLabel }},
	{"E-mail", 220, func(u account.Info) string { return u.Email }},
	{"Last login", 150, func(u account.Info) string {
		if u.LastLogin.IsZero() {
			return "never"
		}
		return u.LastLogin.Local().Format("2006-01-02 15:04")
	}},
	{"State", 90, func(u account.Info) string {
		if u.Locked {
			return "locked"
		}
		return ""
	}},
}

func newUsersPage(u *UI) *usersPage {
	p := &usersPage{ui: u, selected: -1, note: &widget.Label{Wrapping: fyne.TextWrapWord}}
	p.table = &widget.Table{
		Length: func() (int, int) { return len(p.users), len(userColumns) },
		CreateCell: func() fyne.CanvasObject {
			return &widget.Label{Truncation: fyne.TextTruncateEllipsis}
		},
		UpdateCell: func(id widget.TableCellID, o fyne.CanvasObject) {
			if id.Row < len(p.users) {
				o.(*widget.Label).SetText(userColumns[id.Col].cell(p.users[id.Row]))
			}
		},
		ShowHeaderRow: true,
		CreateHeader: func() fyne.CanvasObject {
			return &widget.Label{TextStyle: fyne.TextStyle{Bold: true}}
		},
		UpdateHeader: func(id widget.TableCellID, o fyne.CanvasObject) {
			if id.Col >= 0 {
				o.(*widget.Label).SetText(userColumns[id.Col].title)
			}
		},
		OnSelected: func(id widget.TableCellID) {
			p.selected = id.Row
			p.updateButtons()
		},
	}
	for i, c := range userColumns {
		p.table.SetColumnWidth(i, c.width)
	}
	p.add = &widget.Button{Text: "Add user…", Icon: theme.ContentAddIcon(), OnTapped: p.showAdd}
	p.role = &widget.Button{Text: "Set role…", Icon: theme.AccountIcon(), OnTapped: p.showRole}
	p.reset = &widget.Button{Text: "Reset password…", Icon: theme.VisibilityOffIcon(), OnTapped: p.showReset}
	p.remove = &widget.Button{Text: "Remove…", Icon: theme.DeleteIcon(), OnTapped: p.showRemove}
	refresh := &widget.Button{Icon: theme.ViewRefreshIcon(), Importance: widget.LowImportance, OnTapped: p.shown}
	bar := container.NewHBox(p.add, p.role, p.reset, p.remove, refresh)
	head := container.NewVBox(
		&widget.Label{Text: "Users", TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameHeadingText},
		bar, p.note)
	p.obj = container.NewBorder(head, nil, nil, nil, p.table)
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
			p.note.SetText(fmt.Sprintf("%s. A Server Administrator may do everything; a Project Administrator manages projects, libraries and iModels.", countUsers(len(list))))
		}
		p.table.UnselectAll()
		p.table.Refresh()
		for i, u := range p.users {
			if u.Name == keep {
				p.table.Select(widget.TableCellID{Row: i, Col: 0})
			}
		}
		p.updateButtons()
	})
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
	setEnabled(ok && !u.Master, p.role)
	setEnabled(ok && (!u.Master || p.ui.actor.IsMaster()), p.reset)
	setEnabled(ok && !u.Master && u.Name != p.ui.actor.Name(), p.remove)
	p.obj.Refresh()
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
			nu = account.NewUser{Name: name.Text, Role: r, Email: email.Text, Password: pw.Text}
			return checkPw()
		},
		work: func(ctx context.Context) error { return p.ui.svc.Accounts.AddUser(ctx, actor, nu) },
		done: p.shown,
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
		intro: "Server Administrators may do everything. Project Administrators manage projects, libraries and iModels and see the Servers page. Users without a role see projects and their files.",
		items: []*widget.FormItem{widget.NewFormItem("Role", role)},
		check: func() (err error) {
			r, err = account.ParseRole(role.Selected)
			return err
		},
		work: func(ctx context.Context) error { return p.ui.svc.Accounts.SetRole(ctx, actor, u.Name, r) },
		done: p.shown,
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
		done:  p.shown,
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
		done:  p.shown,
	})
}
