package views

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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
	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/names"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/schedule"
	"codeberg.org/plinth/plinth/core/text"
)

// backupsPage shows the three levels of backup: their schedules and
// targets, Back up now, the dated list of backups, Verify and Restore…,
// and the history.
type backupsPage struct {
	ui         *UI
	exportForm *formDialog // Download… (tests drive it)
	obj        fyne.CanvasObject
	tabs       *container.AppTabs

	// level 2
	target, keepDaily, keepWeekly *widget.Entry
	keepNewest                    *widget.Entry
	when                          *widget.Select
	at                            *widget.Entry
	encryption                    *widget.Label
	sameDisk                      *widget.Label // the target is on the data folder's disk
	diskNote                      *widget.Label // sameDisk, short, on the tab
	fullList                      *widget.Table
	fulls                         []backup.Manifest
	verifications                 map[string]backup.Record // by backup ID, its latest verification
	fullSel                       int
	backupNow, restore, verify    *widget.Button
	settings                      *widget.Button
	settingsD                     *formDialog // Settings… (tests drive it)
	targets                       *widget.Button
	targetsD                      *targetsDialog // Targets… (tests drive it)
	copyTo                        *widget.Select // Settings…: the copy target
	into                          *widget.Select // Settings…: where scheduled backups are written
	copyTarget                    string         // as saved
	recs                          map[string]backup.Record
	copyNote                      *widget.Label // the selected backup's failed copy
	settingsOpen                  bool          // a reload leaves what is typed there alone
	summary                       *widget.Label
	next                          *widget.Label // when the full data backup runs next, and how it last went
	jobs                          *widget.Label // every backup job, above History

	// level 1
	snapTarget *widget.Entry
	snapCopy   *widget.Select // Copy each snapshot to
	snapCopyTo string         // as saved
	items      []files.Node
	item       *widget.Select
	snapSched  *widget.Label
	snapMode   *widget.Select
	snapAt     *widget.Entry
	snapKeep   *widget.Entry
	snapList   *widget.List
	snaps      []backup.Manifest
	snapSel    int
	snapNow    *widget.Button
	rollBack   *widget.Button
	asNew      *widget.Button
	exportSnap *widget.Button

	// level 3
	command, args, timeout *widget.Entry
	osWhen                 *widget.Select
	osAt                   *widget.Entry
	osResult               *widget.Label

	// history
	hist     *widget.Table
	records  []backup.Record
	histRows []histRow      // records and the verifications in them, newest first
	restoreD *restoreDialog // the open restore dialog, for tests
}

var whenLabels = []string{"Manually", "Daily", "Weekly on Sunday"}

func newBackupsPage(u *UI) *backupsPage {
	p := &backupsPage{ui: u, fullSel: -1, snapSel: -1, verifications: map[string]backup.Record{}, recs: map[string]backup.Record{}}
	// A tab scrolls rather than heighten a small window; with room, its
	// list takes what is left.
	p.tabs = container.NewAppTabs(
		container.NewTabItem("Full data (level 2)", container.NewVScroll(p.level2())),
		container.NewTabItem("Projects and libraries (level 1)", container.NewVScroll(p.level1())),
		container.NewTabItem("OS snapshot (level 3)", p.level3()),
		container.NewTabItem("History", container.NewBorder(p.jobs, nil, nil, nil, p.history())),
	)
	p.obj = container.NewBorder(
		&widget.Label{Text: "Backups", TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameHeadingText},
		nil, nil, nil, p.tabs)
	return p
}

func (p *backupsPage) content() fyne.CanvasObject { return container.NewPadded(p.obj) }

func specOf(when, at string) (schedule.Spec, error) {
	if when == whenLabels[0] {
		return schedule.Spec{Kind: schedule.Manual}, nil
	}
	var h, m int
	if _, err := fmt.Sscanf(at, "%d:%d", &h, &m); err != nil {
		return schedule.Spec{}, fmt.Errorf("type the time as HH:MM, not %q", at)
	}
	if when == whenLabels[2] {
		return schedule.WeeklyAt(0, h, m), nil
	}
	return schedule.DailyAt(h, m), nil
}

func whenOf(s schedule.Spec) (string, string) {
	at := fmt.Sprintf("%02d:%02d", s.Hour, s.Minute)
	switch s.Kind {
	case schedule.Daily:
		return whenLabels[1], at
	case schedule.Weekly:
		return whenLabels[2], at
	}
	return whenLabels[0], at
}

func (p *backupsPage) level2() fyne.CanvasObject {
	p.target = &widget.Entry{}
	p.keepDaily, p.keepWeekly, p.keepNewest = &widget.Entry{}, &widget.Entry{}, &widget.Entry{}
	p.sameDisk = &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.WarningImportance}
	p.sameDisk.Hide()
	p.diskNote = &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.WarningImportance, Text: diskNoteText}
	p.diskNote.Hide()
	p.when = widget.NewSelect(whenLabels, nil)
	p.at = &widget.Entry{PlaceHolder: "02:00"}
	p.encryption = &widget.Label{Wrapping: fyne.TextWrapWord}
	p.summary = &widget.Label{Truncation: fyne.TextTruncateEllipsis} // the whole path is in Settings…
	p.jobs = &widget.Label{Wrapping: fyne.TextWrapWord}              // every backup job, above History
	p.next = &widget.Label{Truncation: fyne.TextTruncateEllipsis}
	p.next.Hide() // until there is something to say
	p.settings = &widget.Button{Text: "Settings…", Icon: theme.SettingsIcon(), OnTapped: p.showSettings}
	p.targets = &widget.Button{Text: "Targets…", Icon: theme.StorageIcon(), OnTapped: p.showTargets}
	p.copyTo = widget.NewSelect([]string{noCopy}, nil)
	p.copyTo.SetSelected(noCopy)
	p.into = widget.NewSelect([]string{intoFolder}, nil)
	p.into.SetSelected(intoFolder)
	p.copyNote = &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.DangerImportance}
	p.copyNote.Hide()
	p.backupNow = &widget.Button{Text: "Back up now", Icon: theme.DocumentSaveIcon(), Importance: widget.HighImportance, OnTapped: p.doFull}
	p.restore = &widget.Button{Text: "Restore…", Icon: theme.HistoryIcon(), OnTapped: p.showRestore}
	p.verify = &widget.Button{Text: "Verify", Icon: theme.ConfirmIcon(), OnTapped: p.doVerify}
	p.restore.Disable()
	p.verify.Disable()
	p.fullList = &widget.Table{
		Length:        func() (int, int) { return len(p.fulls), 6 },
		CreateCell:    func() fyne.CanvasObject { return &widget.Label{Truncation: fyne.TextTruncateEllipsis} },
		ShowHeaderRow: true,
		CreateHeader:  func() fyne.CanvasObject { return &widget.Label{TextStyle: fyne.TextStyle{Bold: true}} },
		UpdateHeader: func(id widget.TableCellID, o fyne.CanvasObject) {
			if id.Col >= 0 {
				o.(*widget.Label).SetText([]string{"Created", "Type", "Size", "Verified", "Encrypted", "Copy"}[id.Col])
			}
		},
		UpdateCell: func(id widget.TableCellID, o fyne.CanvasObject) {
			if id.Row < len(p.fulls) {
				o.(*widget.Label).SetText(p.fullCell(id.Row, id.Col))
			}
		},
		OnSelected: func(id widget.TableCellID) {
			p.fullSel = id.Row
			p.updateFullButtons()
		},
	}
	for i, w := range []float32{145, 145, 80, 150, 80, 120} {
		p.fullList.SetColumnWidth(i, w)
	}
	// The settings are behind Settings…: the list of backups, what this
	// tab is opened for, keeps the room, with the banner above it too.
	top := container.NewVBox(
		container.NewHBox(p.backupNow, p.restore, p.verify, layout.NewSpacer(), p.targets, p.settings),
		p.summary, p.next, p.diskNote, p.copyNote)
	return container.NewBorder(top, nil, nil, nil, p.fullList)
}

// fullCell is the text of one cell of the list of full backups.
func (p *backupsPage) fullCell(row, col int) string {
	m := p.fulls[row]
	switch col {
	case 0:
		return m.Created.Local().Format("2006-01-02 15:04:05")
	case 1:
		return backupKind(m.Type)
	case 2:
		return humanize.IBytes(uint64(m.Bytes()))
	case 5:
		return copyCell(p.recs[m.ID], p.copyTarget, time.Now())
	case 3:
		r, ok := p.verifications[m.ID]
		switch {
		case !ok || r.Verified.IsZero():
			return "Not yet"
		case r.VerifyOK:
			return "Yes, " + r.Verified.Local().Format("2006-01-02 15:04")
		}
		return "Failed"
	}
	if m.Encrypted() {
		return "Yes"
	}
	return "No"
}

// backupKind says in words what type of backup a manifest or record is.
func backupKind(typ string) string {
	switch typ {
	case backup.TypeFull:
		return "Full backup"
	case backup.TypeIncremental:
		return "Incremental backup"
	case backup.TypeSnapshot:
		return "Snapshot"
	case backup.TypeOS:
		return "OS snapshot"
	}
	return "Full data backup" // a failed one, whose type was not known yet
}

func (p *backupsPage) updateFullButtons() {
	setEnabled(p.fullSel >= 0 && p.fullSel < len(p.fulls), p.restore, p.verify)
	note := ""
	if m, ok := p.selectedFull(); ok {
		note = copyFailure(p.recs[m.ID])
	}
	p.copyNote.SetText(note)
	showIf(p.copyNote, note != "")
}

// noCopy is the copy target choice for none; intoFolder the choice of
// writing backups into the target folder.
const (
	noCopy     = "None"
	intoFolder = "The target folder"
)

// showSettings opens the full backups' settings: target, schedule,
// retention and the passphrase.
func (p *backupsPage) showSettings() {
	browse := &widget.Button{Icon: theme.FolderOpenIcon(), OnTapped: func() {
		dialog.ShowFolderOpen(func(l fyne.ListableURI, err error) {
			if err == nil && l != nil {
				p.target.SetText(l.Path())
			}
		}, p.ui.win)
	}}
	pass := &widget.Button{Text: "Set passphrase…", Icon: theme.VisibilityOffIcon(), OnTapped: p.showPassphrase}
	var c backup.Level2Settings
	p.settingsD = p.ui.showForm(formSpec{
		title: "Full data backup settings", confirm: "Save settings",
		intro: "Both stores in one consistent backup, taken while Plinth runs: a full backup, then incrementals that store only what changed.",
		items: []*widget.FormItem{
			widget.NewFormItem("Target folder", container.NewBorder(nil, nil, nil, browse, p.target)),
			widget.NewFormItem("", p.sameDisk),
			widget.NewFormItem("Schedule", container.NewHBox(p.when, container.NewGridWrap(fyne.NewSize(80, p.at.MinSize().Height), p.at))),
			widget.NewFormItem("Keep", container.NewHBox(container.NewGridWrap(fyne.NewSize(60, p.keepDaily.MinSize().Height), p.keepDaily),
				widget.NewLabel("daily,"), container.NewGridWrap(fyne.NewSize(60, p.keepWeekly.MinSize().Height), p.keepWeekly), widget.NewLabel("weekly and the"),
				container.NewGridWrap(fyne.NewSize(60, p.keepNewest.MinSize().Height), p.keepNewest), widget.NewLabel("newest backups"))),
			widget.NewFormItem("Encryption", container.NewVBox(p.encryption, container.NewHBox(pass))),
			widget.NewFormItem("Write backups into", p.into),
			widget.NewFormItem("Copy each backup to", container.NewHBox(p.copyTo, &widget.Button{Text: "Targets…", Icon: theme.StorageIcon(), OnTapped: p.showTargets})),
		},
		check: func() (err error) { c, err = p.level2Input(); return err },
		work: func(ctx context.Context) error {
			old, err := p.ui.svc.Backups.Level2()
			if err != nil {
				return err
			}
			old.Target, old.Schedule, old.KeepDaily, old.KeepWeekly, old.KeepNewest = c.Target, c.Schedule, c.KeepDaily, c.KeepWeekly, c.KeepNewest
			old.CopyTo, old.Into = c.CopyTo, c.Into
			return p.ui.svc.Backups.SetLevel2(ctx, p.ui.actor, old)
		},
		done: func() {
			p.reschedule()
			p.ui.banner.Done("Full backup settings saved.")
			p.shown()
		},
	})
	p.settingsOpen = true
	p.settingsD.d.SetOnClosed(func() { p.settingsOpen = false })
	p.settingsD.d.Resize(fyne.NewSize(700, 0))
}

func (p *backupsPage) level1() fyne.CanvasObject {
	p.item = widget.NewSelect(nil, func(string) { p.loadSnapshots() })
	p.snapSched = &widget.Label{Wrapping: fyne.TextWrapWord}
	p.snapMode = widget.NewSelect([]string{"Inherit", "Don't create", "Hourly", "Daily"}, nil)
	p.snapAt = &widget.Entry{Text: "02:00"}
	p.snapKeep = &widget.Entry{Text: "24"}
	saveSched := &widget.Button{Text: "Save schedule", OnTapped: p.saveSnapSchedule}
	p.snapNow = &widget.Button{Text: "Snapshot now", Icon: theme.DocumentSaveIcon(), Importance: widget.HighImportance, OnTapped: p.doSnapshot}
	p.rollBack = &widget.Button{Text: "Roll back…", Icon: theme.HistoryIcon(), OnTapped: func() { p.showSnapRestore(false) }}
	p.asNew = &widget.Button{Text: "Create new from snapshot…", Icon: theme.ContentAddIcon(), OnTapped: func() { p.showSnapRestore(true) }}
	p.exportSnap = &widget.Button{Text: "Download…", Icon: theme.DownloadIcon(), OnTapped: p.doExport}
	importSnap := &widget.Button{Text: "Import…", Icon: theme.UploadIcon(), OnTapped: p.doImport}
	p.snapTarget = &widget.Entry{}
	browse := &widget.Button{Icon: theme.FolderOpenIcon(), OnTapped: func() {
		dialog.ShowFolderOpen(func(l fyne.ListableURI, err error) {
			if err == nil && l != nil {
				p.snapTarget.SetText(l.Path())
			}
		}, p.ui.win)
	}}
	saveTarget := &widget.Button{Text: "Save folder", OnTapped: p.saveLevel1}
	p.snapCopy = widget.NewSelect([]string{noCopy}, nil)
	p.snapCopy.SetSelected(noCopy)
	saveCopy := &widget.Button{Text: "Save", OnTapped: p.saveLevel1}
	p.snapList = widget.NewList(func() int { return len(p.snaps) },
		func() fyne.CanvasObject { return widget.NewLabel("2006-01-02 15:04:05  999 files, 1000 MiB") },
		func(i widget.ListItemID, o fyne.CanvasObject) {
			m := p.snaps[i]
			o.(*widget.Label).SetText(fmt.Sprintf("%s   %d files, %s%s%s", m.Created.Local().Format("2006-01-02 15:04:05"),
				m.Tree.Files, humanize.IBytes(uint64(m.Tree.Content)), snapNote(m), p.snapCopyNote(m)))
		})
	p.snapList.OnSelected = func(i widget.ListItemID) { p.snapSel = i; p.updateSnapButtons() }
	p.updateSnapButtons()
	top := container.NewVBox(
		&widget.Label{Wrapping: fyne.TextWrapWord, Text: "Each project's and library's files, one snapshot at a time; unchanged contents are stored once."},
		container.NewBorder(nil, nil, widget.NewLabel("Snapshot folder"), container.NewHBox(browse, saveTarget), p.snapTarget),
		container.NewBorder(nil, nil, widget.NewLabel("Copy each snapshot to"), saveCopy, p.snapCopy),
		container.NewBorder(nil, nil, widget.NewLabel("Project or library"), nil, p.item),
		p.snapSched,
		container.NewHBox(p.snapMode, widget.NewLabel("at"), container.NewGridWrap(fyne.NewSize(70, p.snapAt.MinSize().Height), p.snapAt),
			widget.NewLabel("keep last"), container.NewGridWrap(fyne.NewSize(60, p.snapKeep.MinSize().Height), p.snapKeep), saveSched),
		widget.NewSeparator(),
		container.NewHBox(p.snapNow, layout.NewSpacer(), importSnap),
		container.NewHBox(p.rollBack, p.asNew, p.exportSnap)) // on the snapshot selected below
	return container.NewBorder(top, nil, nil, nil, p.snapList)
}

func (p *backupsPage) level3() fyne.CanvasObject {
	p.command, p.args, p.timeout = &widget.Entry{}, &widget.Entry{MultiLine: true, PlaceHolder: "one argument per line"}, &widget.Entry{Text: "600"}
	p.osWhen, p.osAt = widget.NewSelect(whenLabels, nil), &widget.Entry{Text: "01:00"}
	p.osResult = &widget.Label{Wrapping: fyne.TextWrapWord}
	var names []string
	for _, pr := range backup.Presets {
		names = append(names, pr.Name)
	}
	presets := widget.NewSelect(names, func(name string) {
		for _, pr := range backup.Presets {
			if pr.Name == name {
				p.command.SetText(pr.Command)
				p.args.SetText(strings.Join(pr.Args, "\n"))
			}
		}
	})
	presets.PlaceHolder = "Start from a preset…"
	save := &widget.Button{Text: "Save settings", OnTapped: p.saveLevel3}
	run := &widget.Button{Text: "Run now", Icon: theme.MediaPlayIcon(), Importance: widget.HighImportance, OnTapped: p.doOS}
	form := widget.NewForm(
		widget.NewFormItem("Preset", presets),
		widget.NewFormItem("Command", p.command),
		widget.NewFormItem("Arguments", container.NewGridWrap(fyne.NewSize(520, 110), p.args)),
		widget.NewFormItem("Timeout (s)", p.timeout),
		widget.NewFormItem("Schedule", container.NewHBox(p.osWhen, container.NewGridWrap(fyne.NewSize(80, p.osAt.MinSize().Height), p.osAt))),
	)
	return container.NewVScroll(container.NewVBox(
		&widget.Label{Wrapping: fyne.TextWrapWord, Text: "A command that takes a snapshot of the whole machine or VM. Plinth runs it and keeps its exit status and output."},
		form, container.NewHBox(save, run), p.osResult))
}

// histRow is one row of History: a record, or a verification kept in
// the record of the backup it checked.
type histRow struct {
	at                 time.Time
	what, result, size string
}

func (p *backupsPage) history() fyne.CanvasObject {
	p.hist = &widget.Table{
		Length:        func() (int, int) { return len(p.histRows), 4 },
		CreateCell:    func() fyne.CanvasObject { return &widget.Label{Truncation: fyne.TextTruncateEllipsis} },
		ShowHeaderRow: true,
		CreateHeader:  func() fyne.CanvasObject { return &widget.Label{TextStyle: fyne.TextStyle{Bold: true}} },
		UpdateHeader: func(id widget.TableCellID, o fyne.CanvasObject) {
			if id.Col >= 0 {
				o.(*widget.Label).SetText([]string{"When", "What", "Result", "Size"}[id.Col])
			}
		},
		UpdateCell: func(id widget.TableCellID, o fyne.CanvasObject) {
			if id.Row >= len(p.histRows) {
				return
			}
			r := p.histRows[id.Row]
			o.(*widget.Label).SetText([]string{r.at.Local().Format("2006-01-02 15:04"), r.what, r.result, r.size}[id.Col])
		},
	}
	for i, w := range []float32{140, 260, 250, 80} {
		p.hist.SetColumnWidth(i, w)
	}
	return p.hist
}

// setHistory fills History from the records: each one, and each
// verification as a row of its own at the time it ran.
func (p *backupsPage) setHistory(recs []backup.Record) {
	p.records = recs
	p.histRows = p.histRows[:0]
	for _, r := range recs {
		p.histRows = append(p.histRows, recordRow(r))
		if !r.Verified.IsZero() {
			p.histRows = append(p.histRows, verifyRow(r))
		}
	}
	sort.SliceStable(p.histRows, func(i, j int) bool { return p.histRows[i].at.After(p.histRows[j].at) })
	p.hist.Refresh()
}

// recordRow says in words what a history record was and how it went.
func recordRow(r backup.Record) histRow {
	row := histRow{at: r.Started, result: "Succeeded"}
	if r.Bytes > 0 {
		row.size = humanize.IBytes(uint64(r.Bytes))
	}
	switch {
	case r.Type == backup.TypeRemoval:
		row.what = r.Item // says it all: "Full backup … removed by retention: kept …"
	case r.Type == backup.TypeRestore:
		row.what = "Restore of " + r.Item
	case r.Type == backup.TypeUpgrade:
		row.what = "Data folder upgrade: " + r.Item
	case r.Type == backup.TypeSnapshot || r.Level == 1:
		row.what = "Snapshot of " + r.Item
	case r.Type == backup.TypeOS || r.Level == 3:
		row.what = "OS snapshot: " + r.Item
	default:
		row.what = backupKind(r.Type)
	}
	switch {
	case !r.OK && r.Error != "":
		row.result = "Failed: " + r.Error
	case !r.OK:
		row.result = "Failed"
	case !r.Removed.IsZero():
		row.result = "Removed by retention " + r.Removed.Local().Format("2006-01-02")
	}
	return row
}

// verifyRow is the verification kept in the record of a backup.
func verifyRow(r backup.Record) histRow {
	what := "Verification of backup " + r.ID
	switch {
	case r.Type == backup.TypeSnapshot || r.Level == 1:
		what = "Verification of the snapshot of " + r.Item + " of " + r.Started.Local().Format("2006-01-02 15:04")
	case r.Type == backup.TypeFull || r.Type == backup.TypeIncremental:
		what = "Verification of the " + strings.ToLower(backupKind(r.Type)) + " of " + r.Started.Local().Format("2006-01-02 15:04")
	}
	row := histRow{at: r.Verified, what: what, result: "Succeeded"}
	if !r.VerifyOK {
		row.result = "Failed: " + r.VerifyError
	}
	return row
}

// setFulls shows the full backups, and keeps the one selected selected
// (and so Restore… and Verify enabled) when it is still there.
func (p *backupsPage) setFulls(fulls []backup.Manifest, recs []backup.Record) {
	sel := ""
	if m, ok := p.selectedFull(); ok {
		sel = m.ID
	}
	p.fulls = fulls
	p.verifications = map[string]backup.Record{}
	p.recs = map[string]backup.Record{}
	for _, r := range recs {
		p.recs[r.ID] = r
		if !r.Verified.IsZero() {
			p.verifications[r.ID] = r
		}
	}
	p.fullSel = -1
	for i, m := range fulls {
		if sel != "" && m.ID == sel {
			p.fullSel = i
		}
	}
	p.fullList.Refresh()
	if p.fullSel >= 0 {
		p.fullList.Select(widget.TableCellID{Row: p.fullSel, Col: 0})
	} else {
		p.fullList.UnselectAll()
	}
	p.updateFullButtons()
}

// shown reloads everything off the UI goroutine.
func (p *backupsPage) shown() {
	svc := p.ui.svc.Backups
	if svc == nil {
		return
	}
	actor := p.ui.actor
	var (
		c1    backup.Level1Settings
		c2    backup.Level2Settings
		c3    backup.Level3Settings
		fulls []backup.Manifest
		hist  []backup.Record
		items []files.Node
		same  bool
		tl    []backup.TargetConfig
	)
	p.ui.background(func(ctx context.Context) (err error) {
		if c1, err = svc.Level1(); err != nil {
			return err
		}
		if c2, err = svc.Level2(); err != nil {
			return err
		}
		same = svc.OnDataDisk(c2.Target)
		if c3, err = svc.Level3(); err != nil {
			return err
		}
		if fulls, err = svc.List(); err != nil {
			return err
		}
		if c2.Into != "" { // written straight into a target: listed from there
			if fulls, _, err = svc.TargetBackups(ctx, c2.Into); err != nil {
				return fmt.Errorf("the backups in %s cannot be listed: %w", c2.Into, err)
			}
		}
		if tl, err = svc.BackupTargets(); err != nil {
			return err
		}
		if hist, err = svc.History(ctx, actor); err != nil && !errors.Is(err, account.ErrPermission) {
			return err
		}
		items, err = p.ui.svc.Files.Items(ctx)
		return err
	}, func(err error) {
		if err != nil {
			p.next.Wrapping = fyne.TextWrapWord
			p.next.SetText(sentence(err))
			p.next.Show()
			return
		}
		if !p.settingsOpen {
			p.target.SetText(c2.Target)
			w, at := whenOf(c2.Schedule)
			p.when.SetSelected(w)
			p.at.SetText(at)
			p.keepDaily.SetText(strconv.Itoa(c2.KeepDaily))
			p.keepWeekly.SetText(strconv.Itoa(c2.KeepWeekly))
			p.keepNewest.SetText(strconv.Itoa(c2.KeepNewest))
			opts := []string{noCopy}
			for _, t := range tl {
				opts = append(opts, t.Name)
			}
			p.copyTo.Options = opts
			p.copyTo.SetSelected(noCopy)
			if c2.CopyTo != "" {
				p.copyTo.SetSelected(c2.CopyTo)
			}
			p.into.Options = append([]string{intoFolder}, opts[1:]...)
			p.into.SetSelected(intoFolder)
			if c2.Into != "" {
				p.into.SetSelected(c2.Into)
			}
		}
		p.copyTarget = c2.CopyTo
		p.snapTarget.SetText(c1.Target)
		snapOpts := []string{noCopy}
		for _, t := range tl {
			snapOpts = append(snapOpts, t.Name)
		}
		p.snapCopy.Options = snapOpts
		p.snapCopy.SetSelected(noCopy)
		if c1.CopyTo != "" {
			p.snapCopy.SetSelected(c1.CopyTo)
		}
		p.snapCopyTo = c1.CopyTo
		p.snapList.Refresh()
		if same {
			p.sameDisk.SetText(sameDiskText)
			p.sameDisk.Show()
			p.diskNote.Show()
		} else {
			p.sameDisk.Hide()
			p.diskNote.Hide()
		}
		enc := "Full backups are not encrypted."
		if c2.Recipient != "" {
			enc = "Full backups are encrypted."
			p.encryption.SetText("Full backups are encrypted; restoring one needs the passphrase, which Plinth does not store.")
		} else {
			p.encryption.SetText("Full backups are not encrypted. Set a passphrase to encrypt them, for example before they go to an external disk.")
		}
		p.summary.SetText(fmt.Sprintf("%s Kept: %d daily, %d weekly and the %d newest, in %s",
			enc, c2.KeepDaily, c2.KeepWeekly, c2.KeepNewest, c2.Target))
		p.setFulls(fulls, hist)
		p.setHistory(hist)
		p.command.SetText(c3.Command)
		p.args.SetText(strings.Join(c3.Args, "\n"))
		p.timeout.SetText(strconv.Itoa(c3.TimeoutSeconds))
		w3, at3 := whenOf(c3.Schedule)
		p.osWhen.SetSelected(w3)
		p.osAt.SetText(at3)
		for _, r := range hist {
			if r.Level == 3 {
				p.osResult.SetText(fmt.Sprintf("Last run %s: %s", localTime(r.Started), resultText(r)))
				break
			}
		}
		p.items = items
		names := make([]string, len(items))
		for i, it := range items {
			names[i] = it.Name
		}
		p.item.Options = names
		if p.item.Selected == "" && len(names) > 0 {
			p.item.SetSelected(names[0])
		}
		p.item.Refresh()
		p.showJobs()
	})
}

// sameDiskText is what the Full data tab says when its target is on the
// disk that holds Plinth's data (the default target is).
const sameDiskText = "These backups are on the same disk as Plinth's data: they help after a mistake or a damaged file, " +
	"not when that disk fails. Choose a target folder on another disk (an external or network drive) to be safe from that too."

// diskNoteText is sameDiskText, short, above the list of full backups.
const diskNoteText = "These backups are on the same disk as Plinth's data, so they do not survive that disk failing: choose a target on another disk (Settings…), or copy each one off site (Targets…)."

func resultText(r backup.Record) string {
	if r.OK {
		out := strings.TrimSpace(r.Output)
		if len(out) > 300 {
			out = "…" + out[len(out)-300:]
		}
		return "succeeded. " + out
	}
	return r.Error
}

// showJobs says when each backup job runs next and how it last went.
func (p *backupsPage) showJobs() {
	if p.ui.svc.Jobs == nil {
		return
	}
	var lines []string
	next := "" // the full data backup's, on the tab
	for _, j := range p.ui.svc.Jobs() {
		if !strings.HasPrefix(j.Name, "backup.") {
			continue
		}
		line := j.Title + ": " + j.Spec
		if !j.NextRun.IsZero() {
			line += ", next " + j.NextRun.Local().Format("Mon 15:04")
		}
		switch {
		case j.Running:
			line += ", running now"
		case j.LastError != "":
			line += ", last run failed: " + j.LastError
		case !j.LastSuccess.IsZero():
			line += ", last run " + j.LastSuccess.Local().Format("Mon 15:04") + " ok"
		}
		lines = append(lines, line+".")
		if j.Name == "backup.level2" {
			next = line + "."
		}
	}
	p.jobs.SetText(strings.Join(lines, "\n"))
	p.next.Wrapping = fyne.TextWrapOff
	p.next.SetText(next)
	if next != "" {
		p.next.Show()
	} else {
		p.next.Hide()
	}
}

func (p *backupsPage) reschedule() {
	if p.ui.svc.Reschedule != nil {
		if err := p.ui.svc.Reschedule(); err != nil {
			p.ui.showError(err)
		}
	}
	p.showJobs()
}

// level2Input reads the settings dialog's fields.
func (p *backupsPage) level2Input() (backup.Level2Settings, error) {
	spec, err := specOf(p.when.Selected, p.at.Text)
	if err != nil {
		return backup.Level2Settings{}, err
	}
	daily, err1 := strconv.Atoi(strings.TrimSpace(p.keepDaily.Text))
	weekly, err2 := strconv.Atoi(strings.TrimSpace(p.keepWeekly.Text))
	newest, err3 := strconv.Atoi(strings.TrimSpace(p.keepNewest.Text))
	if err1 != nil || err2 != nil || err3 != nil {
		return backup.Level2Settings{}, errors.New("type whole numbers of daily, weekly and newest backups to keep")
	}
	c := backup.Level2Settings{Target: strings.TrimSpace(p.target.Text), Schedule: spec, KeepDaily: daily, KeepWeekly: weekly, KeepNewest: newest}
	if p.copyTo.Selected != noCopy {
		c.CopyTo = p.copyTo.Selected
	}
	if p.into.Selected != intoFolder {
		c.Into = p.into.Selected
	}
	return c, nil
}

// saveLevel1 sets where snapshots go (those taken so far stay behind)
// and where each is copied.
func (p *backupsPage) saveLevel1() {
	actor, target := p.ui.actor, strings.TrimSpace(p.snapTarget.Text)
	copyTo := p.snapCopy.Selected
	if copyTo == noCopy {
		copyTo = ""
	}
	var old string
	p.ui.background(func(ctx context.Context) error {
		c, err := p.ui.svc.Backups.Level1()
		if err != nil {
			return err
		}
		old = c.Target
		c.Target, c.CopyTo = target, copyTo
		return p.ui.svc.Backups.SetLevel1(ctx, actor, c)
	}, func(err error) {
		if err != nil {
			p.ui.showError(err)
			return
		}
		msg := "Snapshots go to " + target + "."
		if old != target {
			msg += " Those taken so far stay in " + old + "."
		}
		if copyTo != "" {
			msg += " Each one is copied to " + copyTo + " after it is taken."
		}
		p.ui.banner.Done(msg)
		p.shown()
	})
}

func (p *backupsPage) showPassphrase() {
	pw, repeat := &widget.Entry{Password: true, PlaceHolder: "at least 10 characters; empty to stop encrypting"}, &widget.Entry{Password: true}
	actor := p.ui.actor
	var pass string
	p.ui.showForm(formSpec{
		title: "Backup passphrase", confirm: "Set passphrase",
		intro: "Future full backups will be encrypted. Plinth does not store the passphrase: without it nobody, not even Plinth, can restore those backups. Keep it safe.",
		items: []*widget.FormItem{widget.NewFormItem("Passphrase", pw), widget.NewFormItem("Repeat", repeat)},
		check: func() error {
			if pw.Text != repeat.Text {
				return errors.New("the two passphrases differ")
			}
			pass = pw.Text
			return nil
		},
		work: func(ctx context.Context) error { return p.ui.svc.Backups.SetPassphrase(ctx, actor, pass) },
		done: p.shown,
	})
}

func (p *backupsPage) doFull() {
	actor := p.ui.actor
	p.ui.longWork("Full data backup", func(ctx context.Context, prog progress.Func) (string, error) {
		c, err := p.ui.svc.Backups.Level2()
		if err != nil {
			return "", err
		}
		m, err := p.ui.svc.Backups.FullTo(ctx, actor, c.Into, prog)
		if err != nil {
			return "", err
		}
		where := m.Path
		if c.Into != "" {
			where = c.Into
		}
		msg := fmt.Sprintf("Full data backup finished: %s backup of %s in %.1f s, in %s.", m.Type, humanize.IBytes(uint64(m.Bytes())), m.Seconds, where)
		copies, err := p.ui.svc.Backups.CopyPending(ctx, actor, prog)
		if err != nil {
			return "", fmt.Errorf("the backup was taken (%s), but its copy failed: %w", m.ID, err)
		}
		for _, c := range copies {
			if c.State == backup.CopyCopied {
				msg += fmt.Sprintf(" Copied to %s and checked there.", c.Target)
				break
			}
		}
		return msg, nil
	}, func(error) { p.shown() })
}

func (p *backupsPage) selectedFull() (backup.Manifest, bool) {
	if p.fullSel < 0 || p.fullSel >= len(p.fulls) {
		return backup.Manifest{}, false
	}
	return p.fulls[p.fullSel], true
}

func (p *backupsPage) doVerify() {
	m, ok := p.selectedFull()
	if !ok {
		return
	}
	actor := p.ui.actor
	p.ui.longWork("Verifying backup "+m.ID, func(ctx context.Context, prog progress.Func) (string, error) {
		v, err := p.ui.svc.Backups.Verify(ctx, actor, m.ID, "", prog)
		if err != nil {
			return "", err
		}
		msg := fmt.Sprintf("Backup %s is sound: checksums verified", m.ID)
		if v.Restored {
			msg += fmt.Sprintf(", restored into a scratch folder and %d content chunks read back", v.Chunks)
		}
		if v.Note != "" {
			msg += "; " + v.Note
		}
		return msg + ".", nil
	}, func(error) { p.shown() })
}

// restoreDialog: pick the scope, read what will change, confirm.
type restoreDialog struct {
	d          dialog.Dialog
	scope      *widget.RadioGroup
	item       *widget.SelectEntry // scope item: its path in the backup
	paths      []string            // the projects and libraries offered
	asNew      *widget.Entry       // scope item: "" rolls back in place
	itemRow    *fyne.Container
	summary    *widget.Label
	passphrase *widget.Entry
	confirm    *widget.Button
}

var scopeLabels = []string{"Everything", "Manager only", "File Server only", "One project or library"}

func scopeOf(label string) backup.Scope {
	switch label {
	case scopeLabels[1]:
		return backup.ScopeManager
	case scopeLabels[2]:
		return backup.ScopeFileServer
	case scopeLabels[3]:
		return backup.ScopeItem
	}
	return backup.ScopeAll
}

func (p *backupsPage) showRestore() {
	m, ok := p.selectedFull()
	if !ok {
		return
	}
	rd := &restoreDialog{summary: &widget.Label{Wrapping: fyne.TextWrapWord}, passphrase: &widget.Entry{Password: true, PlaceHolder: "passphrase of this backup"}}
	for _, it := range p.items {
		if path, err := p.ui.svc.Files.Path(context.Background(), it.ID); err == nil {
			rd.paths = append(rd.paths, "/"+strings.TrimPrefix(path, "/"))
		}
	}
	rd.item = widget.NewSelectEntry(rd.paths)
	rd.item.PlaceHolder = "its path in the backup, e.g. /Tower"
	rd.asNew = &widget.Entry{PlaceHolder: "empty: roll back in place; a name: create a new one"}
	rd.itemRow = container.New(layout.NewFormLayout(), widget.NewLabel("Project or library"), rd.item, widget.NewLabel("Restore as new"), rd.asNew)
	rd.confirm = &widget.Button{Text: "Restore", Icon: theme.ConfirmIcon(), Importance: widget.DangerImportance}
	actor := p.ui.actor
	preview := func() {
		scope := scopeOf(rd.scope.Selected)
		item, asNew := strings.TrimSpace(rd.item.Text), strings.TrimSpace(rd.asNew.Text)
		if scope == backup.ScopeItem {
			rd.itemRow.Show()
		} else {
			rd.itemRow.Hide()
		}
		if scope == backup.ScopeItem && item == "" {
			rd.summary.SetText("Choose the project or library to restore.")
			rd.confirm.Disable()
			return
		}
		var lines []string
		p.ui.background(func(ctx context.Context) (err error) {
			if scope == backup.ScopeItem {
				lines, err = p.ui.svc.Backups.PreviewItem(ctx, actor, m, item, asNew)
			} else {
				lines, err = p.ui.svc.Backups.Preview(ctx, m, scope)
			}
			return err
		}, func(err error) {
			if err != nil {
				rd.summary.SetText(sentence(err))
				rd.confirm.Disable()
				return
			}
			rd.summary.SetText(strings.Join(lines, "\n"))
			rd.confirm.Enable()
		})
	}
	rd.scope = widget.NewRadioGroup(scopeLabels, func(string) { preview() })
	rd.item.OnChanged = func(string) { preview() }
	rd.asNew.OnChanged = func(string) { preview() }
	cancel := &widget.Button{Text: "Cancel", Icon: theme.CancelIcon()}
	items := []fyne.CanvasObject{
		widget.NewLabel(fmt.Sprintf("Backup of %s (%s, %s).", m.Created.Local().Format("Monday 2 January 2006 15:04"), m.Type, humanize.IBytes(uint64(m.Bytes())))),
		rd.scope, rd.itemRow, rd.summary,
	}
	if m.Encrypted() {
		items = append(items, rd.passphrase)
	}
	items = append(items, container.NewHBox(layout.NewSpacer(), cancel, rd.confirm))
	rd.d = dialog.NewCustomWithoutButtons("Restore", container.NewVBox(items...), p.ui.win)
	cancel.OnTapped = rd.d.Hide
	rd.confirm.OnTapped = func() {
		scope, pass := scopeOf(rd.scope.Selected), rd.passphrase.Text
		item, asNew := strings.TrimSpace(rd.item.Text), strings.TrimSpace(rd.asNew.Text)
		rd.d.Hide()
		p.ui.longWork("Restoring backup "+m.ID, func(ctx context.Context, prog progress.Func) (string, error) {
			when := m.Created.Local().Format("2006-01-02 15:04")
			if scope == backup.ScopeItem {
				res, err := p.ui.svc.Backups.RestoreItem(ctx, actor, m.ID, item, asNew, pass, prog)
				if err != nil {
					return "", err
				}
				if asNew != "" {
					return fmt.Sprintf("Created %s from the backup of %s.", res.Item, when), nil
				}
				return fmt.Sprintf("Restored %s from the backup of %s. Its state before is kept as a snapshot.", res.Item, when), nil
			}
			res, err := p.ui.svc.Backups.Restore(ctx, actor, m.ID, scope, pass, prog)
			if err != nil {
				return "", err
			}
			return p.ui.checkStores(ctx, fmt.Sprintf("Restored %s from the backup of %s. The replaced data is kept in %s.", scopeLabel(res.Scope), when, res.SafetyCopy))
		}, func(error) {
			p.shown()
			p.ui.refreshBell()
		})
	}
	rd.scope.SetSelected(scopeLabels[0])
	rd.d.Resize(fyne.NewSize(640, 420))
	rd.d.Show()
	p.restoreD = rd
}

func scopeLabel(s backup.Scope) string {
	switch s {
	case backup.ScopeManager:
		return "the Manager"
	case backup.ScopeFileServer:
		return "the File Server"
	}
	return "everything"
}

func (p *backupsPage) currentItem() (files.Node, bool) {
	for _, it := range p.items {
		if it.Name == p.item.Selected {
			return it, true
		}
	}
	return files.Node{}, false
}

func (p *backupsPage) loadSnapshots() {
	it, ok := p.currentItem()
	if !ok || p.ui.svc.Backups == nil {
		return
	}
	var snaps []backup.Manifest
	var sched backup.SnapSchedule
	var from string
	var fromPath string
	var unlisted error // the copy target could not be listed
	p.ui.background(func(ctx context.Context) (err error) {
		if snaps, err = p.ui.svc.Backups.Snapshots(it.ID); err != nil {
			return err
		}
		// Those only in the snapshot copy target (removed here, or a new
		// machine): a restore fetches them from there. A target that
		// cannot be read does not hide the snapshots here.
		there, lerr := p.ui.svc.Backups.SnapshotCopies(ctx, it.ID)
		unlisted = lerr
		snaps = append(snaps, there...)
		sort.SliceStable(snaps, func(i, j int) bool { return snaps[i].Created.After(snaps[j].Created) })
		if sched, from, err = p.ui.svc.Backups.SnapshotSchedule(ctx, it.ID); err != nil {
			return err
		}
		fromPath, _ = p.ui.svc.Files.Path(ctx, from)
		return nil
	}, func(err error) {
		if err != nil {
			p.snapSched.SetText(sentence(err))
			return
		}
		p.snaps, p.snapSel = snaps, -1
		p.snapList.UnselectAll()
		p.snapList.Refresh()
		where := "defined for this " + it.Kind.String()
		switch {
		case from == files.RootID:
			where = "inherited from the Projects root"
		case from != it.ID:
			where = "inherited from /" + fromPath
		}
		msg := fmt.Sprintf("Schedule: %s (%s). %s. Snapshots taken by hand, and those a rollback saves first, are kept for %d days and do not count against Keep last N.",
			sched, where, text.Count(len(snaps), "snapshot"), backup.ManualKeepDays)
		if unlisted != nil {
			msg += " The snapshots in the copy target are not listed: " + sentence(unlisted)
		}
		p.snapSched.SetText(msg)
		if from == it.ID {
			p.snapMode.SetSelected(map[string]string{"none": "Don't create", "hourly": "Hourly", "daily": "Daily"}[sched.Mode])
		} else {
			p.snapMode.SetSelected("Inherit")
		}
		p.snapAt.SetText(fmt.Sprintf("%02d:%02d", sched.Hour, sched.Minute))
		p.snapKeep.SetText(strconv.Itoa(sched.Keep))
		p.updateSnapButtons()
	})
}

func (p *backupsPage) updateSnapButtons() {
	setEnabled(p.snapSel >= 0 && p.snapSel < len(p.snaps), p.rollBack, p.asNew, p.exportSnap)
}

func (p *backupsPage) saveSnapSchedule() {
	it, ok := p.currentItem()
	if !ok {
		return
	}
	var sch *backup.SnapSchedule
	if p.snapMode.Selected != "Inherit" {
		keep, err := strconv.Atoi(p.snapKeep.Text)
		if err != nil {
			p.ui.showError(errors.New("type how many snapshots to keep"))
			return
		}
		sch = &backup.SnapSchedule{Mode: map[string]string{"Don't create": "none", "Hourly": "hourly", "Daily": "daily"}[p.snapMode.Selected], Keep: keep}
		if sch.Mode == "daily" {
			if _, err := fmt.Sscanf(p.snapAt.Text, "%d:%d", &sch.Hour, &sch.Minute); err != nil {
				p.ui.showError(fmt.Errorf("type the time as HH:MM, not %q", p.snapAt.Text))
				return
			}
		}
	}
	actor := p.ui.actor
	p.ui.background(func(ctx context.Context) error {
		return p.ui.svc.Backups.SetSnapshotSchedule(ctx, actor, it.ID, sch)
	}, func(err error) {
		if err != nil {
			p.ui.showError(err)
			return
		}
		p.loadSnapshots()
	})
}

func (p *backupsPage) doSnapshot() {
	it, ok := p.currentItem()
	if !ok {
		return
	}
	actor := p.ui.actor
	p.ui.longWork("Snapshot of "+it.Name, func(ctx context.Context, prog progress.Func) (string, error) {
		m, err := p.ui.svc.Backups.Snapshot(ctx, actor, it.ID, prog)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Snapshot of %s taken: %s, %s.", it.Name, text.Count(m.Tree.Files, "file"), humanize.IBytes(uint64(m.Tree.Content))), nil
	}, func(error) { p.loadSnapshots(); p.shown() })
}

// snapCopyNote says where a snapshot's copy stands, as the Copy column
// of full backups does: "   offsite: Copied", or that it lies only there.
func (p *backupsPage) snapCopyNote(m backup.Manifest) string {
	if m.Source != nil {
		return "   only in " + m.Source.Name
	}
	if p.snapCopyTo == "" {
		return ""
	}
	note := "   " + p.snapCopyTo + ": " + copyCell(p.recs[m.ID], p.snapCopyTo, time.Now())
	for _, c := range p.recs[m.ID].Copies {
		if c.Target == p.snapCopyTo && c.State == backup.CopyFailed {
			note += " — " + strings.TrimSuffix(c.Error, ".")
		}
	}
	return note
}

// snapNote marks, in the list, snapshots not taken by the schedule.
func snapNote(m backup.Manifest) string {
	note := ""
	switch m.Trigger {
	case backup.TriggerManual:
		note = "   taken by hand"
	case backup.TriggerSafety:
		note = "   saved before a rollback"
	}
	if m.Encrypted() {
		note += "   encrypted"
	}
	return note
}

func (p *backupsPage) showSnapRestore(asNew bool) {
	if p.snapSel < 0 || p.snapSel >= len(p.snaps) {
		return
	}
	m := p.snaps[p.snapSel]
	actor := p.ui.actor
	// An encrypted snapshot opens only with the backup passphrase.
	pass := &widget.Entry{Password: true, PlaceHolder: "the backup passphrase"}
	var passItems []*widget.FormItem
	if m.Encrypted() {
		passItems = append(passItems, widget.NewFormItem("Passphrase", pass))
	}
	if asNew {
		name := &widget.Entry{Text: m.ItemName + " (" + m.Created.Local().Format("2006-01-02") + ")"}
		p.ui.showForm(formSpec{
			title: "Create new from snapshot", confirm: "Create",
			intro: fmt.Sprintf("A new %s is created with the content of %s as it was %s.", m.ItemKind, m.ItemName, localTime(m.Created)),
			items: append([]*widget.FormItem{widget.NewFormItem("Name", name)}, passItems...),
			check: func() error { return files.CheckName(name.Text) },
			done: func() {
				n, pw := name.Text, pass.Text
				p.ui.longWork("Creating "+n, func(ctx context.Context, prog progress.Func) (string, error) {
					res, err := p.ui.svc.Backups.RestoreSnapshot(ctx, actor, m.ID, n, pw, prog)
					if err != nil {
						return "", err
					}
					return fmt.Sprintf("Created %s from the snapshot.", res.Item), nil
				}, func(error) { p.shown() })
			},
		})
		return
	}
	var lines []string
	p.ui.background(func(ctx context.Context) (err error) {
		lines, err = p.ui.svc.Backups.Preview(ctx, m, backup.ScopeItem)
		return err
	}, func(err error) {
		if err != nil {
			p.ui.showError(err)
			return
		}
		p.ui.showForm(formSpec{
			title: "Roll back " + m.ItemName, confirm: "Roll back", danger: true,
			intro: strings.Join(lines, "\n"),
			items: passItems,
			done: func() {
				pw := pass.Text
				p.ui.longWork("Rolling back "+m.ItemName, func(ctx context.Context, prog progress.Func) (string, error) {
					if _, err := p.ui.svc.Backups.RestoreSnapshot(ctx, actor, m.ID, "", pw, prog); err != nil {
						return "", err
					}
					return fmt.Sprintf("%s is back as it was %s.", m.ItemName, localTime(m.Created)), nil
				}, func(error) { p.loadSnapshots() })
			},
		})
	})
}

// doExport writes the selected snapshot into a file the user names in a
// folder the user picks. Fyne's save dialog is not used: it opens (and so
// empties) the chosen file before the export starts, and a failed export
// would leave an empty file where last week's archive was. Here an
// existing file is replaced only when asked, and atomically.
func (p *backupsPage) doExport() {
	if p.snapSel < 0 || p.snapSel >= len(p.snaps) {
		return
	}
	m := p.snaps[p.snapSel]
	actor := p.ui.actor
	folder := &widget.Entry{PlaceHolder: "a folder on this computer or a mounted share"}
	if home, err := os.UserHomeDir(); err == nil {
		folder.SetText(home)
	}
	browse := &widget.Button{Text: "Browse…", Icon: theme.FolderOpenIcon(), OnTapped: func() {
		dialog.ShowFolderOpen(func(u fyne.ListableURI, err error) {
			if err == nil && u != nil {
				folder.SetText(u.Path())
			}
		}, p.ui.win)
	}}
	name := &widget.Entry{}
	name.SetText(strings.ReplaceAll(m.ItemName, "/", "-") + " " + m.Created.Local().Format("2006-01-02") + ".plinth-snapshot")
	replace := &widget.Check{Text: "Replace a file of that name"}
	var dest string
	p.exportForm = p.ui.showForm(formSpec{title: "Download snapshot of " + m.ItemName, confirm: "Download",
		intro: "The snapshot and every part it needs go into one file, which another Plinth can import (Backups › Import…).",
		items: []*widget.FormItem{
			widget.NewFormItem("Folder", container.NewBorder(nil, nil, nil, browse, folder)),
			widget.NewFormItem("File name", name),
			widget.NewFormItem("", replace),
		},
		check: func() error {
			if err := names.Check(name.Text); err != nil {
				return err
			}
			if fi, err := os.Stat(folder.Text); err != nil || !fi.IsDir() {
				return fmt.Errorf("%s is not a folder", folder.Text)
			}
			dest = filepath.Join(folder.Text, name.Text)
			if _, err := os.Lstat(dest); err == nil && !replace.Checked {
				return fmt.Errorf("%s already exists; tick Replace to write over it", dest)
			}
			return nil
		},
		done: func() {
			force := replace.Checked
			p.ui.longWork("Writing the snapshot file", func(ctx context.Context, _ progress.Func) (string, error) {
				if err := p.ui.svc.Backups.ExportSnapshot(ctx, actor, m.ID, dest, force); err != nil {
					return "", err
				}
				return "Snapshot written to " + dest + ". Import it on another Plinth with Backups › Import….", nil
			}, nil)
		},
	})
}

func (p *backupsPage) doImport() {
	dialog.ShowFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		path := r.URI().Path()
		_ = r.Close()
		p.importFile(path, "")
	}, p.ui.win)
}

// importFile imports a snapshot file; an encrypted one asks for the
// backup passphrase it was made with, then tries again.
func (p *backupsPage) importFile(path, passphrase string) {
	actor := p.ui.actor
	p.ui.longWork("Importing a snapshot", func(ctx context.Context, prog progress.Func) (string, error) {
		res, err := p.ui.svc.Backups.ImportSnapshot(ctx, actor, path, "", passphrase, prog)
		if err != nil {
			return "", err
		}
		return "Created " + res.Item + " from the snapshot file.", nil
	}, func(err error) {
		p.shown()
		if !errors.Is(err, backup.ErrNeedPassphase) && (passphrase == "" || !errors.Is(err, backup.ErrPassphrase)) {
			return
		}
		pass := &widget.Entry{Password: true, PlaceHolder: "the backup passphrase it was made with"}
		p.ui.showForm(formSpec{
			title: "Encrypted snapshot file", confirm: "Import",
			intro: "This snapshot file is encrypted. Give the backup passphrase of the Plinth it comes from.",
			items: []*widget.FormItem{widget.NewFormItem("Passphrase", pass)},
			done:  func() { p.importFile(path, pass.Text) },
		})
	})
}

func (p *backupsPage) saveLevel3() {
	spec, err := specOf(p.osWhen.Selected, p.osAt.Text)
	if err != nil {
		p.ui.showError(err)
		return
	}
	timeout, err := strconv.Atoi(p.timeout.Text)
	if err != nil {
		p.ui.showError(errors.New("type the timeout in seconds"))
		return
	}
	var args []string
	for _, l := range strings.Split(p.args.Text, "\n") {
		if strings.TrimSpace(l) != "" {
			args = append(args, strings.TrimSpace(l))
		}
	}
	c := backup.Level3Settings{Command: strings.TrimSpace(p.command.Text), Args: args, TimeoutSeconds: timeout, Schedule: spec}
	actor := p.ui.actor
	p.ui.background(func(ctx context.Context) error {
		return p.ui.svc.Backups.SetLevel3(ctx, actor, c)
	}, func(err error) {
		if err != nil {
			p.ui.showError(err)
			return
		}
		p.reschedule()
		p.ui.banner.Done("OS snapshot settings saved.")
	})
}

func (p *backupsPage) doOS() {
	actor := p.ui.actor
	p.ui.longWork("Running the OS snapshot command", func(ctx context.Context, _ progress.Func) (string, error) {
		r, err := p.ui.svc.Backups.OSSnapshot(ctx, actor)
		if err != nil {
			return "", err
		}
		return "The OS snapshot command succeeded. " + strings.TrimSpace(lastLines(r.Output, 2)), nil
	}, func(error) { p.shown() })
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " ")
}
