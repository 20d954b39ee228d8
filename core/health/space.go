package health

import (
	"context"

	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/storage"
)

// space: free space on the disks of the data and of the full backups, and
// whether the backups are on a disk of their own.
func (c *check) space(context.Context) {
	low := c.s.LowSpace
	if low == nil {
		low = DefaultLow
	}
	mgr, fsr := c.s.files.Stores()
	dataDisks := map[string]string{} // disk → a store folder on it
	for _, dir := range []string{mgr.Dir(), fsr.Dir()} {
		disk, err := c.s.diskOf(dir)
		if err != nil {
			c.unreadable("disk.unreadable", "which disk holds "+dir, PageServers, err)
			continue
		}
		if _, seen := dataDisks[disk]; seen {
			continue
		}
		dataDisks[disk] = dir
		total, free, err := c.s.space(dir)
		switch {
		case err != nil:
			c.unreadable("disk.unreadable", "the free space of the disk holding "+dir, PageServers, err)
		case free < storage.Reserve:
			c.add(Reason{Code: "disk.full", State: AtRisk, Page: PageServers, Action: "Open Servers",
				Sentence: "The disk holding the data (" + dir + ") has only " + size(free) + " free; below " + size(storage.Reserve) + " Plinth can no longer change anything. Free some space on it."})
		case low(total, free):
			c.add(Reason{Code: "disk.low", State: Attention, Page: PageServers, Action: "Open Servers",
				Sentence: "The disk holding the data (" + dir + ") is running low: " + size(free) + " free of " + size(total) + ". Free some space before it fills up."})
		}
	}
	if c.target == "" {
		return
	}
	c.sameDisk(c.target, dataDisks)
	where, ok := nearest(c.target)
	if !ok {
		return
	}
	total, free, err := c.s.space(where)
	if err != nil {
		c.unreadable("disk.unreadable", "the free space of the disk holding "+c.target, PageBackups, err)
		return
	}
	// The next full backup needs about as much as the last full one took;
	// retention removes old ones only after a new one succeeded.
	if need := lastFullBytes(c.mine); need > 0 && free < need {
		c.add(Reason{Code: "target.full", State: AtRisk, Page: PageBackups, Action: "Choose another target…",
			Sentence: "The disk holding the full backups (" + c.target + ") has " + size(free) + " free, less than the last full backup took (" + size(need) + "): the next one will not fit."})
		return
	}
	disk, err := c.s.diskOf(where)
	if err != nil {
		return // sameDisk said so
	}
	if _, shared := dataDisks[disk]; !shared && low(total, free) {
		c.add(Reason{Code: "target.low", State: Attention, Page: PageBackups, Action: "Choose another target…",
			Sentence: "The disk holding the full backups (" + c.target + ") is running low: " + size(free) + " free of " + size(total) + "."})
	}
}

// lastFullBytes is what the newest full (not incremental) backup took on
// its target; 0 when there is none.
func lastFullBytes(newestFirst []backup.Manifest) uint64 {
	for _, m := range newestFirst {
		if m.Type == backup.TypeFull {
			return uint64(max(m.Bytes(), 0))
		}
	}
	return 0
}
