//go:build !linux && !darwin && !windows

package osservice

// registeredArgs: kardianos' other service managers are not read back.
func registeredArgs(string, string) []string { return nil }
