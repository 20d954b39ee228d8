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

// minRunning is how long the yellow bar shows at least, so that work
// that finishes at once is still seen to have run (UI.minRunning; tests
// may set it lower).
const minRunning = time.Second

// longWork runs work off the UI goroutine with the yellow bar, its progress
// and Cancel; then the green bar with what work returned, the amber bar
// when work returned an attention (see checkStores), or the red bar with
// the reason. The yellow bar stays at least u.minRunning. Only one such piece
// of work runs at a time; done, if not nil, runs on the UI goroutine
// afterwards either way (with nil after an attention: the work was done).
func (u *UI) longWork(title string, work func(ctx context.Context, prog progress.Func) (string, error), done func(err error)) {
	if u.busy {
		dialog.ShowInformation("Please wait", "Plinth is still busy with: "+u.busyWith+". Start this when it has finished.", u.win)
		return
	}
	u.busy, u.busyWith = true, title
	u.busyNow.Store(title)
	ctx, cancel := context.WithCancel(context.Background())
	u.banner.Running(title+"…", cancel)
	start, hold := time.Now(), u.minRunning
	var mu sync.Mutex
	var last time.Time
	var meter progress.Meter
	prog := func(r progress.Report) {
		mu.Lock()
		now := time.Now()
		rate := meter.Add(now, r)
		if now.Sub(last) < 100*time.Millisecond && r.Done < r.Total {
			mu.Unlock()
			return
		}
		last = now
		mu.Unlock()
		u.do(func() { u.banner.Progress(r, progressText(title, r, rate)) })
	}
	var msg string
	u.background(func(context.Context) (err error) {
		msg, err = work(ctx, prog)
		if wait := hold - time.Since(start); wait > 0 {
			time.Sleep(wait)
		}
		return err
	}, func(err error) {
		cancel()
		u.busy = false
		u.busyNow.Store("")
		var att *attention
		switch {
		case errors.Is(err, context.Canceled):
			u.banner.Failed(fmt.Sprintf("%s was cancelled.", title))
		case errors.As(err, &att):
			u.banner.Warn(att.msg)
			err = nil
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

// progressText is the yellow bar's sentence while work runs: what is
// happening, on which item, and how far it is in units a person reads,
// with its speed and the time left once the rate (see progress.Meter) is
// known: "Uploading… tower.ifc — 156 MiB of 286 MiB, 45 MB/s, about 3 s
// left", "Synchronizing… 120 of 300 entries".
func progressText(title string, r progress.Report, rate float64) string {
	text := title + "…"
	if r.Phase != "" {
		text = r.Phase + "…"
	}
	sep := " "
	if r.Item != "" {
		text += " " + r.Item
		sep = " — "
	}
	if r.Done > 0 || r.Total > 0 {
		text += sep + progress.Describe(r, rate)
	}
	return text
}

// attention is what long work returns, in place of an error, when it did
// what it was asked but left something the admin must act on: longWork
// shows its message in the amber bar.
type attention struct{ msg string }

func (a *attention) Error() string { return a.msg }

// checkStores returns msg when the Manager and the File Server agree (or
// cannot be compared here), and otherwise an attention that says msg, that
// they disagree and what to do. Long work that can leave them disagreeing
// (a restore of one store, a synchronization) ends with it.
func (u *UI) checkStores(ctx context.Context, msg string) (string, error) {
	if u.svc.Sync == nil {
		return msg, nil
	}
	c, _, err := u.svc.Sync.Detect(context.WithoutCancel(ctx), false)
	if err != nil || c.Consistent {
		return msg, nil
	}
	return "", &attention{msg: msg + " " + c.String() + " Press Synchronize files… on the Servers page to make them agree."}
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
