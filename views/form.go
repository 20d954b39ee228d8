package views

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// formDialog is a modal form. Its submit checks the input, runs the work
// off the UI goroutine with a spinner, and on failure keeps the dialog open
// with the reason in red, so nothing the user typed is lost.
type formDialog struct {
	d      dialog.Dialog
	cancel *widget.Button
	actions
}

// formSpec describes a form dialog.
type formSpec struct {
	title, intro, confirm string
	items                 []*widget.FormItem
	danger                bool
	// check runs on the UI goroutine before work; an error stops there.
	check func() error
	// work runs off the UI goroutine; nil means there is nothing to wait for.
	work func(ctx context.Context) error
	// done runs on the UI goroutine after work succeeded.
	done func()
}

func (u *UI) showForm(spec formSpec) *formDialog {
	imp := widget.HighImportance
	if spec.danger {
		imp = widget.DangerImportance
	}
	f := &formDialog{actions: newActions(&widget.Button{Text: spec.confirm, Importance: imp, Icon: theme.ConfirmIcon()})}
	f.cancel = &widget.Button{Text: "Cancel", Icon: theme.CancelIcon()}
	var body []fyne.CanvasObject
	if spec.intro != "" {
		body = append(body, &widget.Label{Text: spec.intro, Wrapping: fyne.TextWrapWord})
	}
	if len(spec.items) > 0 {
		body = append(body, widget.NewForm(spec.items...))
	}
	body = append(body, f.errText, container.NewHBox(layout.NewSpacer(), f.busy, f.cancel, f.submit))
	f.d = dialog.NewCustomWithoutButtons(spec.title, container.NewVBox(body...), u.win)
	f.cancel.OnTapped = f.d.Hide
	f.submit.OnTapped = func() {
		if spec.check != nil {
			if err := spec.check(); err != nil {
				showError(f.errText, err)
				return
			}
		}
		if spec.work == nil {
			f.d.Hide()
			if spec.done != nil {
				spec.done()
			}
			return
		}
		f.setBusy(true)
		f.cancel.Disable()
		u.background(spec.work, func(err error) {
			f.setBusy(false)
			f.cancel.Enable()
			if err != nil {
				showError(f.errText, err)
				return
			}
			f.d.Hide()
			if spec.done != nil {
				spec.done()
			}
		})
	}
	for _, it := range spec.items {
		if e, ok := it.Widget.(*widget.Entry); ok && !e.MultiLine {
			e.OnSubmitted = func(string) { f.submit.OnTapped() }
		}
	}
	f.d.Resize(fyne.NewSize(480, f.d.MinSize().Height))
	f.d.Show()
	for _, it := range spec.items {
		if e, ok := it.Widget.(*widget.Entry); ok {
			u.win.Canvas().Focus(e)
			break
		}
	}
	return f
}
