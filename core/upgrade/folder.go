package upgrade

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"codeberg.org/plinth/plinth/storage/fsys"
)

// Files in the data folder.
const (
	// FolderFileName records the data folder's format and the upgrades it
	// went through. It is read before anything else in the folder,
	// without the lock, so that a newer folder is refused untouched.
	FolderFileName = "format.json"
	// JournalName records an upgrade under way; the next start finishes
	// it.
	JournalName = "upgrade-journal.json"
)

// maxControl bounds what is read of a control file: anything larger is
// not Plinth's.
const maxControl = 1 << 20

// FolderFile is what format.json holds.
type FolderFile struct {
	Format int `json:"format"`
	// WrittenBy is the version of the Plinth that created the folder or
	// last upgraded it.
	WrittenBy string    `json:"writtenBy"`
	Upgrades  []Upgrade `json:"upgrades,omitempty"`
}

// Upgrade is one upgrade of a data folder, as format.json and History
// keep it.
type Upgrade struct {
	From int       `json:"from"`
	To   int       `json:"to"`
	By   string    `json:"by"` // the Plinth version that ran it
	At   time.Time `json:"at"`
	// Backup is the full backup taken just before; empty when the folder
	// held nothing to back up.
	Backup Backup   `json:"backup,omitzero"`
	Steps  []string `json:"steps,omitempty"`
}

// Backup names a full backup.
type Backup struct {
	ID      string    `json:"id"`
	Dir     string    `json:"dir"` // the target folder it lies in
	Created time.Time `json:"created"`
}

// Journal records an upgrade under way: written once the backup before it
// is taken, before the first change, and removed once format.json says
// the new format.
type Journal struct {
	Format  int       `json:"format"` // of the journal itself (Control)
	From    int       `json:"from"`
	To      int       `json:"to"`
	By      string    `json:"by"`
	Started time.Time `json:"started"`
	Backup  Backup    `json:"backup,omitzero"`
	Done    []string  `json:"done,omitempty"`
}

// State is what a data folder says about its format, read without
// changing anything.
type State struct {
	// Folder is the data folder's format: 0 when the folder holds no
	// store yet, 1 when its stores were written before formats were
	// recorded.
	Folder  int
	File    FolderFile // zero when there is no format.json
	Journal *Journal   // an upgrade that did not finish
}

// Read reads the data folder's format.json and upgrade journal.
// hasStores says whether a store folder exists: without format.json such
// a folder is of format 1. A control file that cannot be read is an
// error, never taken for an old or a new folder.
func Read(fs fsys.FS, dir string, hasStores bool) (State, error) {
	var st State
	path := filepath.Join(dir, FolderFileName)
	b, err := readRaw(fs, path)
	if err != nil {
		return st, err
	}
	// A newer Plinth may shape the rest of the file otherwise: its format
	// is read first, alone.
	var head struct {
		Format    int    `json:"format"`
		WrittenBy string `json:"writtenBy"`
	}
	switch {
	case b == nil && hasStores:
		st.Folder = 1
	case b == nil:
	case json.Unmarshal(b, &head) != nil || head.Format < 1:
		return st, fmt.Errorf("the data folder's %s is damaged, so Plinth cannot tell which format its data is in; move the file away and start Plinth again to read the formats from the stores", path)
	case head.Format > Data:
		st.Folder, st.File = head.Format, FolderFile{Format: head.Format, WrittenBy: head.WrittenBy}
		// The upgrades are read if they can be: they name the backup to
		// go back to.
		var f FolderFile
		if json.Unmarshal(b, &f) == nil {
			st.File = f
		}
	default:
		if err := json.Unmarshal(b, &st.File); err != nil {
			return st, fmt.Errorf("the data folder's %s is damaged (%v); move the file away and start Plinth again to read the formats from the stores", path, err)
		}
		st.Folder = st.File.Format
	}
	jpath := filepath.Join(dir, JournalName)
	if b, err = readRaw(fs, jpath); err != nil || b == nil {
		return st, err
	}
	var jh struct {
		From, To int
		By       string
	}
	if json.Unmarshal(b, &jh) != nil {
		return st, fmt.Errorf("the journal of an upgrade that was cut short (%s) is damaged, so Plinth cannot tell how far it got; restore the backup taken before the upgrade", jpath)
	}
	if jh.To > Data {
		st.Journal = &Journal{From: jh.From, To: jh.To, By: jh.By}
		return st, nil
	}
	var j Journal
	if err := json.Unmarshal(b, &j); err != nil {
		return st, fmt.Errorf("the journal of an upgrade that was cut short (%s) is damaged, so Plinth cannot tell how far it got; restore the backup taken before the upgrade", jpath)
	}
	st.Journal = &j
	return st, nil
}

// readRaw reads a control file; nil when there is none.
func readRaw(fsy fsys.FS, path string) ([]byte, error) {
	b, err := fsys.ReadFileLimit(fsy, path, maxControl)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// readControl reads a JSON control file into v; false when there is none.
func readControl(fsy fsys.FS, path string, v any) (bool, error) {
	b, err := readRaw(fsy, path)
	if err != nil || b == nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s is damaged (%v)", path, err)
	}
	return true, nil
}

func writeControl(fsy fsys.FS, path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return fsys.WriteFile(fsy, path, append(b, '\n'), fsys.Options{})
}

// Newer returns a *NewerError when the folder, or an upgrade under way in
// it, is of a newer format than this Plinth reads; this is the version
// of this Plinth, for the sentence.
func (st State) Newer(this string) error {
	n := st.Folder
	if st.Journal != nil && st.Journal.To > n {
		n = st.Journal.To
	}
	if n <= Data {
		return nil
	}
	e := &NewerError{Format: n, WrittenBy: st.File.WrittenBy, This: this}
	if st.Journal != nil && st.Journal.To == n {
		e.WrittenBy = st.Journal.By
		e.Before = &Upgrade{From: st.Journal.From, To: st.Journal.To, By: st.Journal.By, At: st.Journal.Started, Backup: st.Journal.Backup}
	}
	// The backup to go back to is the one taken before the first upgrade
	// past what this Plinth reads.
	for i := range st.File.Upgrades {
		u := st.File.Upgrades[i]
		if u.From <= Data && u.To > Data {
			e.Before = &u
			break
		}
	}
	return e
}

// NewerError is data of a newer format than this Plinth reads. Nothing of
// it was opened or changed.
type NewerError struct {
	Format    int    // the data's format
	WrittenBy string // the Plinth version that wrote it, when known
	This      string // this Plinth's version
	// Before is the upgrade that took the data past what this Plinth
	// reads, with the backup taken before it, when known.
	Before *Upgrade
}

func (e *NewerError) Error() string {
	by := "a newer Plinth"
	if e.WrittenBy != "" && e.WrittenBy != e.This {
		by = "Plinth " + e.WrittenBy
	}
	msg := fmt.Sprintf("this data was written by %s (data format %d); this is Plinth %s, which reads data formats up to %d — install ", by, e.Format, e.This, Data)
	if by == "a newer Plinth" {
		msg += "a newer Plinth"
	} else {
		msg += "Plinth " + e.WrittenBy + " or newer"
	}
	if e.Before != nil && e.Before.Backup.ID != "" {
		msg += fmt.Sprintf(", or restore the backup taken before the upgrade on %s ('plinth restore %s --scope all')",
			e.Before.Backup.Created.Local().Format("2 January 2006 at 15:04"), e.Before.Backup.ID)
	}
	return msg
}

// Is lets errors.Is(err, ErrNewer) find a NewerError.
func (e *NewerError) Is(target error) bool { return target == ErrNewer }

// ErrNewer is data of a newer format than this Plinth reads.
var ErrNewer = errors.New("data of a newer format")

// removeControl removes a control file; a missing one is no error.
func removeControl(fsy fsys.FS, path string) error {
	if err := fsy.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return fsy.SyncDir(filepath.Dir(path))
}
