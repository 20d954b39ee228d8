package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// upgradeHook is called at each point of an upgrade (upgrade.Plan.Points);
// the test build with the tag plinth_next sets it to crash there.
var upgradeHook func(point string)

// checkFormat refuses a data folder of a newer format than this Plinth
// reads, or one that a newer Plinth is upgrading. It only reads: it runs
// before the lock and the log are touched, so a refused folder is left
// byte for byte as it was.
func checkFormat(dir string, setUp bool) (upgrade.State, error) {
	st, err := upgrade.Read(fsys.OS, dir, setUp)
	if err != nil {
		return st, err
	}
	return st, st.Newer(Version)
}

// upgradeFolder brings the data folder and its stores to the format this
// Plinth writes, with the folder locked and the stores open: it says what
// it is about to do (cfg.Announce), takes a full backup, then runs the
// steps under a journal, and records the upgrade in History. A folder set
// up just now gets its format.json. A store alone that is older (restored
// from an old backup) is upgraded in place.
func (a *App) upgradeFolder(ctx context.Context, cfg Config, setUp bool) error {
	st, err := checkFormat(a.DataDir, setUp) // again, under the lock
	if err != nil {
		return err
	}
	if !setUp && st.Journal == nil {
		// The stores were created at upgrade.Data just now.
		return upgrade.Stamp(fsys.OS, a.DataDir, Version)
	}
	formats := map[storage.Kind]int{}
	stores := map[storage.Kind]*storage.Store{storage.Manager: a.Manager, storage.FileServer: a.FileServer}
	for k, s := range stores {
		if formats[k], err = s.Format(); err != nil {
			return err
		}
	}
	p := upgrade.NewPlan(st, formats)
	if !p.Needed() {
		a.recordLastUpgrade(st)
		return nil
	}
	if a.ReadOnly() != nil {
		// The stores opened read-only for want of space: say how much
		// there is, not that they opened.
		err := storage.NeedSpace(a.DataDir, 0, "the upgrade")
		if err == nil {
			err = a.ReadOnly()
		}
		return fmt.Errorf("the data folder %s needs an upgrade from format %d to %d before Plinth can use it, and nothing was changed: %w", a.DataDir, p.From, p.To, err)
	}
	r := upgrade.Runner{FS: fsys.OS, Dir: a.DataDir, Stores: stores, Version: Version, Hook: upgradeHook}
	if st.Folder == upgrade.Data && st.Journal == nil {
		// Only a store is older: it was restored or put back alone from
		// an older backup. Its steps are one transaction per format.
		a.Log.Info("upgrading a store restored from an older backup", "manager", formats[storage.Manager], "fileserver", formats[storage.FileServer])
		return r.UpgradeStores()
	}
	initialised, err := a.Accounts.Initialised(ctx)
	if err != nil {
		return err
	}
	msg := p.Describe(a.DataDir, initialised)
	a.Log.Info(msg)
	if cfg.Announce != nil {
		cfg.Announce(msg)
	}
	u, err := r.Run(ctx, p, a.backupBeforeUpgrade)
	if err != nil {
		return fmt.Errorf("upgrade the data folder %s from format %d to %d: %w", a.DataDir, p.From, p.To, err)
	}
	if u.To == 0 {
		// Only a finished upgrade's journal was left: History may lack it.
		a.recordLastUpgrade(st)
		return nil
	}
	a.Upgraded = &u
	a.Log.Info("upgraded the data folder", "from", u.From, "to", u.To, "backup", u.Backup.ID)
	if err := a.Backups.RecordUpgrade(u); err != nil {
		a.Log.Warn("record the upgrade in History", "err", err)
	}
	return nil
}

// backupBeforeUpgrade takes the full backup an upgrade starts with, as
// masteradmin; a folder nobody has set up yet holds nothing to keep.
func (a *App) backupBeforeUpgrade(ctx context.Context) (upgrade.Backup, error) {
	ok, err := a.Accounts.Initialised(ctx)
	if err != nil || !ok {
		return upgrade.Backup{}, err
	}
	master, err := a.Accounts.ActAs(ctx, account.MasterAdmin)
	if err != nil {
		return upgrade.Backup{}, err
	}
	m, err := a.Backups.Full(ctx, master, nil)
	if err != nil {
		return upgrade.Backup{}, err
	}
	return upgrade.Backup{ID: m.ID, Dir: filepath.Dir(m.Path), Created: m.Created}, nil
}

// upgradedSentence says what an upgrade did, for the window.
func upgradedSentence(u upgrade.Upgrade) string {
	msg := fmt.Sprintf("This Plinth upgraded the data folder from format %d to %d.", u.From, u.To)
	if u.Backup.ID != "" {
		msg += fmt.Sprintf(" The full backup %s, taken just before, lets an older Plinth go back to the data as it was.", u.Backup.ID)
	}
	return msg
}

// finishRestoreOlder completes, under the lock, a restore to an older
// backup (backup.RestoreOlder) that was cut short: until it is done the
// folder is neither the newer data nor the backup.
func finishRestoreOlder(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, backup.OlderJournalName)); err != nil {
		return nil
	}
	lock, err := holdFolder(dir)
	if err != nil {
		return err
	}
	defer lock.release()
	_, err = backup.FinishRestoreOlder(dir)
	return err
}

// olderTargets lists where the backup to go back to may lie: where the
// upgrades recorded their backups, the targets the control file
// remembers, and the default target.
func olderTargets(dir string) []string {
	var out []string
	if st, err := upgrade.Read(fsys.OS, dir, true); err == nil {
		for _, u := range slices.Backward(st.File.Upgrades) {
			out = append(out, u.Backup.Dir)
		}
		if st.Journal != nil {
			out = append(out, st.Journal.Backup.Dir)
		}
	}
	out = append(out, readTargets(dir).Level2...)
	return append(out, filepath.Join(dir, "backups", "full"))
}

// pinnedBackups keeps the full backups taken before each upgrade from
// retention: they are the way back to the Plinths before.
func (a *App) pinnedBackups() []string {
	st, err := upgrade.Read(fsys.OS, a.DataDir, true)
	if err != nil || len(st.File.Upgrades) == 0 {
		return nil
	}
	var ids []string
	for _, u := range st.File.Upgrades {
		if u.Backup.ID != "" {
			ids = append(ids, u.Backup.ID)
		}
	}
	return ids
}

// upgradeAhead says, before the folder is opened, that Open will upgrade
// it: a set-up data folder of an older format, or with an upgrade to
// finish, that no other Plinth holds. It only reads.
func upgradeAhead(dir string) string {
	setUp := storage.Exists(storage.Path(dir, storage.Manager)) || storage.Exists(storage.Path(dir, storage.FileServer))
	if !setUp {
		return ""
	}
	st, err := checkFormat(dir, true)
	if err != nil || st.Folder >= upgrade.Data && st.Journal == nil {
		return ""
	}
	lock, ok, err := lockFolder(dir)
	if err != nil || !ok {
		return ""
	}
	_ = lock.release()
	if st.Journal != nil {
		return fmt.Sprintf("Plinth is finishing an upgrade of the data folder %s to format %d that was cut short.", dir, st.Journal.To)
	}
	return fmt.Sprintf("Plinth is upgrading the data folder %s from format %d to %d. It takes a full backup first, so that an older Plinth can go back to it; this can take a few minutes.", dir, st.Folder, upgrade.Data)
}

// recordLastUpgrade puts the folder's last upgrade into History if a crash
// kept it out (between format.json and the History record).
func (a *App) recordLastUpgrade(st upgrade.State) {
	if len(st.File.Upgrades) == 0 || a.ReadOnly() != nil {
		return
	}
	if err := a.Backups.RecordUpgrade(st.File.Upgrades[len(st.File.Upgrades)-1]); err != nil {
		a.Log.Warn("record the upgrade in History", "err", err)
	}
}
