package views

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/notify"
)

func (h *harness) upload(path string, data []byte) {
	h.t.Helper()
	ctx := context.Background()
	master, _ := h.acc.ActAs(ctx, account.MasterAdmin)
	dir, name := path[:strings.LastIndex(path, "/")], path[strings.LastIndex(path, "/")+1:]
	parent, err := h.files.MkdirAll(ctx, master, dir)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.files.Upload(ctx, master, parent.ID, name, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		h.t.Fatal(err)
	}
}

// Back up now, then Restore… the File Server alone from the dated list:
// the dialog says what changes, the yellow then green bar, and the drift
// it causes is reported.
func TestBackupNowAndRestoreOneStore(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	h.upload("/Tower/a.txt", []byte("before the backup"))
	h.start(StartOptions{User: "masteradmin", Password: masterPw, Page: PageBackups})
	p := h.ui.built[PageBackups].(*backupsPage)

	test.Tap(p.backupNow)
	h.ui.Wait()
	if b := h.ui.Banner(); b.State() != BannerShowDone || !strings.HasPrefix(b.Text(), "Full data backup finished: full backup of") {
		t.Fatalf("after Back up now: %q", b.Text())
	}
	if len(p.fulls) != 1 {
		t.Fatalf("list shows %d backups", len(p.fulls))
	}
	h.upload("/Tower/b.txt", []byte("after the backup"))

	p.fullList.Select(widget.TableCellID{Row: 0, Col: 0})
	test.Tap(p.restore)
	h.ui.Wait()
	rd := p.restoreD
	rd.scope.SetSelected("File Server only")
	h.ui.Wait()
	if !strings.Contains(rd.summary.Text, "The File Server goes back to") || !strings.Contains(rd.summary.Text, "2 files now, 1 file after the restore") ||
		!strings.Contains(rd.summary.Text, "Only one store is restored, so the two will disagree") {
		t.Fatalf("summary:\n%s", rd.summary.Text)
	}
	test.Tap(rd.confirm)
	if b := h.ui.Banner(); b.State() != BannerShowRunning || !strings.HasPrefix(b.Text(), "Restoring backup") {
		t.Fatalf("while restoring: %v %q", b.State(), b.Text())
	}
	h.ui.Wait()
	if b := h.ui.Banner(); b.State() != BannerShowWarning || !strings.HasPrefix(b.Text(), "Restored the File Server from the backup of") ||
		!strings.Contains(b.Text(), "Synchronize files…") {
		t.Fatalf("after restoring one store: %v %q, want the amber bar pointing to Synchronize files…", b.State(), b.Text())
	}
	// The drift check ran: masteradmin is told a synchronization is needed.
	master, _ := h.acc.ActAs(context.Background(), account.MasterAdmin)
	l, _ := h.notify.List(context.Background(), master, true)
	kinds := map[notify.Kind]bool{}
	for _, e := range l {
		kinds[e.Kind] = true
	}
	if !kinds[notify.FileSyncNeeded] || !kinds[notify.RestoreCompleted] {
		t.Fatalf("notifications after the restore: %+v", l)
	}
}

func TestSnapshotNowAndRollBack(t *testing.T) {
	h := newHarness(t)
	master := h.bootstrap()
	ctx := context.Background()
	if _, err := h.files.Create(ctx, master, files.RootID, "Tower", files.KindProject); err != nil {
		t.Fatal(err)
	}
	h.upload("/Tower/model.ifc", []byte("version one"))
	h.start(StartOptions{User: "masteradmin", Password: masterPw, Page: PageBackups})
	p := h.ui.built[PageBackups].(*backupsPage)
	h.ui.Wait()
	if p.item.Selected != "Tower" {
		t.Fatalf("item = %q", p.item.Selected)
	}
	if !strings.Contains(p.snapSched.Text, "Schedule: Hourly, keep last 24 (inherited from the Projects root). 0 snapshots.") {
		t.Fatalf("schedule line: %q", p.snapSched.Text)
	}
	test.Tap(p.snapNow)
	h.ui.Wait()
	if len(p.snaps) != 1 {
		t.Fatalf("%d snapshots listed", len(p.snaps))
	}
	h.upload("/Tower/model.ifc", []byte("version two"))
	p.snapList.Select(0)
	test.Tap(p.rollBack)
	h.ui.Wait()
	h.mustSee(`Project "Tower" goes back to`)
	// Confirm in the dialog.
	btn := findButton(t, h, "Roll back")
	test.Tap(btn)
	h.ui.Wait()
	if b := h.ui.Banner(); b.State() != BannerShowDone || !strings.HasPrefix(b.Text(), "Tower is back as it was today at") {
		t.Fatalf("after roll back: %q", b.Text())
	}
	n, _ := h.files.Lookup(ctx, master, "/Tower/model.ifc")
	r, _, _ := h.files.Open(ctx, master, n.ID, "")
	var got bytes.Buffer
	_, _ = got.ReadFrom(r)
	if got.String() != "version one" {
		t.Fatalf("model.ifc = %q", got.String())
	}
}

// Restore… one project out of a full backup: the dialog asks which, says
// what changes, and only that project goes back.
func TestRestoreOneProjectFromFullBackup(t *testing.T) {
	h := newHarness(t)
	master := h.bootstrap()
	ctx := context.Background()
	for _, name := range []string{"Tower", "Bridge"} {
		if _, err := h.files.Create(ctx, master, files.RootID, name, files.KindProject); err != nil {
			t.Fatal(err)
		}
	}
	h.upload("/Tower/model.ifc", []byte("tower one"))
	h.upload("/Bridge/deck.ifc", []byte("bridge one"))
	h.start(StartOptions{User: "masteradmin", Password: masterPw, Page: PageBackups})
	p := h.ui.built[PageBackups].(*backupsPage)
	test.Tap(p.backupNow)
	h.ui.Wait()
	h.upload("/Tower/model.ifc", []byte("tower two"))
	h.upload("/Bridge/deck.ifc", []byte("bridge two"))

	p.fullList.Select(widget.TableCellID{Row: 0, Col: 0})
	test.Tap(p.restore)
	h.ui.Wait()
	rd := p.restoreD
	if rd.itemRow.Visible() {
		t.Fatal("the project chooser shows for a whole restore")
	}
	rd.scope.SetSelected("One project or library")
	h.ui.Wait()
	if !rd.itemRow.Visible() || !rd.confirm.Disabled() || rd.summary.Text != "Choose the project or library to restore." {
		t.Fatalf("before choosing: visible %v, confirm disabled %v, %q", rd.itemRow.Visible(), rd.confirm.Disabled(), rd.summary.Text)
	}
	if strings.Join(rd.paths, " ") != "/Bridge /Tower" {
		t.Fatalf("choices: %q", rd.paths)
	}
	rd.item.SetText("/Nowhere")
	h.ui.Wait()
	if !rd.confirm.Disabled() || !strings.Contains(rd.summary.Text, "There is no /Nowhere now") {
		t.Fatalf("unknown project: %q", rd.summary.Text)
	}
	rd.item.SetText("/Tower")
	h.ui.Wait()
	if rd.confirm.Disabled() || !strings.Contains(rd.summary.Text, `Project "Tower" (1 file now) goes back to its content in the backup`) {
		t.Fatalf("summary: %q", rd.summary.Text)
	}
	test.Tap(rd.confirm)
	h.ui.Wait()
	if b := h.ui.Banner(); b.State() != BannerShowDone || !strings.HasPrefix(b.Text(), "Restored Tower from the backup of") {
		t.Fatalf("after restoring: %q", b.Text())
	}
	read := func(path string) string {
		n, _ := h.files.Lookup(ctx, master, path)
		r, _, err := h.files.Open(ctx, master, n.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		_, _ = got.ReadFrom(r)
		return got.String()
	}
	if read("/Tower/model.ifc") != "tower one" || read("/Bridge/deck.ifc") != "bridge two" {
		t.Fatalf("after restoring Tower: %q, %q", read("/Tower/model.ifc"), read("/Bridge/deck.ifc"))
	}
}

// The Full data tab sets Keep N newest beside the daily and weekly
// backups, says plainly that the default target is on the data folder's
// disk, and History shows a backup retention removed as removed, with the
// removal itself.
func TestBackupsRetentionSettingsAndHistory(t *testing.T) {
	h := newHarness(t)
	master := h.bootstrap()
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.Local)
	h.backups.SetClock(func() time.Time { now = now.Add(time.Second); return now })
	h.upload("/Tower/a.txt", []byte("first"))
	h.start(StartOptions{User: "masteradmin", Password: masterPw, Page: PageBackups})
	p := h.ui.built[PageBackups].(*backupsPage)
	h.ui.Wait()
	if p.keepDaily.Text != "7" || p.keepWeekly.Text != "4" || p.keepNewest.Text != "3" {
		t.Fatalf("keep %s daily, %s weekly, %s newest", p.keepDaily.Text, p.keepWeekly.Text, p.keepNewest.Text)
	}
	h.mustSee("on the same disk as Plinth's data") // on the tab, short
	test.Tap(findButton(t, h, "Settings…"))
	h.ui.Wait()
	h.mustSee("weekly and the", "newest backups", sameDiskText)
	p.keepNewest.SetText("0")
	test.Tap(findButton(t, h, "Save settings"))
	h.ui.Wait()
	if c, _ := h.backups.Level2(); c.KeepNewest != 3 {
		t.Fatalf("KeepNewest 0 saved as %d", c.KeepNewest)
	}
	p.keepDaily.SetText("1")
	p.keepWeekly.SetText("0")
	p.keepNewest.SetText("1")
	test.Tap(findButton(t, h, "Save settings"))
	h.ui.Wait()
	if c, _ := h.backups.Level2(); c.KeepDaily != 1 || c.KeepWeekly != 0 || c.KeepNewest != 1 {
		t.Fatalf("saved %+v", c)
	}
	if p.settingsOpen {
		t.Fatal("the settings dialog is still open after saving")
	}
	first, err := h.backups.Full(ctx, master, nil)
	if err != nil {
		t.Fatal(err)
	}
	now = now.AddDate(0, 0, 8) // past FullEvery: the next one is full, and the first goes
	h.upload("/Tower/b.txt", []byte("second"))
	if _, err := h.backups.Full(ctx, master, nil); err != nil {
		t.Fatal(err)
	}
	p.shown()
	h.ui.Wait()
	p.tabs.SelectIndex(3)
	var own, removal string
	for i := range p.histRows {
		row := func(col int) string {
			l := &widget.Label{}
			p.hist.UpdateCell(widget.TableCellID{Row: i, Col: col}, l)
			return l.Text
		}
		switch row(1) {
		case "Full backup":
			if strings.HasPrefix(row(2), "Removed by retention ") {
				own = row(2)
			}
		case "Full backup " + first.ID + " removed by retention: kept 1 daily, 0 weekly, 1 newest":
			removal = row(1)
		}
	}
	if !strings.HasPrefix(own, "Removed by retention ") {
		t.Errorf("History shows the removed backup as %q", own)
	}
	if removal == "" {
		t.Errorf("History does not show the removal of %s:\n%v", first.ID, p.histRows)
	}
}
