package autostart

import (
	"errors"
	"io/fs"
)

// Registry keys under HKEY_CURRENT_USER.
const (
	runKeyPath      = `Software\Microsoft\Windows\CurrentVersion\Run`
	approvedKeyPath = `Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run`
)

// regKey is what the Windows place needs of an open registry key. A value
// or key that does not exist is fs.ErrNotExist.
type regKey interface {
	GetStringValue(name string) (string, error)
	GetBinaryValue(name string) ([]byte, error)
	SetStringValue(name, value string) error
	DeleteValue(name string) error
	Close() error
}

// registryPlace keeps the entry as the value Plinth under the current
// user's Run key. Task Manager's Startup apps turn such a value off
// without removing it, in a value of the same name under StartupApproved;
// Status reports that, and Enable and Disable clear it, so that the
// user's latest choice in Plinth holds.
type registryPlace struct {
	// open opens a key under HKEY_CURRENT_USER; create makes it when
	// missing.
	open func(path string, create bool) (regKey, error)
}

func (p registryPlace) where() string { return `HKCU\` + runKeyPath + `\` + Name }

func (p registryPlace) read() (*found, error) {
	k, err := p.open(runKeyPath, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer k.Close()
	line, err := k.GetStringValue(Name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err // a badEntry when the value is not a string
	}
	argv, err := SplitWindowsCommandLine(line)
	if err != nil {
		return nil, badEntry{err}
	}
	f := &found{argv: argv}
	if p.turnedOff() {
		f.off = "Task Manager's Startup apps"
	}
	return f, nil
}

// turnedOff reads StartupApproved: its value's first byte is even when
// the entry may run, odd when the user turned it off. Anything unreadable
// counts as not turned off.
func (p registryPlace) turnedOff() bool {
	k, err := p.open(approvedKeyPath, false)
	if err != nil {
		return false
	}
	defer k.Close()
	b, err := k.GetBinaryValue(Name)
	return err == nil && len(b) > 0 && b[0]%2 == 1
}

// clearApproval removes Plinth's StartupApproved value; none is fine.
func (p registryPlace) clearApproval() error {
	k, err := p.open(approvedKeyPath, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.DeleteValue(Name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (p registryPlace) write(argv []string) error {
	line, err := WindowsCommandLine(argv)
	if err != nil {
		return err
	}
	k, err := p.open(runKeyPath, true)
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.SetStringValue(Name, line); err != nil {
		return err
	}
	return p.clearApproval()
}

func (p registryPlace) remove() error {
	k, err := p.open(runKeyPath, false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err == nil {
		defer k.Close()
		if err := k.DeleteValue(Name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return p.clearApproval()
}
