//go:build !(linux || freebsd || openbsd || netbsd)

package app

// systemTray: Windows and macOS always have a notification area or a
// menu bar for Plinth's icon.
type systemTray struct{}

func (systemTray) Available() bool { return true }
