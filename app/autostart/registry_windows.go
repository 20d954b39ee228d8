package autostart

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

func system() (place, error) { return registryPlace{open: openKey}, nil }

// openKey opens a key under HKEY_CURRENT_USER for reading and writing
// values. A missing key or value is a syscall.Errno that errors.Is
// matches with fs.ErrNotExist.
func openKey(path string, create bool) (regKey, error) {
	const access = registry.QUERY_VALUE | registry.SET_VALUE
	var k registry.Key
	var err error
	if create {
		k, _, err = registry.CreateKey(registry.CURRENT_USER, path, access)
	} else {
		k, err = registry.OpenKey(registry.CURRENT_USER, path, access)
	}
	if err != nil {
		return nil, fmt.Errorf(`open HKCU\%s: %w`, path, err)
	}
	return winKey{k}, nil
}

// winKey is an open registry key.
type winKey struct{ k registry.Key }

// GetStringValue reads a REG_SZ, or a REG_EXPAND_SZ with its environment
// variables expanded; a value of another type is not an entry Plinth
// wrote.
func (w winKey) GetStringValue(name string) (string, error) {
	s, typ, err := w.k.GetStringValue(name)
	if errors.Is(err, registry.ErrUnexpectedType) {
		return "", badEntry{errors.New("the value is not a string")}
	}
	if err == nil && typ == registry.EXPAND_SZ {
		return registry.ExpandString(s)
	}
	return s, err
}

func (w winKey) GetBinaryValue(name string) ([]byte, error) {
	b, _, err := w.k.GetBinaryValue(name)
	return b, err
}

func (w winKey) SetStringValue(name, value string) error { return w.k.SetStringValue(name, value) }
func (w winKey) DeleteValue(name string) error           { return w.k.DeleteValue(name) }
func (w winKey) Close() error                            { return w.k.Close() }
