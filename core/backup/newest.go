package backup

import (
	"codeberg.org/plinth/plinth/storage/fsys"
)

// Newest returns the newest level-2 backup found in any of the target
// folders dirs, preferring backups of the Plinth whose Manager identity is
// plinth (when given). It reads only the backup folders, never a store:
// it names the backup to restore when a store cannot be opened.
func Newest(dirs []string, plinth string) (Manifest, bool) {
	var best, bestOurs Manifest
	seen := map[string]bool{}
	for _, d := range dirs {
		if d == "" || seen[d] {
			continue
		}
		seen[d] = true
		all, _ := list(fsys.OS, d)
		for _, m := range all {
			if m.Level != 2 {
				continue
			}
			if best.ID == "" || m.Created.After(best.Created) {
				best = m
			}
			if plinth != "" && m.Plinth == plinth && (bestOurs.ID == "" || m.Created.After(bestOurs.Created)) {
				bestOurs = m
			}
		}
	}
	if bestOurs.ID != "" {
		return bestOurs, true
	}
	return best, best.ID != ""
}
