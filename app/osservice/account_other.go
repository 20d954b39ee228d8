//go:build !unix && !windows

package osservice

// Account: services are registered on Unix and Windows only.
func Account(string, string) (string, error) { return "", ErrNoManager }

// IsAdmin: see Account.
func IsAdmin() bool { return false }
