package views

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/imodel"
	"codeberg.org/plinth/plinth/core/text"
)

// brokenIFC starts like an IFC file and breaks on its first entity.
const brokenIFC = "ISO-10303-21;\nHEADER;FILE_SCHEMA(('IFC4'));ENDSEC;\nDATA;\n#1=IFCWALL(;\nENDSEC;"

// imodelWith creates the iModel /Tower/Coordination with a connection on
// a disk folder holding files (name → sample file, or brokenIFC), mapping
// each file listed in mapped as a model of its own, then shows the page.
func (h *harness) imodelWith(name string, files map[string]string, mapped ...string) (*imodelsPage, imodel.Connection, string) {
	h.t.Helper()
	p := h.imodelsPage()
	ctx := context.Background()
	master, _ := h.acc.ActAs(ctx, account.MasterAdmin)
	m, err := h.imodels.Create(ctx, master, "/Tower", "Coordination")
	if err != nil {
		h.t.Fatal(err)
	}
	src := h.t.TempDir()
	for f, sample := range files {
		dest := filepath.Join(src, f)
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			h.t.Fatal(err)
		}
		b := []byte(sample)
		if strings.HasSuffix(sample, ".ifc") {
			if b, err = os.ReadFile(filepath.Join(ifcSamples, sample)); err != nil {
				h.t.Fatal(err)
			}
		}
		if err := os.WriteFile(dest, b, 0o644); err != nil {
			h.t.Fatal(err)
		}
	}
	var comps []imodel.Composite
	for _, f := range mapped {
		comps = append(comps, imodel.Composite{Main: f})
	}
	c, err := h.imodels.AddConnection(ctx, master, m.ID, imodel.NewConnection{Name: name,
		Source: imodel.Source{Kind: imodel.SourceDisk, Path: src}, Mapped: comps})
	if err != nil {
		h.t.Fatal(err)
	}
	h.ui.Show(PageProjects)
	h.ui.Show(PageIModels)
	h.ui.Wait()
	return p, c, src
}

// A sync where one file of two fails: the bar is amber with dark text, not
// green; the failed file leads the list with its whole reason readable
// under it, in words ("not a valid IFC file"); the run reads "Partly
// succeeded", never PartialSuccess or InvalidFile, and so does its report.
func TestIModelsPagePartialSyncIsAmber(t *testing.T) {
	h := newHarness(t)
	h.win.Resize(fyne.NewSize(1600, 1000)) // every column of the tables on show
	p, _, _ := h.imodelWith("Mixed", map[string]string{"house.ifc": "IfcOpenHouse_IFC4.ifc", "broken.ifc": brokenIFC},
		"house.ifc", "broken.ifc")

	test.Tap(p.syncNow)
	h.ui.Wait()
	b := h.ui.Banner()
	if b.State() != BannerShowWarning || b.bg.FillColor != BannerWarning || b.ink.fg != bannerDark {
		t.Fatalf("after a partial sync the bar is %v, %v with text in %v: %q", b.State(), b.bg.FillColor, b.ink.fg, b.Text())
	}
	if want := `Synchronized "Mixed" partly: 1 of 2 files failed (broken.ifc), the list of design files says why; the others gave 47 inserted`; !strings.HasPrefix(b.Text(), want) {
		t.Fatalf("banner %q, want it to start %q", b.Text(), want)
	}

	if len(p.statuses) != 2 || p.statuses[0].File != "broken.ifc" || p.statuses[0].State != imodel.StateFailed || p.statuses[1].File != "house.ifc" {
		t.Fatalf("design files, failed first: %+v", p.statuses)
	}
	reason := p.statuses[0].Reason
	if len(reason) < 20 {
		t.Fatalf("the failed file's reason is %q", reason)
	}
	note := p.fileNote
	if !note.Visible() || note.Wrapping != fyne.TextWrapWord || note.Truncation != fyne.TextTruncateOff ||
		!strings.HasPrefix(note.Text, "broken.ifc failed, not a valid IFC file: ") || !strings.Contains(note.Text, strings.TrimSuffix(reason, ".")) {
		t.Fatalf("under the table (visible %v): %q; the reason is %q", note.Visible(), note.Text, reason)
	}
	// Another file chosen: its state in full instead.
	p.fileTable.Select(widget.TableCellID{Row: 1, Col: 0})
	if !strings.HasPrefix(note.Text, "house.ifc succeeded (today at ") {
		t.Fatalf("house.ifc chosen: %q", note.Text)
	}

	p.connTabs.SelectIndex(1) // Runs
	h.mustSee("Partly succeeded")
	for _, tab := range []int{1, 0} { // Runs, Design files
		p.connTabs.SelectIndex(tab)
		for _, internal := range []string{imodel.ResultPartialSuccess, imodel.CategoryFile, "PartialSuc", p.conns[0].ID} {
			h.mustNotSee(internal)
		}
	}
	// No header is cut.
	for _, tb := range []*widget.Table{p.fileTable, p.runTable} {
		headers := 0
		for _, o := range test.WidgetRenderer(tb).Objects() {
			walkLabels(o, func(l *widget.Label) {
				if l.TextStyle.Bold && l.Text != "" {
					headers++
					if l.Size().Width < l.MinSize().Width {
						t.Errorf("header %q is %.0f wide, needs %.0f", l.Text, l.Size().Width, l.MinSize().Width)
					}
				}
			})
		}
		if headers == 0 {
			t.Error("no header found in a table")
		}
	}

	p.runTable.Select(widget.TableCellID{Row: 0, Col: 0})
	test.Tap(p.showReport)
	r := p.report
	if !strings.Contains(r, "(Sync now): Partly succeeded.") || !strings.Contains(r, "(not a valid IFC file, you can fix it)") ||
		strings.Contains(r, "PartialSuccess") || strings.Contains(r, "InvalidFile") {
		t.Fatalf("report:\n%s", r)
	}
	if i, j := strings.Index(r, "broken.ifc — failed"), strings.Index(r, "house.ifc — succeeded"); i < 0 || j < 0 || i > j {
		t.Fatalf("report, failed files first:\n%s", r)
	}
}

// walkLabels calls fn for every label in o, inside containers and
// widgets.
func walkLabels(o fyne.CanvasObject, fn func(*widget.Label)) {
	switch x := o.(type) {
	case *widget.Label:
		fn(x)
	case *fyne.Container:
		for _, k := range x.Objects {
			walkLabels(k, fn)
		}
	case fyne.Widget:
		for _, k := range test.WidgetRenderer(x).Objects() {
			walkLabels(k, fn)
		}
	}
}

// Columns are at least as wide as their bold headers, whatever width was
// asked for.
func TestColumnWidthsFitHeaders(t *testing.T) {
	test.NewTempApp(t)
	headers := []string{"Elements", "Unchanged files", "Inserted"}
	got := columnWidths(headers, []float32{10, 0, 300})
	for i, h := range headers {
		need := fyne.MeasureText(h, theme.TextSize(), fyne.TextStyle{Bold: true}).Width + 2*theme.InnerPadding()
		if got[i] < need {
			t.Errorf("column %q is %.0f wide, its header needs %.0f", h, got[i], need)
		}
	}
	if got[2] != 300 {
		t.Errorf("a column asked 300 wide is %.0f", got[2])
	}
}

// New connection… offers the .ifc files of the folder typed (not other
// files, not those in subfolders) as check boxes, for a disk folder and
// a file server folder alike; checked and typed files are both mapped.
// Map files… offers those not mapped yet.
func TestIModelsConnectionDialogOffersIFCFiles(t *testing.T) {
	h := newHarness(t)
	p, conn, src := h.imodelWith("Structure", map[string]string{
		"a.ifc": "Sample_entities.ifc", "B.IFC": "Sample_entities.ifc", "c.ifc": "example.ifc",
		"notes.txt": "not a model", "sub/inner.ifc": "example.ifc", "house.ifc": "IfcOpenHouse_IFC4.ifc"}, "house.ifc")

	test.Tap(p.newConn)
	h.ui.Wait()
	f, pick := p.form, p.picker
	f.entry(t, h, "Name").SetText("Architecture")
	h.mustSee("The .ifc files of the folder are offered here once it is chosen.")
	f.entry(t, h, "Folder").SetText(filepath.Join(src, "nope"))
	h.ui.Wait()
	h.mustSee("There is no folder " + filepath.Join(src, "nope") + ".")
	f.entry(t, h, "Folder").SetText(src)
	h.ui.Wait()
	if want := []string{"a.ifc", "B.IFC", "c.ifc", "house.ifc"}; !slices.Equal(pick.names, want) {
		t.Fatalf("offered %q, want %q", pick.names, want)
	}
	h.mustSee("Check the design files to map")
	fitTapCheck(findCheck(t, h, "a.ifc"))
	fitTapCheck(findCheck(t, h, "c.ifc"))
	fitTapCheck(findCheck(t, h, "c.ifc")) // changed my mind
	f.entry(t, h, "Design files").SetText("B.IFC, sub/inner.ifc")
	test.Tap(f.submit)
	h.ui.Wait()
	if f.errText.Visible() {
		t.Fatalf("New connection… refused: %q", f.errText.Text)
	}
	var made imodel.Connection
	for _, c := range p.conns {
		if c.Name == "Architecture" {
			made = c
		}
	}
	if want := []imodel.Composite{{Main: "B.IFC", Refs: []string{"sub/inner.ifc"}}, {Main: "a.ifc"}}; !slices.EqualFunc(made.Mapped, want, func(a, b imodel.Composite) bool {
		return a.Main == b.Main && slices.Equal(a.Refs, b.Refs)
	}) {
		t.Fatalf("mapped %+v, want %+v", made.Mapped, want)
	}

	// Map files… on the first connection: what it maps already is not offered.
	for i, c := range p.conns {
		if c.ID == conn.ID {
			p.connList.Select(i)
		}
	}
	h.ui.Wait()
	test.Tap(p.mapBtn)
	h.ui.Wait()
	if want := []string{"a.ifc", "B.IFC", "c.ifc"}; !slices.Equal(p.picker.names, want) {
		t.Fatalf("Map files… offered %q, want %q", p.picker.names, want)
	}
	fitTapCheck(findCheck(t, h, "c.ifc"))
	test.Tap(p.form.submit)
	h.ui.Wait()
	if c, _ := p.selected(); c.ID != conn.ID || !slices.Equal(c.MappedFiles(), []string{"house.ifc", "c.ifc"}) {
		t.Fatalf("after Map files…: %s maps %q", c.Name, c.MappedFiles())
	}

	// A folder on Plinth's file server, listed through the services.
	ctx := context.Background()
	master, _ := h.acc.ActAs(ctx, account.MasterAdmin)
	folder, err := h.files.MkdirAll(ctx, master, "/Tower/IFC")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tower.ifc", "site.ifc", "brief.pdf"} {
		if _, err := h.files.Upload(ctx, master, folder.ID, name, bytes.NewReader([]byte("x")), 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	test.Tap(p.newConn)
	h.ui.Wait()
	selects(p.form.items(h))[0].SetSelected(sourceLabels[1])
	p.form.entry(t, h, "Folder").SetText("/Tower/IFC")
	h.ui.Wait()
	if want := []string{"site.ifc", "tower.ifc"}; !slices.Equal(p.picker.names, want) {
		t.Fatalf("file server folder: offered %q, want %q", p.picker.names, want)
	}
	findCheck(t, h, "tower.ifc")
}

// Choosing an element type lists that type's elements; All types goes
// back to every type; a search then narrows the type chosen.
func TestIModelsElementTypeFiltersList(t *testing.T) {
	h := newHarness(t)
	p, c, _ := h.imodelWith("Architecture", map[string]string{"house.ifc": "IfcOpenHouse_IFC4.ifc"}, "house.ifc")
	master, _ := h.acc.ActAs(context.Background(), account.MasterAdmin)
	if _, err := h.imodels.Sync(context.Background(), master, c.ID, imodel.TriggerManual, nil); err != nil {
		t.Fatal(err)
	}
	h.ui.Show(PageProjects)
	h.ui.Show(PageIModels)
	h.ui.Wait()
	p.tabs.SelectIndex(1)
	if len(p.types) < 3 || !p.allTypes.Disabled() {
		t.Fatalf("types %+v, All types enabled %v", p.types, !p.allTypes.Disabled())
	}
	row := 1 // not the commonest type
	typ := p.types[row]
	p.typeTable.Select(widget.TableCellID{Row: row, Col: 0})
	h.ui.Wait()
	if len(p.found) != typ.N {
		t.Fatalf("%s chosen: %d elements listed, want %d", typ.Type, len(p.found), typ.N)
	}
	for _, e := range p.found {
		if e.Type != typ.Type {
			t.Fatalf("%s chosen, a %s is listed", typ.Type, e.Type)
		}
	}
	h.mustSee(text.Count(typ.N, "element") + " of type " + typ.Type + ".")
	if p.allTypes.Disabled() {
		t.Fatal("All types is off with a type chosen")
	}

	test.Tap(p.allTypes)
	h.ui.Wait()
	if len(p.found) != p.stats.Elements || !p.allTypes.Disabled() {
		t.Fatalf("All types: %d elements listed of %d", len(p.found), p.stats.Elements)
	}
	h.mustSee("47 elements.")

	// A search within the type chosen.
	p.typeTable.Select(widget.TableCellID{Row: row, Col: 0})
	h.ui.Wait()
	name := p.found[0].Name
	p.search.SetText(name)
	test.Tap(findButton(t, h, "Search"))
	h.ui.Wait()
	if len(p.found) == 0 || len(p.found) > typ.N {
		t.Fatalf("search %q in %s: %+v", name, typ.Type, p.found)
	}
	for _, e := range p.found {
		if e.Type != typ.Type {
			t.Fatalf("search %q in %s lists a %s", name, typ.Type, e.Type)
		}
	}
}

// After a connection is deleted, every sentence names it, never its id:
// the bar, the elements it left behind, and an action on it from a window
// that had not noticed the deletion.
func TestIModelsDeletedConnectionIsNamed(t *testing.T) {
	h := newHarness(t)
	p, c, src := h.imodelWith("Structure", map[string]string{"house.ifc": "IfcOpenHouse_IFC4.ifc", "ref.ifc": "Sample_entities.ifc"}, "house.ifc")
	ctx := context.Background()
	master, _ := h.acc.ActAs(ctx, account.MasterAdmin)
	if _, err := h.imodels.Sync(ctx, master, c.ID, imodel.TriggerManual, nil); err != nil {
		t.Fatal(err)
	}
	other, err := h.imodels.AddConnection(ctx, master, c.IModel, imodel.NewConnection{Name: "Services",
		Source: imodel.Source{Kind: imodel.SourceDisk, Path: src}, Mapped: []imodel.Composite{{Main: "ref.ifc"}}})
	if err != nil {
		t.Fatal(err)
	}
	h.ui.Show(PageProjects)
	h.ui.Show(PageIModels)
	h.ui.Wait()
	if len(p.conns) != 2 || p.conns[0].ID != other.ID {
		t.Fatalf("connections %+v", p.conns)
	}

	// Deleted here, its elements kept.
	p.connList.Select(1)
	h.ui.Wait()
	test.Tap(p.del)
	h.ui.Wait()
	test.Tap(p.form.submit)
	h.ui.Wait()
	if b := h.ui.Banner(); b.Text() != `Deleted the connection "Structure".` {
		t.Fatalf("banner: %q", b.Text())
	}
	p.tabs.SelectIndex(1)
	p.search.SetText("")
	p.typeTable.Select(widget.TableCellID{Row: 0, Col: 0})
	h.ui.Wait()
	test.Tap(p.allTypes)
	h.ui.Wait()
	if len(p.found) != 47 {
		t.Fatalf("%d elements kept, want 47", len(p.found))
	}
	if got := p.connName(p.found[0].Connection); got != "Structure (deleted)" {
		t.Fatalf("the kept elements' connection reads %q", got)
	}
	h.win.Resize(fyne.NewSize(1600, 1000)) // the Connection column on show
	settle(h.win.Canvas())
	h.mustSee("Structure (deleted)")
	h.mustNotSee(c.ID)

	// Deleted elsewhere while this window shows it: Sync now and Rename…
	// name it.
	p.tabs.SelectIndex(0)
	if cur, _ := p.selected(); cur.ID != other.ID {
		t.Fatalf("selected %q", cur.Name)
	}
	if err := h.imodels.Delete(ctx, master, other.ID, false); err != nil {
		t.Fatal(err)
	}
	test.Tap(p.rename)
	h.ui.Wait()
	test.Tap(p.form.submit)
	h.ui.Wait()
	if got := p.form.errText.Text; got != `The connection "Services" is no longer there; someone may have deleted it` {
		t.Fatalf("Rename… of a deleted connection: %q", got)
	}
	p.form.d.Hide()
	test.Tap(p.syncNow)
	h.ui.Wait()
	if b := h.ui.Banner(); b.State() != BannerShowFailed || b.Text() != `The connection "Services" is no longer there; someone may have deleted it` {
		t.Fatalf("Sync now of a deleted connection: %v %q", b.State(), b.Text())
	}
	h.mustNotSee(other.ID)
	if len(p.conns) != 0 {
		t.Fatalf("the page still lists %+v", p.conns)
	}
}
