//go:build !windows

package osservice

// afterInstall: kardianos' unit and property list say it all.
func afterInstall(string) error { return nil }
