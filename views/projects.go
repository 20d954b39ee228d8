package views

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/dustin/go-humanize"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/text"
)

// projectsPage is the folder tree of projects, libraries, iModels and
// files: one folder at a time in a virtualized table, with a breadcrumb.
type projectsPage struct {
	ui  *UI
	obj fyne.CanvasObject

	crumbs *fyne.Container
	table  *rowTable
	note   *widget.Label

	upload, uploadDir, newItem, download, rename, move, del, versions *widget.Button

	folder  files.Node   // the folder on show
	path    string       // its path, "" for the root
	entries []files.Node // its contents, in display order
	sortBy  files.SortBy
	desc    bool
	can     account.Permission // on the folder on show

	// The open dialogs, for tests.
	dialog    *formDialog
	movePick  *movePicker
	versionsD *versionsView
}

var projectColumns = []struct {
	title string
	width float32
	by    files.SortBy
}{
	{"Name", 360, files.SortName},
	{"Kind", 90, files.SortKind},
	{"Size", 100, files.SortSize},
	{"Modified", 150, files.SortDate},
	{"Versions", 80, -1},
}

// kindName is a kind as the window writes it: "folder", "iModel".
func kindName(k files.Kind) string {
	if k == files.KindIModel {
		return "iModel"
	}
	return k.String()
}

func kindIcon(k files.Kind) fyne.Resource {
	switch k {
	case files.KindFolder:
		return theme.FolderIcon()
	case files.KindProject:
		return theme.HomeIcon()
	case files.KindLibrary:
		return theme.ListIcon()
	case files.KindIModel:
		return theme.GridIcon()
	}
	return theme.FileIcon()
}

func newProjectsPage(u *UI) *projectsPage {
	p := &projectsPage{ui: u, folder: files.Node{ID: files.RootID, Kind: files.KindFolder, Name: "Projects"},
		crumbs: container.NewHBox(), note: &widget.Label{Wrapping: fyne.TextWrapWord}}
	// One click selects a row, a double click or Enter opens it.
	p.table = newRowTable(len(projectColumns), func() int { return len(p.entries) },
		func() fyne.CanvasObject {
			return container.NewBorder(nil, nil, &widget.Icon{}, nil, &widget.Label{Truncation: fyne.TextTruncateEllipsis})
		}, p.updateCell)
	p.table.onSelect = func(int) { p.updateButtons() }
	p.table.onOpen = p.openRow
	p.table.ShowHeaderRow = true
	p.table.CreateHeader = func() fyne.CanvasObject {
		return &widget.Button{Importance: widget.LowImportance, Alignment: widget.ButtonAlignLeading}
	}
	p.table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if id.Col < 0 {
			return
		}
		c := projectColumns[id.Col]
		b := o.(*widget.Button)
		b.SetText(c.title)
		b.SetIcon(nil)
		if c.by == p.sortBy && c.by >= 0 {
			b.SetIcon(theme.MenuDropDownIcon())
			if p.desc {
				b.SetIcon(theme.MenuDropUpIcon())
			}
		}
		b.OnTapped = func() { p.sort(c.by) }
	}
	for i, c := range projectColumns {
		p.table.SetColumnWidth(i, c.width)
	}
	p.upload = &widget.Button{Text: "Upload file…", Icon: theme.UploadIcon(), OnTapped: p.showUploadFile}
	p.uploadDir = &widget.Button{Text: "Upload folder…", Icon: theme.FolderOpenIcon(), OnTapped: p.showUploadFolder}
	p.newItem = &widget.Button{Text: "New…", Icon: theme.ContentAddIcon()}
	p.newItem.OnTapped = func() {
		items := []*fyne.MenuItem{}
		for _, k := range []files.Kind{files.KindFolder, files.KindProject, files.KindLibrary, files.KindIModel} {
			items = append(items, fyne.NewMenuItem("New "+kindName(k), func() { p.showCreate(k) }))
		}
		pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(p.newItem)
		widget.ShowPopUpMenuAtPosition(fyne.NewMenu("", items...), u.win.Canvas(), pos.Add(fyne.NewPos(0, p.newItem.Size().Height)))
	}
	p.download = &widget.Button{Text: "Download…", Icon: theme.DownloadIcon(), OnTapped: p.showDownload}
	p.rename = &widget.Button{Text: "Rename…", Icon: theme.DocumentCreateIcon(), OnTapped: p.showRename}
	p.move = &widget.Button{Text: "Move…", Icon: theme.NavigateNextIcon(), OnTapped: p.showMove}
	p.del = &widget.Button{Text: "Delete…", Icon: theme.DeleteIcon(), OnTapped: p.showDelete}
	p.versions = &widget.Button{Text: "Versions…", Icon: theme.HistoryIcon(), OnTapped: p.showVersions}
	up := &widget.Button{Icon: theme.MoveUpIcon(), Importance: widget.LowImportance, OnTapped: p.goUp}
	refresh := &widget.Button{Icon: theme.ViewRefreshIcon(), Importance: widget.LowImportance, OnTapped: p.shown}
	// Two rows: what adds here, and what acts on the selected row; each
	// fits beside the navigation at 800×600, so no button hides behind a
	// scroll.
	bar := container.NewVBox(
		container.NewHBox(up, p.newItem, p.upload, p.uploadDir, layout.NewSpacer(), refresh),
		container.NewHBox(p.download, p.rename, p.move, p.del, p.versions))
	// The bar scrolls sideways rather than widen a small window.
	head := container.NewVBox(
		&widget.Label{Text: "Projects", TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameHeadingText},
		container.NewHScroll(p.crumbs), bar, p.note)
	p.obj = container.NewBorder(head, nil, nil, nil, p.table)
	p.updateButtons()
	return p
}

func (p *projectsPage) content() fyne.CanvasObject { return container.NewPadded(p.obj) }

func (p *projectsPage) shown() { p.load(p.folder.ID, "") }

// updateCell fills one cell: the name with the kind's icon, the kind, the
// size, the date or the number of versions.
func (p *projectsPage) updateCell(id widget.TableCellID, o fyne.CanvasObject) {
	if id.Row >= len(p.entries) {
		return
	}
	n := p.entries[id.Row]
	box := o.(*fyne.Container)
	label, icon := box.Objects[0].(*widget.Label), box.Objects[1].(*widget.Icon)
	if named := id.Col == 0; named != icon.Visible() { // cells move between columns
		icon.Hidden = !named
		box.Refresh()
	}
	switch id.Col {
	case 0:
		icon.SetResource(kindIcon(n.Kind))
		label.SetText(n.Name)
	case 1:
		label.SetText(kindName(n.Kind))
	case 2:
		if n.Kind == files.KindFile {
			label.SetText(humanize.IBytes(uint64(n.Size)))
		} else {
			label.SetText("")
		}
	case 3:
		label.SetText(n.Modified.Local().Format("2006-01-02 15:04"))
	case 4:
		if n.Kind == files.KindFile {
			label.SetText(fmt.Sprint(n.Versions))
		} else {
			label.SetText("")
		}
	}
}

// load shows a folder: its listing is read off the UI goroutine. selectName,
// when not empty, selects that entry afterwards.
func (p *projectsPage) load(id, selectName string) {
	actor := p.ui.actor
	svc := p.ui.svc.Files
	if svc == nil {
		p.note.SetText("The file server is not available in this window.")
		return
	}
	var (
		dir  files.Node
		list []files.Node
		path string
		can  account.Permission
	)
	p.ui.background(func(ctx context.Context) (err error) {
		if dir, err = svc.Get(ctx, actor, id); err != nil {
			return err
		}
		if list, err = svc.List(ctx, actor, id); err != nil {
			return err
		}
		if path, err = svc.Path(ctx, id); err != nil {
			return err
		}
		for _, perm := range account.Each {
			if p.ui.svc.Accounts.Can(ctx, actor, dir.Item(), perm) {
				can |= perm
			}
		}
		return nil
	}, func(err error) {
		if errors.Is(err, files.ErrNotFound) && id != files.RootID {
			p.load(files.RootID, "") // the folder went away: back to the root
			return
		}
		if err != nil {
			p.note.SetText(sentence(err))
			return
		}
		p.folder, p.path, p.can = dir, path, can
		if p.sortBy != files.SortName || p.desc { // List sorts by name already
			files.SortNodes(list, p.sortBy, p.desc)
		}
		p.entries = list
		p.table.UnselectAll()
		p.table.ScrollToTop()
		p.table.Refresh()
		p.updateCrumbs()
		p.note.SetText(p.summary())
		for i, n := range p.entries {
			if selectName != "" && n.Name == selectName {
				p.table.SelectRow(i)
			}
		}
		p.updateButtons()
	})
}

// summary counts what the folder on show holds, by kind: "2 folders,
// 1 project, 3 files (4.0 MiB).". Files are always counted; folders,
// projects, libraries and iModels when there are some ("0 folders" when
// there is none of them).
func (p *projectsPage) summary() string {
	count := map[files.Kind]int{}
	var bytes int64
	for _, n := range p.entries {
		count[n.Kind]++
		if n.Kind == files.KindFile {
			bytes += n.Size
		}
	}
	containers := []files.Kind{files.KindFolder, files.KindProject, files.KindLibrary, files.KindIModel}
	var parts []string
	for _, k := range containers {
		if count[k] > 0 {
			parts = append(parts, text.Count(count[k], kindName(k)))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, text.Count(0, "folder"))
	}
	parts = append(parts, fmt.Sprintf("%s (%s)", text.Count(count[files.KindFile], "file"), humanize.IBytes(uint64(bytes))))
	s := strings.Join(parts, ", ") + "."
	if !p.can.Has(account.ModifyContent) {
		s += " You may look here but not change anything."
	}
	return s
}

func (p *projectsPage) updateCrumbs() {
	p.crumbs.Objects = nil
	p.crumbs.Add(&widget.Button{Text: "Projects", Importance: widget.LowImportance, OnTapped: func() { p.load(files.RootID, "") }})
	if p.path != "" {
		parts := strings.Split(p.path, "/")
		for i := range parts {
			sub := "/" + strings.Join(parts[:i+1], "/")
			p.crumbs.Add(widget.NewLabel("›"))
			p.crumbs.Add(&widget.Button{Text: parts[i], Importance: widget.LowImportance, OnTapped: func() { p.openPath(sub) }})
		}
	}
	p.crumbs.Refresh()
}

func (p *projectsPage) openPath(path string) {
	actor := p.ui.actor
	var n files.Node
	p.ui.background(func(ctx context.Context) (err error) {
		n, err = p.ui.svc.Files.Lookup(ctx, actor, path)
		return err
	}, func(err error) {
		if err != nil {
			p.ui.showError(err)
			return
		}
		p.openNode(n)
	})
}

// Open shows the folder at path; notifications use it to click through.
func (p *projectsPage) Open(path string) { p.openPath(path) }

func (p *projectsPage) openNode(n files.Node) {
	if n.Kind.IsContainer() {
		p.load(n.ID, "")
	}
}

// openRow is a double click or Enter on a row: a folder, project or
// library opens, with nothing inside selected; anything else is selected.
func (p *projectsPage) openRow(row int) {
	if row < 0 || row >= len(p.entries) {
		return
	}
	if n := p.entries[row]; n.Kind.IsContainer() {
		p.openNode(n)
		return
	}
	p.table.SelectRow(row)
}

func (p *projectsPage) goUp() {
	if p.folder.ID != files.RootID {
		p.load(p.folder.Parent, p.folder.Name)
	}
}

func (p *projectsPage) sort(by files.SortBy) {
	if by < 0 {
		return
	}
	if p.sortBy == by {
		p.desc = !p.desc
	} else {
		p.sortBy, p.desc = by, false
	}
	// The selected entry stays selected, wherever it sorts to.
	was, selected := p.current()
	files.SortNodes(p.entries, p.sortBy, p.desc)
	p.table.UnselectAll()
	p.table.Refresh()
	for i, n := range p.entries {
		if selected && n.ID == was.ID {
			p.table.SelectRow(i)
		}
	}
	p.updateButtons()
}

// current is the entry the user selected.
func (p *projectsPage) current() (files.Node, bool) {
	i := p.table.SelectedRow()
	if i < 0 || i >= len(p.entries) {
		return files.Node{}, false
	}
	return p.entries[i], true
}

func (p *projectsPage) updateButtons() {
	n, ok := p.current()
	set := func(b *widget.Button, visible, enabled bool) {
		b.Hidden = !visible
		if enabled {
			b.Enable()
		} else {
			b.Disable()
		}
	}
	content := p.can.Has(account.ModifyContent)
	set(p.upload, content, true)
	set(p.uploadDir, content, true)
	set(p.newItem, content, true)
	set(p.download, true, ok)
	set(p.rename, p.can.Has(account.ModifyDetails), ok)
	set(p.move, p.can.Has(account.ModifyDetails), ok)
	set(p.del, p.can.Has(account.DeleteContent), ok)
	set(p.versions, true, ok && n.Kind == files.KindFile)
	p.obj.Refresh()
}

func (p *projectsPage) showCreate(k files.Kind) {
	name := &widget.Entry{PlaceHolder: "name"}
	actor, parent := p.ui.actor, p.folder.ID
	var typed string
	var made files.Node
	p.dialog = p.ui.showForm(formSpec{
		title: "New " + kindName(k), confirm: "Create",
		items: []*widget.FormItem{widget.NewFormItem("Name", name)},
		check: func() error { typed = name.Text; return files.CheckName(name.Text) },
		work: func(ctx context.Context) (err error) {
			made, err = p.ui.svc.Files.Create(ctx, actor, parent, typed, k)
			return err
		},
		done: func() {
			p.ui.banner.Done(fmt.Sprintf("Created the %s %s.", kindName(k), made.Name))
			p.load(parent, made.Name)
		},
	})
}

func (p *projectsPage) showRename() {
	n, ok := p.current()
	if !ok {
		return
	}
	name := &widget.Entry{Text: n.Name}
	actor, parent := p.ui.actor, p.folder.ID
	var to string
	var renamed files.Node
	p.dialog = p.ui.showForm(formSpec{
		title: "Rename " + n.Name, confirm: "Rename",
		items: []*widget.FormItem{widget.NewFormItem("New name", name)},
		check: func() error { to = name.Text; return files.CheckName(name.Text) },
		work: func(ctx context.Context) (err error) {
			renamed, err = p.ui.svc.Files.Rename(ctx, actor, n.ID, to)
			return err
		},
		done: func() {
			p.ui.banner.Done(fmt.Sprintf("Renamed %s to %s.", n.Name, renamed.Name))
			p.load(parent, renamed.Name)
		},
	})
}

// moveTarget is a folder, project or library the Move dialog offers.
type moveTarget struct {
	node files.Node
	path string // from the Projects root: "/" is the root itself
}

// label is how the Move dialog lists the target.
func (m moveTarget) label() string {
	if m.path == "/" {
		return "/ (Projects, the top level)"
	}
	return m.path
}

// maxMoveTargets bounds the Move dialog's list; beyond it, a path is typed.
const maxMoveTargets = 5000

// moveTargets lists, in the order of the tree, where actor may move n: the
// folders, projects and libraries actor may add to, except the one n is in
// and, when n is a container itself, n and everything below it.
func moveTargets(ctx context.Context, fsvc Files, acc Accounts, actor account.Actor, n files.Node) ([]moveTarget, error) {
	root, err := fsvc.Get(ctx, actor, files.RootID)
	if err != nil {
		return nil, err
	}
	var out []moveTarget
	var walk func(dir files.Node, path string) error
	walk = func(dir files.Node, path string) error {
		if dir.ID == n.ID || len(out) >= maxMoveTargets {
			return nil
		}
		if dir.ID != n.Parent && acc.Can(ctx, actor, dir.Item(), account.ModifyContent) {
			out = append(out, moveTarget{node: dir, path: path})
		}
		kids, err := fsvc.List(ctx, actor, dir.ID)
		if errors.Is(err, account.ErrPermission) {
			return nil // what actor may not see, actor does not move into
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", path, err)
		}
		for _, k := range kids {
			if k.Kind.IsContainer() {
				if err := walk(k, strings.TrimSuffix(path, "/")+"/"+k.Name); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return out, walk(root, "/")
}

// movePicker is the Move dialog: a path typed, or picked from the list of
// the folders one may move into.
type movePicker struct {
	entry   *widget.Entry
	list    *widget.List
	targets []moveTarget
	picked  int // in the list; -1 for none
}

// find is the listed target at path, typed with or without the leading
// or a trailing "/", in any case; -1 if none.
func (m *movePicker) find(path string) int {
	path = "/" + strings.Trim(strings.TrimSpace(path), "/")
	for i, t := range m.targets {
		if strings.EqualFold(t.path, path) {
			return i
		}
	}
	return -1
}

func (p *projectsPage) showMove() {
	n, ok := p.current()
	if !ok {
		return
	}
	actor := p.ui.actor
	var targets []moveTarget
	p.ui.background(func(ctx context.Context) (err error) {
		targets, err = moveTargets(ctx, p.ui.svc.Files, p.ui.svc.Accounts, actor, n)
		return err
	}, func(err error) {
		if err != nil {
			p.ui.showError(err)
			return
		}
		p.moveDialog(n, targets)
	})
}

func (p *projectsPage) moveDialog(n files.Node, targets []moveTarget) {
	m := &movePicker{entry: &widget.Entry{PlaceHolder: "/Project/Folder"}, targets: targets, picked: -1}
	m.list = widget.NewList(func() int { return len(m.targets) },
		func() fyne.CanvasObject {
			return container.NewBorder(nil, nil, &widget.Icon{}, nil, &widget.Label{Truncation: fyne.TextTruncateEllipsis})
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			box := o.(*fyne.Container)
			box.Objects[1].(*widget.Icon).SetResource(kindIcon(m.targets[i].node.Kind))
			box.Objects[0].(*widget.Label).SetText(m.targets[i].label())
		})
	m.list.OnSelected = func(i widget.ListItemID) {
		m.picked = i
		if m.find(m.entry.Text) != i { // not while the path is typed
			m.entry.SetText(m.targets[i].path)
		}
	}
	// A typed path that is listed is picked in the list too.
	m.entry.OnChanged = func(s string) {
		switch i := m.find(s); {
		case i == m.picked:
		case i < 0:
			m.picked = -1
			m.list.UnselectAll()
		default:
			m.list.Select(i)
		}
	}
	intro := "Pick the folder to move it into, or type its path from the Projects root."
	if len(targets) == 0 {
		intro = "There is no other folder you may move it into."
	}
	// The list shows about six folders; it scrolls for more.
	room := canvas.NewRectangle(color.Transparent)
	room.SetMinSize(fyne.NewSize(0, 6*m.list.MinSize().Height))
	actor, parent := p.ui.actor, p.folder.ID
	var typed, where string
	p.movePick = m
	p.dialog = p.ui.showForm(formSpec{
		title: "Move " + n.Name, confirm: "Move",
		intro: intro,
		items: []*widget.FormItem{
			widget.NewFormItem("Into folder", m.entry),
			widget.NewFormItem("", container.NewStack(room, m.list)),
		},
		check: func() error {
			if typed = strings.TrimSpace(m.entry.Text); typed == "" {
				return errors.New("pick or type the folder to move it into")
			}
			return nil
		},
		work: func(ctx context.Context) error {
			to, err := p.ui.svc.Files.Lookup(ctx, actor, typed)
			if err != nil {
				return err
			}
			if where, err = p.ui.svc.Files.Path(ctx, to.ID); err != nil {
				return err
			}
			where = "/" + where
			if to.ID == files.RootID {
				where = "Projects"
			}
			if to.ID == n.Parent {
				return fmt.Errorf("%s is in %s already", n.Name, where)
			}
			_, err = p.ui.svc.Files.Move(ctx, actor, n.ID, to.ID)
			return err
		},
		done: func() {
			p.ui.banner.Done(fmt.Sprintf("Moved %s into %s.", n.Name, where))
			p.load(parent, "")
		},
	})
}

func (p *projectsPage) showDelete() {
	n, ok := p.current()
	if !ok {
		return
	}
	what := fmt.Sprintf("Delete the file %q with all its versions?", n.Name)
	if n.Kind != files.KindFile {
		what = fmt.Sprintf("Delete the %s %q with everything in it?", kindName(n.Kind), n.Name)
	}
	actor, parent := p.ui.actor, p.folder.ID
	p.dialog = p.ui.showForm(formSpec{
		title: "Delete " + n.Name, confirm: "Delete", danger: true,
		intro: what + " This cannot be undone here; backups keep earlier states.",
		done: func() {
			p.ui.longWork("Deleting "+n.Name, func(ctx context.Context, prog progress.Func) (string, error) {
				if err := p.ui.svc.Files.Delete(ctx, actor, n.ID, prog); err != nil {
					return "", err
				}
				return fmt.Sprintf("Deleted %s.", n.Name), nil
			}, func(error) { p.load(parent, "") })
		},
	})
}

func (p *projectsPage) showUploadFile() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		_ = r.Close()
		p.importPaths([]string{r.URI().Path()})
	}, p.ui.win)
	d.Show()
}

func (p *projectsPage) showUploadFolder() {
	d := dialog.NewFolderOpen(func(l fyne.ListableURI, err error) {
		if err != nil || l == nil {
			return
		}
		p.importPaths([]string{l.Path()})
	}, p.ui.win)
	d.Show()
}

// dropped imports what was dragged onto the window into the folder on show.
func (p *projectsPage) dropped(uris []fyne.URI) {
	var paths []string
	for _, u := range uris {
		if u.Scheme() == "file" {
			paths = append(paths, u.Path())
		}
	}
	if len(paths) > 0 {
		p.importPaths(paths)
	}
}

// importPaths uploads files and folders from disk into the folder on show.
func (p *projectsPage) importPaths(paths []string) {
	if !p.can.Has(account.ModifyContent) {
		p.ui.showError(fmt.Errorf("you may not upload into %s", p.folder.Name))
		return
	}
	actor, parent, where := p.ui.actor, p.folder.ID, p.folder.Name
	p.ui.longWork("Uploading into "+where, func(ctx context.Context, prog progress.Func) (string, error) {
		// One import for every dropped path, so that two of them with one
		// name on the Projects page are reported, not stored over each other.
		total, err := p.ui.svc.Files.ImportPaths(ctx, actor, parent, paths, prog)
		if err != nil {
			return "", err
		}
		msg := fmt.Sprintf("Uploaded %s (%s) into %s.", text.Count(total.Files, "file"), humanize.IBytes(uint64(total.Bytes)), where)
		if total.Versions > 0 {
			if total.Versions == 1 {
				msg += " 1 of them went in as a new version of a file already there."
			} else {
				msg += fmt.Sprintf(" %d of them went in as new versions of files already there.", total.Versions)
			}
		}
		if len(total.Skipped) > 0 {
			s := total.Skipped[0]
			msg += fmt.Sprintf(" Skipped %s, for example %s: %s.", text.Count(len(total.Skipped), "item"), text.Safe(s.Path), s.Reason)
		}
		return msg, nil
	}, func(error) { p.load(parent, "") })
}

func (p *projectsPage) showDownload() {
	n, ok := p.current()
	if !ok {
		return
	}
	d := dialog.NewFolderOpen(func(l fyne.ListableURI, err error) {
		if err != nil || l == nil {
			return
		}
		dest := l.Path()
		actor := p.ui.actor
		p.ui.longWork("Downloading "+n.Name, func(ctx context.Context, prog progress.Func) (string, error) {
			count, err := p.ui.svc.Files.Export(ctx, actor, n.ID, dest, prog)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("Downloaded %s to %s.", text.Count(count, "file"), dest), nil
		}, nil)
	}, p.ui.win)
	d.Show()
}

func (p *projectsPage) showVersions() {
	n, ok := p.current()
	if !ok || n.Kind != files.KindFile {
		return
	}
	actor := p.ui.actor
	var vs []files.Version
	p.ui.background(func(ctx context.Context) (err error) {
		vs, err = p.ui.svc.Files.Versions(ctx, actor, n.ID)
		return err
	}, func(err error) {
		if err != nil {
			p.ui.showError(err)
			return
		}
		p.versionsDialog(n, vs)
	})
}

// versionsView is the Versions dialog's list and buttons, for tests.
type versionsView struct {
	list              *widget.List
	download, current *widget.Button
}

func (p *projectsPage) versionsDialog(n files.Node, vs []files.Version) {
	sel := -1
	list := widget.NewList(func() int { return len(vs) },
		func() fyne.CanvasObject {
			return widget.NewLabel("2006-01-02 15:04:05  1000 MiB  by someone (current)")
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			v := vs[i]
			s := fmt.Sprintf("%s  %s  by %s", v.Created.Local().Format("2006-01-02 15:04:05"), humanize.IBytes(uint64(v.Size)), v.By)
			if v.ID == n.Version {
				s += " (current)"
			}
			o.(*widget.Label).SetText(s)
		})
	var d dialog.Dialog
	download := &widget.Button{Text: "Download…", Icon: theme.DownloadIcon()}
	current := &widget.Button{Text: "Make current", Icon: theme.ConfirmIcon()}
	download.Disable()
	current.Disable()
	list.OnSelected = func(i widget.ListItemID) {
		sel = i
		download.Enable()
		if vs[i].ID != n.Version && p.can.Has(account.ModifyContent) {
			current.Enable()
		} else {
			current.Disable()
		}
	}
	actor, parent := p.ui.actor, p.folder.ID
	download.OnTapped = func() {
		v := vs[sel]
		dialog.ShowFolderOpen(func(l fyne.ListableURI, err error) {
			if err != nil || l == nil {
				return
			}
			var where string
			p.ui.background(func(ctx context.Context) (err error) {
				where, err = p.ui.svc.Files.ExportVersion(ctx, actor, n.ID, v.ID, l.Path())
				return err
			}, func(err error) {
				if err != nil {
					p.ui.showError(err)
					return
				}
				p.ui.banner.Done("Downloaded " + where + ".")
			})
		}, p.ui.win)
	}
	// Make current asks first, saying what it does.
	current.OnTapped = func() {
		v := vs[sel]
		when := v.Created.Local().Format("2006-01-02 15:04:05")
		p.dialog = p.ui.showForm(formSpec{
			title: "Make an earlier version current", confirm: "Make current",
			intro: fmt.Sprintf("The version of %s (%s, by %s) becomes the current version of %s: it is added as the newest version, "+
				"with the same content. The other versions stay.", when, humanize.IBytes(uint64(v.Size)), v.By, n.Name),
			work: func(ctx context.Context) error {
				_, err := p.ui.svc.Files.MakeCurrent(ctx, actor, n.ID, v.ID)
				return err
			},
			done: func() {
				d.Hide()
				p.ui.banner.Done(fmt.Sprintf("The version of %s is now the current version of %s; the other versions stay.", when, n.Name))
				p.load(parent, n.Name)
			},
		})
	}
	body := container.NewBorder(
		&widget.Label{Wrapping: fyne.TextWrapWord, Text: fmt.Sprintf("%s has %s. The server keeps them as its versioning rule says.", n.Name, text.Count(len(vs), "version"))},
		container.NewHBox(layout.NewSpacer(), download, current), nil, nil, list)
	p.versionsD = &versionsView{list: list, download: download, current: current}
	d = dialog.NewCustom("Versions of "+n.Name, "Close", body, p.ui.win)
	d.Resize(fyne.NewSize(560, 400))
	d.Show()
}
