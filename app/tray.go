package app

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/health"
	"codeberg.org/plinth/plinth/core/schedule"
	"codeberg.org/plinth/plinth/views"
)

// trayHost says whether the desktop shows tray icons. Windows and macOS
// always do; on Linux it depends on the desktop (a StatusNotifierWatcher
// on the session bus). Tests replace it.
var trayHost interface{ Available() bool } = systemTray{}

// Preference keys of the resident window.
const (
	prefTrayNoticeShown = "tray.noticeShown"
)

// resident keeps Plinth running when its window is closed: in the tray
// where there is one, in the background (after asking) where there is
// none. Quitting is an explicit choice, and asks first while work runs.
type resident struct {
	a    *App
	fa   fyne.App
	w    fyne.Window
	ui   *views.UI
	icon []byte
	// tray is set when the desktop shows Plinth's tray icon.
	tray      desktop.App
	attention fyne.Resource // the icon with a mark: something needs attention
	normal    fyne.Resource
	stop      context.CancelFunc
	stopped   chan struct{} // closed when the refresh has stopped
	shown     string        // the state line the tray shows now
}

// makeResident sets up the tray (where there is one) and the close
// button's behaviour. It runs on the UI goroutine.
func makeResident(a *App, fa fyne.App, w fyne.Window, ui *views.UI, icon []byte) *resident {
	r := &resident{a: a, fa: fa, w: w, ui: ui, icon: icon}
	if d, ok := fa.(desktop.App); ok && trayHost.Available() {
		r.tray = d
		if len(icon) > 0 {
			r.normal = fyne.NewStaticResource("Icon.png", icon)
			if marked, err := markIcon(icon); err == nil {
				r.attention = fyne.NewStaticResource("IconAttention.png", marked)
			} else {
				a.Log.Warn("tray attention icon", "err", err)
			}
		}
		d.SetSystemTrayWindow(w)
		r.applyTray("Checking…", false)
		ctx, cancel := context.WithCancel(context.Background())
		r.stop, r.stopped = cancel, make(chan struct{})
		go func() {
			defer close(r.stopped)
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				// The health report reads the stores: off the UI goroutine.
				line, attention := r.trayLine(ctx)
				if ctx.Err() == nil {
					fyne.Do(func() { r.applyTray(line, attention) })
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	w.SetCloseIntercept(r.closeWindow)
	return r
}

// close stops the tray's refresh, before the stores close.
func (r *resident) close() {
	if r.stop != nil {
		r.stop()
		<-r.stopped
	}
}

// show brings the window forward (tray, a second start of Plinth).
func (r *resident) show() {
	r.w.Show()
	r.w.RequestFocus()
}

// closeWindow is the window's close button: hide to the tray, or ask.
func (r *resident) closeWindow() {
	views.SaveSize(r.w, r.fa.Preferences())
	if r.tray != nil {
		prefs := r.fa.Preferences()
		if prefs.Bool(prefTrayNoticeShown) {
			r.w.Hide()
			return
		}
		d := dialog.NewInformation("Plinth keeps running in the tray",
			"Closing the window does not stop Plinth: scheduled backups, checks and connection syncs go on. "+
				"Open the window again from Plinth's icon in the system tray. To stop Plinth, choose Quit Plinth in that icon's menu.", r.w)
		d.SetOnClosed(func() {
			prefs.SetBool(prefTrayNoticeShown, true)
			r.w.Hide()
		})
		d.Show()
		return
	}
	msg := widget.NewLabel("This desktop has no system tray. Keep Plinth running in the background, so that scheduled backups, " +
		"checks and connection syncs go on? Start Plinth again to bring its window back; 'plinth quit' stops it.")
	msg.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustomConfirm("Keep Plinth running?", "Keep running", "Quit Plinth", msg, func(keep bool) {
		if !keep {
			r.quit()
			return
		}
		r.w.Hide()
		r.a.Log.Info("window hidden; Plinth keeps running in the background")
	}, r.w)
	d.Resize(fyne.NewSize(460, 200))
	d.Show()
}

// quit ends Plinth, after asking while work runs.
func (r *resident) quit() {
	var busy []string
	if r.a.control != nil {
		busy = r.a.control.busy(nil)
	}
	if len(busy) == 0 {
		r.fa.Quit()
		return
	}
	r.show()
	msg := widget.NewLabel(fmt.Sprintf("Plinth is busy with %s. Quitting stops it at a safe point: a backup stopped part-way is discarded "+
		"and the next one starts afresh; a file synchronization, restore or connection sync is finished or rolled back at the next start.",
		strings.Join(busy, ", ")))
	msg.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustomConfirm("Quit while Plinth is busy?", "Keep running", "Quit anyway", msg, func(keep bool) {
		if !keep {
			r.fa.Quit()
		}
	}, r.w)
	d.Resize(fyne.NewSize(460, 220))
	d.Show()
}

// trayLine is the tray's state line, from the health report (the one the
// Overview shows) and the running jobs.
func (r *resident) trayLine(ctx context.Context) (string, bool) {
	rep, err := r.a.HealthReport(ctx)
	if err != nil {
		return "Checking…", false
	}
	return trayState(rep, r.a.Scheduler.Jobs(), time.Now())
}

// applyTray rebuilds the tray's menu and icon when the line changed.
func (r *resident) applyTray(line string, attention bool) {
	if r.tray == nil {
		return
	}
	if line == r.shown {
		return // unchanged: the desktop's panel is not bothered
	}
	r.shown = line
	state := fyne.NewMenuItem(line, nil)
	state.Disabled = true
	menu := fyne.NewMenu(Name,
		state,
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem("Open Plinth", r.show),
		fyne.NewMenuItem("Back up now", func() {
			if err := r.a.Scheduler.RunSoon("backup.level2"); err != nil {
				r.a.Log.Warn("back up now from the tray", "err", err)
			}
		}),
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem("Quit Plinth", r.quit),
	)
	r.tray.SetSystemTrayMenu(menu)
	if attention && r.attention != nil {
		r.tray.SetSystemTrayIcon(r.attention)
	} else if r.normal != nil {
		r.tray.SetSystemTrayIcon(r.normal)
	}
}

// trayState is the tray menu's first line and whether the icon shows
// that something needs attention: the health report's state and its
// worst reason, or the last full backup when all is safe.
func trayState(rep health.Report, jobs []schedule.Status, now time.Time) (string, bool) {
	var full *schedule.Status
	for i, j := range jobs {
		if j.Name == "backup.level2" {
			full = &jobs[i]
		}
	}
	attention := rep.State != health.Safe
	switch {
	case full != nil && full.Running:
		return "Backing up now…", attention
	case rep.State == health.Safe && full != nil && !full.LastSuccess.IsZero():
		return "All safe · last backup " + shortTime(full.LastSuccess, now), false
	case rep.State == health.Safe:
		return "All safe", false
	}
	line := rep.State.Label()
	if len(rep.Reasons) > 0 {
		line += ": " + shorten(rep.Reasons[0].Sentence, 70)
		if n := len(rep.Reasons) - 1; n > 0 {
			line += fmt.Sprintf(" (+%d more)", n)
		}
	}
	return line, true
}

// shorten cuts s at a word to at most n runes, with an ellipsis.
func shorten(s string, n int) string {
	s = strings.TrimSuffix(s, ".")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	cut := string(r[:n])
	if i := strings.LastIndex(cut, " "); i > n/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:") + "…"
}

// shortTime is "02:00" today, "Mon 02:00" this week, else "2 Jan".
func shortTime(t, now time.Time) string {
	t = t.Local()
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Local().Date()
	switch {
	case y1 == y2 && m1 == m2 && d1 == d2:
		return t.Format("15:04")
	case now.Sub(t) < 6*24*time.Hour:
		return t.Format("Mon 15:04")
	}
	return t.Format("2 Jan")
}

// markIcon puts an orange dot on the icon's corner: the tray's "needs
// attention".
func markIcon(icon []byte) ([]byte, error) {
	src, err := png.Decode(bytes.NewReader(icon))
	if err != nil {
		return nil, fmt.Errorf("decode icon: %w", err)
	}
	b := src.Bounds()
	dst := image.NewRGBA(b)
	draw.Draw(dst, b, src, b.Min, draw.Src)
	rad := b.Dx() / 5
	cx, cy := b.Max.X-rad-b.Dx()/20, b.Max.Y-rad-b.Dy()/20
	orange, white := color.RGBA{0xe6, 0x6a, 0x00, 0xff}, color.RGBA{0xff, 0xff, 0xff, 0xff}
	for y := cy - rad - 4; y <= cy+rad+4; y++ {
		for x := cx - rad - 4; x <= cx+rad+4; x++ {
			d2 := (x-cx)*(x-cx) + (y-cy)*(y-cy)
			switch {
			case d2 <= rad*rad:
				dst.Set(x, y, orange)
			case d2 <= (rad+4)*(rad+4):
				dst.Set(x, y, white)
			}
		}
	}
	var out bytes.Buffer
	if err := png.Encode(&out, dst); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
