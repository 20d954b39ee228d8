package views

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/progress"
)

// The yellow bar's sentence says how far work is in units a person reads,
// with speed and time left only once the rate is known.
func TestProgressText(t *testing.T) {
	for _, c := range []struct {
		name string
		r    progress.Report
		rate float64
		want string
	}{
		{"bytes, rate not known yet", progress.Report{Phase: "Uploading", Item: "tower.ifc", Done: 163577856, Total: 300000000, Bytes: true}, 0,
			"Uploading… tower.ifc — 156 MiB of 286 MiB"},
		{"bytes with rate and time left", progress.Report{Phase: "Uploading", Item: "tower.ifc", Done: 163577856, Total: 300000000, Bytes: true}, 45e6,
			"Uploading… tower.ifc — 156 MiB of 286 MiB, 45 MB/s, about 4 s left"},
		{"bytes without an item", progress.Report{Phase: "Checking contents", Done: 1 << 20, Total: 4 << 20, Bytes: true}, 0,
			"Checking contents… 1.0 MiB of 4.0 MiB"},
		{"counts", progress.Report{Phase: "Deleting entries whose content is missing", Done: 120, Total: 300, Unit: "entry"}, 0,
			"Deleting entries whose content is missing… 120 of 300 entries"},
		{"counts with time left", progress.Report{Phase: "Importing", Done: 120, Total: 300, Unit: "file"}, 60,
			"Importing… 120 of 300 files, about 3 s left"},
		{"a phase without amounts", progress.Report{Phase: "Checking checksums"}, 0, "Checking checksums…"},
		{"no phase: the title", progress.Report{Done: 1, Total: 2}, 0, "Restoring backup 7… 1 of 2"},
	} {
		if got := progressText("Restoring backup 7", c.r, c.rate); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestStoreLine(t *testing.T) {
	for _, c := range []struct {
		s    StoreInfo
		want string
	}{
		{StoreInfo{Name: "Manager", Identity: "ab446e97c0ffee", Files: 7, Bytes: 514 << 10, Format: 2},
			"Manager: 7 files (514 KiB), never restored, data format 2."},
		{StoreInfo{Name: "File Server", Files: 1, Bytes: 10, Disk: 3 << 20, Generation: 1, Format: 2},
			"File Server: 1 file (10 B), 3.0 MiB on disk, restored once, data format 2."},
		{StoreInfo{Name: "Manager", Files: 12000, Bytes: 5 << 30, Disk: 6 << 30, Generation: 2, Format: 2},
			"Manager: 12,000 files (5.0 GiB), 6.0 GiB on disk, restored 2 times, data format 2."},
		{StoreInfo{Name: "Manager"}, "Manager: 0 files, never restored."},
	} {
		if got := storeLine(c.s); got != c.want {
			t.Errorf("storeLine(%+v) = %q, want %q", c.s, got, c.want)
		}
	}
}

// A fresh office's Servers page speaks plainly: no generation, no "0 B on
// disk", no store ids.
func TestServersPagePlainWords(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	p := h.servers()
	got := p.stores.Text
	for _, bad := range []string{"generation", "0 B on disk", h.store.Identity().ID[:8], h.fs.Identity().ID[:8]} {
		if strings.Contains(got, bad) {
			t.Errorf("the stores line shows %q:\n%s", bad, got)
		}
	}
	if !strings.Contains(got, "Manager: 0 files, never restored.") || !strings.Contains(got, "File Server: 0 files, never restored.") {
		t.Errorf("the stores line reads:\n%s", got)
	}
	if s := p.state.Text; !strings.Contains(s, "Checked today at ") {
		t.Errorf("the check's time reads %q, want local words", s)
	}
}

// driftedTower is drifted with Tower a project: 3 entries without content,
// 2 contents nobody lists.
func (h *harness) driftedTower() {
	h.t.Helper()
	master, _ := h.acc.ActAs(context.Background(), account.MasterAdmin)
	if _, err := h.files.Create(context.Background(), master, files.RootID, "Tower", files.KindProject); err != nil {
		h.t.Fatal(err)
	}
	h.drifted()
}

// The warning names the project the run changes and the folder it creates;
// a synchronization that is over at once still shows the yellow bar for a
// second; the green bar names the folder the warning named; the history
// has column headers.
func TestSynchronizeWarningFolderAndBriefRun(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	h.driftedTower()
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	p := h.servers()

	test.Tap(p.syncBtn)
	h.ui.Wait()
	pd := p.plan
	if pd == nil {
		t.Fatal("no warning dialog")
	}
	folder := pd.plan.Folder
	for _, s := range []string{
		"3 file entries shown in the Manager have no content on the File Server and will be DELETED from the Manager.",
		"2 files on the File Server are unknown to the Manager and will be added to a new folder “" + folder + "”, keeping their sub-folders.",
		"This changes files in project “Tower”.",
	} {
		if !strings.Contains(pd.summary.Text, s) {
			t.Errorf("the warning lacks %q:\n%s", s, pd.summary.Text)
		}
	}
	if strings.Contains(pd.summary.Text, "not touched") {
		t.Errorf("the warning says nothing is touched:\n%s", pd.summary.Text)
	}

	if New(h.app, h.win, h.services()).minRunning != time.Second {
		t.Fatal("the yellow bar does not stay a second")
	}
	h.ui.minRunning = minRunning        // as in the window (the harness sets 0)
	time.Sleep(1100 * time.Millisecond) // the admin reads: a folder named when the run starts would differ
	start := time.Now()
	test.Tap(pd.run)
	b := h.ui.Banner()
	if b.State() != BannerShowRunning {
		t.Fatalf("while running: state %v, text %q", b.State(), b.Text())
	}
	h.ui.Wait()
	if shown := time.Since(start); shown < minRunning {
		t.Errorf("the yellow bar showed %v, want at least %v", shown, minRunning)
	}
	if b.State() != BannerShowDone || !strings.Contains(b.Text(), "Adopted files are in the folder “"+folder+"” on the Projects page.") {
		t.Fatalf("after: state %v, text %q; the warning named %q", b.State(), b.Text(), folder)
	}
	pp := h.projects()
	found := false
	for _, n := range pp.entries {
		found = found || n.Name == folder
	}
	if !found {
		t.Fatalf("the Projects page has no folder %q", folder)
	}

	// The history: headers above the run, times in local words.
	h.servers()
	if !p.history.ShowHeaderRow {
		t.Fatal("the synchronization history has no header row")
	}
	h.mustSee("Finished", "By", "Deleted", "Adopted", "Updated", "Folder for adopted files")
	cell := &widget.Label{}
	p.history.UpdateCell(widget.TableCellID{Row: 0, Col: 0}, cell)
	if !strings.HasPrefix(cell.Text, "today at ") {
		t.Errorf("the run's time reads %q", cell.Text)
	}
	p.history.UpdateCell(widget.TableCellID{Row: 0, Col: 5}, cell)
	if cell.Text != folder {
		t.Errorf("the run's folder reads %q, want %q", cell.Text, folder)
	}
}

// A restore of one store leaves the stores disagreeing: the amber bar says
// so and points to Synchronize files…, not the green one.
func TestRestoreLeavingStoresApartIsAmber(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	h.upload("/Tower/a.txt", []byte("before the backup"))
	h.start(StartOptions{User: "masteradmin", Password: masterPw, Page: PageBackups})
	p := h.ui.built[PageBackups].(*backupsPage)
	test.Tap(p.backupNow)
	h.ui.Wait()
	h.upload("/Tower/b.txt", []byte("after the backup"))

	p.fullList.Select(widget.TableCellID{Row: 0, Col: 0})
	test.Tap(p.restore)
	h.ui.Wait()
	p.restoreD.scope.SetSelected("File Server only")
	h.ui.Wait()
	test.Tap(p.restoreD.confirm)
	h.ui.Wait()
	b := h.ui.Banner()
	if b.State() != BannerShowWarning || b.bg.FillColor != BannerWarning {
		t.Fatalf("after restoring the File Server alone: state %v, colour %v, text %q", b.State(), b.bg.FillColor, b.Text())
	}
	for _, s := range []string{"Restored the File Server from the backup of ", "The Manager and the File Server disagree: 1 file missing on the File Server",
		"Press Synchronize files… on the Servers page to make them agree."} {
		if !strings.Contains(b.Text(), s) {
			t.Errorf("the amber bar lacks %q: %q", s, b.Text())
		}
	}
}
