package views

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/storage"
)

// Servers › File Server Settings › Check contents: the yellow bar while
// every chunk is read back, then green when all is sound; after bytes were
// flipped in a pack, the red bar names the damaged file and a dialog lists
// it with the damaged part.
func TestCheckContentsButton(t *testing.T) {
	h := newHarness(t)
	master := h.bootstrap()
	ctx := context.Background()
	dir, err := h.files.MkdirAll(ctx, master, "/Tower")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 5000)
	_, _ = rand.Read(data)
	if _, err := h.files.Upload(ctx, master, dir.ID, "plan.pdf", bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatal(err)
	}
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	p := h.servers()
	if !p.contents.Visible() {
		t.Fatal("no Check contents button")
	}
	test.Tap(p.contents)
	b := h.ui.Banner()
	if b.State() != BannerShowRunning || !strings.HasPrefix(b.Text(), "Checking contents") {
		t.Fatalf("while running: state %v, text %q", b.State(), b.Text())
	}
	h.ui.Wait()
	if b.State() != BannerShowDone || b.Text() != "Contents checked: 1 part (4.9 KiB) read back, every one matches its checksum." {
		t.Fatalf("sound store: state %v, text %q", b.State(), b.Text())
	}

	// Flip bytes of plan.pdf's one chunk: the first entry of the first pack.
	pack := filepath.Join(h.fs.Dir(), "packs", storage.PackName(1))
	raw, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	raw[8+36+100] ^= 0xff
	if err := os.WriteFile(pack, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	test.Tap(p.contents)
	h.ui.Wait()
	if b.State() != BannerShowFailed || b.Text() != "1 file version on the File Server has damaged content: /Tower/plan.pdf; restore them from a backup or upload them again" {
		t.Fatalf("damaged store: state %v, text %q", b.State(), b.Text())
	}
	if len(p.damaged) != 1 || p.damagedList == nil || p.damagedList.Length() != 1 {
		t.Fatalf("damaged = %+v", p.damaged)
	}
	h.mustSee("1 part (4.9 KiB) read back; 1 part is damaged.", "/Tower/plan.pdf (current version ", "): part 1 of 1: does not match its SHA-256")
}

// The check runs off the UI goroutine with its progress in bytes, and
// Cancel stops it.
func TestCheckContentsProgressAndCancel(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	g := &gatedContents{Files: h.files, reported: make(chan struct{})}
	h.ui.svc.Files = g
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	p := h.servers()
	test.Tap(p.contents)
	<-g.reported
	for _, fn := range h.ui.queued.drain() { // the UI goroutine's share
		fn()
	}
	b := h.ui.Banner()
	if b.State() != BannerShowRunning || b.Text() != "Checking contents… 1.0 MiB of 4.0 MiB" || !b.cancel.Visible() {
		t.Fatalf("while running: state %v, text %q", b.State(), b.Text())
	}
	test.Tap(b.cancel)
	h.ui.Wait()
	if b.State() != BannerShowFailed || b.Text() != "Checking contents was cancelled." {
		t.Fatalf("after Cancel: state %v, text %q", b.State(), b.Text())
	}
}

// gatedContents reports a quarter read, then waits to be cancelled.
type gatedContents struct {
	Files
	reported chan struct{}
}

func (g *gatedContents) CheckContentsReport(ctx context.Context, _ account.Actor, prog progress.Func) (files.ContentReport, error) {
	prog.Send(progress.Report{Phase: "Checking contents", Done: 1 << 20, Total: 4 << 20, Bytes: true})
	close(g.reported)
	<-ctx.Done()
	return files.ContentReport{}, ctx.Err()
}
