package views

import (
	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/storage"
	"fyne.io/fyne/v2"
)
