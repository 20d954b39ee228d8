package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gofrs/flock"
)

// lockName is the file beside the stores that says which process holds
// the data folder.
const lockName = "plinth.lock"

// folderLock holds a data folder for one Plinth process. A lock on a file
// alone is not enough: the file can be deleted while held, and a second
// Plinth would then lock a new file of the same name and clean up after a
// restore that is still running. So on Unix the folder itself is locked
// (lockDir), which cannot be deleted while it holds the stores; on
// Windows an open file cannot be deleted, so the lock file suffices.
type folderLock struct {
	dir  *os.File     // the locked data folder (Unix); nil on Windows
	file *flock.Flock // plinth.lock
}

// lockFolder takes the data folder for this process. ok is false when
// another Plinth holds it.
func lockFolder(dataDir string) (l *folderLock, ok bool, err error) {
	l = &folderLock{}
	if l.dir, ok, err = lockDir(dataDir); err != nil || !ok {
		return nil, ok, err
	}
	l.file = flock.New(filepath.Join(dataDir, lockName))
	held, err := l.file.TryLock()
	switch {
	case err != nil && l.dir != nil:
		// The folder lock holds already; the file is for older Plinths
		// and for people (it holds the process id). It may be unwritable
		// on a full disk.
		l.file = nil
	case err != nil:
		return nil, false, fmt.Errorf("lock data folder %s: %w", dataDir, err)
	case !held:
		l.release()
		return nil, false, nil
	default:
		_ = os.WriteFile(l.file.Path(), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
	}
	return l, true, nil
}

// release lets the data folder go.
func (l *folderLock) release() error {
	var err error
	if l.file != nil {
		err = l.file.Unlock()
	}
	if l.dir != nil {
		if cerr := l.dir.Close(); err == nil {
			err = cerr // closing the folder releases its lock
		}
	}
	return err
}

// holdFolder takes the data folder's lock, or says that another Plinth
// holds it (ErrAlreadyRunning).
func holdFolder(dir string) (*folderLock, error) {
	lock, ok, err := lockFolder(dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &runningError{dir}
	}
	return lock, nil
}
