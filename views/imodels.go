package views

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
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
	Search(ctx context.Context, actor account.Actor, imodel, q string, limit int) ([]imodel.Element, error)
	Connections(ctx context.Context, actor account.Actor, imodel string) ([]imodel.Connection, error)
	AddConnection(ctx context.Context, actor account.Actor, imodel string, nc imodel.NewConnection) (imodel.Connection, error)
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
// type, its geographic coordinates and changesets, search it, and manage
// its connections — status per file, Sync now, runs with their reports,
// rename, schedule, owner, mapping, delete.
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
	fileTable                              *widget.Table
	statuses                               []imodel.FileStatus
	runTable                               *widget.Table
	runs                                   []imodel.Run
	runSel                                 int
	showReport, exportJSON, exportCSV      *widget.Button

	// Elements tab
	stats      imodel.Stats
	types      []typeCount
	typeTable  *widget.Table
	search     *widget.Entry
	found      []imodel.Element
	foundTable *widget.Table
	foundNote  *widget.Label

	// Changesets tab
	changesets []imodel.Changeset
	csTable    *widget.Table

	canModify bool // the actor may change the iModel on show

	form   *formDialog // the last form opened, for tests
	report string      // the last report shown, for tests
}

type typeCount struct {
	Type string
	N    int
}

func newIModelsPage(u *UI) *imodelsPage {
	p := &imodelsPage{ui: u, connSel: -1, runSel: -1,
		summary: &widget.Label{Wrapping: fyne.TextWrapWord},
		tokens:  &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.SuccessImportance},
	}
	p.tokens.Hide()
	p.pick = widget.NewSelect(nil, func(string) {
		if i := p.pick.SelectedIndex(); i >= 0 && i < len(p.models) && p.models[i].ID != p.cur {
			p.cur = p.models[i].ID
			p.connSel, p.runSel = -1, -1
			p.load()
		}
	})
	p.pick.PlaceHolder = "(no iModel yet)"
	p.newModel = &widget.Button{Text: "New iModel…", Icon: theme.ContentAddIcon(), OnTapped: p.showNewIModel}
	// The connection's details scroll rather than heighten a small window;
	// with room, its tables take what is left.
	p.tabs = container.NewAppTabs(
		container.NewTabItem("Connections", container.NewVScroll(p.connectionsTab())),
		container.NewTabItem("Elements", p.elementsTab()),
		container.NewTabItem("Changesets", p.changesetsTab()),
	)
	top := container.NewVBox(
		&widget.Label{Text: "iModels", TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameHeadingText},
		container.NewBorder(nil, nil, widget.NewLabel("iModel"), p.newModel, p.pick),
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

	p.fileTable = textTable([]string{"Design file", "State", "Reason", "Updated"}, []float32{220, 170, 340, 130},
		func() int { return len(p.statuses) },
		func(r, c int) string {
			s := p.statuses[r]
			return []string{s.File, s.State, s.Reason, stamp(s.Updated)}[c]
		}, nil)
	p.runTable = textTable([]string{"Started", "By", "Trigger", "Result", "Inserted", "Updated", "Deleted", "Unchanged files"},
		[]float32{140, 90, 75, 100, 65, 65, 65, 110},
		func() int { return len(p.runs) },
		func(r, c int) string {
			run := p.runs[r]
			ins, upd, del, unch := runCounts(run)
			return []string{stamp(run.Started), run.By, run.Trigger, runResult(run),
				fmt.Sprint(ins), fmt.Sprint(upd), fmt.Sprint(del), fmt.Sprint(unch)}[c]
		},
		func(row int) {
			p.runSel = row
			p.updateButtons()
		})
	p.showReport = &widget.Button{Text: "Show report", Icon: theme.DocumentIcon(), OnTapped: p.doShowReport}
	p.exportJSON = &widget.Button{Text: "Export JSON…", Icon: theme.DocumentSaveIcon(), OnTapped: func() { p.chooseExport("json") }}
	p.exportCSV = &widget.Button{Text: "Export CSV…", Icon: theme.DocumentSaveIcon(), OnTapped: func() { p.chooseExport("csv") }}

	files := container.NewBorder(widget.NewLabel("Design files"), nil, nil, nil, p.fileTable)
	history := container.NewBorder(container.NewHBox(widget.NewLabel("Runs"), layout.NewSpacer(), p.showReport, p.exportJSON, p.exportCSV),
		nil, nil, nil, p.runTable)
	split := container.NewVSplit(files, history)
	// Two rows: the connection and its mapped files, so that both fit
	// beside the list of connections in a small window.
	detail := container.NewBorder(container.NewVBox(p.connInfo,
		container.NewHBox(p.syncNow, p.rename, p.sched, p.owner),
		container.NewHBox(p.mapBtn, p.unmap, p.del)), nil, nil, nil, split)
	left := container.NewBorder(nil, p.newConn, nil, nil, p.connList)
	body := container.NewHSplit(left, detail)
	body.Offset = 0.22
	p.updateButtons()
	return body
}

func (p *imodelsPage) elementsTab() fyne.CanvasObject {
	p.typeTable = textTable([]string{"Type", "Elements"}, []float32{220, 90},
		func() int { return len(p.types) },
		func(r, c int) string {
			t := p.types[r]
			return []string{t.Type, fmt.Sprint(t.N)}[c]
		}, nil)
	p.search = &widget.Entry{PlaceHolder: "GlobalId or part of a name, type, tag"}
	p.search.OnSubmitted = func(string) { p.doSearch() }
	p.foundNote = &widget.Label{Wrapping: fyne.TextWrapWord}
	p.foundTable = textTable([]string{"GlobalId", "Type", "Name", "Connection", "Design file"}, []float32{200, 150, 220, 130, 180},
		func() int { return len(p.found) },
		func(r, c int) string {
			e := p.found[r]
			return []string{e.GlobalID, e.Type, e.Name, p.connName(e.Connection), e.File}[c]
		}, nil)
	find := &widget.Button{Text: "Search", Icon: theme.SearchIcon(), OnTapped: p.doSearch}
	right := container.NewBorder(container.NewVBox(container.NewBorder(nil, nil, nil, find, p.search), p.foundNote), nil, nil, nil, p.foundTable)
	split := container.NewHSplit(container.NewBorder(widget.NewLabel("Elements by type"), nil, nil, nil, p.typeTable), right)
	split.Offset = 0.3
	return split
}

func (p *imodelsPage) changesetsTab() fyne.CanvasObject {
	p.csTable = textTable([]string{"#", "When", "By", "Connection", "Design files", "Inserted", "Updated", "Deleted", "Note"},
		[]float32{40, 130, 100, 130, 220, 70, 70, 70, 200},
		func() int { return len(p.changesets) },
		func(r, c int) string {
			cs := p.changesets[r]
			return []string{fmt.Sprint(cs.Seq), stamp(cs.Time), cs.By, cs.ConnName, strings.Join(cs.Files, ", "),
				fmt.Sprint(cs.Inserted), fmt.Sprint(cs.Updated), fmt.Sprint(cs.Deleted), cs.Note}[c]
		}, nil)
	return p.csTable
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04")
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

func runResult(r imodel.Run) string {
	switch {
	case r.State == "running":
		return "running"
	case r.State != "finished" && r.State != "":
		return r.State + " (" + r.Result + ")"
	}
	return r.Result
}

func (p *imodelsPage) connName(id string) string {
	for _, c := range p.conns {
		if c.ID == id {
			return c.Name
		}
	}
	return id
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
			s += fmt.Sprintf(" Geographic coordinates: %s, from %s of %q.", geo.Reference, geo.File, p.connName(geo.Connection))
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
			p.connInfo.SetText(sentence(err))
			return
		}
		p.statuses, p.runs = sts, rs // runs newest first
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
	tok := "token valid until " + c.Token.Expires.Local().Format("2006-01-02")
	if !c.Token.Expires.After(now) {
		tok = "token expired: " + c.Owner + " must run Sync now"
	}
	sched := c.Schedule.String()
	if c.Paused != nil {
		sched += " — paused: Plinth stopped during the sync of " + c.Paused.Since.Local().Format("2006-01-02 15:04")
		if c.Paused.File != "" {
			sched += " (while it read " + c.Paused.File + ")"
		}
		sched += "; scheduled runs wait until Sync now succeeds"
	}
	return fmt.Sprintf("%s. Mapped: %s. Schedule: %s. Owner: %s, %s.", src, strings.Join(comps, "; "), sched, c.Owner, tok)
}

func (p *imodelsPage) doSearch() {
	svc, actor, id, q := p.ui.svc.IModels, p.ui.actor, p.cur, p.search.Text
	if id == "" || strings.TrimSpace(q) == "" {
		return
	}
	var found []imodel.Element
	p.ui.background(func(ctx context.Context) (err error) {
		found, err = svc.Search(ctx, actor, id, q, searchLimit)
		return err
	}, func(err error) {
		if err != nil {
			p.foundNote.SetText(sentence(err))
			return
		}
		p.found = found
		switch {
		case len(found) == 0:
			p.foundNote.SetText(fmt.Sprintf("No element matches %q.", q))
		case len(found) >= searchLimit:
			p.foundNote.SetText(fmt.Sprintf("The first %d elements that match %q; type more to narrow it down.", searchLimit, q))
		default:
			p.foundNote.SetText(text.Count(len(found), "element") + " match.")
		}
		p.foundTable.Refresh()
	})
}

func (p *imodelsPage) showNewIModel() {
	svc, actor := p.ui.svc.IModels, p.ui.actor
	project := widget.NewSelect(nil, nil)
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
		project.Options = paths
		if len(paths) > 0 {
			project.SetSelectedIndex(0)
		}
		project.Refresh()
	})
	name := &widget.Entry{PlaceHolder: "e.g. Tower coordination model"}
	var made imodel.IModel
	p.form = p.ui.showForm(formSpec{title: "New iModel", confirm: "Create",
		intro: "An iModel lives in a project and holds the elements that its connections bring in from IFC design files.",
		items: []*widget.FormItem{widget.NewFormItem("Project", project), widget.NewFormItem("Name", name)},
		check: func() error {
			if project.Selected == "" {
				return errors.New("choose a project first; create one on the Projects page if there is none")
			}
			return nil
		},
		work: func(ctx context.Context) (err error) {
			made, err = svc.Create(ctx, actor, project.Selected, name.Text)
			return err
		},
		done: func() {
			p.cur = made.ID
			p.ui.banner.Done(fmt.Sprintf("Created the iModel %s.", made.Path))
			p.shown()
		},
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
	e.SetPlaceHolder("one composite model per line:\nstructure.ifc, grid-reference.ifc\narchitecture.ifc")
	e.SetMinRowsVisible(3)
	return e
}

func (p *imodelsPage) showNewConnection() {
	svc, actor, id := p.ui.svc.IModels, p.ui.actor, p.cur
	name := &widget.Entry{PlaceHolder: "e.g. Structure"}
	kind := widget.NewSelect(sourceLabels, nil)
	kind.SetSelectedIndex(0)
	folder := &widget.Entry{PlaceHolder: "/srv/projects/tower/ifc or /Tower/IFC"}
	browse := &widget.Button{Text: "Browse…", Icon: theme.FolderOpenIcon(), OnTapped: func() {
		dialog.ShowFolderOpen(func(u fyne.ListableURI, err error) {
			if err == nil && u != nil {
				folder.SetText(u.Path())
				kind.SetSelectedIndex(0)
			}
		}, p.ui.win)
	}}
	mapping := mappingEntry()
	when := newScheduleInput(schedule.Spec{Kind: schedule.Manual})
	var made imodel.Connection
	p.form = p.ui.showForm(formSpec{title: "New connection", confirm: "Create",
		intro: "A connection brings IFC design files from a folder into this iModel. Map each main design file with the reference files it needs.",
		items: []*widget.FormItem{
			widget.NewFormItem("Name", name),
			widget.NewFormItem("Data source", kind),
			widget.NewFormItem("Folder", container.NewBorder(nil, nil, nil, browse, folder)),
			widget.NewFormItem("Design files", mapping),
			widget.NewFormItem("Schedule", when.obj),
		},
		work: func(ctx context.Context) error {
			sp, err := when.spec()
			if err != nil {
				return err
			}
			src := imodel.Source{Kind: imodel.SourceDisk, Path: strings.TrimSpace(folder.Text)}
			if kind.SelectedIndex() == 1 {
				src.Kind = imodel.SourceFileServer
			}
			made, err = svc.AddConnection(ctx, actor, id, imodel.NewConnection{Name: name.Text, Source: src,
				Mapped: parseMapping(mapping.Text), Schedule: sp})
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
	p.ui.longWork("Synchronizing "+c.Name, func(ctx context.Context, prog progress.Func) (string, error) {
		run, err := svc.Sync(ctx, actor, c.ID, imodel.TriggerManual, prog)
		if err != nil {
			return "", err
		}
		return syncSentence(c.Name, run)
	}, func(error) { p.reloadSelecting(c.ID) })
}

// syncSentence says in one sentence how a run ended; a failed or
// cancelled run is an error so the banner turns red.
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
		return fmt.Sprintf("Synchronized %q partly (%s); the run report says which files failed and why.", name, counts), nil
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
			return err
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
			return err
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
	p.ui.background(func(ctx context.Context) error {
		m, err := svc.Members(ctx, actor, c.IModel)
		who.Options = m
		return err
	}, func(error) {
		who.SetSelected(c.Owner)
		who.Refresh()
	})
	var msg string
	p.form = p.ui.showForm(formSpec{title: "Owner of " + c.Name, confirm: "Change owner",
		intro: "Scheduled syncs run as the owner. The connection can go to any user who has worked with this iModel, but not while it syncs.",
		items: []*widget.FormItem{widget.NewFormItem("Owner", who)},
		work: func(ctx context.Context) (err error) {
			_, msg, err = svc.SetOwner(ctx, actor, c.ID, who.Selected)
			return err
		},
		done: func() {
			dialog.ShowInformation("Owner changed", msg, p.ui.win)
			p.reloadSelecting(c.ID)
		},
	})
}

func (p *imodelsPage) showMap() {
	c, ok := p.selected()
	if !ok {
		return
	}
	svc, actor := p.ui.svc.IModels, p.ui.actor
	mapping := mappingEntry()
	p.form = p.ui.showForm(formSpec{title: "Map design files into " + c.Name, confirm: "Map",
		intro: "Add composite models: a main design file with its reference files, relative to " + c.Source.Path + ". They are synchronized with the next run.",
		items: []*widget.FormItem{widget.NewFormItem("Design files", mapping)},
		work: func(ctx context.Context) error {
			comps := parseMapping(mapping.Text)
			if len(comps) == 0 {
				return errors.New("type at least one design file")
			}
			for _, comp := range comps {
				if _, err := svc.Map(ctx, actor, c.ID, comp); err != nil {
					return err
				}
			}
			return nil
		},
		done: func() { p.reloadSelecting(c.ID) },
	})
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
			return err
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
			return svc.Delete(ctx, actor, c.ID, keep.Selected == keepLabels[1])
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

// reportText is a run's report as the window shows it.
func reportText(r imodel.Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run of %q started %s by %s (%s): %s.\n", r.ConnName, stamp(r.Started), r.By, r.Trigger, runResult(r))
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "Error (%s%s): %s\n", e.Category, fixable(e.UserFixable), e.Message)
	}
	for _, f := range r.Files {
		fmt.Fprintf(&b, "\n%s — %s: %d inserted, %d updated, %d deleted, %d unchanged, %.2f s\n",
			f.File, f.State, f.Inserted, f.Updated, f.Deleted, f.Unchanged, f.Seconds)
		for _, e := range f.Errors {
			where := ""
			if e.Line > 0 {
				where = fmt.Sprintf(" line %d", e.Line)
			}
			fmt.Fprintf(&b, "  Error%s (%s%s): %s\n", where, e.Category, fixable(e.UserFixable), e.Message)
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
