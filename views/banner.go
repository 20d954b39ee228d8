package views

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/progress"
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
	BannerShowWarning
)

// Banner is the bar across the top of the window: yellow while long work
// (a full synchronization, a restore) runs, with progress and Cancel; green
// when it finished; red when it failed. A long message wraps onto more
// lines rather than widen the window. Its methods must run on the UI
// goroutine; from other goroutines wrap them in fyne.Do.
type Banner struct {
	obj    *fyne.Container
	bg     *canvas.Rectangle
	text   *widget.Label
	ink    *bannerInk // the text's colour
	inked  *container.ThemeOverride
	bar    *widget.ProgressBar
	cancel *widget.Button
	close  *widget.Button
	state  BannerState
	onStop func()
}

func newBanner() *Banner {
	b := &Banner{
		bg:   canvas.NewRectangle(BannerRunning),
		text: &widget.Label{TextStyle: fyne.TextStyle{Bold: true}, Wrapping: fyne.TextWrapWord},
		ink:  &bannerInk{fg: bannerDark},
		bar:  &widget.ProgressBar{Min: 0, Max: 1},
	}
	b.cancel = &widget.Button{Text: "Cancel", Icon: theme.CancelIcon(), OnTapped: func() {
		if b.onStop != nil {
			b.cancel.Disable()
			b.cancel.SetText("Cancelling…")
			b.onStop()
		}
	}}
	b.close = &widget.Button{Icon: theme.WindowCloseIcon(), Importance: widget.LowImportance, OnTapped: b.Hide}
	barBox := container.NewGridWrap(fyne.NewSize(220, b.bar.MinSize().Height), b.bar)
	row := container.NewBorder(nil, nil, nil, container.NewHBox(barBox, b.cancel, b.close), b.text)
	// The text and the buttons' icons take the banner's ink: the close
	// button's × is white on green and red, dark on yellow and amber.
	b.inked = container.NewThemeOverride(row, b.ink)
	b.obj = container.NewStack(b.bg, container.NewPadded(b.inked))
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

// Progress moves the yellow bar's progress (a total of 0 means unknown)
// and shows text, which says in words how far the work is (see
// progressText); the bar shows the percentage.
func (b *Banner) Progress(r progress.Report, text string) {
	if b.state != BannerShowRunning {
		return
	}
	if text != "" {
		b.text.SetText(text)
	}
	if r.Total > 0 {
		b.bar.SetValue(min(float64(r.Done)/float64(r.Total), 1))
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
	b.ink.fg = fg
	b.text.Text = text
	b.obj.Show()
	b.bg.Refresh()
	b.inked.Refresh()
}

// Hide removes the bar.
func (b *Banner) Hide() {
	b.state, b.onStop = BannerHidden, nil
	b.obj.Hide()
}

// bannerInk is the app's theme with the banner's text colour: dark on
// yellow, white on green and red. It asks the app's settings for the rest:
// theme.Current would return bannerInk itself while the banner renders.
type bannerInk struct{ fg color.Color }

func (t *bannerInk) app() fyne.Theme { return fyne.CurrentApp().Settings().Theme() }

func (t *bannerInk) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if n == theme.ColorNameForeground {
		return t.fg
	}
	return t.app().Color(n, v)
}

func (t *bannerInk) Font(s fyne.TextStyle) fyne.Resource     { return t.app().Font(s) }
func (t *bannerInk) Icon(n fyne.ThemeIconName) fyne.Resource { return t.app().Icon(n) }
func (t *bannerInk) Size(n fyne.ThemeSizeName) float32       { return t.app().Size(n) }

// BannerWarning is the amber bar: the work finished, but part of it did
// not succeed. Its text is dark, as on the yellow bar: readable whatever
// the theme, and told apart from the yellow by its deeper colour.
var BannerWarning = color.NRGBA{R: 0xFF, G: 0xA0, B: 0x00, A: 0xFF}

// Warn shows the amber bar with text: the work finished, but part of it
// did not succeed (a sync where some files failed). The user closes it.
func (b *Banner) Warn(text string) {
	b.finish(BannerShowWarning, BannerWarning, text)
	b.ink.fg = bannerDark
	b.inked.Refresh()
}
