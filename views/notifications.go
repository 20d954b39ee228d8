package views

import (
	"context"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/text"
)

// notificationsPage is the logged-in user's notification center: newest
// first, and a click opens the panel the entry is about.
type notificationsPage struct {
	ui      *UI
	obj     fyne.CanvasObject
	rows    *fyne.Container
	note    *widget.Label
	entries []notify.Entry

	prefs *prefsDialog // the open settings dialog, for tests

	// fresh holds the entries that were unread when this visit showed
	// them: they stay bold until the page is opened again.
	fresh map[string]bool
	visit int
}

func newNotificationsPage(u *UI) *notificationsPage {
	p := &notificationsPage{ui: u, note: &widget.Label{Wrapping: fyne.TextWrapWord}, rows: container.NewVBox()}
	readAll := &widget.Button{Text: "Mark all read", Icon: theme.ConfirmIcon(), OnTapped: func() { p.markRead("") }}
	settings := &widget.Button{Text: "Settings…", Icon: theme.SettingsIcon(), OnTapped: p.showSettings}
	head := container.NewVBox(
		&widget.Label{Text: "Notifications", TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameHeadingText},
		container.NewBorder(nil, nil, nil, container.NewHBox(readAll, settings), p.note))
	p.obj = container.NewBorder(head, nil, nil, nil, container.NewVScroll(p.rows))
	return p
}

// render rebuilds the rows; a center holds at most a few hundred entries.
func (p *notificationsPage) render() {
	p.rows.Objects = nil
	for _, e := range p.entries {
		icon := theme.InfoIcon()
		switch e.Severity {
		case notify.Warning:
			icon = theme.WarningIcon()
		case notify.Error:
			icon = theme.ErrorIcon()
		}
		del := &widget.Button{Icon: theme.DeleteIcon(), Importance: widget.LowImportance, OnTapped: func() { p.delete(e.ID) }}
		text := &widget.Label{Text: e.Text, Wrapping: fyne.TextWrapWord, TextStyle: fyne.TextStyle{Bold: !e.Read || p.fresh[e.ID]}}
		open := newTapArea(text, func() { p.open(e) })
		row := container.NewBorder(nil, nil, widget.NewIcon(icon),
			container.NewHBox(widget.NewLabel(e.Time.Local().Format("2006-01-02 15:04")), del), open)
		p.rows.Add(row)
		p.rows.Add(widget.NewSeparator())
	}
	p.rows.Refresh()
}

// tapArea makes any object clickable: a click on an entry opens its panel.
type tapArea struct {
	widget.BaseWidget
	content fyne.CanvasObject
	onTap   func()
}

func newTapArea(content fyne.CanvasObject, onTap func()) *tapArea {
	t := &tapArea{content: content, onTap: onTap}
	t.ExtendBaseWidget(t)
	return t
}

func (t *tapArea) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(t.content) }

// Tapped opens the entry.
func (t *tapArea) Tapped(*fyne.PointEvent) { t.onTap() }

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
		if p.visit != p.ui.visits {
			p.visit, p.fresh = p.ui.visits, map[string]bool{}
		}
		unread := 0
		for _, e := range list {
			if !e.Read || p.fresh[e.ID] {
				unread++
			}
		}
		note := text.Count(len(list), "notification") + ", " + strconv.Itoa(unread) + " new"
		if unread > 0 {
			note += " (in bold; seen now, so the bell no longer counts them)"
		}
		p.note.SetText(note + ". Click one to open what it is about.")
		p.render()
		p.markSeen(list)
	})
}

// markSeen marks the entries just shown read: seeing the list is reading
// it. They stay bold until the page is shown again, so that what was new
// can still be told apart; the bell counts them no more.
func (p *notificationsPage) markSeen(list []notify.Entry) {
	var ids []string
	for _, e := range list {
		if !e.Read {
			ids = append(ids, e.ID)
			p.fresh[e.ID] = true
		}
	}
	if len(ids) == 0 {
		return
	}
	actor := p.ui.actor
	p.ui.background(func(ctx context.Context) error {
		for _, id := range ids {
			if err := p.ui.svc.Notifications.MarkRead(ctx, actor, id); err != nil {
				return err
			}
		}
		return nil
	}, func(err error) {
		if err != nil {
			p.ui.showError(err)
		}
		p.ui.refreshBell()
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
