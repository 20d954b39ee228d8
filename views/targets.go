package views

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/core/backup/target"
)

// targetsDialog lists the backup targets (folders and buckets full backups
// are copied to), with Test and Remove for each and Add… below.
type targetsDialog struct {
	d      dialog.Dialog
	rows   *fyne.Container
	status *widget.Label
	addD   *formDialog // the open Add… form, for tests
	fields *targetFields
}

// targetFields are the Add… form's entries.
type targetFields struct {
	name, folder, endpoint, bucket, prefix, region, access, secret, lockDays, bandwidth *widget.Entry
	kind, lockMode                                                                      *widget.RadioGroup
}

var (
	kindLabels = []string{"S3-compatible bucket", "Folder (disk, share)"}
	modeLabels = []string{"Governance", "Compliance"}
)

// showTargets opens the Targets… dialog.
func (p *backupsPage) showTargets() {
	t := &targetsDialog{rows: container.NewVBox(), status: &widget.Label{Wrapping: fyne.TextWrapWord}}
	p.targetsD = t
	add := &widget.Button{Text: "Add target…", Icon: theme.ContentAddIcon(), Importance: widget.HighImportance, OnTapped: func() { p.showAddTarget(t) }}
	closeB := &widget.Button{Text: "Close", Icon: theme.CancelIcon()}
	intro := &widget.Label{Wrapping: fyne.TextWrapWord, Text: "Each full backup can be copied to a second place after it is taken: " +
		"a bucket of S3-compatible object storage (AWS S3, Backblaze B2, Wasabi, MinIO…) keeps a copy away from the building, " +
		"encrypted and, where the bucket has Object Lock, locked against deletion. Choose the copy target in Settings…."}
	body := container.NewBorder(intro, container.NewVBox(t.status, container.NewHBox(add, layout.NewSpacer(), closeB)), nil, nil,
		container.NewVScroll(t.rows))
	t.d = dialog.NewCustomWithoutButtons("Backup targets", body, p.ui.win)
	closeB.OnTapped = t.d.Hide
	t.d.Resize(fyne.NewSize(700, 440))
	t.d.Show()
	p.loadTargets(t)
}

// loadTargets fills the dialog's rows off the UI goroutine.
func (p *backupsPage) loadTargets(t *targetsDialog) {
	var (
		l  []backup.TargetConfig
		c2 backup.Level2Settings
	)
	p.ui.background(func(context.Context) (err error) {
		if l, err = p.ui.svc.Backups.BackupTargets(); err != nil {
			return err
		}
		c2, err = p.ui.svc.Backups.Level2()
		return err
	}, func(err error) {
		if err != nil {
			t.status.SetText(sentence(err))
			return
		}
		t.rows.RemoveAll()
		if len(l) == 0 {
			t.rows.Add(&widget.Label{Text: "No targets yet besides the backup folder.", Wrapping: fyne.TextWrapWord})
		}
		for _, tc := range l {
			t.rows.Add(p.targetRow(t, tc, c2.CopyTo == tc.Name))
		}
		t.rows.Refresh()
	})
}

// targetWords says what a target is, in one line.
func targetWords(tc backup.TargetConfig, copyTo bool) string {
	w := tc.Name + " — "
	if tc.Offsite() {
		w += "bucket " + tc.Where()
	} else {
		w += "folder " + tc.Folder
	}
	if tc.LockDays > 0 {
		w += fmt.Sprintf("; each backup locked %d days (%s)", tc.LockDays, tc.LockMode)
	}
	if tc.Bandwidth > 0 {
		w += fmt.Sprintf("; at most %s/s", strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", float64(tc.Bandwidth)/1e6), "0"), ".")+" MB")
	}
	if copyTo {
		w += "; every full backup is copied here"
	}
	return w
}

func (p *backupsPage) targetRow(t *targetsDialog, tc backup.TargetConfig, copyTo bool) fyne.CanvasObject {
	actor := p.ui.actor
	test := &widget.Button{Text: "Test", Icon: theme.ConfirmIcon()}
	test.OnTapped = func() {
		test.Disable()
		t.status.SetText("Testing " + tc.Name + "…")
		p.ui.background(func(ctx context.Context) error {
			return p.ui.svc.Backups.TestTarget(ctx, actor, tc.Name)
		}, func(err error) {
			test.Enable()
			if err != nil {
				t.status.SetText(tc.Name + ": " + sentence(err))
				return
			}
			t.status.SetText(tc.Name + " works: writing, reading, listing and removing a test file there worked.")
		})
	}
	remove := &widget.Button{Text: "Remove", Icon: theme.DeleteIcon(), Importance: widget.DangerImportance}
	remove.OnTapped = func() {
		dialog.ShowConfirm("Remove target "+tc.Name+"?", "Plinth forgets the target; the backups already there stay there.", func(ok bool) {
			if !ok {
				return
			}
			p.ui.background(func(ctx context.Context) error {
				return p.ui.svc.Backups.RemoveTarget(ctx, actor, tc.Name)
			}, func(err error) {
				if err != nil {
					t.status.SetText(sentence(err))
					return
				}
				t.status.SetText(tc.Name + " is forgotten; the backups in it stay there.")
				p.loadTargets(t)
			})
		}, p.ui.win)
	}
	label := &widget.Label{Text: targetWords(tc, copyTo), Wrapping: fyne.TextWrapWord}
	return container.NewBorder(nil, nil, nil, container.NewHBox(test, remove), label)
}

// showAddTarget opens the Add target form: it tries the target before
// keeping it, and says in one sentence what failed.
func (p *backupsPage) showAddTarget(t *targetsDialog) {
	f := &targetFields{
		name: &widget.Entry{PlaceHolder: "offsite"}, folder: &widget.Entry{},
		endpoint: &widget.Entry{PlaceHolder: "https://s3.eu-central-1.amazonaws.com"},
		bucket:   &widget.Entry{PlaceHolder: "bucket name"}, prefix: &widget.Entry{PlaceHolder: "optional"}, region: &widget.Entry{PlaceHolder: "region (optional)"},
		access: &widget.Entry{}, secret: &widget.Entry{Password: true},
		lockDays: &widget.Entry{Text: "0"}, bandwidth: &widget.Entry{PlaceHolder: "no limit"},
		lockMode: widget.NewRadioGroup(modeLabels, nil),
	}
	t.fields = f
	f.lockMode.Horizontal = true
	f.lockMode.SetSelected(modeLabels[0])
	browse := &widget.Button{Icon: theme.FolderOpenIcon(), OnTapped: func() {
		dialog.ShowFolderOpen(func(l fyne.ListableURI, err error) {
			if err == nil && l != nil {
				f.folder.SetText(l.Path())
			}
		}, p.ui.win)
	}}
	folderItem := widget.NewFormItem("Folder", container.NewBorder(nil, nil, nil, browse, f.folder))
	s3Items := []*widget.FormItem{
		widget.NewFormItem("Server address", f.endpoint),
		widget.NewFormItem("Bucket", container.NewGridWithColumns(2, f.bucket, f.region)),
		widget.NewFormItem("Folder in bucket", f.prefix),
		widget.NewFormItem("Access key", f.access), widget.NewFormItem("Secret key", f.secret),
		widget.NewFormItem("Lock each backup", container.NewHBox(container.NewGridWrap(fyne.NewSize(60, f.lockDays.MinSize().Height), f.lockDays),
			widget.NewLabel("days"), f.lockMode)),
		widget.NewFormItem("Bandwidth", container.NewHBox(container.NewGridWrap(fyne.NewSize(90, f.bandwidth.MinSize().Height), f.bandwidth), widget.NewLabel("MB/s"))),
	}
	f.kind = widget.NewRadioGroup(kindLabels, func(k string) {
		s3 := k == kindLabels[0]
		for _, it := range s3Items {
			showIf(it.Widget, s3)
		}
		showIf(folderItem.Widget, !s3)
	})
	f.kind.Horizontal = true
	f.kind.SetSelected(kindLabels[0])
	items := append([]*widget.FormItem{widget.NewFormItem("Name", f.name), widget.NewFormItem("Kind", f.kind), folderItem}, s3Items...)
	var tc backup.TargetConfig
	var secret string
	actor := p.ui.actor
	t.addD = p.ui.showForm(formSpec{
		title: "Add a backup target", confirm: "Test and add",
		intro: "Plinth tries the target with a test file before it keeps it. A bucket needs the backup passphrase set: what leaves the building is encrypted.",
		items: items,
		check: func() (err error) { tc, secret, err = f.input(); return err },
		work:  func(ctx context.Context) error { return p.ui.svc.Backups.AddTarget(ctx, actor, tc, secret) },
		done: func() {
			t.status.SetText("Added " + tc.Name + ": the test file was written, read back, listed and removed.")
			p.loadTargets(t)
			p.shown()
		},
	})
	t.addD.d.Resize(fyne.NewSize(680, 0))
}

func showIf(o fyne.CanvasObject, show bool) {
	if o == nil {
		return
	}
	if show {
		o.Show()
	} else {
		o.Hide()
	}
}

// input reads the Add… form.
func (f *targetFields) input() (backup.TargetConfig, string, error) {
	tc := backup.TargetConfig{Name: strings.TrimSpace(f.name.Text)}
	if tc.Name == "" {
		return tc, "", errors.New("give the target a name, such as offsite")
	}
	if f.kind.Selected == kindLabels[1] {
		tc.Kind, tc.Folder = backup.KindFolder, strings.TrimSpace(f.folder.Text)
		return tc, "", nil
	}
	tc.Kind, tc.Endpoint, tc.Bucket = backup.KindS3, strings.TrimSpace(f.endpoint.Text), strings.TrimSpace(f.bucket.Text)
	tc.Prefix, tc.Region, tc.AccessKey = strings.TrimSpace(f.prefix.Text), strings.TrimSpace(f.region.Text), strings.TrimSpace(f.access.Text)
	if tc.Endpoint == "" || tc.Bucket == "" || tc.AccessKey == "" || f.secret.Text == "" {
		return tc, "", errors.New("a bucket needs the server address, the bucket, the access key and its secret key")
	}
	days, err := strconv.Atoi(strings.TrimSpace(f.lockDays.Text))
	if err != nil || days < 0 {
		return tc, "", errors.New("type the days to lock each backup as a whole number (0: not locked)")
	}
	tc.LockDays = days
	tc.LockMode = target.Governance
	if f.lockMode.Selected == modeLabels[1] {
		tc.LockMode = target.Compliance
	}
	if b := strings.TrimSpace(f.bandwidth.Text); b != "" {
		mb, err := strconv.ParseFloat(strings.ReplaceAll(b, ",", "."), 64)
		if err != nil || mb <= 0 {
			return tc, "", errors.New("type the bandwidth limit in MB per second, such as 10, or leave it empty")
		}
		tc.Bandwidth = int64(mb * 1e6)
	}
	return tc, f.secret.Text, nil
}

// copyCell says how a backup's copy to the copy target stands, for the
// list of full backups.
func copyCell(r backup.Record, copyTo string, now time.Time) string {
	for _, c := range r.Copies {
		if c.Target != copyTo && copyTo != "" {
			continue
		}
		switch c.State {
		case backup.CopyCopied:
			if !c.Removed.IsZero() {
				return "Removed there"
			}
			if c.LockedUntil.After(now) {
				return "Copied, locked"
			}
			return "Copied"
		case backup.CopyCopying:
			return fmt.Sprintf("Copying %d %%", c.Percent())
		case backup.CopyFailed:
			return "Failed"
		}
	}
	if copyTo == "" {
		return "—"
	}
	return "Not yet"
}

// copyFailure is the sentence of a backup's failed copy, or "".
func copyFailure(r backup.Record) string {
	for _, c := range r.Copies {
		if c.State == backup.CopyFailed {
			return "The copy of backup " + r.ID + " to " + c.Target + " failed: " + strings.TrimSuffix(c.Error, ".") + ". Plinth tries again every hour."
		}
	}
	return ""
}
