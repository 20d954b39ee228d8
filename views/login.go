package views

import (
	"context"
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/text"
)

// sentence is an error as the user reads it: first letter upper case.
func sentence(err error) string { return text.Sentence(err.Error()) }

// card centres a form in the window with a title and an explanation.
func card(title, text string, body ...fyne.CanvasObject) fyne.CanvasObject {
	head := []fyne.CanvasObject{
		&widget.Label{Text: title, TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameHeadingText},
		&widget.Label{Text: text, Wrapping: fyne.TextWrapWord},
	}
	box := container.NewVBox(append(head, body...)...)
	// A fixed width keeps wrapped text readable on a wide window.
	return container.NewCenter(container.New(&fixedWidth{w: 420}, box))
}

// fixedWidth lays out one object at a fixed width and its natural height.
type fixedWidth struct{ w float32 }

func (f *fixedWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objs {
		h = max(h, o.MinSize().Height)
	}
	return fyne.NewSize(f.w, h)
}

func (f *fixedWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Resize(size)
		o.Move(fyne.NewPos(0, 0))
	}
}

var _ fyne.Layout = (*fixedWidth)(nil)

// errorLabel is the red line under a form.
func errorLabel() *widget.Label {
	l := &widget.Label{Importance: widget.DangerImportance, Wrapping: fyne.TextWrapWord}
	l.Hide()
	return l
}

func showError(l *widget.Label, err error) {
	if err == nil {
		l.Hide()
		return
	}
	l.SetText(sentence(err))
	l.Show()
}

// actions is the bottom of a form: the submit button, a spinner while the
// work runs off the UI goroutine, and the red line saying what went wrong.
type actions struct {
	submit  *widget.Button
	busy    *widget.Activity
	errText *widget.Label
}

func newActions(submit *widget.Button) actions {
	a := actions{submit: submit, busy: widget.NewActivity(), errText: errorLabel()}
	a.busy.Hide()
	return a
}

// row is the spinner and button, right-aligned.
func (a actions) row() fyne.CanvasObject {
	return container.NewHBox(layout.NewSpacer(), a.busy, a.submit)
}

func (a actions) setBusy(busy bool) {
	if busy {
		a.submit.Disable()
		a.busy.Show()
		a.busy.Start()
		a.errText.Hide()
		return
	}
	a.submit.Enable()
	a.busy.Stop()
	a.busy.Hide()
}

// firstRunScreen asks for the masteradmin password on first start.
type firstRunScreen struct {
	password, repeat *widget.Entry
	actions
}

func (u *UI) showFirstRun(startPage string) {
	s := &firstRunScreen{
		password: &widget.Entry{Password: true, PlaceHolder: "at least 8 characters"},
		repeat:   &widget.Entry{Password: true},
		actions:  newActions(&widget.Button{Text: "Set password and start", Importance: widget.HighImportance, Icon: theme.ConfirmIcon()}),
	}
	s.submit.OnTapped = func() {
		pw := s.password.Text
		switch {
		case pw != s.repeat.Text:
			showError(s.errText, errors.New("the two passwords differ"))
			return
		case account.CheckPassword(pw) != nil:
			showError(s.errText, account.CheckPassword(pw))
			return
		}
		s.setBusy(true)
		var actor account.Actor
		u.background(func(ctx context.Context) (err error) {
			actor, err = u.svc.Accounts.Bootstrap(ctx, pw)
			return err
		}, func(err error) {
			s.setBusy(false)
			if err != nil {
				showError(s.errText, err)
				return
			}
			u.loggedIn(actor, startPage)
		})
	}
	s.repeat.OnSubmitted = func(string) { s.submit.OnTapped() }
	u.firstRun = s
	form := widget.NewForm(
		widget.NewFormItem("Password", s.password),
		widget.NewFormItem("Repeat", s.repeat),
	)
	u.win.SetContent(card("Welcome to Plinth",
		"Plinth keeps your office's BIM data safe. First choose the password of masteradmin, "+
			"the built-in administrator who may do everything, including the full file synchronization. "+
			"Keep it somewhere safe: nobody can reset it for you.",
		form, s.errText, s.row()))
	u.win.Canvas().Focus(s.password)
}

// loginScreen asks for a user name and password.
type loginScreen struct {
	user, password *widget.Entry
	actions
}

func (u *UI) showLogin(user, startPage string) {
	if user == "" {
		user = account.MasterAdmin
	}
	s := &loginScreen{
		user:     &widget.Entry{Text: user},
		password: &widget.Entry{Password: true},
		actions:  newActions(&widget.Button{Text: "Log in", Importance: widget.HighImportance, Icon: theme.LoginIcon()}),
	}
	s.submit.OnTapped = func() {
		name, pw := s.user.Text, s.password.Text
		s.setBusy(true)
		var actor account.Actor
		u.background(func(ctx context.Context) (err error) {
			actor, err = u.svc.Accounts.Login(ctx, name, pw)
			return err
		}, func(err error) {
			s.setBusy(false)
			if err != nil {
				s.fail(err)
				return
			}
			u.loggedIn(actor, startPage)
		})
	}
	s.password.OnSubmitted = func(string) { s.submit.OnTapped() }
	s.user.OnSubmitted = func(string) { u.win.Canvas().Focus(s.password) }
	u.login = s
	form := widget.NewForm(
		widget.NewFormItem("User", s.user),
		widget.NewFormItem("Password", s.password),
	)
	u.win.SetContent(card("Log in to Plinth", "Data folder: "+u.svc.DataDir,
		form, s.errText, s.row()))
	u.win.Canvas().Focus(s.password)
}

// fail shows why a login was refused and clears the password.
func (s *loginScreen) fail(err error) {
	showError(s.errText, err)
	s.password.SetText("")
}
