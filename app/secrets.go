package app

import (
	"errors"
	"path/filepath"

	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/storage"
)

var secretPlace = storage.NewCollection[string]("setting")

// secrets chooses where the SMTP password is kept: the OS keychain when
// this machine has one, otherwise encrypted in the manager store with a
// key in the data folder. The choice is remembered, so that every later
// process (window or command) looks in the same place.
func (a *App) secrets() notify.Secrets {
	file := notify.NewFileSecrets(a.Manager, filepath.Join(a.DataDir, "secret.key"))
	var place string
	_ = a.Manager.View(func(tx *storage.Tx) (err error) { place, err = secretPlace.Get(tx, "secretstore"); return err })
	service := "Plinth " + a.Manager.Identity().ID
	switch place {
	case "file":
		return file
	case "keychain":
		if kc, err := notify.NewKeychainSecrets(service); err == nil {
			return kc
		}
		return unreachableKeychain{}
	}
	choice, chosen := "file", file
	if kc, err := notify.NewKeychainSecrets(service); err == nil {
		choice, chosen = "keychain", kc
	}
	_ = a.Manager.Update(func(tx *storage.Tx) error { return secretPlace.Put(tx, "secretstore", choice) })
	a.Log.Info("secrets", "kept in", chosen.Where())
	return chosen
}

// unreachableKeychain stands in when the password is in the OS keychain
// but this process cannot reach it (a command over SSH, say).
type unreachableKeychain struct{}

var errKeychain = errors.New("the SMTP password is in the OS keychain, which this process cannot reach; use the window, or run the command in the desktop session")

func (unreachableKeychain) Set(string, string) error   { return errKeychain }
func (unreachableKeychain) Get(string) (string, error) { return "", errKeychain }
func (unreachableKeychain) Delete(string) error        { return errKeychain }
func (unreachableKeychain) Where() string              { return "the OS keychain (not reachable from here)" }
