package views

import (
	"image/color"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
)

// The close button's × takes the banner's ink, as its text does: white on
// the green and red bars (it was the theme's grey on green in the light
// theme), dark on the amber one.
func TestBannerCloseButtonTakesTheInk(t *testing.T) {
	test.NewTempApp(t)
	b := newBanner()
	inside := false
	for _, o := range test.LaidOutObjects(b.inked) {
		if o == fyne.CanvasObject(b.close) {
			inside = true
		}
	}
	if !inside {
		t.Fatal("the close button is outside the banner's ink")
	}
	for _, tt := range []struct {
		show func(string)
		want color.Color
	}{{b.Done, color.White}, {b.Failed, color.White}, {b.Warn, bannerDark}} {
		tt.show("done")
		if got := b.ink.Color(theme.ColorNameForeground, theme.VariantLight); got != tt.want {
			t.Errorf("banner ink %v, want %v", got, tt.want)
		}
	}
}
