package views

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/dustin/go-humanize"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/filesync"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/text"
)

// serversPage is Servers › Manager › Settings: the two stores, whether they
// agree, the versioning rule, the full file synchronization and its history.
type serversPage struct {
	ui  *UI
	obj fyne.CanvasObject

	stores   *widget.Label
	state    *widget.Label
	check    *widget.Button
	syncBtn  *widget.Button
	contents *widget.Button // Check contents

	// the last content check's damaged files, and its dialog, for tests
	damaged     []files.DamagedFile
	damagedList *widget.List

	rule     *widget.Select
	days     *widget.Entry
	saveRule *widget.Button

	tabs    *container.AppTabs
	history *widget.Table
	runs    []filesync.Run
	report  *widget.Button
	runSel  int

	email *emailSection

	autostart *autostartSection // Start Plinth when I log in

	// the open synchronization dialog, for tests
	plan *planDialog
}

var ruleLabels = []string{"Keep all", "Keep none", "Keep last N days"}

// contentChecker is what the Check contents button needs of core/files.
type contentChecker interface {
	CheckContentsReport(ctx context.Context, actor account.Actor, prog progress.Func) (files.ContentReport, error)
}

func newServersPage(u *UI) *serversPage {
	p := &serversPage{ui: u, runSel: -1,
		stores: &widget.Label{Wrapping: fyne.TextWrapWord},
		state:  &widget.Label{Wrapping: fyne.TextWrapWord, TextStyle: fyne.TextStyle{Bold: true}},
	}
	p.check = &widget.Button{Text: "Check now", Icon: theme.ViewRefreshIcon(), OnTapped: func() { p.detect(true) }}
	p.syncBtn = &widget.Button{Text: "Synchronize files…", Icon: theme.MediaReplayIcon(), Importance: widget.WarningImportance, OnTapped: p.startSync}
	p.contents = &widget.Button{Text: "Check contents", Icon: theme.SearchIcon(), OnTapped: p.checkContents}
	if _, ok := u.svc.Files.(contentChecker); !ok {
		p.contents.Hide()
	}
	p.rule = widget.NewSelect(ruleLabels, func(s string) {
		if s == ruleLabels[2] {
			p.days.Show()
		} else {
			p.days.Hide()
		}
	})
	p.days = &widget.Entry{PlaceHolder: "days"}
	p.saveRule = &widget.Button{Text: "Save", OnTapped: p.saveVersioning}
	p.history = textTable([]string{"Finished", "By", "Deleted", "Adopted", "Updated", "Folder for adopted files"},
		[]float32{200, 110, 80, 80, 80, 320},
		func() int { return len(p.runs) },
		func(row, col int) string {
			r := p.runs[row]
			return []string{localTime(r.Finished), r.By, humanize.Comma(int64(r.Deleted)), humanize.Comma(int64(r.Adopted)),
				humanize.Comma(int64(r.Updated)), r.Folder}[col]
		},
		func(row int) { p.runSel = row; p.report.Enable() })
	p.report = &widget.Button{Text: "Show report…", Icon: theme.DocumentIcon(), OnTapped: p.showReport}
	p.report.Disable()

	heading := func(s string) *widget.Label {
		return &widget.Label{Text: s, TextStyle: fyne.TextStyle{Bold: true}}
	}
	fileServer := container.NewVBox(
		p.stores,
		p.state,
		container.NewHBox(p.check, p.syncBtn, p.contents),
		&widget.Label{Wrapping: fyne.TextWrapWord, Text: "The full synchronization makes the Manager agree with the File Server after either was restored from a backup. Only masteradmin can run it."},
		&widget.Label{Wrapping: fyne.TextWrapWord, Text: "Check contents reads every file on the File Server back and compares it with its checksum, to find damage on the disk."},
		widget.NewSeparator(),
		heading("Versioning"),
		container.NewHBox(p.rule, container.NewGridWrap(fyne.NewSize(80, p.days.MinSize().Height), p.days), p.saveRule),
	)
	p.email = newEmailSection(u)
	// The settings scroll above the history, so that a small window keeps
	// both in view.
	history := container.NewBorder(container.NewVBox(widget.NewSeparator(),
		container.NewHBox(heading("Synchronization history"), layout.NewSpacer(), p.report)), nil, nil, nil, p.history)
	fileTab := container.NewVSplit(container.NewVScroll(fileServer), history)
	fileTab.Offset = 0.65
	p.tabs = container.NewAppTabs(
		container.NewTabItem("File Server Settings", fileTab),
		container.NewTabItem("Email", container.NewVScroll(p.email.obj)),
	)
	title := &widget.Label{Text: "Servers › Manager › Settings", TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameHeadingText}
	// Start at login is a setting of this computer, above the tabs of the
	// servers' settings.
	p.autostart = newAutostartSection(u)
	p.obj = container.NewBorder(container.NewVBox(title, p.autostart.obj), nil, nil, nil, p.tabs)
	return p
}

func (p *serversPage) content() fyne.CanvasObject { return container.NewPadded(p.obj) }

func (p *serversPage) shown() {
	p.detect(false)
	p.email.load()
	p.autostart.load()
	actor := p.ui.actor
	var runs []filesync.Run
	var v files.Versioning
	var stores []StoreInfo
	var canSet bool
	p.ui.background(func(ctx context.Context) (err error) {
		if p.ui.svc.Stores != nil {
			if stores, err = p.ui.svc.Stores(ctx); err != nil {
				return err
			}
		}
		if p.ui.svc.Files != nil {
			if v, err = p.ui.svc.Files.Versioning(ctx); err != nil {
				return err
			}
		}
		canSet = p.ui.svc.Accounts.Can(ctx, actor, account.ServersPage, account.ModifyDetails)
		if p.ui.svc.Sync != nil {
			runs, err = p.ui.svc.Sync.History(ctx, actor)
			if errors.Is(err, account.ErrPermission) {
				err = nil
			}
		}
		return err
	}, func(err error) {
		if err != nil {
			p.stores.SetText(sentence(err))
			return
		}
		lines := make([]string, len(stores))
		for i, s := range stores {
			lines[i] = storeLine(s)
		}
		p.stores.SetText(strings.Join(lines, "\n"))
		switch v.Rule {
		case files.KeepNone:
			p.rule.SetSelected(ruleLabels[1])
		case files.KeepLastDays:
			p.rule.SetSelected(ruleLabels[2])
			p.days.SetText(strconv.Itoa(v.Days))
		default:
			p.rule.SetSelected(ruleLabels[0])
		}
		if canSet {
			p.rule.Enable()
			p.days.Enable()
			p.saveRule.Show()
		} else {
			p.rule.Disable()
			p.days.Disable()
			p.saveRule.Hide()
		}
		p.runs = runs
		p.runSel = -1
		p.report.Disable()
		p.history.UnselectAll()
		p.history.Refresh()
	})
}

// storeLine describes a store in plain words: "Manager: 7 files (502 KiB),
// 1.2 MiB on disk, restored 2 times, data format 2." A size or format not
// known (0) is left out; the store's id and generation are for the logs.
func storeLine(s StoreInfo) string {
	parts := []string{text.Count(int(s.Files), "file")}
	if s.Bytes > 0 {
		parts[0] += " (" + humanize.IBytes(uint64(s.Bytes)) + ")"
	}
	if s.Disk > 0 {
		parts = append(parts, humanize.IBytes(uint64(s.Disk))+" on disk")
	}
	switch s.Generation {
	case 0:
		parts = append(parts, "never restored")
	case 1:
		parts = append(parts, "restored once")
	default:
		parts = append(parts, fmt.Sprintf("restored %s times", humanize.Comma(int64(s.Generation))))
	}
	if s.Format > 0 {
		parts = append(parts, fmt.Sprintf("data format %d", s.Format))
	}
	return s.Name + ": " + strings.Join(parts, ", ") + "."
}

// detect compares the stores off the UI goroutine; raise notifies as the
// hourly check would.
func (p *serversPage) detect(raise bool) {
	if p.ui.svc.Sync == nil {
		p.state.SetText("Drift detection is not available in this window.")
		return
	}
	p.check.Disable()
	var c filesync.Check
	p.ui.background(func(ctx context.Context) (err error) {
		c, _, err = p.ui.svc.Sync.Detect(ctx, raise)
		return err
	}, func(err error) {
		p.check.Enable()
		if err != nil {
			p.state.SetText(sentence(err))
			return
		}
		p.state.SetText(c.String() + " Checked " + localTime(c.Checked) + ".")
	})
}

func (p *serversPage) saveVersioning() {
	v := files.Versioning{Rule: files.KeepAll}
	switch p.rule.Selected {
	case ruleLabels[1]:
		v.Rule = files.KeepNone
	case ruleLabels[2]:
		v.Rule = files.KeepLastDays
		n, err := strconv.Atoi(p.days.Text)
		if err != nil || n < 1 {
			p.ui.showError(errors.New("type the number of days to keep, 1 or more"))
			return
		}
		v.Days = n
	}
	actor := p.ui.actor
	p.ui.background(func(ctx context.Context) error {
		return p.ui.svc.Files.SetVersioning(ctx, actor, v)
	}, func(err error) {
		if err != nil {
			p.ui.showError(err)
			return
		}
		p.ui.banner.Done("Versioning rule saved: " + v.String() + ".")
	})
}

// planDialog is the warning before a full synchronization.
type planDialog struct {
	d       dialog.Dialog
	plan    filesync.Plan
	summary *widget.Label
	list    *widget.List
	run     *widget.Button
	cancel  *widget.Button
	export  *widget.Button
}

type planLine struct{ what, path string }

// startSync asks for the plan (which refuses anyone but masteradmin, and
// tells them and masteradmin) and shows the warning.
func (p *serversPage) startSync() {
	actor := p.ui.actor
	var plan filesync.Plan
	p.syncBtn.Disable()
	p.ui.background(func(ctx context.Context) (err error) {
		plan, err = p.ui.svc.Sync.Plan(ctx, actor) // checks both stores first
		return err
	}, func(err error) {
		p.syncBtn.Enable()
		if errors.Is(err, filesync.ErrOnlyMaster) {
			dialog.ShowInformation("Only masteradmin can synchronize",
				"The full file synchronization deletes entries from the Manager, so only masteradmin can run it. Masteradmin has been told that you tried.", p.ui.win)
			return
		}
		if err != nil {
			p.ui.showError(err)
			return
		}
		if plan.Empty() {
			dialog.ShowInformation("Nothing to synchronize", "The Manager and the File Server agree.", p.ui.win)
			return
		}
		p.showPlan(plan)
	})
}

func (p *serversPage) showPlan(plan filesync.Plan) {
	var lines []planLine
	for _, e := range plan.MissingOnServer {
		lines = append(lines, planLine{"will be deleted", e.Path})
	}
	for _, e := range plan.Differing {
		lines = append(lines, planLine{"takes the File Server's content", e.Path})
	}
	for _, e := range plan.UnknownToManager {
		lines = append(lines, planLine{"will be adopted", e.Path})
	}
	pd := &planDialog{plan: plan}
	pd.summary = &widget.Label{Wrapping: fyne.TextWrapWord, Text: plan.Warning()}
	pd.list = widget.NewList(func() int { return len(lines) },
		func() fyne.CanvasObject {
			return container.NewBorder(nil, nil, &widget.Label{Text: "takes the File Server's content", TextStyle: fyne.TextStyle{Italic: true}}, nil,
				&widget.Label{Truncation: fyne.TextTruncateEllipsis})
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			c := o.(*fyne.Container)
			c.Objects[0].(*widget.Label).SetText(lines[i].path)
			c.Objects[1].(*widget.Label).SetText(lines[i].what)
		})
	pd.export = &widget.Button{Text: "Export list as CSV…", Icon: theme.DocumentSaveIcon(), OnTapped: func() {
		p.ui.saveFile(func(w io.Writer) error { return filesync.WritePlanCSV(w, plan) })
	}}
	pd.cancel = &widget.Button{Text: "Cancel", Icon: theme.CancelIcon()}
	pd.run = &widget.Button{Text: "Synchronize", Icon: theme.ConfirmIcon(), Importance: widget.DangerImportance}
	body := container.NewBorder(pd.summary, container.NewHBox(pd.export, layout.NewSpacer(), pd.cancel, pd.run), nil, nil, pd.list)
	pd.d = dialog.NewCustomWithoutButtons("Synchronize files", body, p.ui.win)
	pd.cancel.OnTapped = pd.d.Hide
	pd.run.OnTapped = func() {
		pd.d.Hide()
		p.runSync(plan)
	}
	pd.d.Resize(fyne.NewSize(760, 520))
	pd.d.Show()
	p.plan = pd
}

// runSync carries out plan, the one the warning showed, with the yellow
// bar, then the green bar with its counts (amber if the stores still
// disagree); the Projects page shows the new folder, the one the warning
// named.
func (p *serversPage) runSync(plan filesync.Plan) {
	actor := p.ui.actor
	start := time.Now()
	p.ui.longWork("Full file synchronization running", func(ctx context.Context, prog progress.Func) (string, error) {
		r, err := p.ui.svc.Sync.Synchronize(ctx, actor, plan, prog)
		if err != nil {
			return "", err
		}
		msg := fmt.Sprintf("Full file synchronization finished in %s: %s deleted, %s adopted, %s updated.",
			time.Since(start).Round(time.Second/10), humanize.Comma(int64(r.Deleted)), humanize.Comma(int64(r.Adopted)), humanize.Comma(int64(r.Updated)))
		if r.Folder != "" {
			msg += " Adopted files are in the folder “" + r.Folder + "” on the Projects page."
		}
		return p.ui.checkStores(ctx, msg)
	}, func(error) {
		p.shown()
		if pp, ok := p.ui.built[PageProjects].(*projectsPage); ok {
			pp.load(pp.folder.ID, "")
		}
	})
}

func (p *serversPage) showReport() {
	if p.runSel < 0 || p.runSel >= len(p.runs) {
		return
	}
	r := p.runs[p.runSel]
	actor := p.ui.actor
	var ls []filesync.Line
	p.ui.background(func(ctx context.Context) (err error) {
		ls, err = p.ui.svc.Sync.Report(ctx, actor, r.ID)
		return err
	}, func(err error) {
		if err != nil {
			p.ui.showError(err)
			return
		}
		list := widget.NewList(func() int { return len(ls) },
			func() fyne.CanvasObject { return &widget.Label{Truncation: fyne.TextTruncateEllipsis} },
			func(i widget.ListItemID, o fyne.CanvasObject) {
				l := ls[i]
				s := string(l.Action) + "  " + l.Path
				if l.To != "" {
					s += "  →  " + l.To
				}
				o.(*widget.Label).SetText(s)
			})
		export := &widget.Button{Text: "Export as CSV…", Icon: theme.DocumentSaveIcon(), OnTapped: func() {
			p.ui.saveFile(func(w io.Writer) error { return filesync.WriteCSV(w, ls) })
		}}
		head := widget.NewLabel(fmt.Sprintf("Run finished %s by %s: %s deleted, %s adopted, %s updated.",
			localTime(r.Finished), r.By, humanize.Comma(int64(r.Deleted)), humanize.Comma(int64(r.Adopted)), humanize.Comma(int64(r.Updated))))
		d := dialog.NewCustom("Synchronization report", "Close", container.NewBorder(head, container.NewHBox(export), nil, nil, list), p.ui.win)
		d.Resize(fyne.NewSize(760, 480))
		d.Show()
	})
}

// checkContents reads every chunk on the File Server back against its
// checksum, with the yellow bar (bytes read, Cancel); the green bar says
// all is sound, the red bar names the damaged files and a dialog lists
// them all.
func (p *serversPage) checkContents() {
	cc, ok := p.ui.svc.Files.(contentChecker)
	if !ok {
		return
	}
	actor := p.ui.actor
	var r files.ContentReport
	p.ui.longWork("Checking contents", func(ctx context.Context, prog progress.Func) (string, error) {
		var err error
		r, err = cc.CheckContentsReport(ctx, actor, prog)
		if err != nil {
			return "", err
		}
		if r.Sound() {
			return fmt.Sprintf("Contents checked: %s (%s) read back, every one matches its checksum.",
				text.Count(r.Chunks, "part"), humanize.IBytes(uint64(r.Bytes))), nil
		}
		return "", r.Problem(3)
	}, func(err error) {
		p.damaged = r.Damaged
		if err == nil || r.Sound() {
			return
		}
		p.showDamaged(r)
	})
}

// showDamaged lists every damaged file version with its damaged parts.
func (p *serversPage) showDamaged(r files.ContentReport) {
	lines := make([]string, len(r.Damaged))
	for i, d := range r.Damaged {
		lines[i] = d.String()
	}
	p.damagedList = widget.NewList(func() int { return len(lines) },
		func() fyne.CanvasObject { return &widget.Label{Truncation: fyne.TextTruncateEllipsis} },
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(lines[i]) })
	head := &widget.Label{Wrapping: fyne.TextWrapWord, Text: fmt.Sprintf(
		"%s (%s) read back; %s %s damaged. These file versions use them; restore them from a backup or upload them again:",
		text.Count(r.Chunks, "part"), humanize.IBytes(uint64(r.Bytes)), text.Count(r.DamagedChunks, "part"), text.Agree(r.DamagedChunks, "is", "are"))}
	d := dialog.NewCustom("Damaged files", "Close", container.NewBorder(head, nil, nil, nil, p.damagedList), p.ui.win)
	d.Resize(fyne.NewSize(760, 420))
	d.Show()
}

// showTab opens a settings tab: "fileserver" or "email".
func (p *serversPage) showTab(name string) {
	if name == "email" {
		p.tabs.SelectIndex(1)
	} else {
		p.tabs.SelectIndex(0)
	}
}
