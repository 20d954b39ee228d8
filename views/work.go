package views

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"fyne.io/fyne/v2/dialog"

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
