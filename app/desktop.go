package app

import "github.com/gen2brain/beeep"

// beeepDesktop shows notifications on the desktop with the app icon.
type beeepDesktop struct{ icon []byte }

func (d beeepDesktop) Notify(title, message string) error {
	beeep.AppName = Name
	var icon any = ""
	if len(d.icon) > 0 {
		icon = d.icon
	}
	return beeep.Notify(title, message, icon)
}
