package views

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/filesync"
	"codeberg.org/plinth/plinth/core/imodel"
	"codeberg.org/plinth/plinth/core/notify"
)

// fitSize is the smallest window Plinth is made for: every page is fully
// usable at 800×600, and nothing widens the window.
var fitSize = fyne.NewSize(800, 600)

// Long names, as an office really types them.
const (
	fitProject = "Competition entry — Tower A, phase 2 (revised)"
	// fitFile is 80 characters.
	fitFile = "2024-03-18 Tower A level 07 slab reinforcement, structural, rev C for tender.ifc"
	// fitDataDir is 70 characters.
	fitDataDir = "/srv/plinth/offices/amsterdam-keizersgracht/competition-entries/plinth"
	fitConn    = "Structure — steel frame, levels 00 to 12 (Tekla IFC4 export)"
	fitUser    = "anna.berg-van der linden"
	fitEmail   = "anna.berg-vanderlinden@architecten-keizersgracht.example"
	// fitNotice is 200 characters.
	fitNotice = "The scheduled full data backup failed: the target folder /media/backup-disk/plinth/full is not writable " +
		"(permission denied). Plinth tries again tonight at 02:00; check that the backup disk is mounted."
	// fitBanner is the green bar after a full backup.
	fitBanner = "Full data backup finished: incremental backup of 1.2 GiB in 3.4 s, in " + fitDataDir + "/backups/full/2026-12-02T020000Z."
	// fitAutostartErr is what a refused autostart entry says.
	fitAutostartErr = "write /home/anna.berg-vanderlinden/.config/autostart/org.plinth.console.desktop: permission denied"
)

// fitStep opens one page, tab or dialog; the window must then still fit.
type fitStep struct {
	name  string
	shows fitShows
	open  func(t *testing.T, h *harness, s *fitSeed)
}

// fitShows says whether a step ends on a page or with a dialog (or pop-up
// menu) over it.
type fitShows int

const (
	fitPage fitShows = iota
	fitDialog
)

// fitSeed is the content the steps work on.
type fitSeed struct {
	autostart *fakeAutostart
	project   files.Node
	file      files.Node // fitFile, in the project, with two versions
	local     string     // a copy of fitFile on disk, for an upload
}

// Every page, each of its tabs and the dialogs it commonly opens fit in an
// 800×600 window, as masteradmin (who sees every control) with long names
// everywhere and two lines of the banner above: the window's content needs
// no more than 800×600, the window is still 800×600 once the page shows,
// and no dialog needs more room than the window has.
func TestEveryPageFits800x600(t *testing.T) {
	h := newHarness(t)
	s := seedLongNames(t, h)
	h.ui.svc.DataDir = fitDataDir
	h.ui.svc.Autostart = s.autostart
	h.win.Resize(fitSize)

	h.start(StartOptions{})
	h.mustSee("Log in to Plinth", fitDataDir)
	assertFits(t, h, "the login screen")
	h.login("masteradmin", masterPw)
	// The first login offers to start Plinth at login.
	h.mustSee("Start Plinth when you log in?")
	assertFits(t, h, "the first login's start-at-login offer")
	test.Tap(findButton(t, h, "Not now"))
	h.ui.Wait()

	parent := h.t
	for _, st := range fitSteps() {
		t.Run(st.name, func(t *testing.T) {
			h.t = t // the harness's helpers fail this step, not the whole test
			defer func() { h.t = parent }()
			closeOverlays(h)
			// The bar of the last long work stays until closed: every
			// page must fit below two lines of it.
			h.ui.banner.Done(fitBanner)
			st.open(t, h, s)
			h.ui.Wait()
			if open := len(visibleOverlays(h)) > 0; open != (st.shows == fitDialog) {
				t.Fatalf("a dialog is open: %v, want %v", open, st.shows == fitDialog)
			}
			assertFits(t, h, st.name)
		})
	}
}

func fitSteps() []fitStep {
	projects := func(t *testing.T, h *harness, s *fitSeed) *projectsPage {
		t.Helper()
		p := h.projects()
		if p.folder.ID != s.project.ID {
			p.load(s.project.ID, fitFile) // opens the project, selects the file
			h.ui.Wait()
		} else {
			p.selectName(t, fitFile)
		}
		if _, ok := p.current(); !ok {
			t.Fatalf("%s is not selected in the project", fitFile)
		}
		return p
	}
	servers := func(t *testing.T, h *harness, tab string) *serversPage {
		t.Helper()
		p := h.servers()
		p.showTab(tab)
		findCheck(t, h, autostartBox) // above the tabs, on both
		return p
	}
	backups := func(t *testing.T, h *harness, tab int) *backupsPage {
		t.Helper()
		h.ui.Show(PageBackups)
		h.ui.Wait()
		p := h.ui.built[PageBackups].(*backupsPage)
		p.tabs.SelectIndex(tab)
		return p
	}
	imodels := func(t *testing.T, h *harness, tab int) *imodelsPage {
		t.Helper()
		h.ui.Show(PageIModels)
		h.ui.Wait()
		p := h.ui.built[PageIModels].(*imodelsPage)
		p.tabs.SelectIndex(tab)
		if _, ok := p.selected(); !ok {
			t.Fatal("no connection selected on the iModels page")
		}
		return p
	}
	notifications := func(t *testing.T, h *harness) *notificationsPage {
		t.Helper()
		h.ui.Show(PageNotifications)
		h.ui.Wait()
		h.mustSee(fitNotice)
		return h.ui.built[PageNotifications].(*notificationsPage)
	}
	users := func(t *testing.T, h *harness) *usersPage {
		t.Helper()
		h.ui.Show(PageUsers)
		h.ui.Wait()
		p := h.ui.built[PageUsers].(*usersPage)
		p.selectUser(t, fitUser)
		return p
	}
	return []fitStep{
		// Projects
		{"Projects", fitPage, func(t *testing.T, h *harness, _ *fitSeed) { h.ui.Show(PageProjects) }},
		{"Projects, inside the project with a file selected", fitPage, func(t *testing.T, h *harness, s *fitSeed) { projects(t, h, s) }},
		{"Projects › New… menu", fitDialog, func(t *testing.T, h *harness, s *fitSeed) { test.Tap(projects(t, h, s).newItem) }},
		{"Projects › New folder", fitDialog, func(t *testing.T, h *harness, s *fitSeed) { projects(t, h, s).showCreate(files.KindFolder) }},
		{"Projects › Rename", fitDialog, func(t *testing.T, h *harness, s *fitSeed) { test.Tap(projects(t, h, s).rename) }},
		{"Projects › Move", fitDialog, func(t *testing.T, h *harness, s *fitSeed) { test.Tap(projects(t, h, s).move) }},
		{"Projects › Delete", fitDialog, func(t *testing.T, h *harness, s *fitSeed) { test.Tap(projects(t, h, s).del) }},
		{"Projects › Versions", fitDialog, func(t *testing.T, h *harness, s *fitSeed) {
			test.Tap(projects(t, h, s).versions)
			h.ui.Wait()
			h.mustSee("Make current")
		}},
		{"Projects › Versions › Make current", fitDialog, func(t *testing.T, h *harness, s *fitSeed) {
			p := projects(t, h, s)
			test.Tap(p.versions)
			h.ui.Wait()
			for i := range p.versionsD.list.Length() { // an earlier version
				if p.versionsD.list.Select(i); !p.versionsD.current.Disabled() {
					break
				}
			}
			test.Tap(p.versionsD.current)
			h.mustSee("The other versions stay.")
		}},
		{"Projects › Upload file", fitDialog, func(t *testing.T, h *harness, s *fitSeed) { test.Tap(projects(t, h, s).upload) }},
		{"Projects, the banner after an upload", fitPage, func(t *testing.T, h *harness, s *fitSeed) {
			projects(t, h, s).importPaths([]string{s.local})
			h.ui.Wait()
			if b := h.ui.Banner(); b.State() != BannerShowDone {
				t.Fatalf("after the upload the banner is %v: %q", b.State(), b.Text())
			}
		}},

		// Servers
		{"Servers › File Server Settings", fitPage, func(t *testing.T, h *harness, _ *fitSeed) { servers(t, h, "fileserver") }},
		{"Servers › Email", fitPage, func(t *testing.T, h *harness, _ *fitSeed) { servers(t, h, "email") }},
		{"Servers, start at login switched on", fitPage, func(t *testing.T, h *harness, _ *fitSeed) {
			servers(t, h, "fileserver")
			fitTapCheck(findCheck(t, h, autostartBox))
			h.ui.Wait()
			if b := h.ui.Banner(); b.Text() != "Plinth will start in the background when you log in." {
				t.Fatalf("after a click on the box the banner says %q", b.Text())
			}
		}},
		{"Servers, start at login refused", fitPage, func(t *testing.T, h *harness, s *fitSeed) {
			servers(t, h, "fileserver")
			s.autostart.mu.Lock()
			s.autostart.err = errors.New(fitAutostartErr)
			s.autostart.mu.Unlock()
			t.Cleanup(func() { s.autostart.mu.Lock(); s.autostart.err = nil; s.autostart.mu.Unlock() })
			fitTapCheck(findCheck(t, h, autostartBox))
			h.ui.Wait()
			h.mustSee(sentence(errors.New(fitAutostartErr)))
		}},
		{"Servers › Synchronize files", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) {
			p := servers(t, h, "fileserver")
			test.Tap(p.syncBtn)
			h.ui.Wait()
			if p.plan == nil {
				t.Fatal("the synchronization warning did not open")
			}
		}},
		{"Servers › Synchronization report", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) {
			p := servers(t, h, "fileserver")
			if len(p.runs) == 0 {
				t.Fatal("no synchronization in the history")
			}
			p.history.Select(widget.TableCellID{Row: 0, Col: 0})
			test.Tap(p.report)
		}},
		{"Servers › Damaged files", fitDialog, func(t *testing.T, h *harness, s *fitSeed) {
			p := servers(t, h, "fileserver")
			path := "/" + fitProject + "/" + fitFile
			p.showDamaged(files.ContentReport{Chunks: 1204, Bytes: 5 << 30, DamagedChunks: 3, Damaged: []files.DamagedFile{
				{Path: path, Version: s.file.Version, Current: true, Listed: true, Parts: []int{2, 7}, Of: 12, Reason: "does not match its SHA-256"},
				{Path: path, Version: "0123456789abcdef", Listed: true, Parts: []int{1}, Of: 1, Reason: "is missing from its pack"},
			}})
		}},
		{"Servers › an error", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) {
			servers(t, h, "fileserver")
			h.ui.showError(fmt.Errorf("write %s/reports/%s.csv: %w", fitDataDir, fitFile, os.ErrPermission))
		}},

		// Backups
		{"Backups › Full data", fitPage, func(t *testing.T, h *harness, _ *fitSeed) { backups(t, h, 0) }},
		{"Backups › Projects and libraries", fitPage, func(t *testing.T, h *harness, _ *fitSeed) { backups(t, h, 1) }},
		{"Backups › OS snapshot", fitPage, func(t *testing.T, h *harness, _ *fitSeed) { backups(t, h, 2) }},
		{"Backups › History", fitPage, func(t *testing.T, h *harness, _ *fitSeed) { backups(t, h, 3) }},
		{"Backups › Set passphrase", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) { backups(t, h, 0).showPassphrase() }},
		{"Backups › Targets", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) { test.Tap(findButton(t, h, "Targets…")) }},
		{"Backups › Targets › Add target (bucket)", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) {
			test.Tap(findButton(t, h, "Targets…"))
			h.ui.Wait()
			test.Tap(findButton(t, h, "Add target…"))
		}},
		{"Backups › Restore one project", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) {
			p := backups(t, h, 0)
			if len(p.fulls) == 0 {
				t.Fatal("no full backup listed")
			}
			p.fullList.Select(widget.TableCellID{Row: 0, Col: 0})
			test.Tap(p.restore)
			h.ui.Wait()
			p.restoreD.scope.SetSelected(scopeLabels[3])
			p.restoreD.item.SetText("/" + fitProject)
			p.restoreD.asNew.SetText(fitProject + " (restored)")
		}},
		{"Backups › Roll back", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) {
			p := backups(t, h, 1)
			fitSelectSnapshot(t, h, p)
			test.Tap(p.rollBack)
		}},
		{"Backups › Create new from snapshot", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) {
			p := backups(t, h, 1)
			fitSelectSnapshot(t, h, p)
			test.Tap(p.asNew)
		}},
		{"Backups › Download snapshot", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) {
			p := backups(t, h, 1)
			fitSelectSnapshot(t, h, p)
			test.Tap(p.exportSnap)
		}},

		// iModels
		{"iModels › Connections", fitPage, func(t *testing.T, h *harness, _ *fitSeed) { imodels(t, h, 0) }},
		{"iModels › Elements", fitPage, func(t *testing.T, h *harness, _ *fitSeed) { imodels(t, h, 1) }},
		{"iModels › Changesets", fitPage, func(t *testing.T, h *harness, _ *fitSeed) { imodels(t, h, 2) }},
		{"iModels › New iModel", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) { test.Tap(imodels(t, h, 0).newModel) }},
		{"iModels › New connection", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) { test.Tap(imodels(t, h, 0).newConn) }},
		{"iModels › Rename", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) { test.Tap(imodels(t, h, 0).rename) }},
		{"iModels › Schedule", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) {
			p := imodels(t, h, 0)
			test.Tap(p.sched)
			selects(p.form.items(h))[0].SetSelectedIndex(3) // weekly: the day and the time show too
		}},
		{"iModels › Owner", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) { test.Tap(imodels(t, h, 0).owner) }},
		{"iModels › Map files", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) { test.Tap(imodels(t, h, 0).mapBtn) }},
		{"iModels › Unmap", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) { test.Tap(imodels(t, h, 0).unmap) }},
		{"iModels › Delete", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) { test.Tap(imodels(t, h, 0).del) }},
		{"iModels › Run report", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) {
			p := imodels(t, h, 0)
			p.runTable.Select(widget.TableCellID{Row: 0, Col: 0})
			test.Tap(p.showReport)
		}},

		// Notifications
		{"Notifications", fitPage, func(t *testing.T, h *harness, _ *fitSeed) { notifications(t, h) }},
		{"Notifications › Settings", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) {
			test.Tap(findButton(t, h, "Settings…"))
			h.ui.Wait()
			if notifications(t, h).prefs == nil {
				t.Fatal("the settings dialog did not open")
			}
		}},

		// Users
		{"Users", fitPage, func(t *testing.T, h *harness, _ *fitSeed) { users(t, h) }},
		{"Users › Add user", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) { test.Tap(users(t, h).add) }},
		{"Users › Set role", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) { test.Tap(users(t, h).role) }},
		{"Users › Reset password", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) { test.Tap(users(t, h).reset) }},
		{"Users › Remove", fitDialog, func(t *testing.T, h *harness, _ *fitSeed) { test.Tap(users(t, h).remove) }},
	}
}

// fitTapCheck clicks on a check box's box, which is centred beside its
// explanation of two lines; test.Tap would click above it.
func fitTapCheck(c *widget.Check) {
	test.TapAt(c, fyne.NewPos(10, c.Size().Height/2))
}

func fitSelectSnapshot(t *testing.T, h *harness, p *backupsPage) {
	t.Helper()
	p.item.SetSelected(fitProject)
	h.ui.Wait()
	if len(p.snaps) == 0 {
		t.Fatalf("no snapshot of %s listed", fitProject)
	}
	p.snapList.Select(0)
}

// seedLongNames fills the stores with long names: a project with a file of
// 80 characters in two versions, a synchronization in the history and
// drift for the next one, a full backup and a snapshot, an iModel with a
// synced connection, a notification of 200 characters and a second user.
func seedLongNames(t *testing.T, h *harness) *fitSeed {
	t.Helper()
	for _, c := range []struct {
		what string
		s    string
		n    int
	}{{"file name", fitFile, 80}, {"data folder", fitDataDir, 70}, {"notification", fitNotice, 200}} {
		if got := utf8.RuneCountInString(c.s); got != c.n {
			t.Fatalf("the %s has %d characters, want %d", c.what, got, c.n)
		}
	}
	ctx := context.Background()
	master := h.bootstrap()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	s := &fitSeed{autostart: &fakeAutostart{}}
	var err error
	s.project, err = h.files.Create(ctx, master, files.RootID, fitProject, files.KindProject)
	must(err)
	dir := t.TempDir()
	s.local = filepath.Join(dir, fitFile)
	body, err := os.ReadFile(filepath.Join(ifcSamples, "IfcOpenHouse_IFC4.ifc"))
	must(err)
	for i := range 2 {
		must(os.WriteFile(s.local, append(body, strings.Repeat("\n", i)...), 0o644))
		_, err = h.files.ImportPaths(ctx, master, s.project.ID, []string{s.local}, nil)
		must(err)
	}
	s.file, err = h.files.Lookup(ctx, master, "/"+fitProject+"/"+fitFile)
	must(err)

	// One synchronization in the history, and drift for the next.
	must(h.files.Synthesize(ctx, s.project.ID, "gone", 2, files.ManagerOnly))
	must(h.files.Synthesize(ctx, s.project.ID, "lost", 1, files.ServerOnly))
	_, err = h.sync.Synchronize(ctx, master, filesync.Plan{}, nil)
	must(err)
	_, err = h.backups.Full(ctx, master, nil)
	must(err)
	_, err = h.backups.Snapshot(ctx, master, s.project.ID, nil)
	must(err)
	must(h.files.Synthesize(ctx, s.project.ID, "missing", 3, files.ManagerOnly))

	m, err := h.imodels.Create(ctx, master, "/"+fitProject, "Coordination model, all disciplines")
	must(err)
	c, err := h.imodels.AddConnection(ctx, master, m.ID, imodel.NewConnection{Name: fitConn,
		Source: imodel.Source{Kind: imodel.SourceDisk, Path: dir}, Mapped: []imodel.Composite{{Main: fitFile}}})
	must(err)
	_, err = h.imodels.Sync(ctx, master, c.ID, imodel.TriggerManual, nil)
	must(err)

	must(h.acc.AddUser(ctx, master, account.NewUser{Name: fitUser, Role: account.RoleProjectAdmin, Email: fitEmail, Password: "a long enough password"}))
	must(h.notify.Publish(ctx, notify.Event{Kind: notify.BackupFailed, Severity: notify.Error, Text: fitNotice, Target: notify.TargetBackups}))
	return s
}

// assertFits fails when the window, or a dialog over it, needs more room
// than fitSize.
//
// The desktop driver grows the window whenever its content's MinSize
// exceeds it; Fyne's test canvas does that only in SetContent. Setting the
// same content again applies the driver's rule, so that the window's size
// says whether it would have grown.
func assertFits(t *testing.T, h *harness, what string) {
	t.Helper()
	c := h.win.Canvas()
	content := h.win.Content()
	settle(c)
	need := content.MinSize()
	if h.win.Padded() {
		need = need.Add(fyne.NewSquareSize(2 * theme.Padding()))
	}
	if need.Width > fitSize.Width || need.Height > fitSize.Height {
		t.Errorf("%s: the window needs %v, more than %v; what needs the room:\n%s", what, need, fitSize, whatNeedsRoom(content, need))
	}
	h.win.SetContent(content)
	if got := c.Size(); got != fitSize {
		t.Errorf("%s: the window grew to %v, want %v", what, got, fitSize)
		h.win.Resize(fitSize)
	}
	for _, o := range visibleOverlays(h) {
		if need := o.MinSize(); need.Width > fitSize.Width || need.Height > fitSize.Height {
			t.Errorf("%s: a dialog needs %v, more than the window's %v; what needs the room:\n%s", what, need, fitSize, whatNeedsRoom(o, need))
		}
	}
}

// settle lays the window and its dialogs out again until their minimum
// sizes stop changing, as the desktop driver does frame after frame: a
// wrapped label needs the height its width gives it, and its width comes
// from the layout. Fyne's test canvas lays out only what is resized.
func settle(c fyne.Canvas) {
	for range 5 {
		before := c.Content().MinSize()
		relayout(c.Content())
		for _, o := range c.Overlays().List() {
			relayout(o)
		}
		if c.Content().MinSize() == before {
			return
		}
	}
}

func relayout(o fyne.CanvasObject) {
	if !o.Visible() {
		return
	}
	switch x := o.(type) {
	case *fyne.Container:
		if x.Layout != nil {
			x.Layout.Layout(x.Objects, x.Size())
		}
	case fyne.Widget:
		test.WidgetRenderer(x).Layout(x.Size())
	}
	for _, k := range parts(o) {
		relayout(k)
	}
}

func visibleOverlays(h *harness) []fyne.CanvasObject {
	var out []fyne.CanvasObject
	for _, o := range h.win.Canvas().Overlays().List() {
		if o.Visible() {
			out = append(out, o)
		}
	}
	return out
}

// closeOverlays hides every dialog and pop-up menu. It ranges over a copy:
// hiding a dialog takes it off the list, and with it those above.
func closeOverlays(h *harness) {
	for _, o := range slices.Clone(h.win.Canvas().Overlays().List()) {
		o.Hide()
		h.win.Canvas().Overlays().Remove(o)
	}
}

// whatNeedsRoom follows o's minimum width (or height, when need is within
// fitSize's width) down its tree, each time into the child that needs the
// most, and lists the children where none of them alone explains it: a
// row that is too long, a column that is too tall.
func whatNeedsRoom(o fyne.CanvasObject, need fyne.Size) string {
	dim := func(o fyne.CanvasObject) float32 { return o.MinSize().Width }
	if need.Width <= fitSize.Width {
		dim = func(o fyne.CanvasObject) float32 { return o.MinSize().Height }
	}
	var b strings.Builder
	for depth := 0; o != nil && depth < 60; depth++ {
		w := dim(o)
		fmt.Fprintf(&b, "%s%s\n", strings.Repeat(" ", depth), describe(o))
		var next fyne.CanvasObject
		kids := parts(o)
		for _, k := range kids {
			if next == nil || dim(k) > dim(next) {
				next = k
			}
		}
		if next != nil && dim(next) < w*0.6 && len(kids) > 1 {
			for _, k := range kids {
				fmt.Fprintf(&b, "%s- %s\n", strings.Repeat(" ", depth+1), describe(k))
			}
			break
		}
		o = next
	}
	return b.String()
}

// parts are the objects o is made of that need room: its visible children,
// and for tabs the content of every tab, which AppTabs counts in its
// MinSize whether on show or not.
func parts(o fyne.CanvasObject) []fyne.CanvasObject {
	var kids []fyne.CanvasObject
	switch x := o.(type) {
	case *fyne.Container:
		kids = x.Objects
	case *container.AppTabs:
		kids = test.WidgetRenderer(x).Objects()
		for _, it := range x.Items {
			if !it.Content.Visible() {
				kids = append(kids, it.Content)
			}
		}
		return kids
	case fyne.Widget:
		kids = test.WidgetRenderer(x).Objects()
	}
	var out []fyne.CanvasObject
	for _, k := range kids {
		if k != nil && k.Visible() {
			out = append(out, k)
		}
	}
	return out
}

func describe(o fyne.CanvasObject) string {
	s := fmt.Sprintf("%T", o)
	var txt string
	switch x := o.(type) {
	case *widget.Label:
		txt = x.Text
	case *widget.Button:
		txt = x.Text
	case *widget.Check:
		txt = x.Text
	case *canvas.Text:
		txt = x.Text
	case *widget.RichText:
		txt = x.String()
	}
	if txt != "" {
		if utf8.RuneCountInString(txt) > 50 {
			txt = string([]rune(txt)[:50]) + "…"
		}
		s += fmt.Sprintf(" %q", txt)
	}
	m := o.MinSize()
	return fmt.Sprintf("%s needs %.0f×%.0f", s, m.Width, m.Height)
}
