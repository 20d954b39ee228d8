package views

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
)

// cheapPassphrase sets a backup passphrase as SetPassphrase does, with a
// key whose scrypt costs little, so that the test stays fast.
func cheapPassphrase(t *testing.T, h *harness, master account.Actor, pass string) {
	t.Helper()
	id, _ := age.GenerateX25519Identity()
	rec, _ := age.NewScryptRecipient(pass)
	rec.SetWorkFactor(10)
	var buf bytes.Buffer
	w, _ := age.Encrypt(&buf, rec)
	_, _ = w.Write([]byte(id.String()))
	_ = w.Close()
	c, err := h.backups.Level2()
	if err != nil {
		t.Fatal(err)
	}
	c.Recipient = id.Recipient().String()
	_ = os.MkdirAll(filepath.Join(c.Target, "keys"), 0o700)
	if err := os.WriteFile(filepath.Join(c.Target, "keys", c.Recipient+".age"), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.backups.SetLevel2(context.Background(), master, c); err != nil {
		t.Fatal(err)
	}
}

func findPassword(t *testing.T, h *harness) *widget.Entry {
	t.Helper()
	e, ok := findVisible(h, func(e *widget.Entry) bool { return e.Password })
	if !ok {
		t.Fatalf("no passphrase field; the window shows:\n%s", h.texts())
	}
	return e
}

// Rolling back an encrypted snapshot asks for the backup passphrase: a
// wrong one is one sentence and changes nothing, the right one rolls back.
func TestEncryptedSnapshotRollBackAsksPassphrase(t *testing.T) {
	h := newHarness(t)
	master := h.bootstrap()
	ctx := context.Background()
	if _, err := h.files.Create(ctx, master, files.RootID, "Tower", files.KindProject); err != nil {
		t.Fatal(err)
	}
	h.upload("/Tower/model.ifc", []byte("version one"))
	cheapPassphrase(t, h, master, "correct horse battery")
	h.start(StartOptions{User: "masteradmin", Password: masterPw, Page: PageBackups})
	p := h.ui.built[PageBackups].(*backupsPage)
	h.ui.Wait()
	test.Tap(p.snapNow)
	h.ui.Wait()
	if len(p.snaps) != 1 || !p.snaps[0].Encrypted() {
		t.Fatalf("%d snapshots listed", len(p.snaps))
	}
	h.upload("/Tower/model.ifc", []byte("version two"))
	read := func() string {
		n, _ := h.files.Lookup(ctx, master, "/Tower/model.ifc")
		r, _, _ := h.files.Open(ctx, master, n.ID, "")
		var got bytes.Buffer
		_, _ = got.ReadFrom(r)
		return got.String()
	}
	for _, try := range []struct{ pass, banner, want string }{
		{"wrong passphrase", "The passphrase does not open snapshot", "version two"},
		{"correct horse battery", "Tower is back as it was today at", "version one"},
	} {
		p.snapList.Select(0)
		test.Tap(p.rollBack)
		h.ui.Wait()
		h.mustSee("The snapshot is encrypted")
		test.Type(findPassword(t, h), try.pass)
		test.Tap(findButton(t, h, "Roll back"))
		h.ui.Wait()
		if b := h.ui.Banner(); !strings.HasPrefix(b.Text(), try.banner) {
			t.Fatalf("with %q: %q", try.pass, b.Text())
		}
		if got := read(); got != try.want {
			t.Fatalf("with %q: model.ifc = %q", try.pass, got)
		}
	}
}
