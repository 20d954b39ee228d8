package notify

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zalando/go-keyring"
	"golang.org/x/crypto/chacha20poly1305"

	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// Secrets keeps passwords Plinth must be able to read back (the SMTP
// password), never in plain text.
type Secrets interface {
	Set(name, value string) error
	Get(name string) (string, error) // "" and no error when unset
	Delete(name string) error
	// Where says, for the window, where secrets are kept.
	Where() string
}

// ErrNoKeychain means the OS keychain cannot be used here.
var ErrNoKeychain = errors.New("no OS keychain")

// keychainSecrets keeps secrets in the OS keychain (Windows Credential
// Manager, macOS Keychain, the Secret Service on Linux desktops).
type keychainSecrets struct{ service string }

// NewKeychainSecrets returns the OS keychain under a service name unique
// to one data folder, or ErrNoKeychain when the keychain does not answer
// (a server without a desktop session).
func NewKeychainSecrets(service string) (Secrets, error) {
	k := keychainSecrets{service: service}
	const probe = "plinth-probe"
	if err := keyring.Set(service, probe, "ok"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoKeychain, err)
	}
	if v, err := keyring.Get(service, probe); err != nil || v != "ok" {
		return nil, fmt.Errorf("%w: read back failed", ErrNoKeychain)
	}
	_ = keyring.Delete(service, probe)
	return k, nil
}

func (k keychainSecrets) Set(name, value string) error { return keyring.Set(k.service, name, value) }
func (k keychainSecrets) Get(name string) (string, error) {
	v, err := keyring.Get(k.service, name)
	if errors.Is(err, keyring.ErrNotFound) {
		return "", nil
	}
	return v, err
}
func (k keychainSecrets) Delete(name string) error {
	err := keyring.Delete(k.service, name)
	if errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return err
}
func (k keychainSecrets) Where() string { return "the OS keychain" }

// fileSecrets encrypts secrets (XChaCha20-Poly1305) into the manager store
// with a key kept in a file beside the stores, readable only by its owner.
// A backup of the manager store alone does not reveal them.
type fileSecrets struct {
	store   *storage.Store
	keyPath string
}

var sealed = storage.NewCollection[[]byte]("secret")

// NewFileSecrets keeps secrets encrypted in the manager store with the key
// in keyFile (created on first use).
func NewFileSecrets(manager *storage.Store, keyFile string) Secrets {
	return &fileSecrets{store: manager, keyPath: keyFile}
}

func (f *fileSecrets) Where() string {
	return "the data folder, encrypted (no OS keychain is available)"
}

func (f *fileSecrets) key(create bool) ([]byte, error) {
	b, err := os.ReadFile(f.keyPath)
	if err == nil && len(b) == chacha20poly1305.KeySize {
		return b, nil
	}
	if !create {
		if err == nil {
			err = errors.New("the key file is damaged")
		}
		return nil, fmt.Errorf("read secret key %s: %w", f.keyPath, err)
	}
	b = make([]byte, chacha20poly1305.KeySize)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(f.keyPath), 0o700); err != nil {
		return nil, err
	}
	// A key file of the wrong size opens nothing and is replaced; a
	// missing one is created only if no other process made one meanwhile.
	if err := fsys.WriteFile(fsys.OS, f.keyPath, b, fsys.Options{NoReplace: err != nil}); err != nil {
		return nil, fmt.Errorf("write secret key %s: %w", f.keyPath, err)
	}
	return b, nil
}

func (f *fileSecrets) Set(name, value string) error {
	k, err := f.key(true)
	if err != nil {
		return err
	}
	aead, err := chacha20poly1305.NewX(k)
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(value)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	box := aead.Seal(nonce, nonce, []byte(value), []byte(name))
	return f.store.Update(func(tx *storage.Tx) error { return sealed.Put(tx, name, box) })
}

func (f *fileSecrets) Get(name string) (string, error) {
	var box []byte
	err := f.store.View(func(tx *storage.Tx) (err error) { box, err = sealed.Get(tx, name); return err })
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	k, err := f.key(false)
	if err != nil {
		return "", err
	}
	aead, err := chacha20poly1305.NewX(k)
	if err != nil {
		return "", err
	}
	if len(box) < aead.NonceSize() {
		return "", errors.New("the stored secret is damaged")
	}
	plain, err := aead.Open(nil, box[:aead.NonceSize()], box[aead.NonceSize():], []byte(name))
	if err != nil {
		return "", errors.New("the stored secret cannot be decrypted (was the data folder moved without its secret key?); enter it again")
	}
	return string(plain), nil
}

func (f *fileSecrets) Delete(name string) error {
	return f.store.Update(func(tx *storage.Tx) error { return sealed.Delete(tx, name) })
}
