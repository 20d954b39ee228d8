package views

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/backup"
)

// An admin adds a folder target in Targets…, makes it the copy target in
// Settings…, backs up, and the list says the backup is copied. A bucket
// is refused without a passphrase, and a server that does not answer is
// one sentence in the form, which keeps what was typed.
func TestTargetsAddCopyAndRefusals(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	h.upload("/Tower/a.txt", []byte("first"))
	h.start(StartOptions{User: "masteradmin", Password: masterPw, Page: PageBackups})
	p := h.ui.built[PageBackups].(*backupsPage)
	h.ui.Wait()
	test.Tap(findButton(t, h, "Targets…"))
	h.ui.Wait()
	h.mustSee("No targets yet besides the backup folder.")
	td := p.targetsD

	// A bucket, before a passphrase is set.
	test.Tap(findButton(t, h, "Add target…"))
	h.ui.Wait()
	f := td.fields
	f.name.SetText("offsite")
	f.endpoint.SetText("http://127.0.0.1:1")
	f.bucket.SetText("office")
	f.access.SetText("key")
	f.secret.SetText("secret")
	test.Tap(findButton(t, h, "Test and add"))
	h.ui.Wait()
	if got := td.addD.errText.Text; !strings.Contains(got, "set a backup passphrase first") {
		t.Fatalf("a bucket without a passphrase: %q", got)
	}
	if err := h.backups.SetPassphrase(context.Background(), h.ui.actor, "office passphrase 2026"); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.endpoint.SetText("http://127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	l.Close() // nothing listens there now
	test.Tap(findButton(t, h, "Test and add"))
	h.ui.Wait()
	if got := td.addD.errText.Text; !strings.Contains(got, "The connection was refused") && !strings.Contains(got, "the connection was refused") {
		t.Fatalf("a server that is down: %q", got)
	}
	if f.secret.Text != "secret" || f.bucket.Text != "office" {
		t.Fatal("the form lost what was typed")
	}
	test.Tap(td.addD.cancel)

	// A folder.
	dir := t.TempDir()
	test.Tap(findButton(t, h, "Add target…"))
	h.ui.Wait()
	f = td.fields
	f.kind.SetSelected(kindLabels[1])
	if f.endpoint.Visible() || !f.folder.Visible() {
		t.Fatal("a folder target shows the bucket's fields")
	}
	f.name.SetText("usb")
	f.folder.SetText(dir)
	test.Tap(findButton(t, h, "Test and add"))
	h.ui.Wait()
	h.mustSee("Added usb", "usb — folder "+dir)
	td.d.Hide()

	test.Tap(findButton(t, h, "Settings…"))
	h.ui.Wait()
	p.copyTo.SetSelected("usb")
	test.Tap(findButton(t, h, "Save settings"))
	h.ui.Wait()
	if c, _ := h.backups.Level2(); c.CopyTo != "usb" {
		t.Fatalf("the copy target saved is %q", c.CopyTo)
	}
	test.Tap(p.backupNow)
	h.ui.Wait()
	h.mustSee("Copied to usb and checked there.")
	p.shown()
	h.ui.Wait()
	cell := &widget.Label{}
	p.fullList.UpdateCell(widget.TableCellID{Row: 0, Col: 5}, cell)
	if cell.Text != "Copied" {
		t.Fatalf("the list says the copy is %q", cell.Text)
	}
	if l, _ := h.backups.BackupTargets(); len(l) != 1 || l[0].Kind != backup.KindFolder {
		t.Fatalf("targets kept: %+v", l)
	}
}
