package views

import (
	"context"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
)

// cell is the cell on show for the entry named name, in column col.
func (p *projectsPage) cell(t *testing.T, name string, col int) *rowCell {
	t.Helper()
	row := slices.IndexFunc(p.entries, func(n files.Node) bool { return n.Name == name })
	if row < 0 {
		t.Fatalf("%s is not listed", name)
	}
	p.table.ScrollTo(widget.TableCellID{Row: row, Col: col})
	for _, c := range p.cellsOnShow() {
		if c.id == (widget.TableCellID{Row: row, Col: col}) {
			return c
		}
	}
	t.Fatalf("no cell on show for %s, column %d", name, col)
	return nil
}

// cellsOnShow are the table's visible cells.
func (p *projectsPage) cellsOnShow() []*rowCell {
	var out []*rowCell
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		switch x := o.(type) {
		case *rowCell:
			out = append(out, x)
		case *fyne.Container:
			for _, k := range x.Objects {
				walk(k)
			}
		case fyne.Widget:
			for _, k := range test.WidgetRenderer(x).Objects() {
				walk(k)
			}
		}
	}
	walk(p.table)
	return out
}

// highlighted lists the entries whose every cell on show is painted as
// selected, and fails when a row is painted only in part.
func (p *projectsPage) highlighted(t *testing.T) []string {
	t.Helper()
	sel := p.table.Theme().Color(theme.ColorNameSelection, fyne.CurrentApp().Settings().ThemeVariant())
	painted := map[int]int{}
	for _, c := range p.cellsOnShow() {
		if c.bg.FillColor == sel {
			painted[c.id.Row]++
		}
	}
	var names []string
	for row, cols := range painted {
		if cols != len(projectColumns) {
			t.Fatalf("row %d is painted selected in %d of its %d cells", row, cols, len(projectColumns))
		}
		names = append(names, p.entries[row].Name)
	}
	slices.Sort(names)
	return names
}

// pressKey sends a key to what has the keyboard focus, as the window does.
func pressKey(t *testing.T, h *harness, key fyne.KeyName) {
	t.Helper()
	f := h.win.Canvas().Focused()
	if f == nil {
		t.Fatalf("nothing has the keyboard focus for %s", key)
	}
	f.TypedKey(&fyne.KeyEvent{Name: key})
}

// seedTower makes /Tower (a project) holding the folder plans and the file
// model.ifc in two versions, the folder /Archive holding 2023, and the
// file /notes.txt.
func seedTower(t *testing.T, h *harness) {
	t.Helper()
	ctx := context.Background()
	master, _ := h.acc.ActAs(ctx, account.MasterAdmin)
	must := func(_ files.Node, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tower, err := h.files.Create(ctx, master, files.RootID, "Tower", files.KindProject)
	must(tower, err)
	must(h.files.Create(ctx, master, tower.ID, "plans", files.KindFolder))
	must(h.files.Upload(ctx, master, tower.ID, "model.ifc", strings.NewReader("ISO-10303-21; first"), -1, nil))
	must(h.files.Upload(ctx, master, tower.ID, "model.ifc", strings.NewReader("ISO-10303-21; second, longer"), -1, nil))
	archive, err := h.files.Create(ctx, master, files.RootID, "Archive", files.KindFolder)
	must(archive, err)
	must(h.files.Create(ctx, master, archive.ID, "2023", files.KindFolder))
	must(h.files.Upload(ctx, master, files.RootID, "notes.txt", strings.NewReader("notes"), -1, nil))
}

// One click on any cell of a row selects the whole row and opens nothing;
// a double click opens a folder with nothing inside selected; Enter opens
// the selected row; Up and Down move the selection (issue 13, item 3).
func TestProjectsClickSelectsDoubleClickOpens(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	seedTower(t, h)
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	p := h.projects()
	if got := p.highlighted(t); len(got) != 0 || !p.del.Disabled() {
		t.Fatalf("on opening, selected %v, Delete… enabled %v", got, !p.del.Disabled())
	}

	// A click on the Kind cell of a folder selects its row, not the cell,
	// and leaves the folder closed.
	for col := range projectColumns {
		test.Tap(p.cell(t, "Archive", col))
		h.ui.Wait()
		if p.folder.ID != files.RootID {
			t.Fatalf("a click on column %d opened %s", col, p.folder.Name)
		}
		if n, ok := p.current(); !ok || n.Name != "Archive" {
			t.Fatalf("a click on column %d selected %v %v, want Archive", col, n.Name, ok)
		}
		if got := p.highlighted(t); !slices.Equal(got, []string{"Archive"}) {
			t.Fatalf("after a click on column %d the rows painted selected are %v", col, got)
		}
	}
	if p.del.Disabled() {
		t.Fatal("Delete… is disabled with a row selected")
	}
	test.Tap(p.del)
	h.mustSee(`Delete the folder "Archive" with everything in it?`)
	test.Tap(p.dialog.cancel)

	// Another click moves the selection.
	test.Tap(p.cell(t, "notes.txt", 3))
	if got := p.highlighted(t); !slices.Equal(got, []string{"notes.txt"}) {
		t.Fatalf("after a click on notes.txt the rows painted selected are %v", got)
	}

	// A double click opens the project; nothing inside is selected.
	test.DoubleTap(p.cell(t, "Tower", 2))
	h.ui.Wait()
	if p.folder.Name != "Tower" {
		t.Fatalf("a double click on Tower shows %q", p.folder.Name)
	}
	if n, ok := p.current(); ok {
		t.Fatalf("after the double click %s is selected", n.Name)
	}
	if got := p.highlighted(t); len(got) != 0 {
		t.Fatalf("after the double click the rows painted selected are %v", got)
	}
	if !p.del.Disabled() || !p.rename.Disabled() || !p.move.Disabled() {
		t.Fatal("Delete…, Rename… or Move… is enabled with nothing selected")
	}

	// A double click on a file selects it and opens nothing.
	test.DoubleTap(p.cell(t, "model.ifc", 0))
	h.ui.Wait()
	if n, ok := p.current(); p.folder.Name != "Tower" || !ok || n.Name != "model.ifc" {
		t.Fatalf("a double click on a file: in %s, selected %q", p.folder.Name, n.Name)
	}

	// The keys: Up to plans, Enter opens it.
	pressKey(t, h, fyne.KeyUp)
	if n, _ := p.current(); n.Name != "plans" {
		t.Fatalf("Up selected %q, want plans", n.Name)
	}
	pressKey(t, h, fyne.KeyReturn)
	h.ui.Wait()
	if p.folder.Name != "plans" {
		t.Fatalf("Enter on plans shows %q", p.folder.Name)
	}
	if _, ok := p.current(); ok {
		t.Fatal("Enter selected something inside plans")
	}

	// Up goes back with plans selected; Down then Enter on a file stays.
	p.goUp()
	h.ui.Wait()
	if n, _ := p.current(); n.Name != "plans" {
		t.Fatalf("going up selected %q, want plans", n.Name)
	}
	test.Tap(p.cell(t, "plans", 1)) // gives the table the keyboard
	pressKey(t, h, fyne.KeyDown)
	pressKey(t, h, fyne.KeyEnter)
	h.ui.Wait()
	if n, _ := p.current(); p.folder.Name != "Tower" || n.Name != "model.ifc" {
		t.Fatalf("Down and Enter: in %s, selected %q", p.folder.Name, n.Name)
	}

	// Sorting keeps the selected entry selected.
	p.sort(files.SortSize)
	p.sort(files.SortSize)
	if n, _ := p.current(); n.Name != "model.ifc" {
		t.Fatalf("after sorting %q is selected", n.Name)
	}
	if got := p.highlighted(t); !slices.Equal(got, []string{"model.ifc"}) {
		t.Fatalf("after sorting the rows painted selected are %v", got)
	}
}

// After Rename, Make current and Move the green bar says that action, not
// the one before; Make current asks first; Move offers the folders one may
// move into (issue 13, item 3).
func TestProjectsEachActionSaysWhatItDid(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	seedTower(t, h)
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	p := h.projects()
	ctx := context.Background()
	master, _ := h.acc.ActAs(ctx, account.MasterAdmin)
	banner := func(want string) {
		t.Helper()
		if b := h.ui.Banner(); b.State() != BannerShowDone || b.Text() != want {
			t.Fatalf("the banner says %v %q, want %q", b.State(), b.Text(), want)
		}
	}
	h.ui.banner.Done("Uploaded 3 files (1 KiB) into Projects.") // the last long work
	test.DoubleTap(p.cell(t, "Tower", 0))
	h.ui.Wait()

	// Rename.
	test.Tap(p.cell(t, "model.ifc", 0))
	test.Tap(p.rename)
	p.dialog.entry(t, h, "New name").SetText("tower.ifc")
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	banner("Renamed model.ifc to tower.ifc.")
	if n, ok := p.current(); !ok || n.Name != "tower.ifc" {
		t.Fatal("the renamed file is not selected")
	}

	// Make current asks first and changes nothing until confirmed.
	file, _ := h.files.Lookup(ctx, master, "/Tower/tower.ifc")
	test.Tap(p.versions)
	h.ui.Wait()
	vv := p.versionsD
	vs, _ := h.files.Versions(ctx, master, file.ID)
	older := slices.IndexFunc(vs, func(v files.Version) bool { return v.ID != file.Version })
	if len(vs) != 2 || older < 0 || vv.list.Length() != 2 {
		t.Fatalf("versions %+v, listed %d", vs, vv.list.Length())
	}
	vv.list.Select(older)
	test.Tap(vv.current)
	h.ui.Wait()
	h.mustSee("becomes the current version of tower.ifc: it is added as the newest version, with the same content. The other versions stay.")
	test.Tap(p.dialog.cancel)
	if now, _ := h.files.Versions(ctx, master, file.ID); len(now) != 2 {
		t.Fatalf("cancelled, yet the file has %d versions", len(now))
	}
	test.Tap(vv.current)
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	when := vs[older].Created.Local().Format("2006-01-02 15:04:05")
	banner("The version of " + when + " is now the current version of tower.ifc; the other versions stay.")
	now, _ := h.files.Lookup(ctx, master, "/Tower/tower.ifc")
	if all, _ := h.files.Versions(ctx, master, file.ID); len(all) != 3 || now.Hash != vs[older].Hash {
		t.Fatalf("after Make current: %d versions, current content %v, want 3 and %v", len(all), now.Hash, vs[older].Hash)
	}

	// Move lists where the file may go: not the project it is in.
	p.selectName(t, "tower.ifc")
	test.Tap(p.move)
	h.ui.Wait()
	m := p.movePick
	if m == nil {
		t.Fatal("the Move dialog did not open")
	}
	if got, want := m.paths(), []string{"/", "/Archive", "/Archive/2023", "/Tower/plans"}; !slices.Equal(got, want) {
		t.Fatalf("Move offers %v, want %v", got, want)
	}
	h.mustSee("/ (Projects, the top level)", "/Archive/2023")
	test.Tap(p.dialog.submit) // nothing picked
	h.ui.Wait()
	h.mustSee("Pick or type the folder to move it into")
	m.list.Select(slices.Index(m.paths(), "/Archive"))
	if m.entry.Text != "/Archive" {
		t.Fatalf("picking /Archive typed %q", m.entry.Text)
	}
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	banner("Moved tower.ifc into /Archive.")
	if _, err := h.files.Lookup(ctx, master, "/Archive/tower.ifc"); err != nil {
		t.Fatalf("the file is not in /Archive: %v", err)
	}
	if slices.ContainsFunc(p.entries, func(n files.Node) bool { return n.Name == "tower.ifc" }) {
		t.Fatal("the moved file is still listed in Tower")
	}

	// A folder is not offered itself, what is below it, nor where it is;
	// a typed path, in any case, picks the listed folder.
	p.goUp()
	h.ui.Wait()
	p.selectName(t, "Archive")
	test.Tap(p.move)
	h.ui.Wait()
	m = p.movePick
	if got, want := m.paths(), []string{"/Tower", "/Tower/plans"}; !slices.Equal(got, want) {
		t.Fatalf("Move of Archive offers %v, want %v", got, want)
	}
	test.Type(m.entry, "tower/")
	if m.picked != 0 {
		t.Fatalf("typing %q picked %d in the list, want 0", m.entry.Text, m.picked)
	}
	test.Tap(p.dialog.submit)
	h.ui.Wait()
	banner("Moved Archive into /Tower.")
	if _, err := h.files.Lookup(ctx, master, "/Tower/Archive/2023"); err != nil {
		t.Fatalf("the folder did not move: %v", err)
	}
}

func (m *movePicker) paths() []string {
	var out []string
	for _, t := range m.targets {
		out = append(out, t.path)
	}
	return out
}

// Move offers only the folders the user may add to: nora, who may only
// look, may rename in Tower and add to Archive.
func TestProjectsMoveOffersPermittedFolders(t *testing.T) {
	h := newHarness(t)
	master := h.bootstrap()
	seedTower(t, h)
	ctx := context.Background()
	if err := h.acc.AddUser(ctx, master, account.NewUser{Name: "nora", Role: account.RoleNone, Password: "nora's password"}); err != nil {
		t.Fatal(err)
	}
	for path, perm := range map[string]account.Permission{"/Tower": account.ModifyDetails, "/Archive": account.ModifyContent} {
		n, _ := h.files.Lookup(ctx, master, path)
		if err := h.acc.Grant(ctx, master, n.Item(), "nora", account.View|perm); err != nil {
			t.Fatal(err)
		}
	}
	h.start(StartOptions{User: "nora", Password: "nora's password"})
	p := h.projects()
	test.DoubleTap(p.cell(t, "Tower", 0))
	h.ui.Wait()
	p.selectName(t, "model.ifc")
	test.Tap(p.move)
	h.ui.Wait()
	if got, want := p.movePick.paths(), []string{"/Archive"}; !slices.Equal(got, want) {
		t.Fatalf("Move offers nora %v, want %v", got, want)
	}
}

// The line under the buttons counts what the folder holds by kind
// (issue 13, item 3: "1 folder, 0 files" for a folder holding a project).
func TestProjectsSummaryCountsKinds(t *testing.T) {
	node := func(k files.Kind, size int64) files.Node { return files.Node{Kind: k, Size: size} }
	for _, c := range []struct {
		entries []files.Node
		want    string
	}{
		{nil, "0 folders, 0 files (0 B)."},
		{[]files.Node{node(files.KindProject, 0)}, "1 project, 0 files (0 B)."},
		{[]files.Node{node(files.KindFolder, 0), node(files.KindFolder, 0), node(files.KindProject, 0),
			node(files.KindFile, 1<<20), node(files.KindFile, 1<<20), node(files.KindFile, 2<<20)}, "2 folders, 1 project, 3 files (4.0 MiB)."},
		{[]files.Node{node(files.KindLibrary, 0), node(files.KindLibrary, 0), node(files.KindIModel, 0), node(files.KindFile, 13)},
			"2 libraries, 1 iModel, 1 file (13 B)."},
		{[]files.Node{node(files.KindFile, 13)}, "0 folders, 1 file (13 B)."},
	} {
		p := &projectsPage{entries: c.entries, can: account.All}
		if got := p.summary(); got != c.want {
			t.Errorf("summary of %d entries = %q, want %q", len(c.entries), got, c.want)
		}
	}

	// And in the window, at the root of seedTower.
	h := newHarness(t)
	h.bootstrap()
	seedTower(t, h)
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	h.projects()
	h.mustSee("1 folder, 1 project, 1 file (5 B).")
}
