package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"time"

	"github.com/dustin/go-humanize"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/backup/target"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// States of a copy of a backup to a target.
const (
	CopyCopying = "copying"
	CopyCopied  = "copied"
	CopyFailed  = "failed"
)

// CopyState is where the copy of one backup to one target stands; History
// keeps it with the backup's record.
type CopyState struct {
	Target   string    `json:"target"`
	State    string    `json:"state"`
	Done     int64     `json:"done"`  // bytes there
	Total    int64     `json:"total"` // bytes to copy
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	// Checked: every file there was read back and matched its SHA-256.
	Checked bool `json:"checked,omitempty"`
	// LockedUntil is when the copy's lock ends (S3 Object Lock).
	LockedUntil time.Time `json:"lockedUntil,omitzero"`
	// ChunksLockedUntil (snapshot copies): every chunk the snapshot needs
	// is locked in the target at least until then (see lockChunks).
	ChunksLockedUntil time.Time `json:"chunksLockedUntil,omitzero"`
	// Refused is when the target last refused to remove the copy.
	Refused time.Time `json:"refused,omitzero"`
	// Removed is when retention removed the copy.
	Removed time.Time `json:"removed,omitzero"`
	// Verified is when the copy was last verified there (VerifyIn), and
	// VerifyError why that failed.
	Verified    time.Time `json:"verified,omitzero"`
	VerifyError string    `json:"verifyError,omitempty"`
}

// Percent is how far the copy is, 0–100.
func (c CopyState) Percent() int {
	if c.Total <= 0 {
		return 100
	}
	return int(c.Done * 100 / c.Total)
}

// copyLevel marks a copy as running (begin), beside the backup levels.
const copyLevel = 102

// Copy copies a full backup, with the backups it continues, to a named
// target (typically off site): every file, then its manifest, so that the
// target only lists a backup once all of it is there. Each file is read
// back there and checked against its SHA-256. What is there already
// (an earlier, interrupted copy; the full backup an incremental
// continues) is not sent again, and a file cut off in the middle of its
// upload continues from its last whole part. Where the target locks
// (LockDays), every object is locked until the backup's date plus those
// days.
func (s *Service) Copy(ctx context.Context, actor account.Actor, id, to string, prog progress.Func) (CopyState, error) {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyContent); err != nil {
		return CopyState{}, err
	}
	end, err := s.begin(copyLevel)
	if err != nil {
		return CopyState{}, errors.New("a copy of a backup is running already")
	}
	defer end()
	m, err := s.Get(id)
	if err != nil {
		return CopyState{}, err
	}
	return s.copyBackup(ctx, m, to, prog)
}

// CopyPending copies to the copy target (Level2Settings.CopyTo) every
// full backup in the backup folder that is not there yet, oldest first:
// the one just taken, and any whose copy was interrupted (a dropped
// connection, Plinth stopped) or failed.
func (s *Service) CopyPending(ctx context.Context, actor account.Actor, prog progress.Func) ([]CopyState, error) {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyContent); err != nil {
		return nil, err
	}
	cfg, err := s.Level2()
	if err != nil || cfg.CopyTo == "" {
		return nil, err
	}
	end, err := s.begin(copyLevel)
	if err != nil {
		return nil, nil // the running copy takes them
	}
	defer end()
	// The backups where scheduled backups are written: the backup folder,
	// or the target they go straight into.
	all, err := s.List()
	if cfg.Into != "" {
		all, _, err = s.TargetBackups(ctx, cfg.Into)
	}
	if err != nil {
		return nil, err
	}
	var out []CopyState
	for i := len(all) - 1; i >= 0; i-- {
		m := all[i]
		if r, ok := s.lookupRecord(m.ID); ok && copyOf(r, cfg.CopyTo).State == CopyCopied {
			continue
		}
		st, err := s.copyBackup(ctx, m, cfg.CopyTo, prog)
		out = append(out, st)
		if err != nil {
			return out, err
		}
	}
	// The rule applies there too, once the copies are in.
	if _, err := s.PruneCopies(ctx, cfg, false); err != nil {
		s.log.Warn("prune the copy target", "err", err)
	}
	return out, nil
}

// copyOf is the record's copy to a target.
func copyOf(r Record, to string) CopyState {
	for _, c := range r.Copies {
		if c.Target == to {
			return c
		}
	}
	return CopyState{}
}

// setCopy writes a copy's state into the backup's History record.
func (s *Service) setCopy(id string, st CopyState) {
	s.setCopyIn(Record{ID: id, Level: 2}, st)
}

// setCopyIn writes a copy's state into the History record of backup
// def.ID, made from def when History has none.
func (s *Service) setCopyIn(def Record, st CopyState) {
	id := def.ID
	err := s.mgr.Update(func(tx *storage.Tx) error {
		r, err := history.Get(tx, id)
		if errors.Is(err, storage.ErrNotFound) {
			r = def
		} else if err != nil {
			return err
		}
		for i := range r.Copies {
			if r.Copies[i].Target == st.Target {
				r.Copies[i] = st
				return history.Put(tx, id, r)
			}
		}
		r.Copies = append(r.Copies, st)
		return history.Put(tx, id, r)
	})
	if err != nil {
		s.log.Error("record the copy of a backup", "id", id, "err", err)
	}
}

// file is one stored file of a backup: its path in the backup, size and
// SHA-256.
type file struct {
	rel  string
	size int64
	sum  string
}

func backupFiles(m Manifest) []file {
	var out []file
	for _, p := range m.Payloads {
		out = append(out, file{p.File, p.Bytes, p.SHA256})
		for _, s := range p.Segments {
			out = append(out, file{s.File, s.Bytes, s.SHA256})
		}
	}
	return out
}

func (s *Service) copyBackup(ctx context.Context, m Manifest, to string, prog progress.Func) (st CopyState, err error) {
	st = CopyState{Target: to, State: CopyCopying, Started: s.now().UTC()}
	defer func() {
		st.Finished = s.now().UTC()
		if err != nil {
			if ctx.Err() != nil {
				// Stopped, not failed: the next run continues it.
				st.Error = "stopped before it finished; it continues with the next backup"
				s.setCopy(m.ID, st)
				return
			}
			st.State, st.Error = CopyFailed, err.Error()
			r, _ := s.lookupRecord(m.ID)
			before := copyOf(r, to)
			s.setCopy(m.ID, st)
			if before.State == CopyFailed && before.Error == st.Error {
				return // said already; the hourly retry stays quiet
			}
			s.tell(ctx, notify.BackupFailed, notify.Error, fmt.Sprintf("The copy of backup %s to %s failed: %s. The backup itself is fine; the copy continues with the next backup.", m.ID, to, err))
			return
		}
		st.State, st.Checked = CopyCopied, true
		s.setCopy(m.ID, st)
	}()
	if m.Level != 2 {
		return st, fmt.Errorf("backup %s is a snapshot; only full data backups are copied", m.ID)
	}
	if m.Source != nil && m.Source.Name == to {
		return st, fmt.Errorf("backup %s is in %s already; copy it to another target", m.ID, to)
	}
	c, t, err := s.OpenTarget(to)
	if err != nil {
		return st, err
	}
	if c.Offsite() && !m.Encrypted() {
		return st, fmt.Errorf("backup %s is not encrypted and %s is off site; set a backup passphrase, and the next full backup is copied", m.ID, to)
	}
	all, err := s.siblings(ctx, m)
	if err != nil {
		return st, err
	}
	ch, err := chain(all, m)
	if err != nil {
		return st, err
	}
	for _, b := range ch {
		for _, f := range backupFiles(b) {
			st.Total += f.size
		}
	}
	s.setCopy(m.ID, st)
	for _, b := range ch {
		if err := s.copyOne(ctx, m.ID, b, c, t, &st, prog); err != nil {
			return st, err
		}
		if b.ID == m.ID && c.LockDays > 0 {
			st.LockedUntil = lockUntil(b, c)
		}
		s.setCopy(m.ID, st)
	}
	s.log.Info("backup copied", "id", m.ID, "to", to, "bytes", st.Total)
	return st, nil
}

func lockUntil(b Manifest, c TargetConfig) time.Time {
	return b.Created.Add(time.Duration(c.LockDays) * 24 * time.Hour).UTC().Truncate(time.Second)
}

// copyOne copies one backup b of the chain that ends in backup head
// (whose record shows the progress); one whose manifest is there already
// is complete there.
func (s *Service) copyOne(ctx context.Context, head string, b Manifest, c TargetConfig, t target.Target, st *CopyState, prog progress.Func) error {
	files := backupFiles(b)
	if _, err := t.Stat(ctx, b.ID+"/"+manifestName); err == nil {
		for _, f := range files {
			st.Done += f.size
		}
		return nil
	} else if !errors.Is(err, target.ErrNotFound) {
		return err
	}
	var opt target.PutOptions
	if c.LockDays > 0 {
		if until := lockUntil(b, c); until.After(s.now()) {
			opt.Retain = target.Retention{Mode: c.LockMode, Until: until}
		}
	}
	if b.Encrypted() {
		if err := s.copyKey(ctx, b, t); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := s.copyFile(ctx, b, f, t, opt, st, prog); err != nil {
			return err
		}
		s.setCopy(head, *st)
	}
	raw, err := readStoredManifest(ctx, s.fs, b)
	if err != nil {
		return fmt.Errorf("read the manifest of backup %s: %w", b.ID, err)
	}
	if _, err := t.Put(ctx, b.ID+"/"+manifestName, bytes.NewReader(raw), int64(len(raw)), opt); err != nil {
		return err
	}
	return nil
}

// copyFile uploads one file unless it is there whole, then reads it back
// and checks it.
func (s *Service) copyFile(ctx context.Context, b Manifest, f file, t target.Target, opt target.PutOptions, st *CopyState, prog progress.Func) error {
	key := b.ID + "/" + f.rel
	what := fmt.Sprintf("%s of backup %s", f.rel, b.ID)
	if o, err := t.Stat(ctx, key); err == nil && o.Size == f.size && checkThere(ctx, t, key, f) == nil {
		st.Done += f.size
		return nil
	}
	in, err := openStored(ctx, s.fs, b, f.rel) // a file (resumable upload), or another target's object
	if err != nil {
		if isOffline(err) || errors.Is(err, ErrDamaged) {
			return err
		}
		return fmt.Errorf("%s is missing here: %w", what, ErrDamaged)
	}
	defer in.Close()
	base := st.Done
	opt.Progress = func(n int64) {
		prog.Send(progress.Report{Phase: "Copying backup " + b.ID + " to " + st.Target, Done: base + n, Total: st.Total, Bytes: true})
	}
	if _, err := t.Put(ctx, key, in, f.size, opt); err != nil {
		return err
	}
	if err := checkThere(ctx, t, key, f); err != nil {
		return fmt.Errorf("%s arrived damaged in %s: %w", what, t, err)
	}
	st.Done += f.size
	return nil
}

// checkThere reads a copied file back from the target and compares it
// with its SHA-256.
func checkThere(ctx context.Context, t target.Target, key string, f file) error {
	r, err := t.Get(ctx, key, 0, -1)
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return err
	}
	if n != f.size || hex.EncodeToString(h.Sum(nil)) != f.sum {
		return fmt.Errorf("%s does not match its checksum (%s of %s): %w", key, humanize.IBytes(uint64(n)), humanize.IBytes(uint64(f.size)), ErrDamaged)
	}
	return nil
}

// copyKey puts the backup's encrypted key into the target, unless there.
func (s *Service) copyKey(ctx context.Context, b Manifest, t target.Target) error {
	return copyKeyFrom(ctx, s.fs, b, filepath.Dir(b.Path), t)
}

// readStoredManifest reads a backup's manifest as stored, byte for byte.
func readStoredManifest(ctx context.Context, fs fsys.FS, b Manifest) ([]byte, error) {
	if b.Source == nil {
		return fsys.ReadFileLimit(fs, filepath.Join(b.Path, manifestName), maxManifest)
	}
	r, err := b.Source.T.Get(ctx, b.ID+"/"+manifestName, 0, maxManifest)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// copyKeyFrom puts the encrypted key of backup m into a target, unless
// it is there: read from where m lies (readKey), for a backup in a folder
// from the keys folder in dir.
func copyKeyFrom(ctx context.Context, fs fsys.FS, m Manifest, dir string, t target.Target) error {
	key := path.Join(keysDir, m.Recipient+".age")
	if _, err := t.Stat(ctx, key); err == nil {
		return nil
	}
	raw, err := readKey(ctx, fs, m, dir, m.Recipient)
	if err != nil {
		if isOffline(err) {
			return err
		}
		where := dir
		if m.Source != nil {
			where = m.Source.Name
		}
		return fmt.Errorf("the key of backup %s is missing from %s: %w", m.ID, where, ErrDamaged)
	}
	_, err = t.Put(ctx, key, bytes.NewReader(raw), int64(len(raw)), target.PutOptions{})
	return err
}
