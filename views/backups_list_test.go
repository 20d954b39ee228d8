package views

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/schedule"
)

// fullsHarness is masteradmin on Backups › Full data in an 800×600
// window, with four full backups (a full one, then incrementals) into a
// target with a long path, and the green bar of two lines above.
func fullsHarness(t *testing.T) (*harness, *backupsPage) {
	t.Helper()
	h := newHarness(t)
	master := h.bootstrap()
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.Local)
	h.backups.SetClock(func() time.Time { now = now.Add(time.Minute); return now })
	c, err := h.backups.Level2()
	if err != nil {
		t.Fatal(err)
	}
	c.Target = filepath.Join(t.TempDir(), "offices", "amsterdam-keizersgracht", "competition-entries", "plinth-full-backups")
	if err := h.backups.SetLevel2(ctx, master, c); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		h.upload(fmt.Sprintf("/Tower/%d.txt", i), []byte(strings.Repeat("x", i+1)))
		if _, err := h.backups.Full(ctx, master, nil); err != nil {
			t.Fatal(err)
		}
	}
	// The scheduler's four backup jobs, as the app has them, one failed.
	next := now.Add(17 * time.Hour)
	h.ui.svc.Jobs = func() []schedule.Status {
		job := func(name, title, spec, lastErr string) schedule.Status {
			return schedule.Status{State: schedule.State{Name: name, LastError: lastErr, LastSuccess: now}, Title: title, Spec: spec, NextRun: next}
		}
		return []schedule.Status{
			job("backup.level1", "Project and library snapshots (as each one's schedule says)", "hourly", ""),
			job("backup.level2", "Full data backup", "daily at 02:00", "the target folder "+c.Target+" is not writable (permission denied)"),
			job("backup.verify", "Verify the newest full backup", "weekly on Sunday at 04:00", ""),
			job("backup.level3", "OS snapshot", "manually", ""),
		}
	}
	h.win.Resize(fitSize)
	h.start(StartOptions{User: "masteradmin", Password: masterPw, Page: PageBackups})
	p := h.ui.built[PageBackups].(*backupsPage)
	p.tabs.SelectIndex(0)
	h.ui.banner.Done(fitBanner)
	h.ui.Wait()
	if len(p.fulls) != 4 {
		t.Fatalf("the list has %d backups, want 4", len(p.fulls))
	}
	return h, p
}

// cellText is what a cell of a table shows.
func cellText(tb *widget.Table, row, col int) string {
	l := &widget.Label{}
	tb.UpdateCell(widget.TableCellID{Row: row, Col: col}, l)
	return l.Text
}

// At 800×600, with the green bar of two lines above, the list of full
// backups shows at least three of its rows without scrolling: the
// settings are behind Settings…, whose dialog fits too.
func TestBackupsListShowsThreeRowsAt800x600(t *testing.T) {
	h, p := fullsHarness(t)
	c := h.win.Canvas()
	settle(c)
	assertFits(t, h, "Backups › Full data with four backups")
	settle(c)

	rowH := (&widget.Label{Text: "2026-12-01 09:01:00"}).MinSize().Height
	headH := (&widget.Label{Text: "Created", TextStyle: fyne.TextStyle{Bold: true}}).MinSize().Height
	need := headH + 3*(rowH+theme.SeparatorThicknessSize())
	if got := p.fullList.Size().Height; got < need {
		t.Errorf("the list is %.0f high: %.1f rows of %.0f below a header of %.0f; want at least 3 rows (%.0f)",
			got, (got-headH)/rowH, rowH, headH, need)
	}
	// And all of that is inside the window, not below the fold.
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(p.fullList)
	if bottom := pos.Y + need; bottom > c.Size().Height {
		t.Errorf("three rows of the list end at %.0f, below the window's %.0f", bottom, c.Size().Height)
	}
	if !p.backupNow.Visible() || !p.settings.Visible() {
		t.Error("Back up now or Settings… is hidden")
	}

	test.Tap(p.settings)
	h.ui.Wait()
	h.mustSee("Full data backup settings", "newest backups", "Set passphrase…")
	assertFits(t, h, "Backups › Full data › Settings…")
}

// Verify keeps the backup selected, and with it Restore… and Verify; the
// list says Yes or No for Verified and Encrypted, and History shows the
// verification as a row of its own, everything in words.
func TestBackupsVerifyKeepsSelectionAndHistorySaysIt(t *testing.T) {
	h, p := fullsHarness(t)
	for row := range p.fulls {
		if got := cellText(p.fullList, row, 3); got != "Not yet" {
			t.Errorf("row %d Verified = %q before any verification, want Not yet", row, got)
		}
		if got := cellText(p.fullList, row, 4); got != "No" {
			t.Errorf("row %d Encrypted = %q, want No", row, got)
		}
	}
	types := map[string]bool{}
	for row := range p.fulls {
		types[cellText(p.fullList, row, 1)] = true
	}
	if !types["Full backup"] || !types["Incremental backup"] || len(types) != 2 {
		t.Errorf("Type column shows %v, want Full backup and Incremental backup", types)
	}

	p.fullList.Select(widget.TableCellID{Row: 1, Col: 0})
	picked := p.fulls[1]
	if p.restore.Disabled() || p.verify.Disabled() {
		t.Fatal("Restore… or Verify disabled with a backup selected")
	}
	test.Tap(p.verify)
	h.ui.Wait()
	if b := h.ui.Banner(); b.State() != BannerShowDone || !strings.HasPrefix(b.Text(), "Backup "+picked.ID+" is sound") {
		t.Fatalf("after Verify: %v %q", b.State(), b.Text())
	}
	m, ok := p.selectedFull()
	if !ok || m.ID != picked.ID {
		t.Fatalf("after Verify the selection is %q (%v), want %q", m.ID, ok, picked.ID)
	}
	if p.restore.Disabled() || p.verify.Disabled() {
		t.Error("after Verify, Restore… or Verify went back to disabled")
	}
	if got := cellText(p.fullList, p.fullSel, 3); !strings.HasPrefix(got, "Yes, ") {
		t.Errorf("Verified of the verified backup = %q, want Yes, <when>", got)
	}

	// Back up now keeps it selected too, though a new backup is listed.
	test.Tap(p.backupNow)
	h.ui.Wait()
	if m, ok := p.selectedFull(); !ok || m.ID != picked.ID || p.verify.Disabled() {
		t.Errorf("after Back up now the selection is %q (%v), Verify disabled %v; want %q", m.ID, ok, p.verify.Disabled(), picked.ID)
	}

	p.tabs.SelectIndex(3)
	h.ui.Wait()
	h.mustSee("Verify the newest full backup: weekly on Sunday at 04:00") // the jobs, above History
	var rows []string
	verification := false
	for i := range p.histRows {
		what, result := cellText(p.hist, i, 1), cellText(p.hist, i, 2)
		rows = append(rows, what+" | "+result)
		if strings.HasPrefix(what, "Verification of the incremental backup of ") || strings.HasPrefix(what, "Verification of the full backup of ") {
			verification = true
			if result != "Succeeded" {
				t.Errorf("the verification's result is %q", result)
			}
		}
		if result == "ok" || what == "full" || what == "incremental" || strings.HasPrefix(what, "full ") {
			t.Errorf("History shows a raw value: %q | %q", what, result)
		}
	}
	if !verification {
		t.Errorf("History has no verification row:\n%s", strings.Join(rows, "\n"))
	}
	if len(p.histRows) != 6 || !strings.HasPrefix(cellText(p.hist, 0, 1), "Full backup") && !strings.HasPrefix(cellText(p.hist, 0, 1), "Incremental backup") {
		t.Errorf("History, newest first:\n%s", strings.Join(rows, "\n"))
	}
	if got := cellText(p.hist, 0, 2); got != "Succeeded" {
		t.Errorf("the newest backup's result is %q, want Succeeded", got)
	}
}
