package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// journal records a restore's swap while it happens, so that a crash
// between the renames is finished on the next start: the live data is
// always either the old state or the restored one, never a mix and never
// missing.
type journal struct {
	// Format is the journal's own format (upgrade.Control); a journal of
	// a newer one is not carried out.
	Format int                   `json:"format"`
	Safety string                `json:"safety"`
	Swaps  map[storage.Kind]swap `json:"swaps"`
}

type swap struct {
	Live       string `json:"live"`
	Staged     string `json:"staged"`
	Generation uint64 `json:"generation"`
}

const journalName = "restore-journal.json"

func (j journal) write(fs fsys.FS, dataDir string) error {
	j.Format = upgrade.Control
	b, _ := json.MarshalIndent(j, "", "  ")
	return fsys.WriteFile(fs, filepath.Join(dataDir, journalName), b, fsys.Options{})
}

func removeJournal(dataDir string) { _ = os.Remove(filepath.Join(dataDir, journalName)) }

// RecoverRestore finishes a restore that was cut off between its renames,
// and removes restore leftovers. Run it before the stores open. It returns
// a sentence when it finished a restore, for the log.
func RecoverRestore(dataDir string) (string, error) {
	defer cleanStaged(dataDir)
	raw, err := os.ReadFile(filepath.Join(dataDir, journalName))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var j journal
	if err := json.Unmarshal(raw, &j); err != nil {
		return "", fmt.Errorf("the journal of an interrupted restore cannot be read: %w", err)
	}
	if j.Format > upgrade.Control {
		return "", newerBackup("the journal of an interrupted restore ("+filepath.Join(dataDir, journalName)+")", "control file format", j.Format, upgrade.Control, "")
	}
	done := 0
	for k, sw := range j.Swaps {
		_, liveErr := os.Stat(sw.Live)
		_, stagedErr := os.Stat(sw.Staged)
		switch {
		case liveErr == nil && stagedErr != nil:
			// swapped already
		case errors.Is(liveErr, os.ErrNotExist) && stagedErr == nil:
			// The live data went to the safety copy; the verified restore
			// goes in.
			if err := os.Rename(sw.Staged, sw.Live); err != nil {
				return "", fmt.Errorf("finish the interrupted restore of the %s: %w", storeName(k), err)
			}
			done++
		case liveErr == nil && stagedErr == nil:
			// Not swapped yet: swap now, as the restore would have.
			safe := filepath.Join(j.Safety, string(k))
			if err := os.MkdirAll(j.Safety, 0o700); err != nil {
				return "", err
			}
			if err := os.Rename(sw.Live, safe); err != nil {
				return "", fmt.Errorf("finish the interrupted restore of the %s: %w", storeName(k), err)
			}
			if err := os.Rename(sw.Staged, sw.Live); err != nil {
				_ = os.Rename(safe, sw.Live)
				return "", fmt.Errorf("finish the interrupted restore of the %s: %w", storeName(k), err)
			}
			done++
		default:
			// Neither: put the safety copy back rather than start empty.
			safe := filepath.Join(j.Safety, string(k))
			if _, err := os.Stat(safe); err != nil {
				// Never open an empty store in its place.
				return "", fmt.Errorf("the %s is missing from %s, and neither the restored copy nor the safety copy of the interrupted restore is there; restore the %s from a backup",
					storeName(k), sw.Live, storeName(k))
			}
			if err := os.Rename(safe, sw.Live); err != nil {
				return "", fmt.Errorf("put the %s back from its safety copy: %w", storeName(k), err)
			}
		}
		st, err := storage.Open(sw.Live, k, storage.Options{})
		if err != nil {
			return "", err
		}
		if st.Identity().Generation < sw.Generation {
			_, err = st.SetGeneration(sw.Generation)
		}
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", err
		}
	}
	if err := fsys.OS.SyncDir(dataDir); err != nil {
		return "", fmt.Errorf("finish the interrupted restore: %w", err)
	}
	removeJournal(dataDir)
	if done == 0 {
		return "", nil
	}
	return fmt.Sprintf("finished a restore that was interrupted; the replaced data is in %s", j.Safety), nil
}

// cleanStaged removes folders of restores that never reached their swap.
func cleanStaged(dataDir string) {
	ents, _ := os.ReadDir(dataDir)
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".restoring-") {
			if _, err := os.Stat(filepath.Join(dataDir, journalName)); err == nil {
				return // a journal still needs them
			}
			_ = os.RemoveAll(filepath.Join(dataDir, e.Name()))
		}
	}
}
