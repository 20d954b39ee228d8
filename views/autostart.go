package views

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// Autostart is starting Plinth, hidden in the tray, when the user logs in
// to this computer: a setting of this computer's user account, not of the
// data. Both calls touch the system (a file, the registry) and are made
// off the UI goroutine.
type Autostart interface {
	// Enabled says whether this Plinth starts at login.
	Enabled() (bool, error)
	SetEnabled(on bool) error
}

// prefAutostartOffered is set once the window has asked whether Plinth
// should start at login, whatever the answer.
const prefAutostartOffered = "autostart.offered"

const autostartExplained = "Plinth then starts in the background, so scheduled backups run without anyone opening it."

// autostartSection is the Servers page's "Start Plinth when I log in".
type autostartSection struct {
	ui      *UI
	obj     fyne.CanvasObject
	check   *widget.Check
	errText *widget.Label
}

func newAutostartSection(u *UI) *autostartSection {
	s := &autostartSection{ui: u, errText: errorLabel()}
	s.check = &widget.Check{Text: "Start Plinth when I log in", OnChanged: s.set}
	s.check.Disable() // until load says whether it is on
	explain := &widget.Label{Text: autostartExplained, Importance: widget.LowImportance, Wrapping: fyne.TextWrapWord}
	s.obj = container.NewVBox(container.NewBorder(nil, nil, s.check, nil, explain), s.errText)
	if u.svc.Autostart == nil {
		s.obj.Hide() // this system cannot start Plinth at login
	}
	return s
}

// load reads the setting, which the command line or another window may
// have changed.
func (s *autostartSection) load() {
	a := s.ui.svc.Autostart
	if a == nil {
		return
	}
	var on bool
	s.ui.background(func(context.Context) (err error) {
		on, err = a.Enabled()
		return err
	}, func(err error) {
		s.check.Enable()
		showError(s.errText, err)
		s.show(on)
	})
}

// show ticks or clears the box without calling OnChanged.
func (s *autostartSection) show(on bool) {
	s.check.Checked = on
	s.check.Refresh()
}

// set is a click on the box: the entry is written or removed; on failure
// the box goes back and the red line says why.
func (s *autostartSection) set(on bool) {
	a := s.ui.svc.Autostart
	if a == nil {
		return
	}
	s.check.Disable()
	s.ui.background(func(context.Context) error {
		return a.SetEnabled(on)
	}, func(err error) {
		s.check.Enable()
		showError(s.errText, err)
		if err != nil {
			s.show(!on)
			return
		}
		if on {
			s.ui.banner.Done("Plinth will start in the background when you log in.")
		} else {
			s.ui.banner.Done("Plinth will no longer start when you log in.")
		}
	})
}

// offerAutostart asks once, after the first login in the window, whether
// Plinth should start at login; it does not ask when it already does, or
// when the setting cannot be read (it asks at a later login then).
func (u *UI) offerAutostart() {
	a := u.svc.Autostart
	if a == nil || u.autostartOffered || u.app.Preferences().Bool(prefAutostartOffered) {
		return
	}
	u.autostartOffered = true
	var on bool
	u.background(func(context.Context) (err error) {
		on, err = a.Enabled()
		return err
	}, func(err error) {
		switch {
		case err != nil:
		case on:
			u.app.Preferences().SetBool(prefAutostartOffered, true)
		default:
			u.showAutostartOffer(a)
		}
	})
}

func (u *UI) showAutostartOffer(a Autostart) {
	// Offered once, answered or not: a window closed without an answer is
	// an answer too, and the Servers page has the setting.
	u.app.Preferences().SetBool(prefAutostartOffered, true)
	msg := &widget.Label{Wrapping: fyne.TextWrapWord, Text: "Plinth can start in the background when you log in to this computer (in the system tray where the desktop has one), " +
		"so scheduled backups run without anyone opening it. You can change this later on the Servers page."}
	dialog.ShowCustomConfirm("Start Plinth when you log in?", "Start at login", "Not now",
		container.New(&fixedWidth{w: 420}, msg), func(yes bool) {
			u.app.Preferences().SetBool(prefAutostartOffered, true)
			if !yes {
				return
			}
			u.background(func(context.Context) error {
				return a.SetEnabled(true)
			}, func(err error) {
				if err != nil {
					u.showError(err)
					return
				}
				u.banner.Done("Plinth will start in the background when you log in.")
				if sp, ok := u.built[PageServers].(*serversPage); ok {
					sp.autostart.load()
				}
			})
		}, u.win)
}
