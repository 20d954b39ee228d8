package views

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
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
		pd.reason.SetText("Receive in email is off: you have no e-mail address; an administrator can add one on the Users page (E-mail…).")
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

// emailSection is Servers › Manager › Settings › Email. *Send test e-mail*
// tests what the form shows, saved or not, and leaves the form as typed;
// only *Save* saves.
type emailSection struct {
	ui                     *UI
	obj                    fyne.CanvasObject
	host, port, user, from *widget.Entry
	password, testTo       *widget.Entry
	security               *widget.Select
	save, test, cancel     *widget.Button
	busy                   *widget.Activity
	status, where, testing *widget.Label

	shown emailForm          // what load last put in the form
	stop  context.CancelFunc // cancels the test e-mail on its way; nil when none
}

// emailForm is what the form shows, as typed.
type emailForm struct{ host, port, security, user, from, password string }

func newEmailSection(u *UI) *emailSection {
	e := &emailSection{ui: u,
		host: &widget.Entry{PlaceHolder: "smtp.office.example"}, port: &widget.Entry{Text: "587"},
		user: &widget.Entry{PlaceHolder: "login (empty for none)"}, from: &widget.Entry{PlaceHolder: "plinth@office.example"},
		password: &widget.Entry{Password: true, PlaceHolder: "unchanged"}, testTo: &widget.Entry{PlaceHolder: "your address"},
		security: widget.NewSelect([]string{"STARTTLS", "TLS", "None"}, nil),
		status:   &widget.Label{Wrapping: fyne.TextWrapWord, TextStyle: fyne.TextStyle{Bold: true}},
		where:    &widget.Label{Wrapping: fyne.TextWrapWord},
		testing:  &widget.Label{Wrapping: fyne.TextWrapWord},
		busy:     widget.NewActivity(),
	}
	e.security.SetSelected("STARTTLS")
	e.shown = e.form()
	e.save = &widget.Button{Text: "Save", OnTapped: e.doSave}
	e.test = &widget.Button{Text: "Send test e-mail", OnTapped: e.doTest}
	e.cancel = &widget.Button{Text: "Cancel", Icon: theme.CancelIcon(), OnTapped: func() {
		if e.stop != nil {
			e.cancel.Disable()
			e.cancel.SetText("Cancelling…")
			e.stop()
		}
	}}
	e.busy.Hide()
	e.cancel.Hide()
	e.testing.Hide()
	form := widget.NewForm(
		widget.NewFormItem("Host", e.host), widget.NewFormItem("Port", e.port),
		widget.NewFormItem("Security", e.security), widget.NewFormItem("User", e.user),
		widget.NewFormItem("Password", e.password), widget.NewFormItem("Sender", e.from),
	)
	e.obj = container.NewVBox(
		&widget.Label{Text: "Email", TextStyle: fyne.TextStyle{Bold: true}},
		e.status, form,
		container.NewBorder(nil, nil, container.NewHBox(e.save), container.NewHBox(e.busy, e.cancel, e.test), e.testTo),
		e.testing,
		&widget.Label{Wrapping: fyne.TextWrapWord, Text: "Send test e-mail uses the settings above as they are, saved or not. E-mail notifications can be switched on once a test has gone out with the saved settings."},
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

func (e *emailSection) form() emailForm {
	return emailForm{e.host.Text, e.port.Text, e.security.Selected, e.user.Text, e.from.Text, e.password.Text}
}

// settings reads the form: the settings, and the password when one was
// typed (setPassword).
func (e *emailSection) settings() (c notify.SMTP, password string, setPassword bool, err error) {
	port, err := strconv.Atoi(strings.TrimSpace(e.port.Text))
	if err != nil {
		return c, "", false, fmt.Errorf("%q is not a port number", e.port.Text)
	}
	c = notify.SMTP{Host: e.host.Text, Port: port, Security: securityOf(e.security.Selected), User: e.user.Text, From: e.from.Text}
	return c, e.password.Text, e.password.Text != "", nil
}

// load reads the saved settings and whether e-mail works, off the UI
// goroutine. It fills the form only when the user has not changed it
// since the last load: what they typed stays until they save it.
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
		if e.form() == e.shown {
			e.host.SetText(c.Host)
			if c.Port != 0 {
				e.port.SetText(strconv.Itoa(c.Port))
			}
			if c.Security != "" {
				e.security.SetSelected(securityLabel(c.Security))
			}
			e.user.SetText(c.User)
			e.from.SetText(c.From)
			e.shown = e.form()
		}
		if e.testTo.Text == "" {
			e.testTo.SetText(addr)
		}
		if ready {
			e.status.SetText("E-mail works: the last test e-mail went out at " + c.TestedAt + ".")
		} else {
			e.status.SetText("E-mail is off: " + why + ".")
		}
		e.where.SetText("The SMTP password is kept in " + svc.SecretsWhere() + ".")
		for _, w := range []fyne.Disableable{e.host, e.port, e.user, e.from, e.password, e.security, e.save, e.testTo} {
			if can {
				w.Enable()
			} else {
				w.Disable()
			}
		}
		setEnabled(can && e.stop == nil, e.test)
	})
}

func (e *emailSection) doSave() {
	c, pw, setPw, err := e.settings()
	if err != nil {
		e.ui.showError(err)
		return
	}
	actor := e.ui.actor
	var ready bool
	e.ui.background(func(ctx context.Context) error {
		if err := e.ui.svc.Notifications.SetSMTP(ctx, actor, c, pw, setPw); err != nil {
			return err
		}
		ready, _ = e.ui.svc.Notifications.EmailReady(ctx)
		return nil
	}, func(err error) {
		if err != nil {
			e.ui.showError(err)
			return
		}
		e.password.SetText("")
		e.shown = e.form() // saved: show the settings as kept
		if ready {
			e.ui.banner.Done("E-mail settings saved. The test e-mail went out with them, so e-mail notifications can be switched on.")
		} else {
			e.ui.banner.Done("E-mail settings saved. Send a test e-mail to switch e-mail notifications on.")
		}
		e.load()
	})
}

// doTest sends a test e-mail with what the form shows, off the UI
// goroutine, with a spinner and Cancel; the form stays as typed.
func (e *emailSection) doTest() {
	if e.stop != nil {
		return
	}
	c, pw, setPw, err := e.settings()
	if err != nil {
		e.ui.banner.Failed("The test e-mail did not go out. " + sentence(err) + ".")
		return
	}
	to, actor := strings.TrimSpace(e.testTo.Text), e.ui.actor
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	e.setTesting(fmt.Sprintf("Sending a test e-mail to %s through %s on port %d…", to, strings.TrimSpace(c.Host), c.Port))
	var ready bool
	e.ui.background(func(context.Context) (err error) {
		ready, err = e.ui.svc.Notifications.TestSMTPSettings(ctx, actor, c, pw, setPw, to)
		return err
	}, func(err error) {
		cancel()
		e.stop = nil
		e.setTesting("")
		switch {
		case errors.Is(err, context.Canceled):
			e.ui.banner.Failed("The test e-mail was cancelled.")
		case err != nil:
			e.ui.banner.Failed("The test e-mail did not go out. " + sentence(err) + ".")
		case ready:
			e.ui.banner.Done("The test e-mail went out to " + to + ". E-mail notifications can now be switched on.")
		default:
			e.ui.banner.Done("The test e-mail went out to " + to + " with the settings on screen. Save them to switch e-mail notifications on.")
		}
		e.load()
	})
}

// setTesting shows the spinner, Cancel and what is going on while a test
// e-mail is on its way (text not empty), or hides them.
func (e *emailSection) setTesting(text string) {
	if text == "" {
		e.busy.Stop()
		e.busy.Hide()
		e.cancel.Hide()
		e.testing.Hide()
		e.test.Enable()
		return
	}
	e.test.Disable()
	e.cancel.SetText("Cancel")
	e.cancel.Enable()
	e.cancel.Show()
	e.busy.Show()
	e.busy.Start()
	e.testing.SetText(text)
	e.testing.Show()
}
