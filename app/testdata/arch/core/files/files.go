package files

import (
	"fyne.io/fyne/v2/widget"
	"codeberg.org/plinth/plinth/views"
	"codeberg.org/plinth/plinth/storage"
)
