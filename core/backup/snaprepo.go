package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// repoFormatName records the format of a snapshot target (a level-1
// repository): the layout of its items, snapshots and chunks. Targets
// written before formats were recorded have none and are of format 1,
// whose layout format 2 kept. Format 3 adds packs (snappack.go): chunks
// a snapshot adds go into packs, while the loose chunks of formats 1 and 2
// stay where they are and readable, so the first snapshot taken into an
// older target records 3 and writes packs from then on.
const repoFormatName = "format.json"

type repoFormat struct {
	Format    int    `json:"format"`
	Kind      string `json:"kind"`
	WrittenBy string `json:"writtenBy,omitempty"`
}

const repoKind = "plinth snapshots"

// checkSnapshotRepo refuses a snapshot target of a newer format than this
// Plinth reads (ErrNewerBackup) or whose format file is damaged; with
// write, which only a holder of the target's lock may ask for, it records
// this Plinth's format in a target of an older one.
func (s *Service) checkSnapshotRepo(target string, write bool) error {
	path := filepath.Join(target, repoFormatName)
	var f repoFormat
	b, err := fsys.ReadFileLimit(s.fs, path, 64<<10)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f.Format = 1
	case err != nil:
		return fmt.Errorf("read the snapshot target's format %s: %w", path, err)
	default:
		if err := json.Unmarshal(b, &f); err != nil || f.Format < 1 || f.Kind != repoKind {
			return refusal(ErrDamaged, "the snapshot target %s is damaged: its %s cannot be read", target, repoFormatName)
		}
	}
	if f.Format > upgrade.SnapshotRepo {
		return newerBackup("the snapshot folder "+target, "snapshot repository format", f.Format, upgrade.SnapshotRepo, f.WrittenBy)
	}
	if !write || f.Format == upgrade.SnapshotRepo {
		return nil
	}
	out, _ := json.MarshalIndent(repoFormat{Format: upgrade.SnapshotRepo, Kind: repoKind, WrittenBy: s.Version}, "", "  ")
	if err := fsys.WriteFile(s.fs, path, append(out, '\n'), fsys.Options{}); err != nil {
		return fmt.Errorf("record the snapshot target's format: %w", err)
	}
	return nil
}
