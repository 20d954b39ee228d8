package views

import (
	"context"
	"reflect"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/imodel"
)

// absRect is where o is in the window: its top left and its bottom right.
func absRect(o fyne.CanvasObject) (fyne.Position, fyne.Position) {
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(o)
	return pos, pos.Add(o.Size())
}

// shownIn reports whether o is on show and wholly inside the window of
// size win.
func shownIn(o fyne.CanvasObject, win fyne.Size) bool {
	if !o.Visible() || o.Size().IsZero() {
		return false
	}
	tl, br := absRect(o)
	return tl.X >= 0 && tl.Y >= 0 && br.X <= win.Width && br.Y <= win.Height
}

// tableOffset is how far a table is scrolled.
func tableOffset(t *widget.Table) fyne.Position {
	v := reflect.ValueOf(t).Elem().FieldByName("offset")
	return fyne.NewPos(float32(v.FieldByName("X").Float()), float32(v.FieldByName("Y").Float()))
}

// headerLabels are a table's bold header labels on show.
func headerLabels(t fyne.Widget) map[string]*widget.Label {
	out := map[string]*widget.Label{}
	for _, o := range test.WidgetRenderer(t).Objects() {
		walkLabels(o, func(l *widget.Label) {
			if l.TextStyle.Bold && l.Text != "" && l.Visible() {
				out[l.Text] = l
			}
		})
	}
	return out
}

// The walkthrough at 800×600: New connection… is on show, at the head of
// the list; the design files and the runs each show their header and a
// whole row; By, the counts and every header read in full.
func TestIModelsConnectionsAt800x600(t *testing.T) {
	h := newHarness(t)
	h.win.Resize(fitSize)
	p, _, _ := h.imodelWith("Mixed", map[string]string{"house.ifc": "IfcOpenHouse_IFC4.ifc", "broken.ifc": brokenIFC},
		"house.ifc", "broken.ifc")
	test.Tap(p.syncNow)
	h.ui.Wait()
	h.ui.banner.Done(fitBanner) // the bar of the last work takes room too
	p.tabs.SelectIndex(0)
	settle(h.win.Canvas())
	if len(p.statuses) != 2 || len(p.runs) != 1 {
		t.Fatalf("statuses %+v, runs %+v", p.statuses, p.runs)
	}

	if !shownIn(p.newConn, fitSize) {
		tl, br := absRect(p.newConn)
		t.Fatalf("New connection… is at %v–%v, visible %v, not inside the window %v", tl, br, p.newConn.Visible(), fitSize)
	}
	if _, br := absRect(p.newConn); br.Y > fyne.CurrentApp().Driver().AbsolutePositionForObject(p.connList).Y {
		t.Error("New connection… is not above the list of connections")
	}

	for tab, tb := range []*widget.Table{p.fileTable, p.runTable} {
		name := []string{"design files", "runs"}[tab]
		p.connTabs.SelectIndex(tab)
		settle(h.win.Canvas())
		if !shownIn(tb, fitSize) {
			tl, br := absRect(tb)
			t.Errorf("the %s table is at %v–%v, not inside the window", name, tl, br)
		}
		// Its least size is the header and one row.
		if tb.Size().Height < tb.MinSize().Height {
			t.Errorf("the %s table is %.0f high, less than a header and a row (%.0f)", name, tb.Size().Height, tb.MinSize().Height)
		}
		for text, l := range headerLabels(tb) {
			if l.Size().Width < l.MinSize().Width {
				t.Errorf("the %s header %q is %.0f wide, needs %.0f", name, text, l.Size().Width, l.MinSize().Width)
			}
		}
	}
	p.connTabs.SelectIndex(0)
	settle(h.win.Canvas())
	// The reason is not pushed out of sight: its header is on show.
	if l, ok := headerLabels(p.fileTable)["Reason"]; !ok {
		t.Error("the Reason header is not on show")
	} else if _, br := absRect(l); br.X > func() float32 { _, b := absRect(p.fileTable); return b.X }() {
		t.Error("the Reason header reaches past the table's edge")
	}

	p.connTabs.SelectIndex(1)
	settle(h.win.Canvas())
	// Runs: By and Unchanged files read in full.
	ink := fyne.MeasureText("masteradmin", theme.TextSize(), fyne.TextStyle{}).Width + 2*theme.InnerPadding()
	found := false
	for _, o := range test.WidgetRenderer(p.runTable).Objects() {
		walkLabels(o, func(l *widget.Label) {
			if l.Text == "masteradmin" {
				found = true
				if l.Size().Width < ink {
					t.Errorf("By is %.0f wide, masteradmin needs %.0f", l.Size().Width, ink)
				}
			}
		})
	}
	if !found {
		t.Error("the run's By cell is not on show")
	}
}

// Choosing a type leaves the type table where it was: its names, cut with
// an ellipsis, take the room the counts at the right leave. The element
// list says how to fill it until it is.
func TestIModelsElementTypesAt800x600(t *testing.T) {
	h := newHarness(t)
	h.win.Resize(fitSize)
	p, c, _ := h.imodelWith("Architecture", map[string]string{"house.ifc": "IfcOpenHouse_IFC4.ifc"}, "house.ifc")
	master, _ := h.acc.ActAs(context.Background(), account.MasterAdmin)
	if _, err := h.imodels.Sync(context.Background(), master, c.ID, imodel.TriggerManual, nil); err != nil {
		t.Fatal(err)
	}
	h.ui.Show(PageProjects)
	h.ui.Show(PageIModels)
	h.ui.Wait()
	p.tabs.SelectIndex(1)
	settle(h.win.Canvas())

	if !p.foundHint.Visible() || p.foundHint.Text != "Choose a type on the left, or search." || len(p.found) != 0 {
		t.Fatalf("the empty element list: hint visible %v, %q", p.foundHint.Visible(), p.foundHint.Text)
	}
	if !shownIn(p.foundHint, fitSize) {
		t.Error("the hint is not inside the window")
	}

	// The table fits its pane: the count column ends inside it.
	tl, br := absRect(p.typeTable)
	heads := headerLabels(p.typeTable)
	for _, name := range []string{"Type", "Elements"} {
		l, ok := heads[name]
		if !ok {
			t.Fatalf("header %q not on show; headers %v", name, heads)
		}
		ltl, lbr := absRect(l)
		if ltl.X < tl.X || lbr.X > br.X || l.Size().Width < l.MinSize().Width {
			t.Errorf("header %q is at x %.0f–%.0f, the table %.0f–%.0f", name, ltl.X, lbr.X, tl.X, br.X)
		}
	}
	if ltl, _ := absRect(heads["Type"]); ltl.X > absRectX(heads["Elements"]) {
		t.Error("the count is not at the right of the name")
	}

	// The longest type name, chosen: nothing scrolls sideways.
	row := 0
	for i, tc := range p.types {
		if len(tc.Type) > len(p.types[row].Type) {
			row = i
		}
	}
	for _, col := range []int{0, 1} {
		p.typeTable.Select(widget.TableCellID{Row: row, Col: col})
		h.ui.Wait()
		settle(h.win.Canvas())
		if off := tableOffset(p.typeTable); off.X != 0 {
			t.Fatalf("choosing %s in column %d scrolled the table sideways to %v", p.types[row].Type, col, off)
		}
		if l, ok := headerLabels(p.typeTable)["Type"]; !ok || l.Text != "Type" {
			t.Fatal("the Type header is gone after the choice")
		}
	}
	if len(p.found) != p.types[row].N || p.foundHint.Visible() {
		t.Fatalf("%s chosen: %d listed, hint visible %v", p.types[row].Type, len(p.found), p.foundHint.Visible())
	}
	h.mustSee(p.types[row].Type)
}

func absRectX(o fyne.CanvasObject) float32 {
	tl, _ := absRect(o)
	return tl.X
}

// Users, as Projects: a click selects the whole row; at 800 px every
// column, Last login too, reads its header in full.
func TestUsersRowSelectionAt800x600(t *testing.T) {
	h := newHarness(t)
	h.win.Resize(fitSize)
	master := h.bootstrap()
	if err := h.acc.AddUser(context.Background(), master, account.NewUser{Name: "vera", Role: account.RoleNone, Password: "vera password", Email: "vera@office.example"}); err != nil {
		t.Fatal(err)
	}
	p := h.usersPage("masteradmin", masterPw)
	h.ui.Wait()
	settle(h.win.Canvas())
	if len(p.users) != 2 {
		t.Fatalf("users: %+v", p.users)
	}
	row := 1
	if p.users[row].Name != "vera" {
		row = 0
	}

	// A tap on the Name cell selects the row: every cell of it is painted.
	var cells []*rowCell
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		switch x := o.(type) {
		case *rowCell:
			cells = append(cells, x)
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
	var tapped *rowCell
	for _, c := range cells {
		if c.id == (widget.TableCellID{Row: row, Col: 0}) {
			tapped = c
		}
	}
	if tapped == nil {
		t.Fatal("vera's Name cell is not on show")
	}
	test.Tap(tapped)
	if cur, ok := p.current(); !ok || cur.Name != "vera" {
		t.Fatalf("after a tap on vera's name the user is %+v, %v", cur, ok)
	}
	sel := p.table.Theme().Color(theme.ColorNameSelection, fyne.CurrentApp().Settings().ThemeVariant())
	painted := map[int]bool{}
	for _, c := range cells {
		on := c.bg.FillColor == sel
		if c.id.Row == row {
			painted[c.id.Col] = on
		} else if on {
			t.Errorf("cell %v of another row is highlighted", c.id)
		}
	}
	for col := range userColumns {
		if !painted[col] {
			t.Errorf("column %s of the selected row is not highlighted (%v)", userColumns[col].title, painted)
		}
	}

	// Every header, Last login too, whole and inside the table.
	_, br := absRect(p.table)
	heads := headerLabels(p.table)
	for _, c := range userColumns {
		l, ok := heads[c.title]
		if !ok {
			t.Errorf("header %q not on show", c.title)
			continue
		}
		if _, lbr := absRect(l); lbr.X > br.X || l.Size().Width < l.MinSize().Width {
			t.Errorf("header %q is cut: ends at %.0f, the table at %.0f; %.0f wide of %.0f", c.title, lbr.X, br.X, l.Size().Width, l.MinSize().Width)
		}
	}
}
