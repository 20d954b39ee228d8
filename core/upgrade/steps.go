package upgrade

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"

	"codeberg.org/plinth/plinth/storage/fsys"
)

// TargetsName is the control file that lists where full backups go
// (written by package app); it is here because a step upgrades it.
const TargetsName = "backup-targets.json"

// stampTargets gives backup-targets.json, which format 1 wrote without
// one, its format. Running it again changes nothing.
func stampTargets(fsy fsys.FS, dir string) error {
	path := filepath.Join(dir, TargetsName)
	b, err := fsys.ReadFileLimit(fsy, path, maxControl)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil || m == nil {
		// Only advice (where to look for backups when the Manager store
		// is damaged): a damaged one is rewritten from the settings at
		// the next start. Leave it for that.
		return nil
	}
	if _, ok := m["format"]; ok {
		return nil
	}
	m["format"] = json.RawMessage("1")
	return writeControl(fsy, path, m)
}
