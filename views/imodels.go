package views

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"io/fs"
	"math"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/imodel"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/schedule"
	"codeberg.org/plinth/plinth/core/text"
)

// IModels is what the window needs of core/imodel.
type IModels interface {
	List(ctx context.Context, actor account.Actor) ([]imodel.IModel, error)
	Create(ctx context.Context, actor account.Actor, projectPath, name string) (imodel.IModel, error)
	Stats(imodel string) (imodel.Stats, error)
	GeoOf(imodel string) (imodel.Geo, bool, error)
	Changesets(ctx context.Context, actor account.Actor, imodel string) ([]imodel.Changeset, error)
	Find(ctx context.Context, actor account.Actor, imodel string, f imodel.Filter, limit int) ([]imodel.Element, error)
	Connections(ctx context.Context, actor account.Actor, imodel string) ([]imodel.Connection, error)
	AddConnection(ctx context.Context, actor account.Actor, imodel string, nc imodel.NewConnection) (imodel.Connection, error)
	SourceFiles(ctx context.Context, actor account.Actor, imodel string, src imodel.Source) ([]string, bool, error)
	FileStatuses(ctx context.Context, actor account.Actor, id string) ([]imodel.FileStatus, error)
	Runs(ctx context.Context, actor account.Actor, id string) ([]imodel.Run, error)
	Sync(ctx context.Context, actor account.Actor, id, trigger string, prog progress.Func) (imodel.Run, error)
	Rename(ctx context.Context, actor account.Actor, id, name string) (imodel.Connection, error)
	SetSchedule(ctx context.Context, actor account.Actor, id string, sp schedule.Spec) (imodel.Connection, error)
	Members(ctx context.Context, actor account.Actor, imodel string) ([]string, error)
	SetOwner(ctx context.Context, actor account.Actor, id, owner string) (imodel.Connection, string, error)
	Map(ctx context.Context, actor account.Actor, id string, comp imodel.Composite) (imodel.Connection, error)
	Unmap(ctx context.Context, actor account.Actor, id, main string, deleteElements bool) (imodel.Connection, error)
	Delete(ctx context.Context, actor account.Actor, id string, deleteElements bool) error
	TouchTokens(ctx context.Context, actor account.Actor) (int, error)
	ExportReport(ctx context.Context, actor account.Actor, conn, run, format, dest string) error
}

// searchLimit caps the elements a search lists.
const searchLimit = 500

// imodelsPage is the iModels page: pick an iModel, see its elements by
// type (choosing a type lists its elements), its geographic coordinates
// and changesets, search it, and manage its connections — status per file
// (failed files first, the reason in full above), Sync now, runs with
// their reports, rename, schedule, owner, mapping, delete. It words what
// the core records for people: "Partly succeeded", not PartialSuccess;
// "not a valid IFC file", not InvalidFile; a connection by its name,
// never its id; times in local time.
type imodelsPage struct {
	ui  *UI
	obj fyne.CanvasObject

	pick     *widget.Select
	models   []imodel.IModel
	cur      string // the iModel on show
	newModel *widget.Button
	summary  *widget.Label
	tokens   *widget.Label
	tabs     *container.AppTabs

	// Connections tab
	conns                                  []imodel.Connection
	connSel                                int
	connList                               *widget.List
	connInfo                               *widget.Label
	newConn, syncNow, rename, sched, owner *widget.Button
	mapBtn, unmap, del                     *widget.Button
	connTabs                               *container.AppTabs // Design files | Runs
	fileTable                              *widget.Table
	statuses                               []imodel.FileStatus // failed files first
	fileSel                                int                 // the file whose state fileNote tells in full, above the table
	fileNote                               *widget.Label
	runTable                               *widget.Table
	runs                                   []imodel.Run
	runSel                                 int
	showReport, exportJSON, exportCSV      *widget.Button

	// Elements tab
	stats      imodel.Stats
	types      []typeCount
	typeTable  *widget.Table
	typeSel    string // the type the element list is narrowed to, "" for all
	allTypes   *widget.Button
	search     *widget.Entry
	found      []imodel.Element
	foundTable *widget.Table
	foundNote  *widget.Label
	foundHint  *widget.Label // on the empty element list: how to fill it

	// Changesets tab
	changesets []imodel.Changeset
	csTable    *widget.Table

	canModify bool // the actor may change the iModel on show

	form   *formDialog   // the last form opened, for tests
	picker *sourcePicker // the last connection dialog's design files, for tests
	report string        // the last report shown, for tests
}

type typeCount struct {
	Type string
	N    int
}

func newIModelsPage(u *UI) *imodelsPage {
	p := &imodelsPage{ui: u, connSel: -1, runSel: -1, fileSel: -1,
		summary: &widget.Label{Wrapping: fyne.TextWrapWord},
		tokens:  &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.SuccessImportance},
	}
	p.tokens.Hide()
	p.pick = widget.NewSelect(nil, func(string) {
		if i := p.pick.SelectedIndex(); i >= 0 && i < len(p.models) && p.models[i].ID != p.cur {
			p.cur = p.models[i].ID
			p.connSel, p.runSel, p.fileSel = -1, -1, -1
			p.clearElements()
			p.load()
		}
	})
	p.pick.PlaceHolder = "(no iModel yet)"
	p.newModel = &widget.Button{Text: "New iModel…", Icon: theme.ContentAddIcon(), OnTapped: p.showNewIModel}
	// The connections tab does not scroll: New connection… heads the list
	// and the two tables share what is left, so that a small window shows
	// them all.
	p.tabs = container.NewAppTabs(
		container.NewTabItem("Connections", p.connectionsTab()),
		container.NewTabItem("Elements", p.elementsTab()),
		container.NewTabItem("Changesets", p.changesetsTab()),
	)
	// The title and the iModel's picker share a row, for the tabs' room.
	top := container.NewVBox(
		container.NewBorder(nil, nil, container.NewHBox(
			&widget.Label{Text: "iModels", TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameHeadingText},
			widget.NewLabel("iModel")), p.newModel, p.pick),
		p.summary, p.tokens,
	)
	p.obj = container.NewBorder(top, nil, nil, nil, p.tabs)
	return p
}

func (p *imodelsPage) content() fyne.CanvasObject { return container.NewPadded(p.obj) }

func (p *imodelsPage) connectionsTab() fyne.CanvasObject {
	p.connList = &widget.List{
		Length: func() int { return len(p.conns) },
		CreateItem: func() fyne.CanvasObject {
			return container.NewVBox(&widget.Label{TextStyle: fyne.TextStyle{Bold: true}, Truncation: fyne.TextTruncateEllipsis},
				&widget.Label{TextStyle: fyne.TextStyle{Italic: true}, Truncation: fyne.TextTruncateEllipsis})
		},
		UpdateItem: func(i widget.ListItemID, o fyne.CanvasObject) {
			if i >= len(p.conns) {
				return
			}
			c := p.conns[i]
			box := o.(*fyne.Container)
			box.Objects[0].(*widget.Label).SetText(c.Name)
			box.Objects[1].(*widget.Label).SetText(c.Schedule.String() + " · " + text.Count(len(c.MappedFiles()), "file"))
		},
		OnSelected: func(i widget.ListItemID) {
			if i != p.connSel {
				p.connSel, p.runSel = i, -1
				p.loadConnection()
			}
		},
	}
	p.connInfo = &widget.Label{Wrapping: fyne.TextWrapWord}
	p.newConn = &widget.Button{Text: "New connection…", Icon: theme.ContentAddIcon(), Importance: widget.HighImportance, OnTapped: p.showNewConnection}
	p.syncNow = &widget.Button{Text: "Sync now", Icon: theme.MediaPlayIcon(), OnTapped: p.doSync}
	p.rename = &widget.Button{Text: "Rename…", OnTapped: p.showRename}
	p.sched = &widget.Button{Text: "Schedule…", Icon: theme.HistoryIcon(), OnTapped: p.showSchedule}
	p.owner = &widget.Button{Text: "Owner…", Icon: theme.AccountIcon(), OnTapped: p.showOwner}
	p.mapBtn = &widget.Button{Text: "Map files…", OnTapped: p.showMap}
	p.unmap = &widget.Button{Text: "Unmap…", OnTapped: p.showUnmap}
	p.del = &widget.Button{Text: "Delete…", Icon: theme.DeleteIcon(), Importance: widget.DangerImportance, OnTapped: p.showDelete}

	// The reason takes the room the other columns leave, cut with an
	// ellipsis; the chosen file's reason reads in full above the table.
	fileCols := []string{"Design file", "State", "Reason", "Updated"}
	fileWidths := columnWidths(fileCols, []float32{160, textWidth(imodel.StateWarnings), 0, textWidth(longestTime)})
	p.fileTable = textTable(fileCols, fileWidths,
		func() int { return len(p.statuses) },
		func(r, c int) string {
			s := p.statuses[r]
			return []string{s.File, s.State, s.Reason, localTime(s.Updated)}[c]
		},
		func(row int) {
			p.fileSel = row
			p.showFileNote()
		})
	p.fileNote = &widget.Label{Wrapping: fyne.TextWrapWord}
	p.fileNote.Hide()
	runCols := []string{"Started", "By", "Trigger", "Result", "Inserted", "Updated", "Deleted", "Unchanged files"}
	p.runTable = textTable(runCols,
		columnWidths(runCols, []float32{textWidth(longestTime), textWidth("masteradmin"), textWidth(triggerWord(imodel.TriggerScheduled)), textWidth("Partly succeeded"), 0, 0, 0, 0}),
		func() int { return len(p.runs) },
		func(r, c int) string {
			run := p.runs[r]
			ins, upd, del, unch := runCounts(run)
			return []string{localTime(run.Started), run.By, triggerWord(run.Trigger), runResult(run),
				fmt.Sprint(ins), fmt.Sprint(upd), fmt.Sprint(del), fmt.Sprint(unch)}[c]
		},
		func(row int) {
			p.runSel = row
			p.updateButtons()
		})
	p.showReport = &widget.Button{Text: "Show report", Icon: theme.DocumentIcon(), OnTapped: p.doShowReport}
	p.exportJSON = &widget.Button{Text: "Export JSON…", Icon: theme.DocumentSaveIcon(), OnTapped: func() { p.chooseExport("json") }}
	p.exportCSV = &widget.Button{Text: "Export CSV…", Icon: theme.DocumentSaveIcon(), OnTapped: func() { p.chooseExport("csv") }}

	// Failed files come first; the chosen file's reason, which the table
	// cuts, reads in full above it, scrolled when a small window has no
	// room for all its lines. The design files and the runs take turns in
	// tabs, each with the room a small window has.
	files := container.NewBorder(capHeight(container.NewVScroll(p.fileNote), 1.5), nil, nil, nil,
		fillColumn(p.fileTable, p.fileTable, 2, fileWidths))
	history := container.NewBorder(container.NewHBox(layout.NewSpacer(), p.showReport, p.exportJSON, p.exportCSV),
		nil, nil, nil, p.runTable)
	p.connTabs = container.NewAppTabs(container.NewTabItem("Design files", files), container.NewTabItem("Runs", history))
	split := p.connTabs
	// Two rows: the connection and its mapped files, so that both fit
	// beside the list of connections in a small window.
	detail := container.NewBorder(container.NewVBox(capHeight(container.NewVScroll(p.connInfo), 2),
		container.NewHBox(p.syncNow, p.rename, p.sched, p.owner),
		container.NewHBox(p.mapBtn, p.unmap, p.del)), nil, nil, nil, split)
	// New connection… heads the list, where no window hides it.
	left := container.NewBorder(p.newConn, nil, nil, nil, p.connList)
	body := container.NewHSplit(left, detail)
	body.Offset = 0.22
	p.updateButtons()
	return body
}

// elementsTab lists the element types with their counts; choosing one
// lists its elements (All types goes back to every type), and a search
// narrows the list further.
func (p *imodelsPage) elementsTab() fyne.CanvasObject {
	// The name takes the room the count, at the right, leaves, cut with
	// an ellipsis: the table is never wider than its pane, so choosing a
	// type cannot scroll it sideways.
	typeCols := []string{"Type", "Elements"}
	typeWidths := columnWidths(typeCols, []float32{80, textWidth("100000")})
	p.typeTable = textTable(typeCols, typeWidths,
		func() int { return len(p.types) },
		func(r, c int) string {
			t := p.types[r]
			return []string{t.Type, fmt.Sprint(t.N)}[c]
		},
		func(row int) {
			if row >= 0 && row < len(p.types) && p.types[row].Type != p.typeSel {
				p.typeSel = p.types[row].Type
				p.allTypes.Enable()
				p.listElements()
			}
		})
	p.allTypes = &widget.Button{Text: "All types", Icon: theme.ListIcon(), OnTapped: func() {
		p.typeSel = ""
		p.typeTable.UnselectAll()
		p.allTypes.Disable()
		p.listElements()
	}}
	p.allTypes.Disable()
	p.search = &widget.Entry{PlaceHolder: "GlobalId or part of a name, type, tag"}
	p.search.OnSubmitted = func(string) { p.doSearch() }
	p.foundNote = &widget.Label{Wrapping: fyne.TextWrapWord}
	foundCols := []string{"GlobalId", "Type", "Name", "Connection", "Design file"}
	p.foundTable = textTable(foundCols, columnWidths(foundCols, []float32{200, 150, 220, 130, 180}),
		func() int { return len(p.found) },
		func(r, c int) string {
			e := p.found[r]
			return []string{e.GlobalID, e.Type, e.Name, p.connName(e.Connection), e.File}[c]
		}, nil)
	find := &widget.Button{Text: "Search", Icon: theme.SearchIcon(), OnTapped: p.doSearch}
	// Until a type is chosen or a search made, the empty table says how
	// to fill it.
	p.foundHint = &widget.Label{Text: foundHint, Alignment: fyne.TextAlignCenter, Wrapping: fyne.TextWrapWord, Importance: widget.MediumImportance}
	right := container.NewBorder(container.NewVBox(container.NewBorder(nil, nil, nil, find, p.search), p.foundNote), nil, nil, nil,
		container.NewStack(p.foundTable, container.NewVBox(layout.NewSpacer(), p.foundHint, layout.NewSpacer())))
	left := container.NewBorder(widget.NewLabel("Elements by type"), container.NewHBox(p.allTypes), nil, nil,
		fillColumn(p.typeTable, p.typeTable, 0, typeWidths))
	split := container.NewHSplit(left, right)
	split.Offset = 0.4
	return split
}

func (p *imodelsPage) changesetsTab() fyne.CanvasObject {
	csCols := []string{"#", "When", "By", "Connection", "Design files", "Inserted", "Updated", "Deleted", "Note"}
	p.csTable = textTable(csCols,
		columnWidths(csCols, []float32{40, textWidth(longestTime), 100, 130, 220, 0, 0, 0, 200}),
		func() int { return len(p.changesets) },
		func(r, c int) string {
			cs := p.changesets[r]
			return []string{fmt.Sprint(cs.Seq), localTime(cs.Time), cs.By, cs.ConnName, strings.Join(cs.Files, ", "),
				fmt.Sprint(cs.Inserted), fmt.Sprint(cs.Updated), fmt.Sprint(cs.Deleted), cs.Note}[c]
		}, nil)
	return p.csTable
}

// foundHint says, on the empty element list, how to fill it.
const foundHint = "Choose a type on the left, or search."

// fillColumn lays table out so that column col takes the width the other
// columns leave (widths are all the columns' widths; col's is its least):
// a table no wider than its place has nothing to scroll sideways to, even
// when Select scrolls to the chosen cell.
// obj is the table's widget: table itself, or a widget that embeds it.
func fillColumn(obj fyne.CanvasObject, table *widget.Table, col int, widths []float32) fyne.CanvasObject {
	return container.New(&fillColumnLayout{table: table, col: col, widths: widths}, obj)
}

// capHeight lays o out at most lines lines of text high (less if it needs
// less): for a scroll of a long wrapped label that must not push what is
// below it out of a small window. Half a line shows that there is more.
func capHeight(o fyne.CanvasObject, lines float32) fyne.CanvasObject {
	return container.New(&capLayout{lines: lines}, o)
}

type capLayout struct{ lines float32 }

func (l *capLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

func (l *capLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	line := fyne.MeasureText("Ag", theme.TextSize(), fyne.TextStyle{}).Height
	most := l.lines*line + 2*theme.InnerPadding()
	var m fyne.Size
	for _, o := range objs {
		if !o.Visible() {
			continue
		}
		in := o.MinSize()
		if sc, ok := o.(*container.Scroll); ok && sc.Content.Visible() {
			in = sc.Content.MinSize()
		} else if ok {
			in = fyne.Size{}
		}
		m = m.Max(fyne.NewSize(0, min(in.Height, most)))
	}
	return m
}

type fillColumnLayout struct {
	table  *widget.Table
	col    int
	widths []float32
	set    float32 // the width last given to col
}

func (l *fillColumnLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	sep := l.table.Theme().Size(theme.SizeNamePadding)
	w := size.Width
	for i, cw := range l.widths {
		w -= sep
		if i != l.col {
			w -= cw
		}
	}
	w = float32(math.Floor(float64(max(w, l.widths[l.col]))))
	if w != l.set {
		l.set = w
		l.table.SetColumnWidth(l.col, w)
	}
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

func (l *fillColumnLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var m fyne.Size
	for _, o := range objs {
		m = m.Max(o.MinSize())
	}
	return m
}

// longestTime is as long as localTime gets, to size the columns of times.
const longestTime = "30 September 2026 at 23:59"

// textWidth is the width a table column needs to show s in full.
func textWidth(s string) float32 {
	return fyne.MeasureText(s, theme.TextSize(), fyne.TextStyle{}).Width + 2*theme.InnerPadding() + theme.Padding()
}

// columnWidths widens each column to at least its bold header, so that
// no header is cut whatever the theme's text size; widths are the least
// widths wanted (0: as wide as the header).
func columnWidths(headers []string, widths []float32) []float32 {
	out := make([]float32, len(headers))
	for i, h := range headers {
		w := fyne.MeasureText(h, theme.TextSize(), fyne.TextStyle{Bold: true}).Width + 2*theme.InnerPadding() + theme.Padding()
		if i < len(widths) {
			w = max(w, widths[i])
		}
		out[i] = float32(math.Ceil(float64(w)))
	}
	return out
}

func runCounts(r imodel.Run) (ins, upd, del, unch int) {
	for _, f := range r.Files {
		ins += f.Inserted
		upd += f.Updated
		del += f.Deleted
		if f.State == imodel.StateUnchanged {
			unch++
		}
	}
	return
}

// runResult is how a run ended, in words: "Partly succeeded", never the
// report's PartialSuccess.
func runResult(r imodel.Run) string {
	switch r.State {
	case "running":
		return "Running"
	case "cancelled":
		return "Cancelled"
	case "interrupted":
		return "Interrupted"
	}
	switch r.Result {
	case imodel.ResultSuccess:
		return "Succeeded"
	case imodel.ResultPartialSuccess:
		return "Partly succeeded"
	case imodel.ResultFailed:
		return "Failed"
	}
	return r.Result
}

// triggerWord says what started a run.
func triggerWord(t string) string {
	switch t {
	case imodel.TriggerManual:
		return "Sync now"
	case imodel.TriggerScheduled:
		return "Scheduled"
	case "unmap":
		return "Unmap"
	case "delete":
		return "Delete"
	}
	return t
}

// categoryWord says what kind of error a report's category is, in words:
// "not a valid IFC file", never InvalidFile.
func categoryWord(c string) string {
	switch c {
	case imodel.CategoryFile:
		return "not a valid IFC file"
	case imodel.CategorySource:
		return "the file or its folder cannot be read"
	case imodel.CategoryAuthentication:
		return "the owner's sync token has expired"
	case imodel.CategoryPermission:
		return "the owner may no longer change the iModel"
	case imodel.CategoryInternal:
		return "Plinth could not store the result"
	case imodel.CategoryCancelled:
		return "cancelled"
	}
	return strings.ToLower(c)
}

// stateRank orders file states worst first: failed, then stopped part-way,
// then with warnings, then the rest.
func stateRank(state string) int {
	switch state {
	case imodel.StateFailed:
		return 0
	case imodel.StateInterrupted, imodel.StateCancelled:
		return 1
	case imodel.StateWarnings:
		return 2
	}
	return 3
}

// failedFirst is the file statuses with the failed ones first, each group
// in mapping order.
func failedFirst(sts []imodel.FileStatus) []imodel.FileStatus {
	out := slices.Clone(sts)
	sort.SliceStable(out, func(i, j int) bool { return stateRank(out[i].State) < stateRank(out[j].State) })
	return out
}

// connName names a connection for a sentence or a cell. The elements and
// the geographic coordinates a deleted connection left behind know only
// its id: its name then comes from the newest changeset it made, and the
// id is never shown.
func (p *imodelsPage) connName(id string) string {
	for _, c := range p.conns {
		if c.ID == id {
			return c.Name
		}
	}
	for _, cs := range p.changesets { // newest first
		if cs.Connection == id && cs.ConnName != "" {
			return cs.ConnName + " (deleted)"
		}
	}
	return deletedConn
}

// deletedConn stands for a deleted connection whose name is not known.
const deletedConn = "a deleted connection"

// connError is an error about a connection worded with its name: the core
// names a connection it cannot find by its id, which tells a person
// nothing. It unwraps to the core's error.
type connError struct {
	msg string
	err error
}

func (e *connError) Error() string { return e.msg }
func (e *connError) Unwrap() error { return e.err }

// connErr words err, about connection c, with c's name instead of its id.
func connErr(c imodel.Connection, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, imodel.ErrNotFound):
		return &connError{fmt.Sprintf("the connection %q is no longer there; someone may have deleted it", c.Name), err}
	case c.ID != "" && strings.Contains(err.Error(), c.ID):
		return &connError{strings.ReplaceAll(err.Error(), c.ID, strconv.Quote(c.Name)), err}
	}
	return err
}

func (p *imodelsPage) selected() (imodel.Connection, bool) {
	if p.connSel < 0 || p.connSel >= len(p.conns) {
		return imodel.Connection{}, false
	}
	return p.conns[p.connSel], true
}

func (p *imodelsPage) updateButtons() {
	c, ok := p.selected()
	setEnabled(ok && p.canModify, p.rename, p.sched, p.owner, p.mapBtn, p.unmap, p.del)
	setEnabled(ok && p.canModify && c.Running == "", p.syncNow)
	setEnabled(p.cur != "" && p.canModify, p.newConn)
	setEnabled(p.runSel >= 0 && p.runSel < len(p.runs), p.showReport, p.exportJSON, p.exportCSV)
}

// shown refreshes the owner's tokens in their last 10 days, then lists the
// iModels and loads the one on show.
func (p *imodelsPage) shown() {
	svc := p.ui.svc.IModels
	if svc == nil {
		p.summary.SetText("iModels are not available in this window.")
		return
	}
	actor := p.ui.actor
	var models []imodel.IModel
	var renewed int
	p.ui.background(func(ctx context.Context) (err error) {
		if renewed, err = svc.TouchTokens(ctx, actor); err != nil {
			return err
		}
		models, err = svc.List(ctx, actor)
		return err
	}, func(err error) {
		if err != nil {
			p.summary.SetText(sentence(err))
			return
		}
		p.tokens.Hide()
		if renewed > 0 {
			p.tokens.SetText(fmt.Sprintf("Your sync token was renewed for %s.", text.Count(renewed, "connection")))
			p.tokens.Show()
		}
		p.setModels(models)
	})
}

func (p *imodelsPage) setModels(models []imodel.IModel) {
	p.models = models
	labels := make([]string, len(models))
	sel := -1
	for i, m := range models {
		labels[i] = m.Path
		if m.ID == p.cur {
			sel = i
		}
	}
	if sel < 0 && len(models) > 0 {
		sel = 0
	}
	p.pick.Options = labels
	if sel < 0 {
		p.cur = ""
		p.pick.ClearSelected()
		p.summary.SetText("There is no iModel yet. Create one in a project with New iModel…, then add a connection that brings IFC design files into it.")
		p.conns, p.statuses, p.runs, p.types, p.found, p.changesets = nil, nil, nil, nil, nil, nil
		p.refreshAll()
		return
	}
	if models[sel].ID != p.cur {
		p.clearElements()
	}
	p.cur = models[sel].ID
	p.pick.SetSelectedIndex(sel) // OnChanged ignores the iModel already on show
	p.load()
}

// load reads the iModel on show: counts, geo, changesets, connections.
func (p *imodelsPage) load() {
	svc, actor, id := p.ui.svc.IModels, p.ui.actor, p.cur
	if id == "" {
		return
	}
	var (
		st     imodel.Stats
		geo    imodel.Geo
		hasGeo bool
		css    []imodel.Changeset
		conns  []imodel.Connection
		can    bool
	)
	var item account.Item
	for _, m := range p.models {
		if m.ID == id {
			item = m.Item()
		}
	}
	p.ui.background(func(ctx context.Context) (err error) {
		can = p.ui.svc.Accounts.Can(ctx, actor, item, account.ModifyContent)
		if st, err = svc.Stats(id); err != nil {
			return err
		}
		if geo, hasGeo, err = svc.GeoOf(id); err != nil {
			return err
		}
		if css, err = svc.Changesets(ctx, actor, id); err != nil {
			return err
		}
		conns, err = svc.Connections(ctx, actor, id)
		return err
	}, func(err error) {
		if id != p.cur {
			return
		}
		if err != nil {
			p.summary.SetText(sentence(err))
			return
		}
		p.stats, p.conns, p.canModify = st, conns, can
		p.changesets = css // newest first
		p.types = p.types[:0]
		for t, n := range st.ByType {
			p.types = append(p.types, typeCount{t, n})
		}
		sort.Slice(p.types, func(i, j int) bool {
			if p.types[i].N != p.types[j].N {
				return p.types[i].N > p.types[j].N
			}
			return p.types[i].Type < p.types[j].Type
		})
		s := fmt.Sprintf("%s of %s, %s, %s.", text.Count(st.Elements, "element"), text.Count(len(st.ByType), "type"),
			text.Count(int(st.Changesets), "changeset"), text.Count(len(conns), "connection"))
		if hasGeo {
			s += fmt.Sprintf(" Geographic coordinates: %s, from %s of %s.", geo.Reference, geo.File, quoteName(p.connName(geo.Connection)))
		} else {
			s += " No geographic coordinates yet: the first synced file with IfcMapConversion or a site latitude/longitude sets them."
		}
		p.summary.SetText(s)
		if p.connSel >= len(conns) {
			p.connSel = -1
		}
		if p.connSel < 0 && len(conns) > 0 {
			p.connSel = 0
		}
		p.refreshAll()
		if p.connSel >= 0 {
			p.connList.Select(p.connSel)
		}
		p.loadConnection()
	})
}

func (p *imodelsPage) refreshAll() {
	p.connList.Refresh()
	p.typeTable.Refresh()
	p.foundTable.Refresh()
	p.csTable.Refresh()
	p.fileTable.Refresh()
	p.runTable.Refresh()
	p.showFoundHint()
	p.updateButtons()
}

// loadConnection reads the selected connection's file status and runs.
func (p *imodelsPage) loadConnection() {
	c, ok := p.selected()
	if !ok {
		p.connInfo.SetText("")
		p.statuses, p.runs = nil, nil
		if p.cur != "" {
			p.connInfo.SetText("No connection yet. New connection… maps IFC design files from a folder into this iModel.")
		}
		p.setFileSel()
		p.refreshAll()
		return
	}
	svc, actor := p.ui.svc.IModels, p.ui.actor
	var sts []imodel.FileStatus
	var rs []imodel.Run
	p.ui.background(func(ctx context.Context) (err error) {
		if sts, err = svc.FileStatuses(ctx, actor, c.ID); err != nil {
			return err
		}
		rs, err = svc.Runs(ctx, actor, c.ID)
		return err
	}, func(err error) {
		if cur, ok := p.selected(); !ok || cur.ID != c.ID {
			return
		}
		if err != nil {
			p.connInfo.SetText(sentence(connErr(c, err)))
			return
		}
		p.statuses, p.runs = failedFirst(sts), rs // runs newest first
		p.setFileSel()
		if p.runSel >= len(rs) {
			p.runSel = -1
		}
		info := connText(c, time.Now())
		if !p.canModify {
			info += " You may look at this iModel; changing or syncing its connections needs Modify content on it."
		}
		p.connInfo.SetText(info)
		p.refreshAll()
	})
}

// setFileSel picks the file whose state the note above the table tells
// in full: the first file, when something went wrong with it (failed
// files come first); else none until the user chooses one.
func (p *imodelsPage) setFileSel() {
	p.fileSel = -1
	p.fileTable.UnselectAll()
	if len(p.statuses) > 0 && p.statuses[0].Reason != "" {
		p.fileSel = 0
	}
	p.showFileNote()
}

// showFileNote tells the selected file's state and reason in full.
func (p *imodelsPage) showFileNote() {
	if p.fileSel < 0 || p.fileSel >= len(p.statuses) {
		p.fileNote.SetText("")
		p.fileNote.Hide()
		return
	}
	p.fileNote.SetText(p.fileText(p.statuses[p.fileSel]))
	p.fileNote.Show()
}

// fileText is a design file's state in one sentence, with the reason
// the table cuts: "broken.ifc failed, not a valid IFC file: line 4, …".
func (p *imodelsPage) fileText(st imodel.FileStatus) string {
	var b strings.Builder
	b.WriteString(st.File + " " + st.State)
	if cat := p.fileCategory(st); cat != "" {
		b.WriteString(", " + cat)
	}
	if st.Reason != "" {
		b.WriteString(": " + strings.TrimSuffix(st.Reason, "."))
	}
	if !st.Updated.IsZero() {
		b.WriteString(" (" + localTime(st.Updated) + ")")
	}
	b.WriteString(".")
	return b.String()
}

// fileCategory is the kind of a failed file's first error, in words,
// from the run that set its state; "" when it did not fail or the run is
// not listed.
func (p *imodelsPage) fileCategory(st imodel.FileStatus) string {
	if st.State != imodel.StateFailed {
		return ""
	}
	for _, r := range p.runs {
		if r.ID != st.Run {
			continue
		}
		for _, f := range r.Files {
			if f.File == st.File && len(f.Errors) > 0 {
				return categoryWord(f.Errors[0].Category)
			}
		}
	}
	return ""
}

// quoteName quotes a connection's name for a sentence, but not the words
// that stand for a deleted one.
func quoteName(name string) string {
	if name == deletedConn {
		return name
	}
	return strconv.Quote(name)
}

// connText says where a connection reads from, when it runs and who owns it.
func connText(c imodel.Connection, now time.Time) string {
	src := "Folder " + c.Source.Path
	if c.Source.Kind == imodel.SourceFileServer {
		src = "File server folder " + c.Source.Path
	}
	var comps []string
	for _, m := range c.Mapped {
		s := m.Main
		if len(m.Refs) > 0 {
			s += " (with " + strings.Join(m.Refs, ", ") + ")"
		}
		comps = append(comps, s)
	}
	tok := "token valid until " + localTimeFrom(c.Token.Expires, now)
	if !c.Token.Expires.After(now) {
		tok = "token expired: " + c.Owner + " must run Sync now"
	}
	sched := c.Schedule.String()
	if c.Paused != nil {
		sched += " — paused: Plinth stopped during the sync that started " + localTimeFrom(c.Paused.Since, now)
		if c.Paused.File != "" {
			sched += " (while it read " + c.Paused.File + ")"
		}
		sched += "; scheduled runs wait until Sync now succeeds"
	}
	return fmt.Sprintf("%s. Mapped: %s. Schedule: %s. Owner: %s, %s.", src, strings.Join(comps, "; "), sched, c.Owner, tok)
}

// doSearch lists the elements that match the search text, of the type
// chosen if one is.
func (p *imodelsPage) doSearch() {
	if strings.TrimSpace(p.search.Text) == "" && p.typeSel == "" {
		return
	}
	p.listElements()
}

// clearElements empties the element list and forgets the type chosen, for
// another iModel.
func (p *imodelsPage) clearElements() {
	p.found, p.typeSel = nil, ""
	p.typeTable.UnselectAll()
	p.allTypes.Disable()
	p.foundNote.SetText("")
	p.foundTable.Refresh()
	p.showFoundHint()
}

// showFoundHint shows the hint on the element list while it is empty and
// nothing was asked for.
func (p *imodelsPage) showFoundHint() {
	if len(p.found) == 0 && p.foundNote.Text == "" {
		p.foundHint.Show()
	} else {
		p.foundHint.Hide()
	}
}

// listElements lists the elements of the type chosen (all types when
// none is) that match the search text, if any; the first searchLimit.
func (p *imodelsPage) listElements() {
	svc, actor, id := p.ui.svc.IModels, p.ui.actor, p.cur
	if id == "" {
		return
	}
	f := imodel.Filter{Text: strings.TrimSpace(p.search.Text), Type: p.typeSel}
	var found []imodel.Element
	p.ui.background(func(ctx context.Context) (err error) {
		found, err = svc.Find(ctx, actor, id, f, searchLimit)
		return err
	}, func(err error) {
		if id != p.cur || f.Type != p.typeSel {
			return // another iModel or type was chosen meanwhile
		}
		if err != nil {
			p.foundNote.SetText(sentence(err))
			p.showFoundHint()
			return
		}
		p.found = found
		p.foundNote.SetText(foundText(f, len(found)))
		p.foundTable.ScrollToTop()
		p.foundTable.Refresh()
		p.showFoundHint()
	})
}

// foundText says what the element list shows.
func foundText(f imodel.Filter, n int) string {
	of := ""
	if f.Type != "" {
		of = " of type " + f.Type
	}
	switch {
	case n == 0 && f.Text != "":
		return fmt.Sprintf("No element%s matches %q.", of, f.Text)
	case n == 0:
		return fmt.Sprintf("No element%s.", of)
	case n >= searchLimit && f.Text != "":
		return fmt.Sprintf("The first %d elements%s that match %q; type more to narrow it down.", searchLimit, of, f.Text)
	case n >= searchLimit:
		return fmt.Sprintf("The first %d elements%s; search to narrow it down.", searchLimit, of)
	case f.Text != "":
		return fmt.Sprintf("%s%s %s %q.", text.Count(n, "element"), of, text.Agree(n, "matches", "match"), f.Text)
	}
	return text.Count(n, "element") + of + "."
}

func (p *imodelsPage) showNewIModel() {
	svc, actor := p.ui.svc.IModels, p.ui.actor
	project := widget.NewSelect(nil, nil)
	name := &widget.Entry{PlaceHolder: "e.g. Tower coordination model"}
	var inProject, called string // read on the UI goroutine by check
	var made imodel.IModel
	f := p.ui.showForm(formSpec{title: "New iModel", confirm: "Create",
		intro: "An iModel lives in a project and holds the elements that its connections bring in from IFC design files.",
		items: []*widget.FormItem{widget.NewFormItem("Project", project), widget.NewFormItem("Name", name)},
		check: func() error {
			if project.Selected == "" {
				return errors.New("choose a project first; create one on the Projects page if there is none")
			}
			inProject, called = project.Selected, name.Text
			return nil
		},
		work: func(ctx context.Context) (err error) {
			made, err = svc.Create(ctx, actor, inProject, called)
			return err
		},
		done: func() {
			p.cur = made.ID
			p.ui.banner.Done(fmt.Sprintf("Created the iModel %s.", made.Path))
			p.shown()
		},
	})
	p.form = f
	var paths []string
	p.ui.background(func(ctx context.Context) error {
		items, err := p.ui.svc.Files.Items(ctx)
		if err != nil {
			return err
		}
		for _, n := range items {
			if n.Kind != files.KindProject {
				continue
			}
			if path, err := p.ui.svc.Files.Path(ctx, n.ID); err == nil {
				paths = append(paths, path)
			}
		}
		sort.Strings(paths)
		return nil
	}, func(err error) {
		showError(f.errText, err)
		project.Options = paths
		if len(paths) > 0 {
			project.SetSelectedIndex(0)
		}
		project.Refresh()
	})
}

// scheduleInput is the Manually / Every 4 hours / Daily / Weekly choice.
type scheduleInput struct {
	kind *widget.Select
	day  *widget.Select
	at   *widget.Entry
	obj  fyne.CanvasObject
}

var connWhen = []string{"Manually", "Every 4 hours", "Daily at", "Weekly on"}

func newScheduleInput(sp schedule.Spec) *scheduleInput {
	s := &scheduleInput{at: &widget.Entry{Text: "02:00"}}
	days := make([]string, 7)
	for i := range days {
		days[i] = time.Weekday(i).String()
	}
	s.day = widget.NewSelect(days, nil)
	s.day.SetSelectedIndex(int(time.Monday))
	s.kind = widget.NewSelect(connWhen, func(v string) {
		s.at.Hide()
		s.day.Hide()
		switch v {
		case connWhen[2]:
			s.at.Show()
		case connWhen[3]:
			s.day.Show()
			s.at.Show()
		}
	})
	switch sp.Kind {
	case schedule.Every:
		s.kind.SetSelectedIndex(1)
	case schedule.Daily:
		s.kind.SetSelectedIndex(2)
	case schedule.Weekly:
		s.day.SetSelectedIndex(int(sp.Weekday))
		s.kind.SetSelectedIndex(3)
	default:
		s.kind.SetSelectedIndex(0)
	}
	if sp.Kind == schedule.Daily || sp.Kind == schedule.Weekly {
		s.at.SetText(fmt.Sprintf("%02d:%02d", sp.Hour, sp.Minute))
	}
	s.obj = container.NewHBox(s.kind, s.day, container.NewGridWrap(fyne.NewSize(80, s.at.MinSize().Height), s.at))
	return s
}

func (s *scheduleInput) spec() (schedule.Spec, error) {
	var h, m int
	if i := s.kind.SelectedIndex(); i >= 2 {
		if _, err := fmt.Sscanf(strings.TrimSpace(s.at.Text), "%d:%d", &h, &m); err != nil {
			return schedule.Spec{}, fmt.Errorf("type the time as HH:MM, not %q", s.at.Text)
		}
	}
	switch s.kind.SelectedIndex() {
	case 1:
		return schedule.EveryInterval(imodel.ShortestEvery), nil
	case 2:
		return schedule.DailyAt(h, m), nil
	case 3:
		return schedule.WeeklyAt(time.Weekday(s.day.SelectedIndex()), h, m), nil
	}
	return schedule.Spec{Kind: schedule.Manual}, nil
}

var sourceLabels = []string{"Folder on disk or network share", "Folder on Plinth's file server"}

// parseMapping reads one composite model per line: the main design file,
// then its reference files, separated by commas.
func parseMapping(s string) []imodel.Composite {
	var out []imodel.Composite
	for _, line := range strings.Split(s, "\n") {
		var parts []string
		for _, f := range strings.Split(line, ",") {
			if f = strings.TrimSpace(f); f != "" {
				parts = append(parts, f)
			}
		}
		if len(parts) > 0 {
			out = append(out, imodel.Composite{Main: parts[0], Refs: parts[1:]})
		}
	}
	return out
}

func mappingEntry() *widget.Entry {
	e := widget.NewMultiLineEntry()
	e.SetPlaceHolder("or type one per line, main file first:\nstructure.ifc, grid-reference.ifc")
	e.SetMinRowsVisible(2)
	return e
}

// sourcePicker offers the .ifc files found in a connection's source folder
// as check boxes, read off the UI goroutine whenever the folder changes.
// Each file checked is mapped as a composite model of its own, besides
// what is typed below it (a main file with its reference files).
type sourcePicker struct {
	p      *imodelsPage
	imodel string
	skip   map[string]bool // mapped already: not offered
	names  []string        // offered, by name
	chosen map[string]bool
	gen    int // the listing asked for last; older answers are dropped
	note   *widget.Label
	list   *widget.List
	obj    fyne.CanvasObject
}

func (p *imodelsPage) newSourcePicker(imodelID string, mapped []string) *sourcePicker {
	s := &sourcePicker{p: p, imodel: imodelID, skip: map[string]bool{}, chosen: map[string]bool{},
		note: &widget.Label{Wrapping: fyne.TextWrapWord}}
	for _, f := range mapped {
		s.skip[f] = true
	}
	s.list = &widget.List{
		Length:     func() int { return len(s.names) },
		CreateItem: func() fyne.CanvasObject { return widget.NewCheck("", nil) },
		UpdateItem: func(i widget.ListItemID, o fyne.CanvasObject) {
			if i >= len(s.names) {
				return
			}
			name, c := s.names[i], o.(*widget.Check)
			c.OnChanged = nil // a reused box: no change of this file's choice
			c.SetText(name)
			c.SetChecked(s.chosen[name])
			c.OnChanged = func(on bool) { s.chosen[name] = on }
		},
	}
	// Room for about three files, kept when there are none so that the
	// dialog keeps its size; more scroll.
	room := canvas.NewRectangle(color.Transparent)
	room.SetMinSize(fyne.NewSize(0, 3*widget.NewCheck("x.ifc", nil).MinSize().Height))
	s.obj = container.NewVBox(s.note, container.NewStack(room, s.list))
	s.note.SetText("The .ifc files of the folder are offered here once it is chosen.")
	return s
}

// load lists the .ifc files of src.
func (s *sourcePicker) load(src imodel.Source) {
	s.gen++
	gen := s.gen
	src.Path = strings.TrimSpace(src.Path)
	if src.Path == "" {
		s.show(nil, false)
		s.note.SetText("The .ifc files of the folder are offered here once it is chosen.")
		return
	}
	svc, actor := s.p.ui.svc.IModels, s.p.ui.actor
	var found []string
	var more bool
	s.note.SetText("Looking for .ifc files in " + src.Path + "…")
	s.p.ui.background(func(ctx context.Context) (err error) {
		found, more, err = svc.SourceFiles(ctx, actor, s.imodel, src)
		return err
	}, func(err error) {
		if gen != s.gen {
			return // the folder changed meanwhile
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			s.show(nil, false)
			s.note.SetText(fmt.Sprintf("There is no folder %s.", src.Path))
		case err != nil:
			s.show(nil, false)
			s.note.SetText(sentence(err))
		default:
			s.show(found, more)
		}
	})
}

// show offers found, less the files mapped already.
func (s *sourcePicker) show(found []string, more bool) {
	s.names = s.names[:0]
	for _, f := range found {
		if !s.skip[f] {
			s.names = append(s.names, f)
		}
	}
	var note string
	switch {
	case len(s.names) > 0:
		note = "Check the design files to map, each a model of its own; type a main file with its reference files below."
	case len(found) > 0:
		note = "Every .ifc file in this folder is mapped already; type files in its subfolders below, e.g. level-1/structure.ifc."
	default:
		note = "There is no .ifc file directly in this folder; type files in its subfolders below, e.g. level-1/structure.ifc."
	}
	if more {
		note += fmt.Sprintf(" The folder holds more than %s: only those were looked at.", text.Count(imodel.MaxListed, "entry"))
	}
	s.note.SetText(note)
	s.list.UnselectAll()
	s.list.ScrollToTop()
	s.list.Refresh()
}

// mapping is what is typed, then each file checked that the typed lines
// do not name, as a composite model of its own.
func (s *sourcePicker) mapping(typed string) []imodel.Composite {
	comps := parseMapping(typed)
	named := map[string]bool{}
	for _, c := range comps {
		for _, f := range c.Files() {
			named[path.Clean(strings.ReplaceAll(f, "\\", "/"))] = true
		}
	}
	for _, n := range s.names {
		if s.chosen[n] && !named[n] {
			comps = append(comps, imodel.Composite{Main: n})
		}
	}
	return comps
}

func (p *imodelsPage) showNewConnection() {
	svc, actor, id := p.ui.svc.IModels, p.ui.actor, p.cur
	name := &widget.Entry{PlaceHolder: "e.g. Structure"}
	kind := widget.NewSelect(sourceLabels, nil)
	kind.SetSelectedIndex(0)
	folder := &widget.Entry{PlaceHolder: "/srv/projects/tower/ifc or /Tower/IFC"}
	picker := p.newSourcePicker(id, nil)
	p.picker = picker
	source := func() imodel.Source {
		src := imodel.Source{Kind: imodel.SourceDisk, Path: strings.TrimSpace(folder.Text)}
		if kind.SelectedIndex() == 1 {
			src.Kind = imodel.SourceFileServer
		}
		return src
	}
	folder.OnChanged = func(string) { picker.load(source()) }
	kind.OnChanged = func(string) { picker.load(source()) }
	browse := &widget.Button{Text: "Browse…", Icon: theme.FolderOpenIcon(), OnTapped: func() {
		dialog.ShowFolderOpen(func(u fyne.ListableURI, err error) {
			if err == nil && u != nil {
				kind.SetSelectedIndex(0)
				folder.SetText(u.Path())
			}
		}, p.ui.win)
	}}
	mapping := mappingEntry()
	when := newScheduleInput(schedule.Spec{Kind: schedule.Manual})
	var nc imodel.NewConnection
	var made imodel.Connection
	p.form = p.ui.showForm(formSpec{title: "New connection", confirm: "Create",
		intro: "A connection brings IFC design files from a folder into this iModel. Map each main design file with the reference files it needs.",
		items: []*widget.FormItem{
			widget.NewFormItem("Name", name),
			widget.NewFormItem("Data source", kind),
			widget.NewFormItem("Folder", container.NewBorder(nil, nil, nil, browse, folder)),
			widget.NewFormItem("Design files", container.NewVBox(picker.obj, mapping)),
			widget.NewFormItem("Schedule", when.obj),
		},
		// What the dialog says is read here, on the UI goroutine; work
		// runs off it.
		check: func() (err error) {
			nc = imodel.NewConnection{Name: name.Text, Source: source(), Mapped: picker.mapping(mapping.Text)}
			nc.Schedule, err = when.spec()
			return err
		},
		work: func(ctx context.Context) (err error) {
			made, err = svc.AddConnection(ctx, actor, id, nc)
			return err
		},
		done: func() {
			p.ui.banner.Done(fmt.Sprintf("Created the connection %q. Sync now brings its files in.", made.Name))
			p.connSel = len(p.conns) // it sorts last or the list reloads it
			p.reloadSelecting(made.ID)
		},
	})
}

// reloadSelecting reloads the iModel and selects a connection by id.
func (p *imodelsPage) reloadSelecting(connID string) {
	svc, actor, id := p.ui.svc.IModels, p.ui.actor, p.cur
	var conns []imodel.Connection
	p.ui.background(func(ctx context.Context) (err error) {
		conns, err = svc.Connections(ctx, actor, id)
		return err
	}, func(err error) {
		p.connSel = -1
		for i, c := range conns {
			if c.ID == connID {
				p.connSel = i
			}
		}
		p.load()
	})
}

// doSync runs Sync now on the selected connection, in the banner with
// Cancel; files already applied when Cancel is pressed stay applied.
func (p *imodelsPage) doSync() {
	c, ok := p.selected()
	if !ok {
		return
	}
	svc, actor := p.ui.svc.IModels, p.ui.actor
	var partly string // the sentence, when some files failed
	p.ui.longWork("Synchronizing "+c.Name, func(ctx context.Context, prog progress.Func) (string, error) {
		run, err := svc.Sync(ctx, actor, c.ID, imodel.TriggerManual, prog)
		if err != nil {
			return "", connErr(c, err)
		}
		msg, err := syncSentence(c.Name, run)
		if err == nil && run.Result == imodel.ResultPartialSuccess {
			partly = msg
		}
		return msg, err
	}, func(err error) {
		if err == nil && partly != "" {
			p.ui.banner.Warn(partly) // amber, not green
		}
		p.reloadSelecting(c.ID)
	})
}

// syncSentence says in one sentence how a run ended; a failed or
// cancelled run is an error so the banner turns red. A run where some
// files failed names them (doSync shows it amber).
func syncSentence(name string, run imodel.Run) (string, error) {
	ins, upd, del, unch := runCounts(run)
	counts := fmt.Sprintf("%d inserted, %d updated, %d deleted, %s unchanged", ins, upd, del, text.Count(unch, "file"))
	switch {
	case run.State == "cancelled":
		return "", fmt.Errorf("the sync of %q was cancelled; files finished before stay applied (%s)", name, counts)
	case run.Result == imodel.ResultFailed:
		reason := run.FirstError()
		if reason == "" {
			reason = "see the run report"
		}
		return "", fmt.Errorf("the sync of %q failed: %s", name, reason)
	case run.Result == imodel.ResultPartialSuccess:
		var failed []string
		for _, f := range run.Files {
			if f.State == imodel.StateFailed {
				failed = append(failed, f.File)
			}
		}
		list := strings.Join(failed, ", ")
		if len(failed) > 3 {
			list = strings.Join(failed[:3], ", ") + fmt.Sprintf(" and %d more", len(failed)-3)
		}
		return fmt.Sprintf("Synchronized %q partly: %d of %s failed (%s), the list of design files says why; the others gave %s.",
			name, len(failed), text.Count(len(run.Files), "file"), list, counts), nil
	}
	return fmt.Sprintf("Synchronized %q: %s.", name, counts), nil
}

func (p *imodelsPage) showRename() {
	c, ok := p.selected()
	if !ok {
		return
	}
	svc, actor := p.ui.svc.IModels, p.ui.actor
	name := &widget.Entry{Text: c.Name}
	p.form = p.ui.showForm(formSpec{title: "Rename connection", confirm: "Rename",
		items: []*widget.FormItem{widget.NewFormItem("Name", name)},
		work: func(ctx context.Context) error {
			_, err := svc.Rename(ctx, actor, c.ID, name.Text)
			return connErr(c, err)
		},
		done: func() { p.reloadSelecting(c.ID) },
	})
}

func (p *imodelsPage) showSchedule() {
	c, ok := p.selected()
	if !ok {
		return
	}
	svc, actor := p.ui.svc.IModels, p.ui.actor
	when := newScheduleInput(c.Schedule)
	p.form = p.ui.showForm(formSpec{title: "Schedule of " + c.Name, confirm: "Save",
		intro: "Scheduled syncs run as the owner, with the owner's rights and sync token. Every 4 hours is the most often.",
		items: []*widget.FormItem{widget.NewFormItem("Sync", when.obj)},
		work: func(ctx context.Context) error {
			sp, err := when.spec()
			if err != nil {
				return err
			}
			_, err = svc.SetSchedule(ctx, actor, c.ID, sp)
			return connErr(c, err)
		},
		done: func() { p.reloadSelecting(c.ID) },
	})
}

func (p *imodelsPage) showOwner() {
	c, ok := p.selected()
	if !ok {
		return
	}
	svc, actor := p.ui.svc.IModels, p.ui.actor
	who := widget.NewSelect(nil, nil)
	var msg string
	f := p.ui.showForm(formSpec{title: "Owner of " + c.Name, confirm: "Change owner",
		intro: "Scheduled syncs run as the owner. The connection can go to any user who has worked with this iModel, but not while it syncs.",
		items: []*widget.FormItem{widget.NewFormItem("Owner", who)},
		work: func(ctx context.Context) (err error) {
			_, msg, err = svc.SetOwner(ctx, actor, c.ID, who.Selected)
			return connErr(c, err)
		},
		done: func() {
			dialog.ShowInformation("Owner changed", msg, p.ui.win)
			p.reloadSelecting(c.ID)
		},
	})
	p.form = f
	var members []string
	p.ui.background(func(ctx context.Context) (err error) {
		members, err = svc.Members(ctx, actor, c.IModel)
		return err
	}, func(err error) {
		showError(f.errText, err)
		who.Options = members
		who.SetSelected(c.Owner)
		who.Refresh()
	})
}

func (p *imodelsPage) showMap() {
	c, ok := p.selected()
	if !ok {
		return
	}
	svc, actor := p.ui.svc.IModels, p.ui.actor
	mapping := mappingEntry()
	picker := p.newSourcePicker(c.IModel, c.MappedFiles())
	p.picker = picker
	var comps []imodel.Composite
	mapped := map[string]bool{} // by an earlier try of this dialog that failed part-way
	p.form = p.ui.showForm(formSpec{title: "Map design files into " + c.Name, confirm: "Map",
		intro: "Add composite models: a main design file with its reference files, in " + c.Source.Path + ". They are synchronized with the next run.",
		items: []*widget.FormItem{widget.NewFormItem("Design files", container.NewVBox(picker.obj, mapping))},
		check: func() error {
			if comps = picker.mapping(mapping.Text); len(comps) == 0 {
				return errors.New("check or type at least one design file")
			}
			return nil
		},
		work: func(ctx context.Context) error {
			for _, comp := range comps {
				if mapped[comp.Main] {
					continue
				}
				if _, err := svc.Map(ctx, actor, c.ID, comp); err != nil {
					return connErr(c, err)
				}
				mapped[comp.Main] = true
			}
			return nil
		},
		done: func() { p.reloadSelecting(c.ID) },
	})
	picker.load(c.Source)
}

var keepLabels = []string{"Keep already synchronized elements (future syncs stop)", "Delete them from the iModel too"}

func (p *imodelsPage) showUnmap() {
	c, ok := p.selected()
	if !ok {
		return
	}
	svc, actor := p.ui.svc.IModels, p.ui.actor
	var mains []string
	for _, m := range c.Mapped {
		mains = append(mains, m.Main)
	}
	which := widget.NewSelect(mains, nil)
	if len(mains) > 0 {
		which.SetSelectedIndex(0)
	}
	keep := widget.NewRadioGroup(keepLabels, nil)
	keep.Required = true
	keep.SetSelected(keepLabels[0])
	p.form = p.ui.showForm(formSpec{title: "Unmap from " + c.Name, confirm: "Unmap", danger: true,
		intro: "A composite model is unmapped with its reference files; a reference file alone cannot be. Unmapping the last one deletes the connection.",
		items: []*widget.FormItem{widget.NewFormItem("Composite model", which), widget.NewFormItem("Its elements", keep)},
		work: func(ctx context.Context) error {
			_, err := svc.Unmap(ctx, actor, c.ID, which.Selected, keep.Selected == keepLabels[1])
			return connErr(c, err)
		},
		done: func() { p.reloadSelecting(c.ID) },
	})
}

func (p *imodelsPage) showDelete() {
	c, ok := p.selected()
	if !ok {
		return
	}
	svc, actor := p.ui.svc.IModels, p.ui.actor
	keep := widget.NewRadioGroup(keepLabels, nil)
	keep.Required = true
	keep.SetSelected(keepLabels[0])
	p.form = p.ui.showForm(formSpec{title: "Delete connection " + c.Name, confirm: "Delete", danger: true,
		intro: fmt.Sprintf("%q stops synchronizing %s. Its run history goes with it.", c.Name, text.Count(len(c.MappedFiles()), "design file")),
		items: []*widget.FormItem{widget.NewFormItem("Its elements", keep)},
		work: func(ctx context.Context) error {
			return connErr(c, svc.Delete(ctx, actor, c.ID, keep.Selected == keepLabels[1]))
		},
		done: func() {
			p.ui.banner.Done(fmt.Sprintf("Deleted the connection %q.", c.Name))
			p.connSel, p.runSel = -1, -1
			p.load()
		},
	})
}

func (p *imodelsPage) selectedRun() (imodel.Connection, imodel.Run, bool) {
	c, ok := p.selected()
	if !ok || p.runSel < 0 || p.runSel >= len(p.runs) {
		return c, imodel.Run{}, false
	}
	return c, p.runs[p.runSel], true
}

// reportText is a run's report as the window shows it, in words, failed
// files first.
func reportText(r imodel.Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run of %q started %s by %s (%s): %s.\n", r.ConnName, localTime(r.Started), r.By, triggerWord(r.Trigger), runResult(r))
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "Error (%s%s): %s\n", categoryWord(e.Category), fixable(e.UserFixable), e.Message)
	}
	reps := slices.Clone(r.Files)
	sort.SliceStable(reps, func(i, j int) bool { return stateRank(reps[i].State) < stateRank(reps[j].State) })
	for _, f := range reps {
		fmt.Fprintf(&b, "\n%s — %s: %d inserted, %d updated, %d deleted, %d unchanged, %.2f s\n",
			f.File, f.State, f.Inserted, f.Updated, f.Deleted, f.Unchanged, f.Seconds)
		for _, e := range f.Errors {
			where := ""
			if e.Line > 0 {
				where = fmt.Sprintf(" on line %d", e.Line)
			}
			fmt.Fprintf(&b, "  Error%s (%s%s): %s\n", where, categoryWord(e.Category), fixable(e.UserFixable), e.Message)
		}
		for i, w := range f.Warnings {
			if i == 50 {
				fmt.Fprintf(&b, "  … and %s more; export the report for all of them\n", text.Count(len(f.Warnings)-50, "warning"))
				break
			}
			fmt.Fprintf(&b, "  Warning: %s\n", w.String())
		}
	}
	return b.String()
}

func fixable(yes bool) string {
	if yes {
		return ", you can fix it"
	}
	return ""
}

func (p *imodelsPage) doShowReport() {
	_, run, ok := p.selectedRun()
	if !ok {
		return
	}
	p.report = reportText(run)
	body := &widget.Label{Text: p.report, Wrapping: fyne.TextWrapWord}
	scroll := container.NewVScroll(body)
	scroll.SetMinSize(fyne.NewSize(640, 360))
	dialog.ShowCustom("Run report", "Close", scroll, p.ui.win)
}

func (p *imodelsPage) chooseExport(format string) {
	c, run, ok := p.selectedRun()
	if !ok {
		return
	}
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		dest := w.URI().Path()
		_ = w.Close()
		p.export(c, run, format, dest)
	}, p.ui.win)
	d.SetFileName(fmt.Sprintf("%s %s.%s", c.Name, run.Started.Local().Format("2006-01-02 1504"), format))
	d.Show()
}

// export writes a run's report to dest as JSON or CSV.
func (p *imodelsPage) export(c imodel.Connection, run imodel.Run, format, dest string) {
	svc, actor := p.ui.svc.IModels, p.ui.actor
	p.ui.background(func(ctx context.Context) error {
		return svc.ExportReport(ctx, actor, c.ID, run.ID, format, dest)
	}, func(err error) {
		if err != nil {
			p.ui.showError(err)
			return
		}
		p.ui.banner.Done("Report written to " + filepath.Clean(dest) + ".")
	})
}
