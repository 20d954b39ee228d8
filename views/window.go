package views

import "fyne.io/fyne/v2"

// Preference keys for the window's size.
const (
	prefWidth  = "window.width"
	prefHeight = "window.height"
)

// DefaultSize is the window's size on first start.
var DefaultSize = fyne.NewSize(1100, 720)

// RememberSize gives w the size it had when it was last closed and saves
// the size again when it closes. onClose runs after saving (nil closes the
// window).
func RememberSize(w fyne.Window, prefs fyne.Preferences, onClose func()) {
	size := fyne.NewSize(
		float32(prefs.FloatWithFallback(prefWidth, float64(DefaultSize.Width))),
		float32(prefs.FloatWithFallback(prefHeight, float64(DefaultSize.Height))),
	)
	if size.Width < 480 || size.Height < 360 {
		size = DefaultSize
	}
	w.Resize(size)
	w.SetCloseIntercept(func() {
		saveSize(w, prefs)
		if onClose != nil {
			onClose()
			return
		}
		w.Close()
	})
}

// SaveSize stores the window's current size, for the next start (the
// window hides to the tray instead of closing).
func SaveSize(w fyne.Window, prefs fyne.Preferences) { saveSize(w, prefs) }

// saveSize stores the window's current size.
func saveSize(w fyne.Window, prefs fyne.Preferences) {
	s := w.Canvas().Size()
	prefs.SetFloat(prefWidth, float64(s.Width))
	prefs.SetFloat(prefHeight, float64(s.Height))
}
