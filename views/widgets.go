package views

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// textTable is a read-only table of labels with a bold header row: rows
// says how many rows there are, cell what row r, column c shows. Selecting
// a row calls onSelect, if set.
func textTable(headers []string, widths []float32, rows func() int, cell func(r, c int) string, onSelect func(row int)) *widget.Table {
	t := &widget.Table{
		Length:        func() (int, int) { return rows(), len(headers) },
		CreateCell:    func() fyne.CanvasObject { return &widget.Label{Truncation: fyne.TextTruncateEllipsis} },
		ShowHeaderRow: true,
		CreateHeader:  func() fyne.CanvasObject { return &widget.Label{TextStyle: fyne.TextStyle{Bold: true}} },
		UpdateHeader: func(id widget.TableCellID, o fyne.CanvasObject) {
			if id.Col >= 0 && id.Col < len(headers) {
				o.(*widget.Label).SetText(headers[id.Col])
			}
		},
		UpdateCell: func(id widget.TableCellID, o fyne.CanvasObject) {
			if id.Row >= rows() {
				o.(*widget.Label).SetText("")
				return
			}
			o.(*widget.Label).SetText(cell(id.Row, id.Col))
		},
	}
	if onSelect != nil {
		t.OnSelected = func(id widget.TableCellID) { onSelect(id.Row) }
	}
	for i, w := range widths {
		t.SetColumnWidth(i, w)
	}
	return t
}

// setEnabled enables the buttons when on, else disables them.
func setEnabled(on bool, buttons ...*widget.Button) {
	for _, b := range buttons {
		if on {
			b.Enable()
		} else {
			b.Disable()
		}
	}
}
