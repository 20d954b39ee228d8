package backup

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/backup/target"
	"codeberg.org/plinth/plinth/core/names"
	"codeberg.org/plinth/plinth/storage"
)

// Kinds of named target.
const (
	KindFolder = "folder"
	KindS3     = "s3"
)

// TargetConfig is a named place backups can go besides the level-2
// target folder: another folder (an external disk, a share) or a bucket
// of S3-compatible object storage, typically off site. Its secret key is
// not here: it is kept with the SMTP password (Secrets).
type TargetConfig struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Folder    string `json:"folder,omitempty"`
	Endpoint  string `json:"endpoint,omitempty"`
	Bucket    string `json:"bucket,omitempty"`
	Prefix    string `json:"prefix,omitempty"`
	Region    string `json:"region,omitempty"`
	AccessKey string `json:"accessKey,omitempty"`
	// LockDays keeps each backup written there locked (S3 Object Lock)
	// for that many days from when it was taken; 0: not locked.
	LockDays int             `json:"lockDays,omitempty"`
	LockMode target.LockMode `json:"lockMode,omitempty"`
	// Bandwidth limits transfers to that many bytes per second (0: none).
	Bandwidth int64     `json:"bandwidth,omitempty"`
	Added     time.Time `json:"added"`
	By        string    `json:"by"`
}

// Offsite reports whether the target is a bucket (and so, as Plinth
// counts it, away from the building).
func (c TargetConfig) Offsite() bool { return c.Kind == KindS3 }

// Where says where the target is: its folder, or bucket and address.
func (c TargetConfig) Where() string {
	if c.Kind == KindFolder {
		return c.Folder
	}
	w := c.Bucket
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		w += "/" + p
	}
	return w + " at " + c.Endpoint
}

// Secrets keeps the targets' secret keys (the app gives the store that
// keeps the SMTP password: the OS keychain, or encrypted in the data
// folder where no keychain answers).
type Secrets interface {
	Set(name, value string) error
	Get(name string) (string, error)
	Delete(name string) error
}

var targets = storage.NewCollection[TargetConfig]("bktarget")

func secretName(target string) string { return "backup-target/" + target }

// ErrNoTarget means no target has that name.
var ErrNoTarget = errors.New("no such backup target")

// checkTargetName says why a target name cannot be used.
func checkTargetName(n string) error {
	if err := names.Check(n); err != nil {
		return fmt.Errorf("the target name: %w", err)
	}
	if len(n) > 40 || strings.ContainsAny(n, " \t") {
		return fmt.Errorf("the target name %q must be one word of at most 40 characters", n)
	}
	return nil
}

// BackupTargets lists the named targets by name.
func (s *Service) BackupTargets() ([]TargetConfig, error) {
	var out []TargetConfig
	err := s.mgr.View(func(tx *storage.Tx) (err error) { out, err = targets.List(tx, ""); return err })
	if err != nil {
		return nil, fmt.Errorf("read the backup targets: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// BackupTarget returns one named target's settings.
func (s *Service) BackupTarget(name string) (TargetConfig, error) {
	var c TargetConfig
	err := s.mgr.View(func(tx *storage.Tx) (err error) { c, err = targets.Get(tx, name); return err })
	if errors.Is(err, storage.ErrNotFound) {
		return c, fmt.Errorf("%w %q; plinth target ls lists them", ErrNoTarget, name)
	}
	return c, err
}

// AddTarget checks a new target, tries it (Probe) and keeps it. A bucket
// needs the backup passphrase to be set first: what leaves the building
// is encrypted. It needs Modify details on the Servers page.
func (s *Service) AddTarget(ctx context.Context, actor account.Actor, c TargetConfig, secret string) error {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyDetails); err != nil {
		return err
	}
	if err := checkTargetName(c.Name); err != nil {
		return err
	}
	if _, err := s.BackupTarget(c.Name); err == nil {
		return fmt.Errorf("a backup target named %s exists already; remove it first or choose another name", c.Name)
	}
	switch c.Kind {
	case KindFolder:
		if c.Folder == "" || !filepath.IsAbs(c.Folder) {
			return fmt.Errorf("give the target folder as a full path (%q is not)", c.Folder)
		}
		c.Folder = filepath.Clean(c.Folder)
		if err := storage.CheckFolder(c.Folder); err != nil {
			return fmt.Errorf("backup target: %w", err)
		}
		if c.LockDays > 0 {
			return errors.New("a folder cannot lock backups; locking needs a bucket with S3 Object Lock")
		}
		if err := s.fs.MkdirAll(c.Folder, 0o700); err != nil {
			return fmt.Errorf("make the target folder: %w", err)
		}
	case KindS3:
		l2, err := s.Level2()
		if err != nil {
			return err
		}
		if l2.Recipient == "" {
			return errors.New("backups leaving the building must be encrypted: set a backup passphrase first (plinth backup passphrase, or Backups ▸ Settings…), then add the bucket")
		}
		c.Prefix = strings.Trim(c.Prefix, "/")
	default:
		return fmt.Errorf("a target is a folder or an S3 bucket, not %q", c.Kind)
	}
	if c.LockDays < 0 || c.LockDays > 3650 {
		return fmt.Errorf("lock backups for 0 to 3650 days, not %d", c.LockDays)
	}
	switch c.LockMode {
	case "":
		c.LockMode = target.Governance
	case target.Governance, target.Compliance:
	default:
		return fmt.Errorf("the lock mode is governance or compliance, not %q", c.LockMode)
	}
	if c.LockDays == 0 {
		c.LockMode = ""
	}
	if c.Bandwidth < 0 {
		return errors.New("the bandwidth limit cannot be negative")
	}
	t, err := s.open(c, secret)
	if err != nil {
		return err
	}
	if err := target.Probe(ctx, t, c.LockDays > 0); err != nil {
		return fmt.Errorf("target %s was not added: %w", c.Name, err)
	}
	if c.Kind == KindS3 {
		if s.Secrets == nil {
			return errors.New("this Plinth has no place to keep the secret key")
		}
		if err := s.Secrets.Set(secretName(c.Name), secret); err != nil {
			return fmt.Errorf("keep the secret key: %w", err)
		}
	}
	c.Added, c.By = s.now().UTC(), actor.Name()
	if err := s.mgr.Update(func(tx *storage.Tx) error { return targets.Put(tx, c.Name, c) }); err != nil {
		return fmt.Errorf("keep the backup target: %w", err)
	}
	s.log.Info("backup target added", "name", c.Name, "where", c.Where(), "by", c.By)
	return nil
}

// RemoveTarget forgets a target (the backups in it stay where they are).
// A target full backups or snapshots are copied to is refused until the
// copy is set elsewhere.
func (s *Service) RemoveTarget(ctx context.Context, actor account.Actor, name string) error {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyDetails); err != nil {
		return err
	}
	c, err := s.BackupTarget(name)
	if err != nil {
		return err
	}
	if l2, err := s.Level2(); err != nil {
		return err
	} else if l2.CopyTo == name {
		return fmt.Errorf("full backups are copied to %s; choose another copy target (or none) first", name)
	} else if l2.Into == name {
		return fmt.Errorf("scheduled full backups are written into %s; write them into the backup folder or another target first", name)
	}
	if l1, err := s.Level1(); err != nil {
		return err
	} else if l1.CopyTo == name {
		return fmt.Errorf("snapshots are copied to %s; choose another copy target for snapshots (or none) first", name)
	}
	if err := s.mgr.Update(func(tx *storage.Tx) error { return targets.Delete(tx, name) }); err != nil {
		return fmt.Errorf("remove the backup target: %w", err)
	}
	if c.Kind == KindS3 && s.Secrets != nil {
		_ = s.Secrets.Delete(secretName(name))
	}
	s.log.Info("backup target removed", "name", name, "by", actor.Name())
	return nil
}

// SetTargetSecret keeps a new secret key for a bucket target, after
// trying it: the key was changed at the provider, or the data folder was
// restored on another machine, whose keychain does not have it.
func (s *Service) SetTargetSecret(ctx context.Context, actor account.Actor, name, secret string) error {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyDetails); err != nil {
		return err
	}
	c, err := s.BackupTarget(name)
	if err != nil {
		return err
	}
	if c.Kind != KindS3 {
		return fmt.Errorf("target %s is a folder; it has no secret key", name)
	}
	t, err := s.open(c, secret)
	if err != nil {
		return err
	}
	if err := target.Probe(ctx, t, c.LockDays > 0); err != nil {
		return fmt.Errorf("the secret key was not changed: %w", err)
	}
	if s.Secrets == nil {
		return errors.New("this Plinth has no place to keep the secret key")
	}
	return s.Secrets.Set(secretName(name), secret)
}

// TestTarget tries a named target as AddTarget did.
func (s *Service) TestTarget(ctx context.Context, actor account.Actor, name string) error {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.View); err != nil {
		return err
	}
	c, t, err := s.OpenTarget(name)
	if err != nil {
		return err
	}
	return target.Probe(ctx, t, c.LockDays > 0)
}

// OpenTarget returns a named target, ready to use.
func (s *Service) OpenTarget(name string) (TargetConfig, target.Target, error) {
	c, err := s.BackupTarget(name)
	if err != nil {
		return c, nil, err
	}
	var secret string
	if c.Kind == KindS3 {
		if s.Secrets == nil {
			return c, nil, errors.New("this Plinth has no place to keep the secret key")
		}
		if secret, err = s.Secrets.Get(secretName(name)); err != nil {
			return c, nil, fmt.Errorf("the secret key of target %s cannot be read here (%v); give it again with plinth target secret %s", name, err, name)
		}
		if secret == "" {
			return c, nil, fmt.Errorf("the secret key of target %s is not kept on this machine; give it again with plinth target secret %s", name, name)
		}
	}
	t, err := s.open(c, secret)
	return c, t, err
}

func (s *Service) open(c TargetConfig, secret string) (target.Target, error) {
	if c.Kind == KindFolder {
		return target.NewFolder(s.fs, c.Folder), nil
	}
	return target.NewS3(target.S3Config{Endpoint: c.Endpoint, Bucket: c.Bucket, Prefix: c.Prefix, Region: c.Region,
		AccessKey: c.AccessKey, Secret: secret, Bandwidth: c.Bandwidth})
}
