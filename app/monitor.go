package app

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/dustin/go-humanize"

	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/storage"
)

// Low disk space: under 10% or under 5 GB free.
var (
	lowDiskFraction        = 0.10
	lowDiskBytes    uint64 = 5 << 30
)

var diskState = storage.NewCollection[bool]("disklow")

// checkDiskSpace looks at the disks of both stores and of the backup
// target and tells the Server Administrators, once per episode, when one
// runs low.
func (a *App) checkDiskSpace(ctx context.Context) error {
	places := map[string]string{
		a.Manager.Dir():    "the Manager store",
		a.FileServer.Dir(): "the File Server store",
		a.Backups.Target(): "the backup target",
	}
	for dir, what := range places {
		total, free, err := storage.Space(existing(dir))
		if err != nil {
			a.Log.Warn("disk space", "dir", dir, "err", err)
			continue
		}
		low := total > 0 && (float64(free) < lowDiskFraction*float64(total) || free < lowDiskBytes)
		key := strings.ReplaceAll(dir, "/", "|")
		var was bool
		_ = a.Manager.View(func(tx *storage.Tx) error { was, _ = diskState.Get(tx, key); return nil })
		if low == was {
			continue
		}
		_ = a.Manager.Update(func(tx *storage.Tx) error { return diskState.Put(tx, key, low) })
		if !low {
			continue
		}
		_ = a.Notify.Publish(ctx, notify.Event{Kind: notify.LowDiskSpace, Severity: notify.Warning, Target: notify.TargetFileServerSettings,
			Text: fmt.Sprintf("Low disk space for %s: %s free of %s (%s). Free some space or move it to a bigger disk before it fills up.",
				what, humanize.IBytes(free), humanize.IBytes(total), dir)})
	}
	return nil
}

// existing walks up from dir to the nearest folder that exists.
func existing(dir string) string {
	for {
		if _, _, err := storage.Space(dir); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}
