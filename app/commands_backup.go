package app

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/core/schedule"
	"codeberg.org/plinth/plinth/core/text"
	"codeberg.org/plinth/plinth/core/upgrade"
)

// backupCommands take, list, check and restore backups.
var backupCommands = []command{
	{"backup", "--level 1|2|3 [--item PATH] [--target NAME] [--copy-to NAME] [--json]", "take a backup: 1 snapshot of a project or library, 2 full data (into the backup folder, or straight into --target NAME; then copied to the copy target, or --copy-to NAME), 3 OS snapshot", cmdBackup},
	{"backups", "[--json]", "list the backups (level 1 and 2) with where they lie", cmdBackups},
	{"verify", "ID [--target NAME] [--json]", "check a backup: checksums, then a restore into a scratch folder (--target: its copy in that target)", cmdVerify},
	{"restore", "ID [--scope all|manager|fileserver|item] [--item PATH] [--as-new NAME] [--yes] [--json]", "restore from a backup", cmdRestore},
	{"snapshot-export", "ID FILE [--force]", "write a project or library snapshot into one portable file (--force replaces FILE)", cmdSnapshotExport},
	{"snapshot-import", "FILE [--as NAME]", "create a project or library from a snapshot file (an encrypted one needs PLINTH_BACKUP_PASSPHRASE)", cmdSnapshotImport},
	{"snapshot schedule", "PATH none|hourly|daily|inherit [--at HH:MM] [--keep N]", "when a project, library or folder gets snapshots", cmdSnapshotSchedule},
	{"prune", "[--dry-run] [--json]", "remove the backups the retention rules no longer keep, and snapshot chunks no snapshot needs (snapshots taken by hand are kept 30 days); says why each full backup stays", cmdPrune},
	{"backup schedule", "[manual|every-4h|daily HH:MM|weekly DAY HH:MM]", "show or change when full data backups run (they run while Plinth runs: window, tray or plinth serve)", cmdBackupSchedule},
	{"backup retention", "[--daily N] [--weekly N] [--newest N]", "show or change which full backups are kept: the newest of N days and of N weeks, and the newest N (the one last restored from is always kept)", cmdBackupRetention},
	{"backup passphrase", "", "encrypt future full backups and snapshots (passphrase from PLINTH_NEW_BACKUP_PASSPHRASE; empty stops)", cmdBackupPassphrase},
}

func cmdBackup(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("backup")
	level := fs.Int("level", 2, "1, 2 or 3")
	item := fs.String("item", "", "project or library (level 1)")
	copyTo := fs.String("copy-to", "", "level 2: copy the backup to this target (plinth target ls)")
	into := fs.String("target", "", "level 2: write the backup straight into this target (default: the one scheduled backups go to)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	if (*copyTo != "" || *into != "") && *level != 2 {
		return usagef("--target and --copy-to are for full backups (--level 2)")
	}
	if *level < 1 || *level > 3 {
		return usagef("the level is 1, 2 or 3")
	}
	if *level == 1 && *item == "" {
		return usagef("a level 1 backup needs --item PATH (a project or library)")
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	var out struct {
		ID      string             `json:"id"`
		Level   int                `json:"level"`
		Type    string             `json:"type"`
		Bytes   int64              `json:"bytes"`
		Seconds float64            `json:"seconds"`
		Path    string             `json:"path,omitempty"`
		Exit    int                `json:"exitCode,omitempty"`
		Copies  []backup.CopyState `json:"copies,omitempty"`
		Target  string             `json:"target,omitempty"` // level 2 written into a named target
	}
	out.Level = *level
	switch *level {
	case 1:
		n, err := a.Files.Lookup(ctx, actor, *item)
		if err != nil {
			return err
		}
		m, err := a.Backups.Snapshot(ctx, actor, n.ID, c.bar())
		if err != nil {
			return err
		}
		out.ID, out.Type, out.Bytes, out.Path = m.ID, m.Type, m.Bytes(), m.Path
	case 2:
		if *into == "" {
			cfg, err := a.Backups.Level2()
			if err != nil {
				return err
			}
			*into = cfg.Into
		}
		if *into == "folder" {
			*into = ""
		}
		m, err := a.Backups.FullTo(ctx, actor, *into, c.bar())
		if err != nil {
			return err
		}
		out.ID, out.Type, out.Bytes, out.Path, out.Target = m.ID, m.Type, m.Bytes(), m.Path, *into
		// The copy: to the target asked for, or to the copy target with
		// any earlier backup whose copy did not finish.
		var cerr error
		if *copyTo != "" {
			var st backup.CopyState
			st, cerr = a.Backups.Copy(ctx, actor, m.ID, *copyTo, c.bar())
			out.Copies = append(out.Copies, st)
		} else {
			out.Copies, cerr = a.Backups.CopyPending(ctx, actor, c.bar())
		}
		if cerr != nil {
			return fmt.Errorf("backup %s was taken, but its copy failed: %w", m.ID, cerr)
		}
	case 3:
		r, err := a.Backups.OSSnapshot(ctx, actor)
		if err != nil {
			return err
		}
		out.ID, out.Type, out.Exit = r.ID, r.Type, r.ExitCode
	}
	out.Seconds = time.Since(start).Seconds()
	if *asJSON {
		return c.printJSON(out)
	}
	fmt.Fprintf(c.io.Out, "Backup %s (level %d, %s) done in %.1f s", out.ID, out.Level, out.Type, out.Seconds)
	if out.Path != "" {
		fmt.Fprintf(c.io.Out, ": %s, %s", out.Path, humanize.IBytes(uint64(out.Bytes)))
	}
	if out.Target != "" {
		fmt.Fprintf(c.io.Out, ": into %s, %s", out.Target, humanize.IBytes(uint64(out.Bytes)))
	}
	fmt.Fprintln(c.io.Out, ".")
	for _, st := range out.Copies {
		if st.State == backup.CopyCopied {
			fmt.Fprintf(c.io.Out, "Copied to %s and checked there (%s).\n", st.Target, humanize.IBytes(uint64(st.Total)))
		}
	}
	return nil
}

type backupItem struct {
	ID       string    `json:"id"`
	Level    int       `json:"level"`
	Type     string    `json:"type"`
	Parent   string    `json:"parent,omitempty"` // an incremental: the backup it continues
	Created  time.Time `json:"created"`
	Bytes    int64     `json:"bytes"`
	Item     string    `json:"item,omitempty"`
	Verified bool      `json:"verified"`
	Encrypt  bool      `json:"encrypted"`
	Trigger  string    `json:"trigger,omitempty"` // level 1: schedule, manual or safety
	Path     string    `json:"path"`
	// Target is the named target the backup lies in ("" for the backup
	// folder); Copies are its copies to other targets.
	Target string             `json:"target"`
	Copies []backup.CopyState `json:"copies"`
}

func cmdBackups(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("backups")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	all, err := a.Backups.All()
	if err != nil {
		return err
	}
	hist, err := a.Backups.History(ctx, actor)
	if err != nil {
		return err
	}
	verified := map[string]bool{}
	copies := map[string][]backup.CopyState{}
	for _, r := range hist {
		if r.VerifyOK {
			verified[r.ID] = true
		}
		copies[r.ID] = r.Copies
	}
	items := make([]backupItem, len(all))
	for i, m := range all {
		items[i] = backupItem{ID: m.ID, Level: m.Level, Type: m.Type, Parent: m.Parent, Created: m.Created, Bytes: m.Bytes(), Item: m.ItemName,
			Verified: verified[m.ID], Encrypt: m.Encrypted(), Path: m.Path, Copies: copies[m.ID]}
		if items[i].Copies == nil {
			items[i].Copies = []backup.CopyState{}
		}
		if m.Level == 1 {
			items[i].Trigger = m.Trigger
			if items[i].Trigger == "" {
				items[i].Trigger = backup.TriggerSchedule
			}
		}
	}
	// Backups that lie only in a named target (a copy off site whose
	// local backup retention removed, or every backup on a new machine).
	local := map[string]bool{}
	for _, m := range all {
		local[m.ID] = true
	}
	type unreadItem struct {
		Target string `json:"target"`
		Error  string `json:"error"`
	}
	unread := []unreadItem{}
	tl, err := a.Backups.BackupTargets()
	if err != nil {
		return err
	}
	var elsewhere []backup.Damaged
	for _, t := range tl {
		good, bad, err := a.Backups.TargetBackups(ctx, t.Name)
		if err != nil {
			unread = append(unread, unreadItem{t.Name, err.Error()})
			continue
		}
		elsewhere = append(elsewhere, bad...)
		for _, m := range good {
			if local[m.ID] {
				continue
			}
			items = append(items, backupItem{ID: m.ID, Level: m.Level, Type: m.Type, Parent: m.Parent, Created: m.Created, Bytes: m.Bytes(),
				Verified: verified[m.ID], Encrypt: m.Encrypted(), Target: t.Name, Copies: []backup.CopyState{}})
		}
	}
	// Snapshots that lie only in the snapshot copy target.
	if l1, err := a.Backups.Level1(); err == nil && l1.CopyTo != "" {
		there, err := a.Backups.SnapshotCopies(ctx, "")
		if err != nil {
			unread = append(unread, unreadItem{l1.CopyTo, err.Error()})
		}
		for _, m := range there {
			it := backupItem{ID: m.ID, Level: 1, Type: m.Type, Created: m.Created, Bytes: m.Bytes(), Item: m.ItemName,
				Encrypt: m.Encrypted(), Trigger: cmp.Or(m.Trigger, backup.TriggerSchedule), Target: l1.CopyTo, Copies: copies[m.ID]}
			if it.Copies == nil {
				it.Copies = []backup.CopyState{}
			}
			items = append(items, it)
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].Created.After(items[j].Created) })
	// Folders whose manifest is damaged are no backups, but say so.
	bad, err := a.Backups.Damaged()
	if err != nil {
		return err
	}
	bad = append(bad, elsewhere...)
	type damagedItem struct {
		ID    string `json:"id"`
		Path  string `json:"path"`
		Error string `json:"error"`
	}
	damaged := make([]damagedItem, len(bad))
	for i, d := range bad {
		damaged[i] = damagedItem{d.ID, d.Path, d.Err.Error()}
	}
	if *asJSON {
		return c.printJSON(struct {
			Backups []backupItem  `json:"backups"`
			Damaged []damagedItem `json:"damaged"`
			// Unreadable are the targets that could not be listed.
			Unreadable []unreadItem `json:"unreadable"`
		}{items, damaged, unread})
	}
	rows := [][]string{{"ID", "LEVEL", "TYPE", "CREATED", "SIZE", "ITEM", "VERIFIED", "WHERE"}}
	for _, it := range items {
		v := ""
		if it.Verified {
			v = "yes"
		}
		typ := it.Type
		if it.Trigger != "" && it.Trigger != backup.TriggerSchedule {
			typ += ", " + it.Trigger
		}
		rows = append(rows, []string{it.ID, fmt.Sprint(it.Level), typ, it.Created.Local().Format("2006-01-02 15:04"),
			humanize.IBytes(uint64(it.Bytes)), it.Item, v, whereWords(it)})
	}
	c.table(rows)
	for _, u := range unread {
		fmt.Fprintf(c.io.Out, "Target %s could not be read: %s; the backups there are not listed.\n", u.Target, u.Error)
	}
	for _, d := range damaged {
		fmt.Fprintf(c.io.Out, "%s%s.\n", strings.ToUpper(d.Error[:1]), d.Error[1:])
	}
	return nil
}

func cmdVerify(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("verify")
	asJSON := fs.Bool("json", false, "print one JSON object")
	in := fs.String("target", "", "verify the backup's copy in this target")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneArg(pos, "backup id")
	if err != nil {
		return err
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	var v backup.Verification
	if *in != "" {
		v, err = a.Backups.VerifyIn(ctx, actor, id, *in, c.io.Getenv("PLINTH_BACKUP_PASSPHRASE"), c.bar())
	} else {
		v, err = a.Backups.Verify(ctx, actor, id, c.io.Getenv("PLINTH_BACKUP_PASSPHRASE"), c.bar())
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(v)
	}
	fmt.Fprintf(c.io.Out, "Backup %s is sound: checksums verified", v.Backup)
	if v.Restored {
		fmt.Fprintf(c.io.Out, ", restored into a scratch folder and %d content chunks read back", v.Chunks)
	}
	fmt.Fprintln(c.io.Out, ".")
	if v.Note != "" {
		fmt.Fprintln(c.io.Out, strings.ToUpper(v.Note[:1])+v.Note[1:]+".")
	}
	return nil
}

func cmdRestore(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("restore")
	scope := fs.String("scope", "", "all, manager, fileserver, or item (one project or library)")
	item := fs.String("item", "", "with --scope item and a full backup: the project or library, by its path in the backup")
	asNew := fs.String("as-new", "", "level 1: create a new project or library with this name instead of rolling back")
	yes := fs.Bool("yes", false, "restore without asking")
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneArg(pos, "backup id")
	if err != nil {
		return err
	}
	sc := backup.ScopeAll
	if *scope != "" {
		if sc, err = backup.ParseScope(*scope); err != nil {
			return usageError{err.Error()}
		}
	}
	a, actor, err := c.login(ctx)
	if errors.Is(err, upgrade.ErrNewer) && sc == backup.ScopeAll && *item == "" && *asNew == "" {
		return c.restoreOlder(ctx, id, *yes, *asJSON)
	}
	if err != nil {
		return err
	}
	m, err := a.Backups.FindBackup(ctx, id)
	if err != nil {
		return err
	}
	if m.Level == 2 && (sc == backup.ScopeItem) != (*item != "") {
		return usagef("a full backup restores one project or library with --scope item --item PATH")
	}
	if !*yes {
		if m.Level == 2 && sc == backup.ScopeItem {
			lines, err := a.Backups.PreviewItem(ctx, actor, m, *item, *asNew)
			if err != nil {
				return err
			}
			for _, l := range lines {
				fmt.Fprintln(c.io.Out, l)
			}
		} else if m.Level == 1 && *asNew != "" {
			fmt.Fprintf(c.io.Out, "A new %s %q will be created from snapshot %s.\n", m.ItemKind, *asNew, m.ID)
		} else {
			lines, err := a.Backups.Preview(ctx, m, sc)
			if err != nil {
				return err
			}
			for _, l := range lines {
				fmt.Fprintln(c.io.Out, l)
			}
		}
		return usagef("add --yes to restore")
	}
	var res backup.Result
	switch {
	case m.Level == 1:
		res, err = a.Backups.RestoreSnapshot(ctx, actor, m.ID, *asNew, c.io.Getenv("PLINTH_BACKUP_PASSPHRASE"), c.bar())
	case sc == backup.ScopeItem:
		res, err = a.Backups.RestoreItem(ctx, actor, m.ID, *item, *asNew, c.io.Getenv("PLINTH_BACKUP_PASSPHRASE"), c.bar())
	default:
		res, err = a.Backups.Restore(ctx, actor, m.ID, sc, c.io.Getenv("PLINTH_BACKUP_PASSPHRASE"), c.bar())
	}
	if errors.Is(err, backup.ErrNeedPassphase) {
		return fmt.Errorf("%w in PLINTH_BACKUP_PASSPHRASE", err)
	}
	if err != nil {
		return err
	}
	chk, _, _ := a.Sync.Detect(ctx, false)
	if *asJSON {
		return c.printJSON(struct {
			backup.Result
			Consistent bool `json:"consistent"`
		}{res, chk.Consistent})
	}
	if m.Level == 1 {
		fmt.Fprintf(c.io.Out, "%s restored from snapshot %s.\n", res.Item, res.Backup)
		return nil
	}
	if sc == backup.ScopeItem {
		if *asNew != "" {
			fmt.Fprintf(c.io.Out, "%s created from backup %s.\n", res.Item, res.Backup)
		} else {
			fmt.Fprintf(c.io.Out, "%s restored from backup %s; its state before is kept as a snapshot.\n", res.Item, res.Backup)
		}
		return nil
	}
	fmt.Fprintf(c.io.Out, "Restored %s from backup %s. The replaced data is kept in %s.\n", res.Scope, res.Backup, res.SafetyCopy)
	fmt.Fprintln(c.io.Out, chk.String())
	if !chk.Consistent {
		fmt.Fprintln(c.io.Out, "Run 'plinth sync-files' as masteradmin to synchronize.")
	}
	return nil
}

func cmdSnapshotExport(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("snapshot-export")
	force := fs.Bool("force", false, "replace FILE if it exists")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("snapshot-export needs a snapshot id and a file")
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	if err := a.Backups.ExportSnapshot(ctx, actor, pos[0], c.path(pos[1]), *force); err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "Snapshot written to %s.\n", pos[1])
	return nil
}

func cmdSnapshotImport(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("snapshot-import")
	as := fs.String("as", "", "name of the new project or library")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	file, err := oneArg(pos, "snapshot file")
	if err != nil {
		return err
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	res, err := a.Backups.ImportSnapshot(ctx, actor, c.path(file), *as, c.io.Getenv("PLINTH_BACKUP_PASSPHRASE"), c.bar())
	if errors.Is(err, backup.ErrNeedPassphase) {
		return fmt.Errorf("%w in PLINTH_BACKUP_PASSPHRASE", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "Created /%s from the snapshot.\n", res.Item)
	return nil
}

func cmdSnapshotSchedule(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("snapshot schedule")
	at := fs.String("at", "02:00", "time of day for daily snapshots")
	keep := fs.Int("keep", 24, "how many snapshots to keep")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("snapshot schedule needs a path and none, hourly, daily or inherit")
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	n, err := a.Files.Lookup(ctx, actor, pos[0])
	if err != nil {
		return err
	}
	var sch *backup.SnapSchedule
	if pos[1] != "inherit" {
		sch = &backup.SnapSchedule{Mode: pos[1], Keep: *keep}
		if pos[1] == "daily" {
			if _, err := fmt.Sscanf(*at, "%d:%d", &sch.Hour, &sch.Minute); err != nil {
				return usagef("--at takes HH:MM")
			}
		}
	}
	if err := a.Backups.SetSnapshotSchedule(ctx, actor, n.ID, sch); err != nil {
		return err
	}
	eff, from, _ := a.Backups.SnapshotSchedule(ctx, n.ID)
	where := "defined here"
	if from != n.ID {
		p, _ := a.Files.Path(ctx, from)
		where = "inherited from /" + p
	}
	fmt.Fprintf(c.io.Out, "Snapshots of %s: %s (%s).\n", displayPath(pos[0]), eff, where)
	return nil
}

func cmdPrune(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("prune")
	dry := fs.Bool("dry-run", false, "only say what would go")
	asJSON := fs.Bool("json", false, "print one JSON object: for each full backup whether it is kept and why")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	rep, err := a.Backups.Retention(ctx, actor, *dry)
	if *asJSON {
		if err != nil {
			return err
		}
		gone := make([]string, 0, len(rep.Removed))
		for _, m := range rep.Removed {
			gone = append(gone, m.ID)
		}
		return c.printJSON(struct {
			backup.PruneReport
			Removed []string `json:"removed"` // full backups and snapshots
		}{rep, gone})
	}
	verb := "Removed"
	if *dry {
		verb = "Would remove"
	}
	for _, m := range rep.Removed {
		fmt.Fprintf(c.io.Out, "%s %s (level %d, %s, %s)\n", verb, m.ID, m.Level, m.Type, m.Created.Local().Format("2006-01-02 15:04"))
	}
	if err != nil {
		return err
	}
	if len(rep.Removed) == 0 {
		fmt.Fprintln(c.io.Out, "Nothing to remove: every backup is kept by the retention rules.")
	}
	if len(rep.Backups) == 0 {
		return nil
	}
	fmt.Fprintf(c.io.Out, "Full backups, by the retention rule (%s):\n", rep.Rule)
	c.retentionTable(rep.Backups, nil, *dry)
	for _, tp := range []*backup.TargetPrune{rep.Into, rep.Copies} {
		if tp == nil {
			continue
		}
		if tp.Error != "" {
			fmt.Fprintf(c.io.Out, "In %s nothing was pruned: %s.\n", tp.Target, strings.TrimSuffix(tp.Error, "."))
			continue
		}
		fmt.Fprintf(c.io.Out, "In %s:\n", tp.Target)
		c.retentionTable(tp.Backups, tp.Refused, *dry)
	}
	return nil
}

// retentionTable prints, for each full backup, whether retention keeps it
// and why; refused are those a target would not remove.
func (c *cli) retentionTable(ds []backup.Decision, refused []string, dry bool) {
	rows := [][]string{{"ID", "CREATED", "TYPE", "KEPT", "WHY"}}
	for _, d := range ds {
		kept, why := "yes", strings.Join(d.Why, ", ")
		switch {
		case d.Kept:
		case slices.Contains(refused, d.ID):
			kept, why = "yes", "the target refused to remove it"
		case dry:
			kept, why = "would go", "no rule keeps it"
		default:
			kept, why = "removed", "no rule keeps it"
		}
		rows = append(rows, []string{d.ID, d.Created.Local().Format("2006-01-02 15:04"), d.Type, kept, why})
	}
	c.table(rows)
}

func cmdBackupRetention(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("backup retention")
	daily := fs.Int("daily", 0, "keep the newest backup of each of the last N days that have backups (at least 1)")
	weekly := fs.Int("weekly", 0, "keep the newest backup of each of the last N weeks")
	newest := fs.Int("newest", 0, "keep the newest N backups whatever their days (at least 1)")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	l2, err := a.Backups.Level2()
	if err != nil {
		return err
	}
	if len(set) > 0 {
		if set["daily"] {
			l2.KeepDaily = *daily
		}
		if set["weekly"] {
			l2.KeepWeekly = *weekly
		}
		if set["newest"] {
			l2.KeepNewest = *newest
		}
		if err := a.Backups.SetLevel2(ctx, actor, l2); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.io.Out, "Full backups are kept: the newest of each of the last %s, of each of the last %s, and the newest %d; "+
		"also every backup restored from in the last %d days, the one most recently restored from, and the backup taken before an upgrade.\n",
		text.Count(l2.KeepDaily, "day"), text.Count(l2.KeepWeekly, "week"), l2.KeepNewest, backup.RestoreKeepDays)
	return nil
}

func cmdBackupPassphrase(ctx context.Context, c *cli, args []string) error {
	if err := parseNone(newFlags("backup passphrase"), args); err != nil {
		return err
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	p := c.io.Getenv("PLINTH_NEW_BACKUP_PASSPHRASE")
	if err := a.Backups.SetPassphrase(ctx, actor, p); err != nil {
		return err
	}
	if p == "" {
		fmt.Fprintln(c.io.Out, "Future full backups and snapshots are not encrypted.")
		return nil
	}
	fmt.Fprintln(c.io.Out, "Future full backups and snapshots are encrypted. Keep the passphrase safe: Plinth does not store it, and restores need it.")
	return nil
}

// restoreOlder is the way back after an upgrade, for a data folder a
// newer Plinth upgraded past what this one reads: the full backup id
// (normally the one taken before the upgrade) replaces the folder's data,
// and the newer data is moved aside whole (backup.RestoreOlder). The user
// logs in with the password the backup holds.
func (c *cli) restoreOlder(ctx context.Context, id string, yes, asJSON bool) error {
	dir, err := filepath.Abs(c.g.DataDir)
	if err != nil {
		return err
	}
	if !yes {
		fmt.Fprintf(c.io.Out, "Backup %s will replace the data in %s, which a newer Plinth wrote.\n", text.Safe(id), text.Safe(dir))
		fmt.Fprintln(c.io.Out, "The newer data is not deleted: it is moved, whole, into a folder newer-data-<time> beside it.")
		fmt.Fprintln(c.io.Out, "Log in as the backup knows you: with the password you had when it was taken.")
		return usagef("add --yes to restore")
	}
	lock, err := holdFolder(dir)
	if err != nil {
		return err
	}
	defer lock.release()
	pw, err := c.secret("PLINTH_PASSWORD", fmt.Sprintf("Password for %s (as it was when the backup was taken): ", c.g.User))
	if err != nil {
		return err
	}
	login := func(ctx context.Context, acc *account.Service) error {
		actor, err := acc.Login(ctx, c.g.User, pw)
		if err != nil {
			return fmt.Errorf("the backup does not let %s in: %w", c.g.User, err)
		}
		return acc.Check(ctx, actor, account.ServersPage, account.All)
	}
	res, err := backup.RestoreOlder(ctx, dir, olderTargets(dir), id, c.io.Getenv("PLINTH_BACKUP_PASSPHRASE"), Version, login, c.bar())
	if errors.Is(err, backup.ErrNeedPassphase) {
		return fmt.Errorf("%w in PLINTH_BACKUP_PASSPHRASE", err)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return c.printJSON(res)
	}
	fmt.Fprintf(c.io.Out, "Restored backup %s (data format %d). The data the newer Plinth wrote is kept in %s.\n", text.Safe(res.Backup), res.Format, text.Safe(res.Aside))
	return nil
}

func cmdBackupSchedule(ctx context.Context, c *cli, args []string) error {
	pos, err := parse(newFlags("backup schedule"), args)
	if err != nil {
		return err
	}
	var sp schedule.Spec
	if len(pos) > 0 {
		if sp, err = parseSchedule(pos); err != nil {
			return usagef("%v", err)
		}
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	l2, err := a.Backups.Level2()
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		l2.Schedule = sp
		if err := a.Backups.SetLevel2(ctx, actor, l2); err != nil {
			return err
		}
		if c.host != nil {
			// The running Plinth's scheduler follows at once.
			if err := a.ScheduleBackups(); err != nil {
				return err
			}
		}
	}
	next := ""
	if c.host != nil {
		for _, j := range a.Scheduler.Jobs() {
			if j.Name == "backup.level2" && !j.NextRun.IsZero() {
				next = "; the next one starts " + j.NextRun.Local().Format("Mon 2 Jan 15:04")
			}
		}
	} else if l2.Schedule.Kind != schedule.Manual {
		next = "; they run while Plinth runs (its window, the tray or 'plinth serve')"
	}
	fmt.Fprintf(c.io.Out, "Full data backups run %s%s.\n", strings.ToLower(l2.Schedule.String()), next)
	return nil
}
