package views

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/filesync"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/progress"
)

func (h *harness) projects() *projectsPage {
	h.t.Helper()
	h.ui.Show(PageProjects)
	h.ui.Wait()
	p, ok := h.ui.built[PageProjects].(*projectsPage)
	if !ok {
		h.t.Fatal("projects page not built")
	}
	return p
}

func (h *harness) servers() *serversPage {
	h.t.Helper()
	h.ui.Show(PageServers)
	h.ui.Wait()
	return h.ui.built[PageServers].(*serversPage)
}

func (p *projectsPage) selectName(t *testing.T, name string) files.Node {
	t.Helper()
	for i, n := range p.entries {
		if n.Name == name {
			p.table.SelectRow(i)
			return n
		}
	}
	t.Fatalf("%s not listed", name)
	return files.Node{}
}

func TestProjectsPageUploadBrowseRenameDelete(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	p := h.projects()

	// A folder from disk, as dropped onto the window.
	src := t.TempDir()
	_ = os.MkdirAll(filepath.Join(src, "Tower", "plans"), 0o755)
	_ = os.WriteFile(filepath.Join(src, "Tower", "plans", "ground.pdf"), []byte("ground floor"), 0o644)
	_ = os.WriteFile(filepath.Join(src, "Tower", "model.ifc"), []byte("ISO-10303-21;"), 0o644)
	_ = os.WriteFile(filepath.Join(src, "Tower", "NUL.txt"), []byte("x"), 0o644)
	p.importPaths([]string{filepath.Join(src, "Tower")})
	h.ui.Wait()
	if b := h.ui.Banner(); b.State() != BannerShowDone || !strings.HasPrefix(b.Text(), "Uploaded 2 files (25 B) into Projects. Skipped 1 item") {
		t.Fatalf("banner after upload: %v %q", b.State(), b.Text())
	}
	h.mustSee("1 folder, 0 files (0 B).", "Tower")

	// Open the folder with a double click on its name.
	test.DoubleTap(p.cell(t, "Tower", 0))
	h.ui.Wait()
	h.mustSee("1 folder, 1 file (13 B).", "model.ifc", "plans")
	if got := len(p.crumbs.Objects); got != 3 { // Projects › Tower
		t.Fatalf("breadcrumb has %d parts", got)
	}

	// Sort by size, descending: the folder stays first, then files by size.
	p.sort(files.SortSize)
	p.sort(files.SortSize)
	if !p.desc || p.entries[0].Name != "plans" {
		t.Fatalf("sorted: %v", p.entries[0].Name)
	}

	// Rename through the dialog.
	p.selectName(t, "model.ifc")
	test.Tap(p.rename)
	p.dialog.entry(t, h, "New name").SetText("tower.ifc")
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	h.mustSee("tower.ifc")
	for _, n := range p.entries {
		if n.Name == "model.ifc" {
			t.Fatal("model.ifc is still listed after the rename")
		}
	}

	// A name Windows refuses is refused in the dialog, which stays open.
	p.selectName(t, "tower.ifc")
	test.Tap(p.rename)
	p.dialog.entry(t, h, "New name").SetText("con.ifc")
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	h.mustSee(`"con.ifc" is a reserved name on Windows`)
	test.Tap(p.dialog.cancel)

	// Delete with confirmation; the yellow, then green bar.
	p.selectName(t, "plans")
	test.Tap(p.del)
	h.mustSee(`Delete the folder "plans" with everything in it?`)
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	if b := h.ui.Banner(); b.State() != BannerShowDone || b.Text() != "Deleted plans." {
		t.Fatalf("banner after delete: %q", b.Text())
	}
	h.mustSee("0 folders, 1 file (13 B).")

	// Up goes back to the root with Tower selected.
	p.goUp()
	h.ui.Wait()
	if n, ok := p.current(); !ok || n.Name != "Tower" {
		t.Fatal("going up did not select the folder we came from")
	}
}

func TestProjectsPageReadOnlyUser(t *testing.T) {
	h := newHarness(t)
	master := h.bootstrap()
	ctx := context.Background()
	_ = h.acc.AddUser(ctx, master, account.NewUser{Name: "nora", Role: account.RoleNone, Password: "nora's password"})
	if _, err := h.files.Create(ctx, master, files.RootID, "Tower", files.KindProject); err != nil {
		t.Fatal(err)
	}
	h.start(StartOptions{User: "nora", Password: "nora's password"})
	p := h.projects()
	h.mustSee("Tower", "You may look here but not change anything.")
	h.mustNotSee("[Upload file…]")
	h.mustNotSee("[Delete…]")
	p.selectName(t, "Tower")
	if p.download.Disabled() {
		t.Error("a reader cannot download")
	}
}

// drifted makes the stores disagree: 3 entries without content, 2 contents
// nobody lists.
func (h *harness) drifted() {
	h.t.Helper()
	ctx := context.Background()
	master, _ := h.acc.ActAs(ctx, account.MasterAdmin)
	dir, err := h.files.MkdirAll(ctx, master, "/Tower/plans")
	if err != nil {
		h.t.Fatal(err)
	}
	for _, step := range []struct {
		prefix string
		n      int
		side   files.Side
	}{{"ok", 4, files.Both}, {"gone", 3, files.ManagerOnly}, {"lost", 2, files.ServerOnly}} {
		if err := h.files.Synthesize(ctx, dir.ID, step.prefix, step.n, step.side); err != nil {
			h.t.Fatal(err)
		}
	}
}

func TestSynchronizeDialogYellowThenGreen(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	h.drifted()
	gate := &gatedSync{FileSync: h.sync, release: make(chan struct{})}
	h.ui.svc.Sync = gate
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	p := h.servers()
	h.mustSee("The Manager and the File Server disagree: 3 files missing on the File Server, 2 files unknown to the Manager, 0 files differing.")

	test.Tap(p.syncBtn)
	h.ui.Wait()
	pd := p.plan
	if pd == nil {
		t.Fatal("no warning dialog")
	}
	if !strings.Contains(pd.summary.Text, "3 file entries shown in the Manager have no content on the File Server and will be DELETED") ||
		!strings.Contains(pd.summary.Text, "2 files on the File Server are unknown to the Manager and will be added to a new folder “Synched from File Server (") {
		t.Fatalf("dialog summary:\n%s", pd.summary.Text)
	}
	if pd.list.Length() != 5 {
		t.Fatalf("the list shows %d entries, want 5", pd.list.Length())
	}

	test.Tap(pd.run)
	b := h.ui.Banner()
	if b.State() != BannerShowRunning || b.bg.FillColor != BannerRunning || !strings.HasPrefix(b.Text(), "Full file synchronization running") {
		t.Fatalf("while running: state %v, text %q", b.State(), b.Text())
	}
	close(gate.release)
	h.ui.Wait()
	if b.State() != BannerShowDone || b.bg.FillColor != BannerDone ||
		!strings.Contains(b.Text(), "3 deleted, 2 adopted, 0 updated. Adopted files are in the folder “Synched from File Server (") {
		t.Fatalf("after: state %v, text %q", b.State(), b.Text())
	}
	h.mustSee("The Manager and the File Server agree.")
	// The new folder is on the Projects page; the history has the run.
	pp := h.projects()
	found := false
	for _, n := range pp.entries {
		found = found || strings.HasPrefix(n.Name, "Synched from File Server (")
	}
	if !found {
		t.Fatal("the Projects page does not show the new folder")
	}
	if len(p.runs) != 1 || p.runs[0].Adopted != 2 {
		t.Fatalf("history = %+v", p.runs)
	}
}

// gatedSync holds Synchronize until release is closed.
type gatedSync struct {
	FileSync
	release chan struct{}
}

func (g *gatedSync) Synchronize(ctx context.Context, actor account.Actor, plan filesync.Plan, prog progress.Func) (filesync.Run, error) {
	<-g.release
	return g.FileSync.Synchronize(ctx, actor, plan, prog)
}

func TestSynchronizeRefusedForServerAdmin(t *testing.T) {
	h := newHarness(t)
	master := h.bootstrap()
	h.drifted()
	ctx := context.Background()
	_ = h.acc.AddUser(ctx, master, account.NewUser{Name: "sam", Role: account.RoleServerAdmin, Password: "sam's password"})
	h.start(StartOptions{User: "sam", Password: "sam's password"})
	p := h.servers()
	test.Tap(p.syncBtn)
	h.ui.Wait()
	h.mustSee("The full file synchronization deletes entries from the Manager, so only masteradmin can run it.")
	if p.plan != nil {
		t.Fatal("the warning dialog opened for sam")
	}
	mine, _ := h.notify.List(ctx, h.ui.Actor(), false)
	theirs, _ := h.notify.List(ctx, master, false)
	if len(mine) != 1 || mine[0].Kind != notify.FileSyncRefused || len(theirs) != 1 || !strings.HasPrefix(theirs[0].Text, "User sam tried") {
		t.Fatalf("notifications: sam %+v, masteradmin %+v", mine, theirs)
	}
	// sam's bell shows the unread notification.
	h.ui.refreshBell()
	h.ui.Wait()
	if h.ui.bell.Text != "1 new notification" {
		t.Fatalf("bell = %q", h.ui.bell.Text)
	}
}

func TestNotificationClickOpensItsPanel(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	h.drifted()
	if _, _, err := h.sync.Detect(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	h.start(StartOptions{User: "masteradmin", Password: masterPw, Page: PageNotifications})
	np := h.ui.built[PageNotifications].(*notificationsPage)
	h.mustSee("1 notification, 1 new (in bold")
	if len(np.entries) != 1 || !strings.HasPrefix(np.entries[0].Text, "Full file synchronization needed.") {
		t.Fatalf("entries = %+v", np.entries)
	}
	test.Tap(np.rows.Objects[0].(*fyne.Container).Objects[0].(*tapArea)) // a click on the entry
	h.ui.Wait()
	if h.ui.Current() != PageServers {
		t.Fatalf("click opened %q, want the Servers page", h.ui.Current())
	}
	h.mustSee("Synchronization history")
	l, _ := h.notify.List(context.Background(), h.ui.Actor(), true)
	if len(l) != 0 {
		t.Fatal("the clicked notification is still unread")
	}
}
