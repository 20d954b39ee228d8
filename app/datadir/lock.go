package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
)

// lockName is the lock file in a data folder (package app writes it, and
// older Plinths lock only it).
const lockName = "plinth.lock"

// openBlocksRename: on Windows a folder with an open file in it cannot be
// renamed or removed, so the lock file is let go just before.
const openBlocksRename = isWindows

// oldLock holds the old data folder the way a running Plinth does (see
// package app's folderLock): the folder itself on Unix, and plinth.lock
// when there is one, so that neither a Plinth of today nor an older one
// can be running on it while it moves.
type oldLock struct {
	dir  *os.File     // the locked folder (Unix); nil on Windows
	file *flock.Flock // plinth.lock; nil when there is none
}

// lockOld takes the old data folder. ok is false when another Plinth
// holds it; gone is true when the folder is no longer there.
func lockOld(dir string) (l *oldLock, ok, gone bool, err error) {
	l = &oldLock{}
	l.dir, ok, err = lockDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, true, nil
	}
	if err != nil || !ok {
		return nil, ok, false, err
	}
	// Only an existing lock file can be held by another Plinth; creating
	// one here would only leave a file behind.
	path := filepath.Join(dir, lockName)
	if _, err := os.Lstat(path); err == nil {
		l.file = flock.New(path, flock.SetFlag(os.O_RDWR))
		held, err := l.file.TryLock()
		if err != nil || !held {
			l.file = nil
			l.release()
			if err != nil {
				return nil, false, false, fmt.Errorf("lock data folder %s: %w", dir, err)
			}
			return nil, false, false, nil
		}
	}
	return l, true, false, nil
}

// release lets the folder go; it may be called more than once.
func (l *oldLock) release() {
	if l.file != nil {
		_ = l.file.Close() // unlocks
		l.file = nil
	}
	if l.dir != nil {
		_ = l.dir.Close() // closing the folder releases its lock
		l.dir = nil
	}
}
