package views

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// At 800×600 every button of the Projects page can be seen and reached
// without scrolling: none lies past the window's right edge.
func TestProjectsButtonsAllVisibleAt800x600(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	h.win.Resize(fyne.NewSize(800, 600))
	h.start(StartOptions{User: "masteradmin", Password: masterPw, Page: PageProjects})
	p := h.projects()
	h.win.Resize(fyne.NewSize(800, 600))
	d := fyne.CurrentApp().Driver()
	for _, b := range []*widget.Button{p.upload, p.uploadDir, p.download, p.rename, p.move, p.del, p.versions} {
		pos := d.AbsolutePositionForObject(b)
		if right := pos.X + b.Size().Width; right > 800 || b.Size().Width < b.MinSize().Width {
			t.Errorf("%q ends at x=%.0f (width %.0f of %.0f needed) in an 800 px window", b.Text, right, b.Size().Width, b.MinSize().Width)
		}
	}
}
