package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/text"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/views"
)

// RunWindow opens Plinth's window on the data folder and returns the exit
// code when it closes. When the folder cannot be opened (another Plinth
// has it, a store is damaged), the window says so in one sentence, the same
// sentence goes to stderr, and the exit code is 1. On a disk below the
// reserve the window opens read-only and says so. A data folder of an
// older format is upgraded first, in a window that says so while the
// backup before it runs (upgradeAhead).
//
// password, when not empty, logs g.User in without the login screen (from
// -password-stdin, for scripted starts such as the smoke test). icon is the
// PNG of the window icon.
func RunWindow(ctx context.Context, g Global, password string, icon []byte) int {
	// A data folder where Plinth kept it before moves to where the OS
	// keeps application data first.
	if err := moveDefaultFolder(ctx, g.DataDir, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, sentence(err))
		return openErrorWindow(ctx, err, icon)
	}
	if g.DataDir == "" {
		g.DataDir = DefaultDataDir()
	}
	cfg := Config{DataDir: g.DataDir, LogToStderr: true, Announce: func(msg string) {
		fmt.Fprintln(os.Stderr, text.Safe(msg))
	}}
	// Plinth started a second time: the running one brings its window
	// forward (from the tray), or says why it has none.
	code, err := showRunning(ctx, g, 0)
	if err == nil {
		return code
	}
	if msg := upgradeAhead(g.DataDir); msg != "" {
		return runUpgrading(ctx, g, cfg, msg, password, icon)
	}
	a, err := Open(ctx, cfg)
	if errors.Is(err, ErrAlreadyRunning) {
		// Taken between the two looks, or its holder is still starting.
		if code, serr := showRunning(ctx, g, holderPatience); serr == nil {
			return code
		} else if serr != errNoAnswer {
			err = serr
		} else {
			err = notAnswering(g.DataDir)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, sentence(err))
		return openErrorWindow(ctx, err, icon)
	}
	fa, w := newMainWindow(a, icon)
	stop := context.AfterFunc(ctx, func() { fyne.Do(fa.Quit) })
	defer stop()
	m := startMain(a, fa, w, g, password, icon)
	if g.Background {
		// Started at login: the window waits in the tray.
		fa.Run()
	} else {
		w.ShowAndRun()
	}
	return closeMain(a, m)
}

// openErrorWindow shows a window that only says why Plinth cannot open its
// data, and returns exit code 1 when it is closed.
func openErrorWindow(ctx context.Context, err error, icon []byte) int {
	// A window under an id of its own: it must not touch the preferences
	// the running Plinth owns. (Without an id, Fyne takes the id from
	// FyneApp.toml when run from the source tree, and read the running
	// window's preferences as it wrote them.) Its preferences hold
	// nothing worth keeping; a damaged file would only add Fyne's
	// complaint to the one sentence on stderr.
	_ = tidyPreferences(ID+".open-error", true)
	fa := fyneapp.NewWithID(ID + ".open-error")
	if len(icon) > 0 {
		fa.SetIcon(fyne.NewStaticResource("Icon.png", icon))
	}
	w := fa.NewWindow(Name)
	stop := context.AfterFunc(ctx, func() { fyne.Do(fa.Quit) })
	defer stop()
	showOpenError(w, err)
	w.ShowAndRun()
	return ExitFailure
}

// errNoAnswer means no Plinth answered on the data folder's control
// endpoint.
var errNoAnswer = errors.New("no Plinth answers on the control endpoint")

// showRunning asks the Plinth holding g's data folder to show its window.
// It returns errNoAnswer when none answers, and the holder's refusal
// (plinth serve has no window) as an error that is ErrAlreadyRunning.
func showRunning(ctx context.Context, g Global, patience time.Duration) (int, error) {
	var said bytes.Buffer
	code, ok := forward(ctx, g, request{Ping: g.Background}, IO{In: strings.NewReader(""), Out: os.Stdout, Err: &said, Getenv: os.Getenv}, patience)
	switch {
	case !ok:
		return 0, errNoAnswer
	case code != ExitOK:
		return 0, &heldError{strings.TrimSpace(said.String())}
	}
	if g.Background {
		fmt.Fprintln(os.Stderr, "Plinth is already running with this data folder.")
	} else {
		fmt.Fprintln(os.Stderr, "Plinth is already running with this data folder; its window was brought forward.")
	}
	return ExitOK, nil
}

// heldError is a refusal because another Plinth holds the data folder,
// in the words of the one that said it.
type heldError struct{ msg string }

func (e *heldError) Error() string        { return e.msg }
func (e *heldError) Is(target error) bool { return target == ErrAlreadyRunning }

// newMainWindow makes Plinth's application and its window. Only the
// process that holds (or is about to hold) the data folder may: the
// preferences are its own.
func newMainWindow(a *App, icon []byte) (fyne.App, fyne.Window) {
	if msg := tidyPreferences(ID, false); msg != "" && a != nil {
		a.Log.Warn(msg)
	}
	fa := fyneapp.NewWithID(ID)
	if len(icon) > 0 {
		fa.SetIcon(fyne.NewStaticResource("Icon.png", icon))
	}
	return fa, fa.NewWindow(Name)
}

// mainWindow is the running window's parts that closing needs.
type mainWindow struct {
	ui  *views.UI
	res *resident
}

// startMain puts the pages into the window of an open Plinth, starts its
// background jobs and its control endpoint, and makes it resident (the
// close button hides it). It runs on the UI goroutine.
func startMain(a *App, fa fyne.App, w fyne.Window, g Global, password string, icon []byte) mainWindow {
	if err := a.StartBackground(beeepDesktop{icon: icon}); err != nil {
		a.Log.Error("start background jobs", "err", err)
	}
	ui := views.New(fa, w, a.ViewServices())
	views.RememberSize(w, fa.Preferences(), nil)
	w.SetMaster()
	ui.Start(views.StartOptions{User: g.User, Password: password, Page: g.Page})
	if err := a.ReadOnly(); err != nil {
		// Everything can be looked at; nothing can be changed.
		fmt.Fprintln(os.Stderr, sentence(err))
		dialog.ShowInformation("Plinth opened its data read-only", sentence(err), w)
	}
	if u := a.Upgraded; u != nil {
		dialog.ShowInformation("Plinth upgraded its data", upgradedSentence(*u), w)
	}
	res := makeResident(a, fa, w, ui, icon)
	err := a.ServeControl(Holder{Kind: "the window",
		Show: func() error { fyne.Do(res.show); return nil },
		Quit: func() { fyne.Do(fa.Quit) },
		Busy: func() []string {
			if s := ui.Busy(); s != "" {
				return []string{lowerFirst(s) + " (in the window)"}
			}
			return nil
		},
	})
	if err != nil {
		// The window works without it; commands then say that Plinth
		// does not answer.
		a.Log.Error("control endpoint", "err", err)
	}
	return mainWindow{ui: ui, res: res}
}

// closeMain waits for the pages' work and closes the stores.
func closeMain(a *App, m mainWindow) int {
	m.res.close()
	m.ui.Wait()
	if err := a.Close(); err != nil {
		fmt.Fprintln(os.Stderr, sentence(err))
		return ExitFailure
	}
	return ExitOK
}

// runUpgrading shows a window that says the data is being upgraded while
// Open upgrades it off the UI goroutine, then turns into Plinth's window
// (or says why the folder could not be opened). The window cannot be
// closed while the upgrade runs; Ctrl+C or SIGTERM stop it at its next
// step, and the next start finishes it.
func runUpgrading(ctx context.Context, g Global, cfg Config, msg, password string, icon []byte) int {
	fa, w := newMainWindow(nil, icon)
	stop := context.AfterFunc(ctx, func() { fyne.Do(fa.Quit) })
	defer stop()
	bar := widget.NewProgressBarInfinite()
	w.SetContent(container.NewPadded(container.NewVBox(
		&widget.Label{Text: "Plinth is upgrading its data", TextStyle: fyne.TextStyle{Bold: true}},
		&widget.Label{Text: msg, Wrapping: fyne.TextWrapWord},
		bar,
	)))
	w.Resize(fyne.NewSize(560, 200))
	w.SetCloseIntercept(func() {
		dialog.ShowInformation("Plinth is upgrading its data", "Plinth can be closed once the upgrade has finished; stopping it part-way only means the next start finishes it.", w)
	})
	// Once the application has stopped, fyne.Do runs its function on the
	// caller's goroutine: stopped (set on the UI goroutine as the app
	// stops) keeps a late Open from starting the pages then.
	var (
		mu      sync.Mutex
		stopped bool
		adopted *App
		m       mainWindow
		code    = ExitOK
	)
	fa.Lifecycle().SetOnStopped(func() { mu.Lock(); stopped = true; mu.Unlock() })
	opened := make(chan *App, 1)
	go func() {
		a, err := Open(ctx, cfg)
		opened <- a
		fyne.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			if stopped {
				return
			}
			bar.Stop()
			w.SetCloseIntercept(nil)
			if err != nil {
				fmt.Fprintln(os.Stderr, sentence(err))
				code = ExitFailure
				showOpenError(w, err)
				return
			}
			adopted = a
			m = startMain(a, fa, w, g, password, icon)
		})
	}()
	w.ShowAndRun()
	a := <-opened // the upgrade finishes (or stops) before Plinth exits
	mu.Lock()
	stopped = true
	mine, exit := adopted == nil, code
	mu.Unlock()
	if a == nil {
		if exit == ExitOK {
			exit = ExitFailure // stopped before the data could be opened
		}
		return exit
	}
	if mine {
		if err := a.Close(); err != nil {
			fmt.Fprintln(os.Stderr, sentence(err))
			return ExitFailure
		}
		return ExitOK
	}
	return closeMain(a, m)
}

func showOpenError(w fyne.Window, err error) {
	title := "Plinth cannot open its data"
	switch {
	case errors.Is(err, ErrAlreadyRunning):
		title = "Plinth is already running"
	case errors.Is(err, storage.ErrDamaged):
		title = "One of Plinth's stores is damaged"
	case errors.Is(err, upgrade.ErrNewer):
		title = "This data needs a newer Plinth"
	}
	w.SetContent(container.NewPadded(container.NewVBox(
		&widget.Label{Text: title, TextStyle: fyne.TextStyle{Bold: true}},
		&widget.Label{Text: sentence(err), Wrapping: fyne.TextWrapWord},
		container.NewHBox(&widget.Button{Text: "Quit", Importance: widget.HighImportance, OnTapped: w.Close}),
	)))
	w.Resize(fyne.NewSize(480, 160))
}
