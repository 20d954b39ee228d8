package app

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// targetsName is a small control file beside the stores that records where
// the full backups go. The setting itself lives in the Manager store; when
// that store is damaged, this file still says where to look for the backup
// to restore it from.
const targetsName = upgrade.TargetsName

// maxTargets is how many targets the file remembers, the current one
// first: backups in an earlier target are still backups.
const maxTargets = 8

type targetsFile struct {
	// Format is the file's format (upgrade.Control); one of a newer
	// format is not read: it is only advice.
	Format int `json:"format"`
	// Plinth is the identity of the Manager store: backups of this Plinth
	// come before backups of another one found in the same folders.
	Plinth string   `json:"plinth"`
	Level2 []string `json:"level2"`
}

func readTargets(dataDir string) targetsFile {
	var t targetsFile
	if b, err := fsys.ReadFileLimit(fsys.OS, filepath.Join(dataDir, targetsName), 64<<10); err == nil {
		_ = json.Unmarshal(b, &t)
	}
	if t.Format > upgrade.Control {
		return targetsFile{}
	}
	return t
}

// rememberTargets writes the control file when what it says changed. It
// runs whenever the stores opened healthy and the settings may have
// changed; a failure is logged, never fatal.
func (a *App) rememberTargets() {
	if a.Backups == nil || a.Manager == nil || a.ReadOnly() != nil {
		return
	}
	cfg, err := a.Backups.Level2()
	if err != nil {
		a.Log.Warn("remember the backup targets", "err", err)
		return
	}
	old := readTargets(a.DataDir)
	next := targetsFile{Format: upgrade.Control, Plinth: a.Manager.Identity().ID, Level2: []string{cfg.Target}}
	for _, d := range old.Level2 {
		if len(next.Level2) < maxTargets && !slices.Contains(next.Level2, d) {
			next.Level2 = append(next.Level2, d)
		}
	}
	if next.Format == old.Format && next.Plinth == old.Plinth && slices.Equal(next.Level2, old.Level2) {
		return
	}
	b, _ := json.MarshalIndent(next, "", "  ")
	if err := fsys.WriteFile(fsys.OS, filepath.Join(a.DataDir, targetsName), b, fsys.Options{}); err != nil {
		a.Log.Warn("remember the backup targets", "err", err)
	}
}

// restoreAdvice says what to do about a damaged store (the Advice of a
// *storage.DamageError): restore it from a
// backup, and which one is the newest, found without the Manager store in
// the targets the control file remembers and in the default target.
func restoreAdvice(dataDir string) string {
	t := readTargets(dataDir)
	dirs := append(t.Level2, filepath.Join(dataDir, "backups", "full"))
	m, ok := backup.Newest(dirs, t.Plinth)
	if !ok {
		var seen []string
		for _, d := range dirs {
			if !slices.Contains(seen, d) {
				seen = append(seen, d)
			}
		}
		return fmt.Sprintf("restore it from a backup (Plinth found none in %s)", strings.Join(seen, ", "))
	}
	return fmt.Sprintf("restore it from a backup: the newest is %s, taken %s, in %s",
		m.ID, m.Created.Local().Format("2006-01-02 15:04"), filepath.Dir(m.Path))
}
