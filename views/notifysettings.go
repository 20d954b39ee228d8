package views

import (
	"context"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/notify"
)

// prefsDialog lets the logged-in user choose, per kind, where they receive
// notifications. "Receive in email" stays disabled, with the reason shown,
// until e-mail works and the user has an address.
type prefsDialog struct {
	d      dialog.Dialog
	rows   map[notify.Kind]*prefRow
	reason *widget.Label
}

type prefRow struct {
	inApp, desktop, email *widget.Check
}

func (p *notificationsPage) showSettings() {
	actor := p.ui.actor
	svc := p.ui.svc.Notifications
	var prefs []notify.Preference
	var ready bool
	var why string
	var hasAddress bool
	p.ui.background(func(ctx context.Context) (err error) {
		if prefs, err = svc.Preferences(ctx, actor, actor.Name()); err != nil {
			return err
		}
		ready, why = svc.EmailReady(ctx)
		if u, err := p.ui.svc.Accounts.UserInfo(ctx, actor.Name()); err == nil {
			hasAddress = u.Email != ""
		}
		return nil
	}, func(err error) {
		if err != nil {
			p.ui.showError(err)
			return
		}
		p.prefs = p.buildPrefs(prefs, ready, why, hasAddress)
	})
}

func (p *notificationsPage) buildPrefs(prefs []notify.Preference, ready bool, why string, hasAddress bool) *prefsDialog {
	pd := &prefsDialog{rows: map[notify.Kind]*prefRow{}, reason: &widget.Label{Wrapping: fyne.TextWrapWord}}
	emailOK := ready && hasAddress
	switch {
	case !ready:
		pd.reason.SetText("Receive in email is off: " + why + ".")
	case !hasAddress:
		pd.reason.SetText("Receive in email is off: you have no e-mail address; ask an administrator to add one on the Users page.")
	default:
		pd.reason.SetText("E-mail works; choose what you want by e-mail.")
	}
	// The kind takes the width the three narrow columns of check boxes
	// leave; four equal columns would each be as wide as the longest kind.
	line := func(kind, inApp, desktop, email fyne.CanvasObject) fyne.CanvasObject {
		cell := func(o fyne.CanvasObject) fyne.CanvasObject { return container.New(&fixedWidth{w: 120}, o) }
		return container.NewBorder(nil, nil, nil, container.NewHBox(cell(inApp), cell(desktop), cell(email)), kind)
	}
	bold := func(s string) *widget.Label {
		return &widget.Label{Text: s, TextStyle: fyne.TextStyle{Bold: true}, Wrapping: fyne.TextWrapWord}
	}
	head := line(bold("Notification"), bold("Receive on interface"), bold("Desktop notification"), bold("Receive in email"))
	grid := container.NewVBox()
	actor := p.ui.actor
	for _, pr := range prefs {
		k := pr.Kind
		row := &prefRow{}
		save := func(bool) {
			ch := notify.Channels{InApp: row.inApp.Checked, Desktop: row.desktop.Checked, Email: row.email.Checked}
			p.ui.background(func(ctx context.Context) error {
				return p.ui.svc.Notifications.SetPreference(ctx, actor, actor.Name(), k, ch)
			}, func(err error) {
				if err != nil {
					p.ui.showError(err)
				}
			})
		}
		row.inApp = &widget.Check{Text: "", Checked: pr.InApp, OnChanged: save}
		row.desktop = &widget.Check{Text: "", Checked: pr.Desktop, OnChanged: save}
		row.email = &widget.Check{Text: "", Checked: pr.Email && emailOK, OnChanged: save}
		if pr.InAppOnly {
			row.desktop.Disable()
			row.email.Disable()
		}
		if !emailOK {
			row.email.Disable()
		}
		pd.rows[k] = row
		grid.Add(line(&widget.Label{Text: pr.Title, Wrapping: fyne.TextWrapWord}, row.inApp, row.desktop, row.email))
	}
	body := container.NewBorder(container.NewVBox(pd.reason, head), nil, nil, nil, container.NewVScroll(grid))
	pd.d = dialog.NewCustom("Notification settings for "+actor.Name(), "Close", body, p.ui.win)
	pd.d.Resize(fyne.NewSize(820, 560))
	pd.d.Show()
	return pd
}

// emailSection is Servers › Manager › Settings › Email.
type emailSection struct {
	ui                     *UI
	obj                    fyne.CanvasObject
	host, port, user, from *widget.Entry
	password, testTo       *widget.Entry
	security               *widget.Select
	save, test             *widget.Button
	status, where          *widget.Label
}

func newEmailSection(u *UI) *emailSection {
	e := &emailSection{ui: u,
		host: &widget.Entry{PlaceHolder: "smtp.office.example"}, port: &widget.Entry{Text: "587"},
		user: &widget.Entry{PlaceHolder: "login (empty for none)"}, from: &widget.Entry{PlaceHolder: "plinth@office.example"},
		password: &widget.Entry{Password: true, PlaceHolder: "unchanged"}, testTo: &widget.Entry{PlaceHolder: "your address"},
		security: widget.NewSelect([]string{"STARTTLS", "TLS", "None"}, nil),
		status:   &widget.Label{Wrapping: fyne.TextWrapWord, TextStyle: fyne.TextStyle{Bold: true}},
		where:    &widget.Label{Wrapping: fyne.TextWrapWord},
	}
	e.security.SetSelected("STARTTLS")
	e.save = &widget.Button{Text: "Save", OnTapped: e.doSave}
	e.test = &widget.Button{Text: "Send test e-mail", OnTapped: e.doTest}
	form := widget.NewForm(
		widget.NewFormItem("Host", e.host), widget.NewFormItem("Port", e.port),
		widget.NewFormItem("Security", e.security), widget.NewFormItem("User", e.user),
		widget.NewFormItem("Password", e.password), widget.NewFormItem("Sender", e.from),
	)
	e.obj = container.NewVBox(
		&widget.Label{Text: "Email", TextStyle: fyne.TextStyle{Bold: true}},
		e.status, form,
		container.NewBorder(nil, nil, container.NewHBox(e.save), e.test, e.testTo),
		e.where)
	return e
}

func securityOf(label string) notify.Security {
	switch label {
	case "TLS":
		return notify.SecurityTLS
	case "None":
		return notify.SecurityNone
	}
	return notify.SecurityStartTLS
}

func securityLabel(s notify.Security) string {
	switch s {
	case notify.SecurityTLS:
		return "TLS"
	case notify.SecurityNone:
		return "None"
	}
	return "STARTTLS"
}

// load fills the section off the UI goroutine.
func (e *emailSection) load() {
	svc := e.ui.svc.Notifications
	if svc == nil {
		return
	}
	actor := e.ui.actor
	var c notify.SMTP
	var ready bool
	var why string
	var can bool
	var addr string
	e.ui.background(func(ctx context.Context) (err error) {
		c, err = svc.SMTPSettings(ctx)
		ready, why = svc.EmailReady(ctx)
		can = e.ui.svc.Accounts.Can(ctx, actor, account.ServersPage, account.ModifyDetails)
		if u, uerr := e.ui.svc.Accounts.UserInfo(ctx, actor.Name()); uerr == nil {
			addr = u.Email
		}
		return err
	}, func(err error) {
		if err != nil {
			e.status.SetText(sentence(err))
			return
		}
		e.host.SetText(c.Host)
		if c.Port != 0 {
			e.port.SetText(fmt.Sprint(c.Port))
		}
		if c.Security != "" {
			e.security.SetSelected(securityLabel(c.Security))
		}
		e.user.SetText(c.User)
		e.from.SetText(c.From)
		if e.testTo.Text == "" {
			e.testTo.SetText(addr)
		}
		if ready {
			e.status.SetText("E-mail works: the last test e-mail went out at " + c.TestedAt + ".")
		} else {
			e.status.SetText("E-mail is off: " + why + ".")
		}
		e.where.SetText("The SMTP password is kept in " + svc.SecretsWhere() + ".")
		for _, w := range []fyne.Disableable{e.host, e.port, e.user, e.from, e.password, e.security, e.save, e.test, e.testTo} {
			if can {
				w.Enable()
			} else {
				w.Disable()
			}
		}
	})
}

func (e *emailSection) doSave() {
	var port int
	if _, err := fmt.Sscanf(e.port.Text, "%d", &port); err != nil {
		e.ui.showError(fmt.Errorf("%q is not a port number", e.port.Text))
		return
	}
	c := notify.SMTP{Host: e.host.Text, Port: port, Security: securityOf(e.security.Selected), User: e.user.Text, From: e.from.Text}
	pw, setPw := e.password.Text, e.password.Text != ""
	actor := e.ui.actor
	e.ui.background(func(ctx context.Context) error {
		return e.ui.svc.Notifications.SetSMTP(ctx, actor, c, pw, setPw)
	}, func(err error) {
		if err != nil {
			e.ui.showError(err)
			return
		}
		e.password.SetText("")
		e.ui.banner.Done("E-mail settings saved. Send a test e-mail to switch e-mail notifications on.")
		e.load()
	})
}

func (e *emailSection) doTest() {
	to, actor := e.testTo.Text, e.ui.actor
	e.test.Disable()
	e.ui.background(func(ctx context.Context) error {
		return e.ui.svc.Notifications.TestSMTP(ctx, actor, to)
	}, func(err error) {
		e.test.Enable()
		if err != nil {
			e.ui.banner.Failed("The test e-mail did not go out: " + err.Error() + ".")
			e.load()
			return
		}
		e.ui.banner.Done("The test e-mail went out to " + to + ". E-mail notifications can now be switched on.")
		e.load()
	})
}
