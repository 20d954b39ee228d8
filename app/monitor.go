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

// lowDisk is the rule: the disk space notices and the health report use it.
func lowDisk(total, free uint64) bool {
	return total > 0 && (float64(free) < lowDiskFraction*float64(total) || free < lowDiskBytes)
}

var diskState = storage.NewCollection[bool]("disklow")

// checkDiskSpace looks at the disks of both stores and of the backup
// target and tells the Server Administrators, once per episode, when one
// runs low.
func (a *App) checkDiskSpace(ctx context.Context) error {
	l1, l2, err := a.Backups.Targets()
	if err != nil {
		return err
	}
	places := []struct{ dir, what string }{
		{a.Manager.Dir(), "the Manager store"},
		{a.FileServer.Dir(), "the File Server store"},
		{l2, "the full backup target"},
		{l1, "the snapshot target"},
	}
	// One notice per disk, naming everything Plinth keeps on it.
	type disk struct {
		dir         string
		whats       []string
		total, free uint64
	}
	var disks []*disk
	byID := map[string]*disk{}
	for _, p := range places {
		dir := existing(p.dir)
		id := storage.DiskID(dir)
		d, ok := byID[id]
		if !ok {
			total, free, err := storage.Space(dir)
			if err != nil {
				a.Log.Warn("disk space", "dir", dir, "err", err)
				continue
			}
			d = &disk{dir: dir, total: total, free: free}
			byID[id] = d
			disks = append(disks, d)
		}
		d.whats = append(d.whats, p.what)
	}
	for _, d := range disks {
		low := lowDisk(d.total, d.free)
		key := strings.ReplaceAll(d.dir, "/", "|")
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
			Text: fmt.Sprintf("Low disk space on the disk holding %s: %s free of %s. Free some space or move them to a bigger disk before it fills up.",
				joinWords(d.whats), humanize.IBytes(d.free), humanize.IBytes(d.total))})
	}
	return nil
}

func joinWords(ws []string) string {
	if len(ws) <= 1 {
		return strings.Join(ws, "")
	}
	return strings.Join(ws[:len(ws)-1], ", ") + " and " + ws[len(ws)-1]
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
