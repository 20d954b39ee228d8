//go:build linux || freebsd || openbsd || netbsd

package app

import (
	"github.com/godbus/dbus/v5"
)

// systemTray asks the session bus for a StatusNotifierWatcher: the
// desktops that show tray icons (KDE, GNOME with its AppIndicator
// extension, XFCE, Cinnamon, …) run one; without it a tray icon is
// nowhere to be seen.
type systemTray struct{}

func (systemTray) Available() bool {
	conn, err := dbus.SessionBusPrivateNoAutoStartup()
	if err != nil {
		return false
	}
	defer conn.Close()
	if err := conn.Auth(nil); err != nil {
		return false
	}
	if err := conn.Hello(); err != nil {
		return false
	}
	var has bool
	err = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&has)
	return err == nil && has
}
