package views

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/jonboulle/clockwork"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/imodel"
	"codeberg.org/plinth/plinth/core/schedule"
)

const ifcSamples = "../testdata/ifc/samples"

// imodelsPage logs in as masteradmin with a project /Tower and opens the
// iModels page.
func (h *harness) imodelsPage() *imodelsPage {
	h.t.Helper()
	master := h.bootstrap()
	if _, err := h.files.Create(context.Background(), master, files.RootID, "Tower", files.KindProject); err != nil {
		h.t.Fatal(err)
	}
	h.start(StartOptions{User: "masteradmin", Password: masterPw, Page: PageIModels})
	return h.ui.built[PageIModels].(*imodelsPage)
}

func copySample(t *testing.T, name, dest string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ifcSamples, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dest, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// The whole path an admin takes: New iModel…, New connection… on a
// folder with a real IFC file, Sync now (green bar with the counts), file
// status, run report and its CSV export, element counts and search, the
// changeset; then a broken re-export fails in red and changes nothing.
func TestIModelsPageConnectSyncSearch(t *testing.T) {
	h := newHarness(t)
	p := h.imodelsPage()
	h.mustSee("There is no iModel yet.")
	if !p.newConn.Disabled() {
		t.Fatal("New connection… is enabled without an iModel")
	}

	test.Tap(p.newModel)
	h.ui.Wait()
	f := p.form
	f.entry(t, h, "Name").SetText("Coordination")
	test.Tap(f.submit)
	h.ui.Wait()
	if len(p.models) != 1 || p.pick.Selected != "/Tower/Coordination" {
		t.Fatalf("after New iModel…: %+v, selected %q", p.models, p.pick.Selected)
	}
	h.mustSee("0 elements of 0 types, 0 changesets, 0 connections.", "No connection yet.")

	src := t.TempDir()
	copySample(t, "IfcOpenHouse_IFC4.ifc", filepath.Join(src, "house.ifc"))
	test.Tap(p.newConn)
	h.ui.Wait()
	f = p.form
	f.entry(t, h, "Name").SetText("Architecture")
	f.entry(t, h, "Folder").SetText(src)
	// A file that is not there is refused in the dialog, which stays open.
	f.entry(t, h, "Design files").SetText("missing.ifc")
	test.Tap(f.submit)
	h.ui.Wait()
	if !f.errText.Visible() || !strings.Contains(f.errText.Text, "missing.ifc") {
		t.Fatalf("a missing design file gave %q", f.errText.Text)
	}
	f.entry(t, h, "Design files").SetText("house.ifc")
	test.Tap(f.submit)
	h.ui.Wait()
	if len(p.conns) != 1 || p.conns[0].Name != "Architecture" {
		t.Fatalf("connections after New connection…: %+v", p.conns)
	}
	h.mustSee("Schedule: Manually. Owner: masteradmin", "not synced")

	test.Tap(p.syncNow)
	h.ui.Wait()
	b := h.ui.Banner()
	if b.State() != BannerShowDone || b.Text() != `Synchronized "Architecture": 47 inserted, 0 updated, 0 deleted, 0 files unchanged.` {
		t.Fatalf("after Sync now: %v %q", b.State(), b.Text())
	}
	h.mustSee("47 elements of 13 types, 1 changeset, 1 connection. No geographic coordinates yet")
	if len(p.statuses) != 1 || p.statuses[0].State != imodel.StateSucceeded {
		t.Fatalf("file status: %+v", p.statuses)
	}
	if len(p.runs) != 1 || p.runs[0].Result != imodel.ResultSuccess {
		t.Fatalf("runs: %+v", p.runs)
	}
	if len(p.changesets) != 1 || p.changesets[0].Inserted != 47 || p.changesets[0].By != "masteradmin" {
		t.Fatalf("changesets: %+v", p.changesets)
	}
	total := 0
	for _, tc := range p.types {
		total += tc.N
	}
	if total != 47 || len(p.types) < 2 {
		t.Fatalf("counts by type: %+v", p.types)
	}

	// Search by name and by GlobalId, on the Elements tab.
	p.tabs.SelectIndex(1)
	p.search.SetText("wall")
	test.Tap(findButton(t, h, "Search"))
	h.ui.Wait()
	if len(p.found) == 0 || !strings.Contains(strings.ToLower(p.found[0].Type+p.found[0].Name), "wall") {
		t.Fatalf("search for wall: %+v", p.found)
	}
	gid := p.found[0].GlobalID
	p.search.SetText(gid)
	p.search.OnSubmitted(gid)
	h.ui.Wait()
	if len(p.found) != 1 || p.found[0].GlobalID != gid || p.found[0].File != "house.ifc" {
		t.Fatalf("search for %s: %+v", gid, p.found)
	}
	h.mustSee("1 element matches")

	// The run's report, shown and exported as CSV.
	p.tabs.SelectIndex(0)
	p.runTable.Select(widget.TableCellID{Row: 0, Col: 0})
	test.Tap(p.showReport)
	if !strings.Contains(p.report, "house.ifc — succeeded: 47 inserted, 0 updated, 0 deleted") {
		t.Fatalf("report:\n%s", p.report)
	}
	dest := filepath.Join(t.TempDir(), "report.csv")
	c, run, _ := p.selectedRun()
	p.export(c, run, "csv", dest)
	h.ui.Wait()
	rf, err := os.Open(dest)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(rf).ReadAll()
	_ = rf.Close()
	if err != nil || len(rows) < 2 || !strings.Contains(strings.Join(rows[1], ","), "house.ifc") {
		t.Fatalf("exported CSV: %v %v", rows, err)
	}

	// A broken re-export: red bar, nothing changed, the status says why.
	if err := os.WriteFile(filepath.Join(src, "house.ifc"), []byte("ISO-10303-21;\nHEADER;\nFILE_SCHEMA(('IFC4'));\nENDSEC;\nDATA;\n#1=IFCWALL('x',$,;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	test.Tap(p.syncNow)
	h.ui.Wait()
	if b.State() != BannerShowFailed || !strings.Contains(b.Text(), `The sync of "Architecture" failed: house.ifc, line 6, column 11:`) ||
		!strings.Contains(b.Text(), "the iModel keeps what this file gave before") {
		t.Fatalf("after a broken file: %v %q", b.State(), b.Text())
	}
	if p.stats.Elements != 47 || len(p.changesets) != 1 {
		t.Fatalf("a failed sync changed the iModel: %d elements, %d changesets", p.stats.Elements, len(p.changesets))
	}
	if p.statuses[0].State != imodel.StateFailed || !strings.Contains(p.statuses[0].Reason, "line 6") {
		t.Fatalf("status after a broken file: %+v", p.statuses[0])
	}
	if len(p.runs) != 2 || p.runs[0].Result != imodel.ResultFailed {
		t.Fatalf("runs after a broken file: %+v", p.runs)
	}
}

// Rename, schedule, owner, unmap refused for a reference alone, delete
// with its elements.
func TestIModelsPageManageConnection(t *testing.T) {
	h := newHarness(t)
	p := h.imodelsPage()
	ctx := context.Background()
	master, _ := h.acc.ActAs(ctx, account.MasterAdmin)
	m, err := h.imodels.Create(ctx, master, "/Tower", "Coordination")
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	copySample(t, "example.ifc", filepath.Join(src, "main.ifc"))
	copySample(t, "Sample_entities.ifc", filepath.Join(src, "ref.ifc"))
	c, err := h.imodels.AddConnection(ctx, master, m.ID, imodel.NewConnection{Name: "Structure",
		Source: imodel.Source{Kind: imodel.SourceDisk, Path: src}, Mapped: []imodel.Composite{{Main: "main.ifc", Refs: []string{"ref.ifc"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.imodels.Sync(ctx, master, c.ID, imodel.TriggerManual, nil); err != nil {
		t.Fatal(err)
	}
	h.ui.Show(PageProjects)
	h.ui.Show(PageIModels)
	h.ui.Wait()
	if len(p.conns) != 1 || p.stats.Elements != 130 {
		t.Fatalf("page shows %d connections, %d elements", len(p.conns), p.stats.Elements)
	}

	test.Tap(p.rename)
	h.ui.Wait()
	p.form.entry(t, h, "Name").SetText("Structural")
	test.Tap(p.form.submit)
	h.ui.Wait()
	if p.conns[0].Name != "Structural" {
		t.Fatalf("after Rename: %q", p.conns[0].Name)
	}

	// Every 4 hours is the shortest; weekly needs a time.
	test.Tap(p.sched)
	h.ui.Wait()
	selects(p.form.items(h))[0].SetSelected("Weekly on")
	selects(p.form.items(h))[1].SetSelected("Friday")
	p.form.entry(t, h, "Sync").SetText("half past six")
	test.Tap(p.form.submit)
	h.ui.Wait()
	if !strings.Contains(p.form.errText.Text, "HH:MM") {
		t.Fatalf("a bad time gave %q", p.form.errText.Text)
	}
	p.form.entry(t, h, "Sync").SetText("18:30")
	test.Tap(p.form.submit)
	h.ui.Wait()
	if got := p.conns[0].Schedule; got != schedule.WeeklyAt(5, 18, 30) {
		t.Fatalf("schedule saved as %+v", got)
	}
	h.mustSee("Schedule: Weekly on Friday at 18:30.")

	// Owner: only users who have worked with the iModel are offered.
	test.Tap(p.owner)
	h.ui.Wait()
	if o := selects(p.form.items(h))[0].Options; len(o) != 1 || o[0] != "masteradmin" {
		t.Fatalf("owner choices: %v", o)
	}
	p.form.d.Hide()

	// Unmap: composites are offered, never a reference alone; delete the
	// elements of the unmapped model = the last one, so the connection goes.
	test.Tap(p.unmap)
	h.ui.Wait()
	if o := selects(p.form.items(h))[0].Options; len(o) != 1 || o[0] != "main.ifc" {
		t.Fatalf("unmap choices: %v", o)
	}
	p.form.d.Hide()
	if _, err := h.imodels.Unmap(ctx, master, c.ID, "ref.ifc", false); err == nil {
		t.Fatal("a reference file alone was unmapped")
	}

	test.Tap(p.del)
	h.ui.Wait()
	radios(p.form.items(h))[0].SetSelected(keepLabels[1])
	test.Tap(p.form.submit)
	h.ui.Wait()
	if len(p.conns) != 0 || p.stats.Elements != 0 {
		t.Fatalf("after Delete with its elements: %d connections, %d elements", len(p.conns), p.stats.Elements)
	}
	if b := h.ui.Banner(); b.Text() != `Deleted the connection "Structural".` {
		t.Fatalf("banner: %q", b.Text())
	}
	h.mustSee("0 elements of 0 types, 2 changesets, 0 connections.")
}

// A user who may only view the project sees the iModel and its
// connections; the buttons that change them are off, and the core refuses
// the same change anyway.
func TestIModelsPageSyncRefusedForViewer(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	master := h.bootstrap()
	if _, err := h.files.Create(ctx, master, files.RootID, "Tower", files.KindProject); err != nil {
		t.Fatal(err)
	}
	m, _ := h.imodels.Create(ctx, master, "/Tower", "Coordination")
	src := t.TempDir()
	copySample(t, "Sample_entities.ifc", filepath.Join(src, "a.ifc"))
	if _, err := h.imodels.AddConnection(ctx, master, m.ID, imodel.NewConnection{Name: "A",
		Source: imodel.Source{Kind: imodel.SourceDisk, Path: src}, Mapped: []imodel.Composite{{Main: "a.ifc"}}}); err != nil {
		t.Fatal(err)
	}
	if err := h.acc.AddUser(ctx, master, account.NewUser{Name: "vera", Password: "vera password", Role: account.RoleNone}); err != nil {
		t.Fatal(err)
	}
	h.start(StartOptions{User: "vera", Password: "vera password", Page: PageIModels})
	p := h.ui.built[PageIModels].(*imodelsPage)
	if len(p.conns) != 1 {
		t.Fatalf("viewer sees %d connections", len(p.conns))
	}
	if !p.syncNow.Disabled() || !p.newConn.Disabled() || !p.del.Disabled() {
		t.Fatal("a viewer gets Sync now, New connection… or Delete…")
	}
	h.mustSee("You may look at this iModel; changing or syncing its connections needs Modify content on it.")
	// The refusal lives in the core, not only in the window.
	vera, _ := h.acc.ActAs(ctx, "vera")
	if _, err := h.imodels.Sync(ctx, vera, p.conns[0].ID, imodel.TriggerManual, nil); err == nil || !strings.Contains(err.Error(), "permission") {
		t.Fatalf("viewer's sync in the core: %v", err)
	}
	if st, _ := h.imodels.Stats(m.ID); st.Elements != 0 {
		t.Fatalf("a refused sync stored %d elements", st.Elements)
	}
}

func selects(items []*widget.FormItem) []*widget.Select {
	var out []*widget.Select
	for _, it := range items {
		out = append(out, allOf[*widget.Select](it.Widget)...)
	}
	return out
}

// allOf finds the visible widgets of type T inside o, in order.
func allOf[T fyne.CanvasObject](o fyne.CanvasObject) []T {
	var out []T
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		if x, ok := o.(T); ok {
			out = append(out, x)
			return
		}
		if c, ok := o.(*fyne.Container); ok {
			for _, k := range c.Objects {
				walk(k)
			}
		}
	}
	walk(o)
	return out
}

// firstOf is the first visible widget of type T inside o.
func firstOf[T fyne.CanvasObject](o fyne.CanvasObject) T {
	var zero T
	if all := allOf[T](o); len(all) > 0 {
		return all[0]
	}
	return zero
}

func radios(items []*widget.FormItem) []*widget.RadioGroup {
	var out []*widget.RadioGroup
	for _, it := range items {
		if r, ok := it.Widget.(*widget.RadioGroup); ok {
			out = append(out, r)
		}
	}
	return out
}

// Opening the iModels page renews the owner's sync tokens only in their
// last 10 days, and says so.
func TestIModelsPageRenewsTokenInLastTenDays(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	clock := clockwork.NewFakeClockAt(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	h.imodels.SetClock(clock)
	master := h.bootstrap()
	if _, err := h.files.Create(ctx, master, files.RootID, "Tower", files.KindProject); err != nil {
		t.Fatal(err)
	}
	m, _ := h.imodels.Create(ctx, master, "/Tower", "Coordination")
	src := t.TempDir()
	copySample(t, "Sample_entities.ifc", filepath.Join(src, "a.ifc"))
	c, err := h.imodels.AddConnection(ctx, master, m.ID, imodel.NewConnection{Name: "A",
		Source: imodel.Source{Kind: imodel.SourceDisk, Path: src}, Mapped: []imodel.Composite{{Main: "a.ifc"}}})
	if err != nil {
		t.Fatal(err)
	}
	expires := c.Token.Expires

	clock.Advance(15 * 24 * time.Hour) // 15 days left: not yet
	h.start(StartOptions{User: "masteradmin", Password: masterPw, Page: PageIModels})
	p := h.ui.built[PageIModels].(*imodelsPage)
	if p.tokens.Visible() || !p.conns[0].Token.Expires.Equal(expires) {
		t.Fatalf("token renewed with 15 days left: %q, expires %v", p.tokens.Text, p.conns[0].Token.Expires)
	}

	clock.Advance(10 * 24 * time.Hour) // 5 days left: renewed on opening
	h.ui.Show(PageProjects)
	h.ui.Show(PageIModels)
	h.ui.Wait()
	h.mustSee("Your sync token was renewed for 1 connection.")
	if want := clock.Now().Add(imodel.TokenLifetime); !p.conns[0].Token.Expires.Equal(want) {
		t.Fatalf("token expires %v, want %v", p.conns[0].Token.Expires, want)
	}
}

// A connection whose last run stopped Plinth says its schedule is paused
// and how to resume it.
func TestConnTextShowsPause(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.Local)
	c := imodel.Connection{Owner: "ann", Source: imodel.Source{Path: "/srv/design"},
		Token:  imodel.Token{Expires: now.Add(24 * time.Hour)},
		Paused: &imodel.Pause{Run: "r1", File: "tower.ifc", Since: now.Add(-time.Hour)}}
	got := connText(c, now)
	if !strings.Contains(got, "paused: Plinth stopped during the sync that started today at 09:00 (while it read tower.ifc); scheduled runs wait until Sync now succeeds") {
		t.Fatalf("connection text: %q", got)
	}
}
