package app

import (
	"errors"
	"path/filepath"
	"sync"

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
		return &unreachableKeychain{a: a, file: file}
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
// but this process cannot reach it: plinth serve or the OS service, which
// run outside the desktop session the window ran in. Setting the password
// again here (plinth smtp set) keeps it in the data folder's encrypted
// store from then on, where every process reaches it.
type unreachableKeychain struct {
	a    *App
	file notify.Secrets

	mu    sync.Mutex
	moved bool
}

var errKeychain = errors.New("the SMTP password is in the OS keychain of the desktop session, which this process (a service, or a command over SSH) cannot reach; set it again here with 'plinth smtp set' to keep it in the data folder instead")

func (k *unreachableKeychain) Set(name, value string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.file.Set(name, value); err != nil {
		return err
	}
	if !k.moved {
		if err := k.a.Manager.Update(func(tx *storage.Tx) error { return secretPlace.Put(tx, "secretstore", "file") }); err != nil {
			return err
		}
		k.a.Log.Info("secrets", "kept in", k.file.Where(), "why", "the OS keychain is not reachable from this process")
		k.moved = true
	}
	return nil
}

func (k *unreachableKeychain) Get(name string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.moved {
		return k.file.Get(name)
	}
	return "", errKeychain
}

func (k *unreachableKeychain) Delete(name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.moved {
		return k.file.Delete(name)
	}
	return errKeychain
}

func (k *unreachableKeychain) Where() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.moved {
		return k.file.Where()
	}
	return "the OS keychain (not reachable from here)"
}
