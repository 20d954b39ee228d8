package health

import (
	"context"
	"fmt"

	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/core/text"
)

// events: the last few things that happened to the data, from what core
// records already: the backup history (full backups, verifications,
// restores, removals by retention, OS snapshots, failed snapshots,
// upgrades) and the file synchronizations' history. Successful hourly
// snapshots are left out: they would push everything else off the list.
func (c *check) events(context.Context) {
	for _, r := range c.records {
		c.recordEvents(r)
	}
	runs, err := c.s.sync.Runs()
	if err != nil {
		c.unreadable("sync.unreadable", "the file synchronization history", PageFileServer, err)
		return
	}
	for _, r := range runs {
		c.past = append(c.past, Event{At: r.Finished, Kind: "sync", OK: true,
			Sentence: fmt.Sprintf("The full file synchronization deleted %s, adopted %s and updated %s.",
				text.Count(r.Deleted, "entry"), text.Count(r.Adopted, "file"), text.Count(r.Updated, "entry"))})
	}
}

func (c *check) recordEvents(r backup.Record) {
	at := r.Finished
	if at.IsZero() {
		at = r.Started
	}
	add := func(kind string, ok bool, sentence string) {
		c.past = append(c.past, Event{At: at, Kind: kind, OK: ok, Sentence: sentence})
	}
	switch {
	case r.Type == backup.TypeUpgrade:
		add("upgrade", true, "The data folder was upgraded ("+r.Item+").")
	case r.Type == backup.TypeRestore:
		add("restore", r.OK, "Restored "+text.Safe(r.Item)+".")
	case r.Type == backup.TypeRemoval:
		add("prune", r.OK, sentence(text.Safe(r.Item)))
	case r.Level == 2 && r.OK:
		add("backup", true, fmt.Sprintf("Full backup %s (%s, %s) was taken.", r.ID, r.Type, size(uint64(max(r.Bytes, 0)))))
	case r.Level == 2 && r.Error != "":
		add("backup", false, "A full backup failed: "+clip(r.Error)+".")
	case r.Level == 3 && r.OK:
		add("os-snapshot", true, "The OS snapshot command ran.")
	case r.Level == 3:
		add("os-snapshot", false, "The OS snapshot failed: "+clip(r.Error)+".")
	case r.Level == 1 && !r.OK && r.Error != "":
		add("snapshot", false, "The snapshot of "+quoted(r.Item)+" failed: "+clip(r.Error)+".")
	}
	if r.Verified.IsZero() {
		return
	}
	at = r.Verified
	if r.VerifyOK {
		add("verify", true, "Backup "+r.ID+" was verified.")
	} else {
		add("verify", false, "The check of backup "+r.ID+" failed: "+clip(r.VerifyError)+".")
	}
}
