package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/storage"
)

// A password the window kept in the desktop's keychain cannot be read by
// plinth serve or the OS service; it says so, and 'plinth smtp set' run
// there keeps the password in the data folder from then on.
func TestKeychainOutOfReachMovesToTheFolder(t *testing.T) {
	if _, err := notify.NewKeychainSecrets("Plinth test probe"); err == nil {
		t.Skip("this machine has a reachable keychain")
	}
	dir := initialised(t)
	a, err := Open(context.Background(), Config{DataDir: dir, MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	// As the window left it on a desktop with a keychain.
	if err := a.Manager.Update(func(tx *storage.Tx) error { return secretPlace.Put(tx, "secretstore", "keychain") }); err != nil {
		t.Fatal(err)
	}
	_ = a.Close()
	h := holding(t, dir, Holder{})
	if _, err := h.Notify.SMTPSettings(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := h.Notify.SecretsWhere(); got != "the OS keychain (not reachable from here)" {
		t.Fatalf("secrets where the keychain is out of reach: %q", got)
	}
	env := map[string]string{"PLINTH_PASSWORD": "master password", "PLINTH_SMTP_PASSWORD": "mail secret"}
	r := run(t, dir, env, "", "smtp", "set", "--host", "127.0.0.1", "--port", "1", "--security", "starttls", "--user", "plinth", "--from", "plinth@office.example")
	if r.code != 0 || !strings.Contains(r.out, "the password is kept in the data folder, encrypted") {
		t.Fatalf("smtp set where the keychain is out of reach: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "secret.key")); err != nil {
		t.Fatalf("no key in the data folder: %v", err)
	}
	// Every later process looks in the data folder.
	if pw, err := h.secrets().Get("smtp-password"); err != nil || pw != "mail secret" {
		t.Fatalf("the password read back = %q, %v", pw, err)
	}
}
