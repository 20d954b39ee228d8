package app

import (
	"context"
	"errors"
	"fmt"
	"os"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/text"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/views"
)

// RunWindow opens Plinth's window on the data folder and returns the exit
// code when it closes. When the folder cannot be opened (another Plinth
// has it, a store is damaged), the window says so in one sentence, the same
// sentence goes to stderr, and the exit code is 1. On a disk below the
// reserve the window opens read-only and says so.
//
// password, when not empty, logs g.User in without the login screen (from
// -password-stdin, for scripted starts such as the smoke test). icon is the
// PNG of the window icon.
func RunWindow(ctx context.Context, g Global, password string, icon []byte) int {
	if g.DataDir == "" {
		g.DataDir = DefaultDataDir()
	}
	a, err := Open(ctx, Config{DataDir: g.DataDir, LogToStderr: true, Announce: func(msg string) {
		fmt.Fprintln(os.Stderr, text.Safe(msg))
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, sentence(err))
		// A window that only says why, under an id of its own: it must not
		// touch the preferences the running Plinth owns. (Without an id,
		// Fyne takes the id from FyneApp.toml when run from the source
		// tree, and read the running window's preferences as it wrote them.)
		// Its preferences hold nothing worth keeping; a damaged file would
		// only add Fyne's complaint to the one sentence on stderr.
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
	if msg := tidyPreferences(ID, false); msg != "" {
		a.Log.Warn(msg)
	}
	fa := fyneapp.NewWithID(ID)
	if len(icon) > 0 {
		fa.SetIcon(fyne.NewStaticResource("Icon.png", icon))
	}
	w := fa.NewWindow(Name)
	// Ctrl+C or SIGTERM close the window the normal way, so the stores
	// close cleanly.
	stop := context.AfterFunc(ctx, func() { fyne.Do(fa.Quit) })
	defer stop()
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
	w.ShowAndRun()

	ui.Wait()
	if err := a.Close(); err != nil {
		fmt.Fprintln(os.Stderr, sentence(err))
		return ExitFailure
	}
	return ExitOK
}

func showOpenError(w fyne.Window, err error) {
	title := "Plinth cannot open its data"
	switch {
	case errors.Is(err, ErrAlreadyRunning):
		title = "Plinth is already running"
	case errors.Is(err, storage.ErrDamaged):
		title = "One of Plinth's stores is damaged"
	}
	w.SetContent(container.NewPadded(container.NewVBox(
		&widget.Label{Text: title, TextStyle: fyne.TextStyle{Bold: true}},
		&widget.Label{Text: sentence(err), Wrapping: fyne.TextWrapWord},
		container.NewHBox(&widget.Button{Text: "Quit", Importance: widget.HighImportance, OnTapped: w.Close}),
	)))
	w.Resize(fyne.NewSize(480, 160))
}
