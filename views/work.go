package views

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"

	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/progress"
)

// longWork runs work off the UI goroutine with the yellow bar, its progress
// and Cancel; then the green bar with what work returned, or the red bar
// with the reason. Only one such piece of work runs at a time; done, if not
// nil, runs on the UI goroutine afterwards either way.
func (u *UI) longWork(title string, work func(ctx context.Context, prog progress.Func) (string, error), done func(err error)) {
	if u.busy {
		dialog.ShowInformation("Please wait", "Plinth is still busy with: "+u.busyWith+". Start this when it has finished.", u.win)
		return
	}
	u.busy, u.busyWith = true, title
	u.busyNow.Store(title)
	ctx, cancel := context.WithCancel(context.Background())
	u.banner.Running(title+"…", cancel)
	var mu sync.Mutex
	var last time.Time
	prog := func(r progress.Report) {
		mu.Lock()
		if time.Since(last) < 100*time.Millisecond && r.Done < r.Total {
			mu.Unlock()
			return
		}
		last = time.Now()
		mu.Unlock()
		text := title + "…"
		if r.Phase != "" {
			text = r.Phase + "…"
		}
		if r.Item != "" {
			text += " " + r.Item
		}
		u.do(func() { u.banner.Progress(r, text) })
	}
	var msg string
	u.background(func(context.Context) (err error) {
		msg, err = work(ctx, prog)
		return err
	}, func(err error) {
		cancel()
		u.busy = false
		u.busyNow.Store("")
		switch {
		case errors.Is(err, context.Canceled):
			u.banner.Failed(fmt.Sprintf("%s was cancelled.", title))
		case err != nil:
			u.banner.Failed(sentence(err))
		default:
			u.banner.Done(msg)
		}
		if done != nil {
			done(err)
		}
	})
}

// showError tells the user in one sentence why something did not happen.
func (u *UI) showError(err error) {
	if err == nil {
		return
	}
	dialog.ShowError(errors.New(sentence(err)), u.win)
}

// saveFile asks where to save a report and writes what write produces
// there through the one atomic writer (files.WriteAtomic), saying so when
// it fails. The save dialog has created the file by then; its content is
// put in whole or not at all.
func (u *UI) saveFile(write func(w io.Writer) error) {
	dialog.ShowFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		dest := w.URI().Path()
		_ = w.Close() // nothing was written through it
		var buf bytes.Buffer
		if err := write(&buf); err != nil {
			u.showError(err)
			return
		}
		if _, err := files.WriteAtomic(dest, &buf); err != nil {
			u.showError(fmt.Errorf("write %s: %w", dest, err))
		}
	}, u.win)
}
