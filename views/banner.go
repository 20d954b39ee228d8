package views

import (
	"fmt"
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Banner colours: readable dark text on yellow, white text on green and red.
var (
	BannerRunning = color.NRGBA{R: 0xFF, G: 0xD5, B: 0x4F, A: 0xFF}
	BannerDone    = color.NRGBA{R: 0x2E, G: 0x7D, B: 0x32, A: 0xFF}
	BannerFailed  = color.NRGBA{R: 0xC6, G: 0x28, B: 0x28, A: 0xFF}
	bannerDark    = color.NRGBA{R: 0x21, G: 0x21, B: 0x21, A: 0xFF}
)

// BannerState says which bar shows.
type BannerState int

// The bar states.
const (
	BannerHidden BannerState = iota
	BannerShowRunning
	BannerShowDone
	BannerShowFailed
)

// Banner is the bar across the top of the window: yellow while long work
// (a full synchronization, a restore) runs, with progress and Cancel; green
// when it finished; red when it failed. Its methods must run on the UI
// goroutine; from other goroutines wrap them in fyne.Do.
type Banner struct {
	obj    *fyne.Container
	bg     *canvas.Rectangle
	text   *canvas.Text
	bar    *widget.ProgressBar
	cancel *widget.Button
	close  *widget.Button
	state  BannerState
	onStop func()
}

func newBanner() *Banner {
	b := &Banner{
		bg:   canvas.NewRectangle(BannerRunning),
		text: canvas.NewText("", bannerDark),
		bar:  &widget.ProgressBar{Min: 0, Max: 1},
	}
	b.text.TextStyle.Bold = true
	b.cancel = &widget.Button{Text: "Cancel", Icon: theme.CancelIcon(), OnTapped: func() {
		if b.onStop != nil {
			b.cancel.Disable()
			b.cancel.SetText("Cancelling…")
			b.onStop()
		}
	}}
	b.close = &widget.Button{Icon: theme.WindowCloseIcon(), Importance: widget.LowImportance, OnTapped: b.Hide}
	barBox := container.NewGridWrap(fyne.NewSize(220, b.bar.MinSize().Height), b.bar)
	row := container.NewHBox(b.text, layout.NewSpacer(), barBox, b.cancel, b.close)
	b.obj = container.NewStack(b.bg, container.NewPadded(row))
	b.obj.Hide()
	return b
}

// State reports which bar shows.
func (b *Banner) State() BannerState { return b.state }

// Text is the banner's message.
func (b *Banner) Text() string { return b.text.Text }

// Running shows the yellow bar with text. cancel, when not nil, is called
// once if the user presses Cancel.
func (b *Banner) Running(text string, cancel func()) {
	b.state, b.onStop = BannerShowRunning, cancel
	b.paint(BannerRunning, bannerDark, text)
	b.bar.SetValue(0)
	b.bar.Show()
	b.cancel.SetText("Cancel")
	b.cancel.Enable()
	b.cancel.Hidden = cancel == nil
	b.close.Hide()
	b.obj.Refresh()
}

// Progress moves the yellow bar's progress; total 0 means unknown.
func (b *Banner) Progress(done, total int64, text string) {
	if b.state != BannerShowRunning {
		return
	}
	if text != "" {
		b.text.Text = text
		b.text.Refresh()
	}
	if total > 0 {
		b.bar.SetValue(float64(done) / float64(total))
		b.bar.TextFormatter = func() string { return fmt.Sprintf("%d of %d", done, total) }
	}
}

// Done shows the green bar with text; the user closes it.
func (b *Banner) Done(text string) { b.finish(BannerShowDone, BannerDone, text) }

// Failed shows the red bar with text; the user closes it.
func (b *Banner) Failed(text string) { b.finish(BannerShowFailed, BannerFailed, text) }

func (b *Banner) finish(state BannerState, bg color.Color, text string) {
	b.state, b.onStop = state, nil
	b.paint(bg, color.White, text)
	b.bar.Hide()
	b.cancel.Hide()
	b.close.Show()
	b.obj.Refresh()
}

func (b *Banner) paint(bg, fg color.Color, text string) {
	b.bg.FillColor = bg
	b.text.Color = fg
	b.text.Text = text
	b.obj.Show()
	b.bg.Refresh()
	b.text.Refresh()
}

// Hide removes the bar.
func (b *Banner) Hide() {
	b.state, b.onStop = BannerHidden, nil
	b.obj.Hide()
}
