package views

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// rowTable is a table whose rows, not cells, are selected, as in a desktop
// file manager: a click on any cell selects its row and opens nothing, a
// double click or Enter opens the row, Up, Down, Home and End move the
// selection. The whole row is highlighted.
//
// widget.Table selects one cell and has no double click: here every cell
// is wrapped in a rowCell that takes the clicks and paints the row's
// background, and the table's own cell marker is never left on.
type rowTable struct {
	widget.Table

	cols              int
	rows              func() int
	update            func(widget.TableCellID, fyne.CanvasObject)
	made              []*rowCell // every cell made, to repaint without a relayout
	selected, hovered int        // rows; -1 for none
	col               int        // the column last clicked, to scroll rows into view without jumping sideways

	// onSelect is called when the selected row changes; -1 means none.
	onSelect func(row int)
	// onOpen is called on a double click on a row, or Enter on the
	// selected one.
	onOpen func(row int)
}

// newRowTable makes a table of cols columns and rows() rows; create makes
// a cell's content, update fills it for a cell.
func newRowTable(cols int, rows func() int, create func() fyne.CanvasObject, update func(widget.TableCellID, fyne.CanvasObject)) *rowTable {
	t := &rowTable{cols: cols, rows: rows, update: update, selected: -1, hovered: -1}
	t.Length = func() (int, int) { return t.rows(), t.cols }
	t.CreateCell = func() fyne.CanvasObject {
		c := &rowCell{t: t, bg: &canvas.Rectangle{}, content: create()}
		c.ExtendBaseWidget(c)
		t.made = append(t.made, c)
		return c
	}
	t.UpdateCell = func(id widget.TableCellID, o fyne.CanvasObject) {
		c := o.(*rowCell)
		c.id = id
		c.paint()
		t.update(id, c.content)
	}
	// A click between cells, or Table.Select, selects the row too; the
	// table's marker of one cell is taken off at once.
	t.OnSelected = func(id widget.TableCellID) {
		t.Table.UnselectAll()
		t.col = id.Col
		t.SelectRow(id.Row)
	}
	t.ExtendBaseWidget(t)
	return t
}

// SelectedRow is the selected row, or -1.
func (t *rowTable) SelectedRow() int {
	if t.selected >= t.rows() {
		return -1
	}
	return t.selected
}

// SelectRow selects a row (-1: none) and scrolls it into view.
func (t *rowTable) SelectRow(row int) {
	if row < -1 || row >= t.rows() {
		row = -1
	}
	if row == t.selected {
		return
	}
	t.selected = row
	t.repaint()
	if row >= 0 {
		t.ScrollTo(widget.TableCellID{Row: row, Col: t.col})
	}
	if t.onSelect != nil {
		t.onSelect(row)
	}
}

// UnselectAll leaves no row selected.
func (t *rowTable) UnselectAll() {
	t.Table.UnselectAll()
	t.SelectRow(-1)
}

// FocusGained and FocusLost keep the table's focus marker, one cell, off:
// the selected row shows where the keys act.
func (t *rowTable) FocusGained() {}

// FocusLost: see FocusGained.
func (t *rowTable) FocusLost() {}

// TypedKey moves the selection with Up, Down, Home and End, and opens the
// selected row with Enter.
func (t *rowTable) TypedKey(e *fyne.KeyEvent) {
	n := t.rows()
	if n == 0 {
		return
	}
	switch e.Name {
	case fyne.KeyUp:
		t.SelectRow(max(t.selected-1, 0))
	case fyne.KeyDown:
		t.SelectRow(min(t.selected+1, n-1))
	case fyne.KeyHome:
		t.SelectRow(0)
	case fyne.KeyEnd:
		t.SelectRow(n - 1)
	case fyne.KeyReturn, fyne.KeyEnter:
		if r := t.SelectedRow(); r >= 0 && t.onOpen != nil {
			t.onOpen(r)
		}
	}
}

// TypedRune does nothing: the table takes keys, not text.
func (t *rowTable) TypedRune(rune) {}

func (t *rowTable) focus() {
	if c := fyne.CurrentApp().Driver().CanvasForObject(t); c != nil {
		c.Focus(t)
	}
}

func (t *rowTable) hover(row int) {
	if row != t.hovered {
		t.hovered = row
		t.repaint()
	}
}

// repaint sets the background of every cell for the selected and the
// hovered row.
func (t *rowTable) repaint() {
	for _, c := range t.made {
		c.paint()
	}
}

// rowCell is one cell of a rowTable: its content over the row's
// background; it takes the clicks for its row.
type rowCell struct {
	widget.BaseWidget
	t       *rowTable
	bg      *canvas.Rectangle
	content fyne.CanvasObject
	id      widget.TableCellID
}

var (
	_ fyne.Tappable       = (*rowCell)(nil)
	_ fyne.DoubleTappable = (*rowCell)(nil)
	_ desktop.Hoverable   = (*rowCell)(nil)
	_ fyne.Focusable      = (*rowTable)(nil)
)

// Tapped selects the cell's row; it opens nothing.
func (c *rowCell) Tapped(*fyne.PointEvent) {
	c.t.col = c.id.Col
	c.t.SelectRow(c.id.Row)
	c.t.focus()
}

// DoubleTapped opens the cell's row.
func (c *rowCell) DoubleTapped(*fyne.PointEvent) {
	c.t.col = c.id.Col
	c.t.focus()
	if c.t.onOpen != nil && c.id.Row < c.t.rows() {
		c.t.onOpen(c.id.Row)
	}
}

// MouseIn highlights the cell's row.
func (c *rowCell) MouseIn(*desktop.MouseEvent) { c.t.hover(c.id.Row) }

// MouseMoved: see MouseIn.
func (c *rowCell) MouseMoved(*desktop.MouseEvent) {}

// MouseOut takes the highlight off.
func (c *rowCell) MouseOut() {
	if c.t.hovered == c.id.Row {
		c.t.hover(-1)
	}
}

func (c *rowCell) paint() {
	var fill color.Color = color.Transparent
	th := c.t.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	switch c.id.Row {
	case c.t.SelectedRow():
		fill = th.Color(theme.ColorNameSelection, v)
	case c.t.hovered:
		fill = th.Color(theme.ColorNameHover, v)
	}
	if c.bg.FillColor != fill {
		c.bg.FillColor = fill
		c.bg.Refresh()
	}
}

func (c *rowCell) CreateRenderer() fyne.WidgetRenderer { return &rowCellRenderer{c: c} }

type rowCellRenderer struct{ c *rowCell }

// Layout lets the background reach half the padding beyond the cell on
// every side, so that the cells of a row join into one band.
func (r *rowCellRenderer) Layout(s fyne.Size) {
	pad := r.c.t.Theme().Size(theme.SizeNamePadding)
	r.c.bg.Move(fyne.NewPos(-pad/2, -pad/2))
	r.c.bg.Resize(s.AddWidthHeight(pad, pad))
	r.c.content.Move(fyne.NewPos(0, 0))
	r.c.content.Resize(s)
}

func (r *rowCellRenderer) MinSize() fyne.Size { return r.c.content.MinSize() }

func (r *rowCellRenderer) Refresh() {
	r.c.paint()
	r.c.content.Refresh()
}

func (r *rowCellRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.c.bg, r.c.content}
}

func (r *rowCellRenderer) Destroy() {}
