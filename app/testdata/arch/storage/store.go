package storage

import "codeberg.org/plinth/plinth/core/account"
