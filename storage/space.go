package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dustin/go-humanize"
)

// Reserve is the free space Plinth leaves on a disk that holds a store,
// beyond what a piece of work needs: Badger writes its memtables, tables
// and value-log files through memory maps, and a write through a map onto
// a full disk kills the process (SIGBUS) instead of returning an error. It
// covers two memtables, a value-log file and a round of compaction.
const Reserve = 256 << 20

// ErrNoSpace means a piece of work was refused before it started because
// the disk it would grow has too little free space.
var ErrNoSpace = errors.New("not enough free disk space")

type spaceError struct {
	dir        string
	free, need uint64
	doing      string
}

func (e *spaceError) Error() string {
	if e.need == 0 {
		return fmt.Sprintf("the disk holding %s has %s free; %s needs at least %s free for Plinth's stores; free some space and try again",
			e.dir, humanize.IBytes(e.free), e.doing, humanize.IBytes(Reserve))
	}
	return fmt.Sprintf("the disk holding %s has %s free; %s needs about %s (with %s kept free for Plinth's stores)",
		e.dir, humanize.IBytes(e.free), e.doing, humanize.IBytes(e.need), humanize.IBytes(Reserve))
}

func (e *spaceError) Unwrap() []error { return []error{ErrNoSpace, ErrDiskFull} }

// readOnlyError is why a store was opened read-only: its disk was below
// Reserve. Every change is refused with it.
type readOnlyError struct {
	dir  string
	free uint64
}

func (e *readOnlyError) Error() string {
	return fmt.Sprintf("the disk holding %s has %s free, less than the %s Plinth keeps free for its stores, so Plinth opened its data read-only; free some space and try again",
		e.dir, humanize.IBytes(e.free), humanize.IBytes(Reserve))
}

func (e *readOnlyError) Unwrap() []error { return []error{ErrReadOnly, ErrNoSpace, ErrDiskFull} }

// belowReserve returns a *readOnlyError when the disk holding dir has
// less than Reserve free, nil otherwise (also when it cannot tell).
func belowReserve(dir string) error {
	_, free, err := Space(dir)
	if err != nil || free >= Reserve {
		return nil
	}
	return &readOnlyError{dir: dir, free: free}
}

// NeedSpace refuses, with one sentence, work that would write about need
// bytes onto the disk holding dir when that disk has less than need plus
// Reserve free. doing names the work for the sentence ("importing",
// "the full backup"); a need of 0 asks for Reserve alone. dir need not exist yet: the nearest folder above it
// that does is measured. When the free space cannot be read, the work is
// allowed (the write itself will say what went wrong).
func NeedSpace(dir string, need int64, doing string) error {
	probe := dir
	for {
		if _, err := os.Stat(probe); err == nil {
			break
		}
		up := filepath.Dir(probe)
		if up == probe {
			return nil
		}
		probe = up
	}
	_, free, err := Space(probe)
	if err != nil {
		return nil
	}
	want := uint64(max(need, 0)) + Reserve
	if free < want {
		return &spaceError{dir: dir, free: free, need: uint64(max(need, 0)), doing: doing}
	}
	return nil
}
