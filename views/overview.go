package views

import (
	"context"
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/health"
)

// PageOverview is the first page after login: is the data safe?
const PageOverview = "overview"

// overviewPage answers "is my data safe?": the state (Safe, Needs
// attention, At risk) on its colour, each reason in one sentence with
// the button that opens the panel that fixes it, and the last events. It
// is the core's health report, the same one the tray and plinth status
// show.
type overviewPage struct {
	ui *UI

	obj     fyne.CanvasObject
	band    *canvas.Rectangle
	state   *widget.Label
	summary *widget.Label
	reasons *fyne.Container
	events  *fyne.Container
	checked *widget.Label

	report health.Report
	stop   chan struct{} // ends the refresh while the page is left
}

func newOverviewPage(u *UI) *overviewPage {
	p := &overviewPage{ui: u,
		band:    canvas.NewRectangle(color.Transparent),
		state:   &widget.Label{Text: "Checking…", TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameHeadingText},
		summary: &widget.Label{Wrapping: fyne.TextWrapWord},
		reasons: container.NewVBox(),
		events:  container.NewVBox(),
		checked: &widget.Label{},
	}
	p.band.CornerRadius = theme.InputRadiusSize()
	head := container.NewStack(p.band, container.NewPadded(container.NewVBox(p.state, p.summary)))
	again := &widget.Button{Text: "Check again", Icon: theme.ViewRefreshIcon(), OnTapped: p.shown}
	body := container.NewVBox(
		container.NewBorder(nil, nil, nil, container.NewHBox(p.checked, again),
			&widget.Label{Text: "Is the data safe?", TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameHeadingText}),
		head,
		p.reasons,
		widget.NewSeparator(),
		&widget.Label{Text: "Recent events", TextStyle: fyne.TextStyle{Bold: true}},
		p.events,
	)
	p.obj = container.NewVScroll(body)
	return p
}

func (p *overviewPage) content() fyne.CanvasObject { return container.NewPadded(p.obj) }

// shown checks again; while the page is current it checks every minute.
func (p *overviewPage) shown() {
	if p.ui.svc.Health == nil {
		p.state.SetText("The health report is not available in this window.")
		return
	}
	get := p.ui.svc.Health
	var r health.Report
	p.ui.background(func(ctx context.Context) (err error) {
		r, err = get(ctx)
		return err
	}, func(err error) {
		if err != nil {
			p.show(health.Report{State: health.AtRisk, Checked: time.Now(),
				Reasons: []health.Reason{{Code: "health.unreadable", State: health.AtRisk, Sentence: sentence(err)}}})
			return
		}
		p.show(r)
	})
	p.keepFresh()
}

// keepFresh checks again every minute while the overview is the page shown.
func (p *overviewPage) keepFresh() {
	if p.stop != nil || p.ui.queued != nil {
		return // already ticking; tests check by hand
	}
	stop := make(chan struct{})
	p.stop = stop
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				p.ui.do(func() {
					if p.ui.current != PageOverview {
						close(stop)
						p.stop = nil
						return
					}
					p.shown()
				})
			}
		}
	}()
}

// show puts a report on the page.
func (p *overviewPage) show(r health.Report) {
	p.report = r
	p.state.SetText(r.State.Label())
	p.band.FillColor = stateColour(r.State)
	p.band.Refresh()
	p.summary.SetText(r.Summary)
	p.summary.Hidden = r.Summary == ""
	p.reasons.Objects = nil
	for _, reason := range r.Reasons {
		icon := theme.WarningIcon()
		if reason.State == health.AtRisk {
			icon = theme.ErrorIcon()
		}
		text := &widget.Label{Text: reason.Sentence, Wrapping: fyne.TextWrapWord}
		var button fyne.CanvasObject = layout.NewSpacer()
		if reason.Page != "" {
			label := reason.Action
			if label == "" {
				label = "Open"
			}
			target := reason.Page
			button = &widget.Button{Text: label, OnTapped: func() { p.ui.ShowTarget(target) }}
		}
		p.reasons.Add(container.NewBorder(nil, nil, widget.NewIcon(icon), button, text))
	}
	p.reasons.Refresh()
	p.events.Objects = nil
	for _, e := range r.Running {
		p.events.Add(eventRow(e, theme.MediaPlayIcon()))
	}
	for _, e := range r.Events {
		icon := theme.ConfirmIcon()
		if !e.OK {
			icon = theme.ErrorIcon()
		}
		p.events.Add(eventRow(e, icon))
	}
	if len(p.events.Objects) == 0 {
		p.events.Add(&widget.Label{Text: "Nothing has happened yet.", Importance: widget.LowImportance})
	}
	p.events.Refresh()
	p.checked.SetText("Checked " + r.Checked.Local().Format("15:04:05") + ".")
}

func eventRow(e health.Event, icon fyne.Resource) fyne.CanvasObject {
	when := &widget.Label{Text: e.At.Local().Format("Mon 2 Jan 15:04")}
	return container.NewBorder(nil, nil, container.NewHBox(widget.NewIcon(icon), when), nil,
		&widget.Label{Text: e.Sentence, Wrapping: fyne.TextWrapWord})
}

// stateColour is the band behind the state: green, amber or red, light
// enough for the theme's text colour on it in both themes.
func stateColour(s health.State) color.Color {
	switch s {
	case health.Safe:
		return color.NRGBA{R: 0x2e, G: 0x9e, B: 0x4f, A: 0x60}
	case health.Attention:
		return color.NRGBA{R: 0xf0, G: 0xa0, B: 0x00, A: 0x70}
	}
	return color.NRGBA{R: 0xd0, G: 0x30, B: 0x30, A: 0x70}
}
