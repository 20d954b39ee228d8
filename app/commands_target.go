package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/core/backup/target"
)

// targetCommands name the places full backups and snapshots are copied
// to: another folder, or a bucket of S3-compatible object storage off
// site.
var targetCommands = []command{
	{"target add", "NAME (--folder DIR | --s3 URL --bucket B [--prefix P] [--region R] --access-key K) [--lock-days N] [--lock-mode governance|compliance] [--bandwidth RATE]",
		"add a backup target after trying it: a folder, or an S3-compatible bucket (secret key from PLINTH_S3_SECRET; needs the backup passphrase set)", cmdTargetAdd},
	{"target test", "NAME", "try a backup target: write, read, list and remove a test file (and check Object Lock when it locks)", cmdTargetTest},
	{"target ls", "[--json]", "list the backup targets", cmdTargetLs},
	{"target secret", "NAME", "give a bucket target's secret key again, from PLINTH_S3_SECRET (changed at the provider, or a data folder restored on another machine)", cmdTargetSecret},
	{"target rm", "NAME", "forget a backup target (the backups in it stay there)", cmdTargetRm},
	{"backup copy-to", "[NAME|none]", "show or change the target every full backup is copied to after it is taken", cmdBackupCopyTo},
	{"backup copy", "[ID] [--to NAME] [--json]", "copy a full backup (with the ones it continues) to a target now; without ID, every backup not yet in the copy target", cmdBackupCopy},
	{"snapshot copy-to", "[NAME|none]", "show or change the target every project and library snapshot is copied to after it is taken (a bucket takes only snapshots taken with the backup passphrase set)", cmdSnapshotCopyTo},
	{"snapshot copy", "[--json]", "copy every snapshot not yet in the snapshot copy target there now", cmdSnapshotCopy},
	{"backup into", "[NAME|folder]", "show or change where scheduled full backups are written: the backup folder, or straight into a named target", cmdBackupInto},
}

func cmdTargetAdd(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("target add")
	folder := fs.String("folder", "", "a folder: an external disk or a share")
	endpoint := fs.String("s3", "", "the storage server's URL, e.g. https://s3.eu-central-1.amazonaws.com")
	bucket := fs.String("bucket", "", "the bucket")
	prefix := fs.String("prefix", "", "a folder in the bucket")
	region := fs.String("region", "", "the bucket's region (most servers but AWS ignore it)")
	access := fs.String("access-key", "", "the access key (its secret from PLINTH_S3_SECRET)")
	lockDays := fs.Int("lock-days", 0, "keep each backup locked for N days (S3 Object Lock)")
	lockMode := fs.String("lock-mode", "governance", "governance or compliance")
	bandwidth := fs.String("bandwidth", "", "limit transfers, e.g. 10MB (per second)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	name, err := oneArg(pos, "target name")
	if err != nil {
		return err
	}
	tc := backup.TargetConfig{Name: name, LockDays: *lockDays, LockMode: target.LockMode(*lockMode)}
	switch {
	case *folder != "" && *endpoint != "":
		return usagef("a target is --folder or --s3, not both")
	case *folder != "":
		tc.Kind, tc.Folder = backup.KindFolder, c.path(*folder)
	case *endpoint != "":
		if *bucket == "" || *access == "" {
			return usagef("a bucket needs --bucket and --access-key (and PLINTH_S3_SECRET)")
		}
		tc.Kind, tc.Endpoint, tc.Bucket, tc.Prefix, tc.Region, tc.AccessKey = backup.KindS3, *endpoint, *bucket, *prefix, *region, *access
	default:
		return usagef("give --folder DIR or --s3 URL")
	}
	if *bandwidth != "" {
		n, err := humanize.ParseBytes(strings.TrimSuffix(strings.TrimSuffix(*bandwidth, "/s"), "ps"))
		if err != nil || n == 0 {
			return usagef("the bandwidth %q is not a rate like 10MB", *bandwidth)
		}
		tc.Bandwidth = int64(n)
	}
	secret := c.io.Getenv("PLINTH_S3_SECRET")
	if tc.Kind == backup.KindS3 && secret == "" {
		return usagef("give the bucket's secret key in PLINTH_S3_SECRET")
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	if err := a.Backups.AddTarget(ctx, actor, tc, secret); err != nil {
		return err
	}
	tc, _ = a.Backups.BackupTarget(name)
	fmt.Fprintf(c.io.Out, "Added backup target %s: %s. Writing, reading, listing and removing a test file there worked.\n", name, tc.Where())
	if tc.LockDays > 0 {
		fmt.Fprintf(c.io.Out, "Backups copied there are locked for %d days (%s).\n", tc.LockDays, tc.LockMode)
	}
	return nil
}

func cmdTargetTest(ctx context.Context, c *cli, args []string) error {
	pos, err := parse(newFlags("target test"), args)
	if err != nil {
		return err
	}
	name, err := oneArg(pos, "target name")
	if err != nil {
		return err
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	if err := a.Backups.TestTarget(ctx, actor, name); err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "Backup target %s works: writing, reading, listing and removing a test file there worked.\n", name)
	return nil
}

func cmdTargetSecret(ctx context.Context, c *cli, args []string) error {
	pos, err := parse(newFlags("target secret"), args)
	if err != nil {
		return err
	}
	name, err := oneArg(pos, "target name")
	if err != nil {
		return err
	}
	secret := c.io.Getenv("PLINTH_S3_SECRET")
	if secret == "" {
		return usagef("give the secret key in PLINTH_S3_SECRET")
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	if err := a.Backups.SetTargetSecret(ctx, actor, name, secret); err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "The secret key of %s works and is kept.\n", name)
	return nil
}

func cmdTargetLs(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("target ls")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	a, _, err := c.login(ctx)
	if err != nil {
		return err
	}
	l, err := a.Backups.BackupTargets()
	if err != nil {
		return err
	}
	l2, err := a.Backups.Level2()
	if err != nil {
		return err
	}
	type item struct {
		backup.TargetConfig
		Where  string `json:"where"`
		CopyTo bool   `json:"copyTo"` // full backups are copied here
	}
	items := make([]item, len(l))
	for i, t := range l {
		items[i] = item{t, t.Where(), l2.CopyTo == t.Name}
	}
	if *asJSON {
		return c.printJSON(struct {
			Targets []item `json:"targets"`
		}{items})
	}
	if len(items) == 0 {
		fmt.Fprintln(c.io.Out, "No backup targets besides the backup folder. Add one with plinth target add.")
		return nil
	}
	rows := [][]string{{"NAME", "KIND", "WHERE", "LOCK", "COPY"}}
	for _, it := range items {
		lock := ""
		if it.LockDays > 0 {
			lock = fmt.Sprintf("%d days, %s", it.LockDays, it.LockMode)
		}
		cp := ""
		if it.CopyTo {
			cp = "every full backup"
		}
		rows = append(rows, []string{it.Name, it.Kind, it.Where, lock, cp})
	}
	c.table(rows)
	return nil
}

func cmdTargetRm(ctx context.Context, c *cli, args []string) error {
	pos, err := parse(newFlags("target rm"), args)
	if err != nil {
		return err
	}
	name, err := oneArg(pos, "target name")
	if err != nil {
		return err
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	if err := a.Backups.RemoveTarget(ctx, actor, name); err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "Backup target %s is forgotten; the backups in it stay there.\n", name)
	return nil
}

func cmdBackupCopyTo(ctx context.Context, c *cli, args []string) error {
	return settingTarget(ctx, c, args, "backup copy-to", "none", level2Settings, func(cfg *backup.Level2Settings) *string { return &cfg.CopyTo },
		func(cfg backup.Level2Settings) string {
			if cfg.CopyTo == "" {
				return "Full backups are not copied anywhere."
			}
			return fmt.Sprintf("Every full backup is copied to %s after it is taken.", cfg.CopyTo)
		})
}

// levelSettings reads and writes one level's backup settings whole.
type levelSettings[S any] struct {
	get func(*App) (S, error)
	set func(context.Context, *App, account.Actor, S) error
}

var (
	level1Settings = levelSettings[backup.Level1Settings]{
		get: func(a *App) (backup.Level1Settings, error) { return a.Backups.Level1() },
		set: func(ctx context.Context, a *App, actor account.Actor, c backup.Level1Settings) error {
			return a.Backups.SetLevel1(ctx, actor, c)
		},
	}
	level2Settings = levelSettings[backup.Level2Settings]{
		get: func(a *App) (backup.Level2Settings, error) { return a.Backups.Level2() },
		set: func(ctx context.Context, a *App, actor account.Actor, c backup.Level2Settings) error {
			return a.Backups.SetLevel2(ctx, actor, c)
		},
	}
)

// settingTarget shows, or sets to its one argument, a target name in one
// level's backup settings (field picks it); unset is what clears it.
func settingTarget[S any](ctx context.Context, c *cli, args []string, name, unset string, level levelSettings[S],
	field func(*S) *string, say func(S) string) error {
	pos, err := parse(newFlags(name), args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("give one target name, or %s", unset)
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	cfg, err := level.get(a)
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		*field(&cfg) = pos[0]
		if pos[0] == unset {
			*field(&cfg) = ""
		}
		if err := level.set(ctx, a, actor, cfg); err != nil {
			return err
		}
	}
	fmt.Fprintln(c.io.Out, say(cfg))
	return nil
}

func cmdBackupCopy(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("backup copy")
	to := fs.String("to", "", "the target (default: the copy target)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("give one backup id, or none")
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	var states []backup.CopyState
	switch {
	case len(pos) == 1:
		name := *to
		if name == "" {
			cfg, err := a.Backups.Level2()
			if err != nil {
				return err
			}
			if name = cfg.CopyTo; name == "" {
				return usagef("say where to copy it: --to NAME (plinth target ls)")
			}
		}
		st, err := a.Backups.Copy(ctx, actor, pos[0], name, c.bar())
		if err != nil {
			return err
		}
		states = append(states, st)
	case *to != "":
		return usagef("--to needs the backup id to copy")
	default:
		cfg, err := a.Backups.Level2()
		if err != nil {
			return err
		}
		if cfg.CopyTo == "" {
			return usagef("no copy target is set (plinth backup copy-to NAME); or give a backup id and --to NAME")
		}
		if states, err = a.Backups.CopyPending(ctx, actor, c.bar()); err != nil {
			return err
		}
	}
	if *asJSON {
		return c.printJSON(struct {
			Copies []backup.CopyState `json:"copies"`
		}{append([]backup.CopyState{}, states...)})
	}
	if len(states) == 0 {
		fmt.Fprintln(c.io.Out, "Every full backup is in the copy target already.")
	}
	for _, st := range states {
		fmt.Fprintf(c.io.Out, "Copied to %s and checked there (%s).\n", st.Target, humanize.IBytes(uint64(st.Total)))
	}
	return nil
}

func cmdBackupInto(ctx context.Context, c *cli, args []string) error {
	return settingTarget(ctx, c, args, "backup into", "folder", level2Settings, func(cfg *backup.Level2Settings) *string { return &cfg.Into },
		func(cfg backup.Level2Settings) string {
			if cfg.Into == "" {
				return fmt.Sprintf("Full backups are written into the backup folder %s.", cfg.Target)
			}
			return fmt.Sprintf("Full backups are written straight into %s.", cfg.Into)
		})
}

// whereWords says where a backup lies and how its copies stand, for the
// table: "here; offsite: copied, locked".
func whereWords(it backupItem) string {
	w := []string{"here"}
	if it.Target != "" {
		w = []string{"only in " + it.Target}
	}
	if c := copyWords(it.Copies); c != "" {
		w = append(w, c)
	}
	return strings.Join(w, "; ")
}

// copyWords says where a backup's copies stand.
func copyWords(cs []backup.CopyState) string {
	var w []string
	for _, s := range cs {
		switch s.State {
		case backup.CopyCopied:
			t := s.Target + ": copied"
			if !s.LockedUntil.IsZero() && s.LockedUntil.After(time.Now()) {
				t += ", locked"
			}
			w = append(w, t)
		case backup.CopyCopying:
			w = append(w, fmt.Sprintf("%s: copying %d %%", s.Target, s.Percent()))
		case backup.CopyFailed:
			w = append(w, s.Target+": failed")
		}
	}
	return strings.Join(w, "; ")
}

func cmdSnapshotCopyTo(ctx context.Context, c *cli, args []string) error {
	return settingTarget(ctx, c, args, "snapshot copy-to", "none", level1Settings, func(cfg *backup.Level1Settings) *string { return &cfg.CopyTo },
		func(cfg backup.Level1Settings) string {
			if cfg.CopyTo == "" {
				return "Snapshots are not copied anywhere."
			}
			return fmt.Sprintf("Every snapshot is copied to %s after it is taken.", cfg.CopyTo)
		})
}

func cmdSnapshotCopy(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("snapshot copy")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	cfg, err := a.Backups.Level1()
	if err != nil {
		return err
	}
	if cfg.CopyTo == "" {
		return usagef("no copy target is set for snapshots (plinth snapshot copy-to NAME)")
	}
	states, err := a.Backups.CopySnapshots(ctx, actor, c.bar())
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(struct {
			Copies []backup.CopyState `json:"copies"`
		}{append([]backup.CopyState{}, states...)})
	}
	if len(states) == 0 {
		fmt.Fprintf(c.io.Out, "Every snapshot is in %s already.\n", cfg.CopyTo)
	}
	for _, st := range states {
		fmt.Fprintf(c.io.Out, "Copied a snapshot to %s and checked there (%s).\n", st.Target, humanize.IBytes(uint64(st.Total)))
	}
	return nil
}
