package app

import (
	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/views"
)
