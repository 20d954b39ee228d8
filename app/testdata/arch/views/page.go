package views

import (
	"fyne.io/fyne/v2"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/core/account"
)
