//go:build unix

package app

import (
	"os"

	"codeberg.org/plinth/plinth/app/datadir"
)

// lockDir locks the data folder itself with flock (datadir.LockDir, the
// lock a move of the folder takes too). ok is false when another process
// holds it.
func lockDir(dataDir string) (*os.File, bool, error) { return datadir.LockDir(dataDir) }
