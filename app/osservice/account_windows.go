package osservice

import "golang.org/x/sys/windows"

// Account is the Windows account the service runs as: name (with its
// password, the Password option), or "" for LocalSystem. LocalSystem
// needs no password and may write anywhere, so the data folder passed
// with -data works wherever it is; what it creates there inherits the
// folder's permissions, so the folder's user keeps access. An account of
// the folder's user needs its password (changed with the password) and
// the right to log on as a service.
func Account(_, name string) (string, error) { return name, nil }

// IsAdmin says whether this process may register services: it runs
// elevated (an administrator PowerShell).
func IsAdmin() bool { return windows.GetCurrentProcessToken().IsElevated() }
