package backup

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/names"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/storage"
)

// Verification says how far a backup was checked.
type Verification struct {
	Backup   string `json:"backup"`
	Checksum bool   `json:"checksums"` // every stored file matches its SHA-256
	Restored bool   `json:"restored"`  // restored into a scratch folder and compared
	Chunks   int    `json:"chunks"`    // content chunks read back and checked
	Note     string `json:"note,omitempty"`
}

// Verify checks a backup: every stored file against its checksum, then,
// when it can be read (not encrypted, or the passphrase is given), a full
// restore into a scratch folder whose stores must match the manifest's
// counts and digests, agree with each other, and hold every content chunk
// intact. The result goes into the history. It needs View item on the
// Servers page.
func (s *Service) Verify(ctx context.Context, actor account.Actor, id, passphrase string, prog progress.Func) (Verification, error) {
	v := Verification{Backup: id}
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.View); err != nil {
		return v, err
	}
	m, bad, err := s.get(id)
	if bad != nil {
		v.Backup = bad.ID
		s.failVerify(*bad)
	}
	if err != nil {
		return v, err
	}
	v.Backup = m.ID
	err = s.verify(ctx, m, passphrase, &v, prog)
	rec, ok := s.lookupRecord(m.ID)
	if !ok {
		rec = Record{ID: m.ID, Level: m.Level, Type: m.Type, Item: m.ItemName, Started: m.Created, Finished: m.Created, OK: true, Bytes: m.Bytes()}
	}
	rec.Verified, rec.VerifyOK, rec.VerifyError = s.now().UTC(), err == nil, ""
	if err != nil {
		rec.VerifyError = err.Error()
	}
	s.record(rec)
	return v, err
}

// VerifyIn verifies the copy of a backup that lies in a named target, as
// Verify does (it would find the backup folder's own first). The result
// goes into the backup's History record, with its copy to that target.
func (s *Service) VerifyIn(ctx context.Context, actor account.Actor, id, in, passphrase string, prog progress.Func) (Verification, error) {
	v := Verification{Backup: id}
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.View); err != nil {
		return v, err
	}
	good, bad, err := s.TargetBackups(ctx, in)
	if err != nil {
		return v, err
	}
	var m *Manifest
	for i := range good {
		if good[i].ID == id || len(id) >= 6 && strings.HasPrefix(good[i].ID, id) {
			if m != nil {
				return v, fmt.Errorf("%s matches more than one backup in %s; give more of the id", quote(id), in)
			}
			m = &good[i]
		}
	}
	if m == nil {
		for _, d := range bad {
			if d.ID == id {
				return v, d.Err
			}
		}
		return v, fmt.Errorf("there is no backup %s in %s: %w", quote(id), in, ErrNotFound)
	}
	v.Backup = m.ID
	err = s.verify(ctx, *m, passphrase, &v, prog)
	if uerr := s.mgr.Update(func(tx *storage.Tx) error {
		r, gerr := history.Get(tx, m.ID)
		if errors.Is(gerr, storage.ErrNotFound) {
			r, gerr = Record{ID: m.ID, Level: m.Level, Type: m.Type, Started: m.Created, Finished: m.Created, OK: true, Bytes: m.Bytes(), Target: in}, nil
		}
		if gerr != nil {
			return gerr
		}
		if r.Target == in { // the backup itself lies there
			r.Verified, r.VerifyOK, r.VerifyError = s.now().UTC(), err == nil, ""
			if err != nil {
				r.VerifyError = err.Error()
			}
		} else {
			i := copyIndex(&r, in)
			r.Copies[i].Verified, r.Copies[i].VerifyError = s.now().UTC(), ""
			if err != nil {
				r.Copies[i].VerifyError = err.Error()
			}
		}
		return history.Put(tx, r.ID, r)
	}); uerr != nil {
		s.log.Error("record a verification", "id", m.ID, "err", uerr)
	}
	return v, err
}

func (s *Service) verify(ctx context.Context, m Manifest, passphrase string, v *Verification, prog progress.Func) error {
	prog.Send(progress.Report{Phase: "Checking checksums"})
	if err := s.Check(ctx, m); err != nil {
		return err
	}
	v.Checksum = true
	if m.Encrypted() && passphrase == "" {
		v.Note = "checksums verified; the content is encrypted and was not opened (give the passphrase for a full check)"
		return nil
	}
	if m.Level == 1 {
		n, err := s.verifySnapshot(ctx, m, passphrase)
		v.Chunks, v.Restored = n, err == nil
		return err
	}
	all, err := s.siblings(ctx, m)
	if err != nil {
		return err
	}
	ch, err := chain(all, m)
	if err != nil {
		return err
	}
	op, err := s.opener(m, filepath.Dir(m.Path), passphrase)
	if err != nil {
		return err
	}
	// The scratch copy takes what a restore would: refuse before writing
	// anything when its disk cannot hold it.
	need, err := restoreBytes(ch, []storage.Kind{storage.Manager, storage.FileServer})
	if err != nil {
		return err
	}
	if err := storage.NeedSpace(os.TempDir(), need, "verifying backup "+m.ID); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp("", "plinth-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	dirs := map[storage.Kind]string{storage.Manager: filepath.Join(scratch, "manager"), storage.FileServer: filepath.Join(scratch, "fileserver")}
	if err := stage(ctx, ch, op, dirs, storage.Options{}, prog); err != nil {
		return diskFull(err, os.TempDir(), "verifying backup "+m.ID+" stopped there")
	}
	for k, dir := range dirs {
		if err := checkStaged(dir, k, m); err != nil {
			return err
		}
	}
	mgr, err := storage.Open(dirs[storage.Manager], storage.Manager, storage.Options{})
	if err != nil {
		return err
	}
	defer mgr.Close()
	fsr, err := storage.Open(dirs[storage.FileServer], storage.FileServer, storage.Options{})
	if err != nil {
		return err
	}
	defer fsr.Close()
	fs := files.NewService(mgr, fsr, account.NewService(mgr), nil)
	dm, df, err := fs.Digests()
	if err != nil {
		return err
	}
	if dm != df {
		return fmt.Errorf("in backup %s the Manager (%d files, digest %.8s) and the File Server (%d files, digest %.8s) disagree: %w",
			m.ID, dm.Count, hex.EncodeToString(dm.Digest[:]), df.Count, hex.EncodeToString(df.Digest[:]), ErrDamaged)
	}
	prog.Send(progress.Report{Phase: "Reading every file content back"})
	n, err := fs.CheckContents(ctx)
	v.Chunks = n
	if err != nil {
		return fmt.Errorf("backup %s: %w", m.ID, err)
	}
	v.Restored = true
	return nil
}

// failVerify records that a backup whose manifest is damaged failed its
// verification.
func (s *Service) failVerify(d Damaged) {
	if names.Check(d.ID) != nil {
		return // a folder name no backup has; the error says it, escaped
	}
	rec, ok := s.lookupRecord(d.ID)
	if !ok {
		rec = Record{ID: d.ID, Level: 2, Started: s.now().UTC(), Finished: s.now().UTC()}
	}
	rec.Verified, rec.VerifyOK, rec.VerifyError = s.now().UTC(), false, d.Err.Error()
	s.record(rec)
}

// VerifyNewest verifies the newest level-2 backup; the weekly job runs
// it. A folder in the target whose manifest is damaged fails it too, with
// a sentence naming that backup (and a failed verification in the
// history), even when the newest sound backup verifies. It needs View
// item on the Servers page.
func (s *Service) VerifyNewest(ctx context.Context, actor account.Actor) (Verification, error) {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.View); err != nil {
		return Verification{}, err
	}
	cfg, err := s.Level2()
	if err != nil {
		return Verification{}, err
	}
	all, bad, err := scan(s.fs, cfg.Target)
	if err != nil {
		return Verification{}, err
	}
	var v Verification
	all = slices.DeleteFunc(all, newerPayload) // a newer Plinth verifies its own
	if len(all) == 0 {
		v.Note = "no full backup to verify yet"
	} else if v, err = s.Verify(ctx, actor, all[0].ID, "", nil); err != nil {
		return v, err
	}
	for _, d := range bad {
		if errors.Is(d.Err, ErrNewerBackup) {
			continue
		}
		s.failVerify(d)
		if err == nil {
			err = d.Err
		}
	}
	return v, err
}
