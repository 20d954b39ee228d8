package files

import (
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/views"
	"fyne.io/fyne/v2/widget"
)
