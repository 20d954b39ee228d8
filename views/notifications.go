package views

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/notify"
)

// notificationsPage is the logged-in user's notification center: newest
// first, and a click opens the panel the entry is about.
type notificationsPage struct {
	ui      *UI
	obj     fyne.CanvasObject
	list    *widget.List
	note    *widget.Label
	entries []notify.Entry

	prefs *prefsDialog // the open settings dialog, for tests
}

func newNotificationsPage(u *UI) *notificationsPage {
	p := &notificationsPage{ui: u, note: widget.NewLabel("")}
	p.list = widget.NewList(func() int { return len(p.entries) },
		func() fyne.CanvasObject {
			del := &widget.Button{Icon: theme.DeleteIcon(), Importance: widget.LowImportance}
			return container.NewBorder(nil, nil, widget.NewIcon(theme.InfoIcon()),
				container.NewHBox(widget.NewLabel("2006-01-02 15:04"), del),
				&widget.Label{Wrapping: fyne.TextWrapWord})
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			e := p.entries[i]
			c := o.(*fyne.Container)
			text := c.Objects[0].(*widget.Label)
			text.TextStyle.Bold = !e.Read
			text.SetText(e.Text)
			icon := theme.InfoIcon()
			switch e.Severity {
			case notify.Warning:
				icon = theme.WarningIcon()
			case notify.Error:
				icon = theme.ErrorIcon()
			}
			c.Objects[1].(*widget.Icon).SetResource(icon)
			right := c.Objects[2].(*fyne.Container)
			right.Objects[0].(*widget.Label).SetText(e.Time.Local().Format("2006-01-02 15:04"))
			right.Objects[1].(*widget.Button).OnTapped = func() { p.delete(e.ID) }
			p.list.SetItemHeight(i, o.MinSize().Height)
		})
	p.list.OnSelected = func(i widget.ListItemID) {
		p.list.UnselectAll()
		if i < len(p.entries) {
			p.open(p.entries[i])
		}
	}
	readAll := &widget.Button{Text: "Mark all read", Icon: theme.ConfirmIcon(), OnTapped: func() { p.markRead("") }}
	settings := &widget.Button{Text: "Settings…", Icon: theme.SettingsIcon(), OnTapped: p.showSettings}
	head := container.NewVBox(
		&widget.Label{Text: "Notifications", TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameHeadingText},
		container.NewHBox(p.note, layout.NewSpacer(), readAll, settings))
	p.obj = container.NewBorder(head, nil, nil, nil, p.list)
	return p
}

func (p *notificationsPage) content() fyne.CanvasObject { return container.NewPadded(p.obj) }

func (p *notificationsPage) shown() {
	svc := p.ui.svc.Notifications
	if svc == nil {
		p.note.SetText("Notifications are not available in this window.")
		return
	}
	actor := p.ui.actor
	var list []notify.Entry
	p.ui.background(func(ctx context.Context) (err error) {
		list, err = svc.List(ctx, actor, false)
		return err
	}, func(err error) {
		if err != nil {
			p.note.SetText(sentence(err))
			return
		}
		p.entries = list
		unread := 0
		for _, e := range list {
			if !e.Read {
				unread++
			}
		}
		p.note.SetText(plural(len(list), "notification") + ", " + plural(unread, "unread") + ". Click one to open what it is about.")
		p.note.SetText(strings.Replace(p.note.Text, "unreads", "unread", 1))
		p.list.Refresh()
	})
}

// open marks an entry read and shows its target panel.
func (p *notificationsPage) open(e notify.Entry) {
	p.ui.ShowTarget(e.Target)
	if !e.Read {
		p.markRead(e.ID)
	}
}

func (p *notificationsPage) markRead(id string) {
	actor := p.ui.actor
	p.ui.background(func(ctx context.Context) error {
		return p.ui.svc.Notifications.MarkRead(ctx, actor, id)
	}, func(err error) {
		if err != nil {
			p.ui.showError(err)
		}
		p.ui.refreshBell()
		if p.ui.current == PageNotifications {
			p.shown()
		}
	})
}

func (p *notificationsPage) delete(id string) {
	actor := p.ui.actor
	p.ui.background(func(ctx context.Context) error {
		return p.ui.svc.Notifications.Delete(ctx, actor, id)
	}, func(err error) {
		if err != nil {
			p.ui.showError(err)
		}
		p.ui.refreshBell()
		p.shown()
	})
}
