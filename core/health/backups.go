package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"codeberg.org/plinth/plinth/core/backup"
)

// day is the grace the backup rules give a schedule: a backup is old when
// it is older than its schedule's period plus a day.
const day = 24 * time.Hour

// backups: the last full backup (there is one, it is recent enough for its
// schedule, the last attempt did not fail), its verification, and whether
// it lies on another disk than the data.
func (c *check) backups(context.Context) {
	recs, err := c.s.backups.Records()
	if err != nil {
		c.unreadable("history.unreadable", "the backup history", PageBackups, err)
	} else {
		c.records = recs
	}
	if l3, err := c.s.backups.Level3(); err != nil {
		c.unreadable("backup.unreadable", "the OS snapshot settings", PageBackups, err)
	} else if l3.Command != "" && period(l3.Schedule) > 0 {
		c.due = append(c.due, dueJob{name: "backup.level3", title: "The OS snapshot", spec: l3.Schedule, page: PageBackups, action: "Open Backups"})
	}
	cfg, err := c.s.backups.Level2()
	if err != nil {
		c.unreadable("backup.unreadable", "the full backup settings", PageBackups, err)
		return
	}
	c.target = cfg.Target
	all, err := c.s.backups.List()
	if err != nil {
		c.unreadable("backup.unreadable", "the full backups in "+cfg.Target, PageBackups, err)
		c.backupRecords()
		c.verification()
		return
	}
	c.listed = true
	mgr, _ := c.s.files.Stores()
	id := mgr.Identity().ID
	for _, m := range all {
		if m.Level == 2 && m.Plinth == id {
			c.mine = append(c.mine, m)
		}
	}
	c.lastBackup(cfg)
	c.backupRecords()
	c.verification()
	c.copies(cfg)
	c.snapshotCopies()
}

// snapshotCopies: the copy of the newest snapshot that has one failed,
// and the hourly retry has not mended it. Read from History.
func (c *check) snapshotCopies() {
	for _, r := range c.records { // newest first
		if r.Level != 1 || r.Type != backup.TypeSnapshot || len(r.Copies) == 0 || !r.Removed.IsZero() {
			continue
		}
		for _, cp := range r.Copies {
			if cp.State == backup.CopyFailed && c.now.Sub(r.Started) > time.Hour+15*time.Minute {
				c.add(Reason{Code: "snapshot-copy.failed", State: Attention, Page: PageBackups, Action: "Open Backups",
					Sentence: "The copy of the last snapshot of " + r.Item + " to " + cp.Target + " failed: " + clip(cp.Error) + ". The snapshot itself is fine; Plinth tries again every hour."})
			}
		}
		return
	}
}

// copies: where full backups are copied (off site, typically), the copy
// of the newest one failed, or it is a day behind. Read from History: the
// report never waits for a bucket.
func (c *check) copies(cfg backup.Level2Settings) {
	if cfg.CopyTo == "" || len(c.mine) == 0 {
		return
	}
	var tc *backup.TargetConfig
	if l, err := c.s.backups.BackupTargets(); err != nil {
		c.unreadable("backup.unreadable", "the backup targets", PageBackups, err)
		return
	} else {
		for i := range l {
			if l[i].Name == cfg.CopyTo {
				tc = &l[i]
			}
		}
	}
	if tc == nil {
		c.add(Reason{Code: "copy.target-missing", State: Attention, Page: PageBackups, Action: "Targets…",
			Sentence: "Full backups are to be copied to " + cfg.CopyTo + ", which is no longer a backup target; choose another copy target."})
		return
	}
	newest := c.mine[0]
	var st backup.CopyState
	for _, r := range c.records {
		if r.ID == newest.ID {
			for _, cp := range r.Copies {
				if cp.Target == cfg.CopyTo {
					st = cp
				}
			}
		}
	}
	place := "off site"
	if !tc.Offsite() {
		place = "to " + tc.Folder
	}
	switch st.State {
	case backup.CopyCopied:
		c.offsite = "copied " + place + " (" + cfg.CopyTo + ")"
		switch {
		case st.LockedUntil.After(c.now):
			c.offsite += ", locked until " + st.LockedUntil.Local().Format("2 Jan 2006")
		case tc.Offsite():
			c.offsite += ", not locked"
		}
	case backup.CopyFailed:
		c.add(Reason{Code: "copy.failed", State: Attention, Page: PageBackups, Action: "Open Backups",
			Sentence: "The copy of the last full backup to " + cfg.CopyTo + " failed: " + clip(st.Error) + ". The backup itself is fine; Plinth tries again every hour."})
	case backup.CopyCopying:
		c.offsite = fmt.Sprintf("copying %s to %s (%d %%)", place, cfg.CopyTo, st.Percent())
	default:
		if old := c.now.Sub(newest.Created); old > day {
			c.add(Reason{Code: "copy.behind", State: Attention, Page: PageBackups, Action: "Open Backups",
				Sentence: "The last full backup (" + when(newest.Created, c.now) + ") has not been copied to " + cfg.CopyTo + " yet."})
		} else {
			c.offsite = "not yet copied " + place
		}
	}
}

// lastBackup: none yet is at risk; one older than its schedule's period
// plus a day needs attention.
func (c *check) lastBackup(cfg backup.Level2Settings) {
	if len(c.mine) == 0 {
		if _, err := os.Stat(cfg.Target); errors.Is(err, os.ErrNotExist) && c.hadBackup() {
			c.add(Reason{Code: "target.missing", State: AtRisk, Page: PageBackups, Action: "Choose another target…",
				Sentence: "The full backups cannot be found: the folder " + cfg.Target + " is not there. If it is on a disk that is not connected, connect it; else choose another target and back up now."})
			return
		}
		c.add(Reason{Code: "backup.none", State: AtRisk, Page: PageBackups, Action: "Back up now",
			Sentence: "No full backup has been taken yet: if the disk fails, everything is lost."})
		return
	}
	newest := c.mine[0]
	limit := period(cfg.Schedule)
	if limit == 0 {
		limit = 7 * day // backups by hand only: a week
	}
	if old := c.now.Sub(newest.Created); old > limit+day {
		c.add(Reason{Code: "backup.old", State: Attention, Page: PageBackups, Action: "Back up now",
			Sentence: "The last full backup is " + age(old) + " old (" + when(newest.Created, c.now) + "); full backups are set to run " + often(cfg.Schedule) + "."})
	}
}

// hadBackup says whether the history records a full backup that worked.
func (c *check) hadBackup() bool {
	for _, r := range c.records {
		if r.Level == 2 && r.OK && attempt(r) {
			return true
		}
	}
	return false
}

// attempt says whether a history record is of a backup taken or tried
// (not an upgrade, a restore or a removal, nor the record a verification
// leaves of a damaged backup, which has neither OK nor an error).
func attempt(r backup.Record) bool {
	switch r.Type {
	case backup.TypeUpgrade, backup.TypeRestore, backup.TypeRemoval:
		return false
	}
	return r.OK || r.Error != ""
}

// backupRecords: the last attempt at each level failed. The history is
// newest first.
func (c *check) backupRecords() {
	seen := map[string]bool{} // level 1: per item; levels 2 and 3: once
	for _, r := range c.records {
		if !attempt(r) {
			continue
		}
		key := fmt.Sprint(r.Level)
		if r.Level == 1 {
			key += "/" + r.Item
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		if r.OK {
			continue
		}
		at := when(r.Started, c.now)
		switch r.Level {
		case 2:
			c.add(Reason{Code: "backup.failed", State: Attention, Page: PageBackups, Action: "Back up now",
				Sentence: "The last full backup, " + at + ", failed: " + clip(r.Error) + ". The backups before it are kept."})
			c.covered["backup.level2"] = true
		case 3:
			c.add(Reason{Code: "ossnapshot.failed", State: Attention, Page: PageBackups, Action: "Open Backups",
				Sentence: "The last OS snapshot, " + at + ", failed: " + clip(r.Error) + "."})
			c.covered["backup.level3"] = true
		case 1:
			c.add(Reason{Code: "snapshot.failed", State: Attention, Page: PageBackups, Action: "Open Backups",
				Sentence: "The last snapshot of " + quoted(r.Item) + ", " + at + ", failed: " + clip(r.Error) + "."})
			c.covered["backup.level1"] = true
		}
	}
}

// verification: the newest verification failed (at risk: the backup to
// rely on may not restore), none for longer than the verification's
// schedule plus a day, or none at all while backups are that old.
func (c *check) verification() {
	for i, r := range c.records {
		if !r.Verified.IsZero() && (c.verified == nil || r.Verified.After(c.verified.Verified)) {
			c.verified = &c.records[i]
		}
	}
	limit := period(backup.VerifySchedule) + day
	switch v := c.verified; {
	case v != nil && !v.VerifyOK:
		c.add(Reason{Code: "verify.failed", State: AtRisk, Page: PageBackups, Action: "Verify…",
			Sentence: "The last verification of full backup " + v.ID + ", " + when(v.Verified, c.now) + ", failed: " + clip(v.VerifyError) + ". Take a new backup and verify it."})
		c.covered["backup.verify"] = true
	case v != nil && c.now.Sub(v.Verified) > limit && len(c.mine) > 0:
		c.add(Reason{Code: "verify.old", State: Attention, Page: PageBackups, Action: "Verify…",
			Sentence: "No full backup has been verified for " + age(c.now.Sub(v.Verified)) + " (the last verification was " + when(v.Verified, c.now) + "); verification is set to run " + often(backup.VerifySchedule) + "."})
	case v == nil && len(c.mine) > 0 && c.now.Sub(c.mine[len(c.mine)-1].Created) > limit:
		c.add(Reason{Code: "verify.never", State: Attention, Page: PageBackups, Action: "Verify…",
			Sentence: "No full backup has been verified yet, so nobody knows whether they restore; the oldest is from " + when(c.mine[len(c.mine)-1].Created, c.now) + "."})
	}
}

// clip shortens an error kept in the history to what a sentence can hold.
func clip(msg string) string {
	const most = 300
	r := []rune(msg)
	if len(r) > most {
		msg = string(r[:most]) + "…"
	}
	return phrase(errors.New(msg))
}

// sameDisk: every full backup on a disk that holds the data is lost with
// that disk.
func (c *check) sameDisk(target string, dataDisks map[string]string) {
	where, ok := nearest(target)
	if !ok {
		return // not there at all: target.missing or backup.none says so
	}
	disk, err := c.s.diskOf(where)
	if err != nil {
		c.unreadable("disk.unreadable", "which disk holds "+target, PageBackups, err)
		return
	}
	if dir, same := dataDisks[disk]; same {
		c.add(Reason{Code: "backup.same-disk", State: Attention, Page: PageBackups, Action: "Choose another target…",
			Sentence: "The full backups go to the same disk as the data (backups in " + target + ", data in " + dir + "): if that disk fails, the backups are lost with it. Choose a target on another disk."})
	}
}

// nearest is the folder itself, or the nearest folder above it that
// exists; false when none does (a drive that is not there).
func nearest(dir string) (string, bool) {
	for {
		if _, err := os.Stat(dir); err == nil {
			return dir, true
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", false
		}
		dir = up
	}
}
