package views

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// placeholder stands in for a page that a later release builds.
type placeholder struct {
	obj fyne.CanvasObject
}

func newPlaceholder(title, coming string) *placeholder {
	return &placeholder{obj: container.NewVBox(
		&widget.Label{Text: title, TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameHeadingText},
		&widget.Label{Text: "Coming soon. " + coming, Wrapping: fyne.TextWrapWord},
	)}
}

func (p *placeholder) content() fyne.CanvasObject { return container.NewPadded(p.obj) }
func (p *placeholder) shown()                     {}
