package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// OlderJournalName records a RestoreOlder under way: the renames that
// put the newer data aside and the backup in its place, and the
// format.json to write at the end. Every step can run again.
const OlderJournalName = "restore-older.json"

type olderJournal struct {
	Format  int                `json:"format"` // of the journal (upgrade.Control)
	Renames []rename           `json:"renames"`
	Done    int                `json:"done"` // how many renames are done
	Folder  upgrade.FolderFile `json:"folder"`
}

// secretKeyName is the key the secrets in the Manager store are sealed
// with (package notify keeps it in the data folder when there is no OS
// keychain).
const secretKeyName = "secret.key"

// stays reports whether an entry of the data folder stays where it is
// when the newer data goes aside: the log, the lock, the secret key, the
// default backup targets (the backup being restored lies there), earlier
// newer data, this restore's journal and staged stores.
func stays(name string, staged map[storage.Kind]string) bool {
	switch name {
	case "logs", "plinth.lock", "backups", secretKeyName, OlderJournalName:
		return true
	}
	for _, d := range staged {
		if name == filepath.Base(d) {
			return true
		}
	}
	return strings.HasPrefix(name, "newer-data-") || strings.HasPrefix(name, ".probe-")
}

// raiseGeneration sets a staged store's restore generation past every
// generation the backups in all record for it.
func raiseGeneration(dir string, k storage.Kind, all []Manifest) error {
	st, err := storage.Open(dir, k, storage.Options{})
	if err != nil {
		return fmt.Errorf("the restored %s does not open: %w", storeName(k), err)
	}
	defer st.Close()
	g := st.Identity().Generation
	for _, m := range all {
		if p, ok := m.Payload(k); ok && p.Identity == st.Identity().ID {
			g = max(g, p.Generation)
		}
	}
	_, err = st.SetGeneration(g + 1)
	return err
}

type rename struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// OlderResult is what RestoreOlder did.
type OlderResult struct {
	Backup string `json:"backup"`
	// Aside is the folder the newer data was moved into, whole.
	Aside  string `json:"aside"`
	Format int    `json:"format"` // the data format of the restored folder
}

// RestoreOlder is the way back after an upgrade: it puts full backup id
// (found in one of targets) in place of a data folder that a newer Plinth
// upgraded past what this Plinth reads. This Plinth cannot open the newer
// stores, so nothing of them is read: they are moved, whole, with their
// format.json, into <data>/newer-data-<time>, from where nothing is
// deleted. The caller holds the data folder's lock.
//
// login is asked, with the accounts of the restored Manager store (the
// users and passwords as they were when the backup was taken), to log the
// user in; it must fail unless the user may restore (every permission on
// the Servers page). Until the renames begin, a failure changes nothing;
// once they have begun, FinishRestoreOlder completes them at the next
// start.
func RestoreOlder(ctx context.Context, dataDir string, targets []string, id, passphrase, version string,
	login func(context.Context, *account.Service) error, prog progress.Func) (OlderResult, error) {
	res := OlderResult{Backup: id}
	s := &Service{fs: fsys.OS, log: slog.New(slog.DiscardHandler), dataDir: dataDir, Version: version}
	m, all, err := findBackup(s.fs, targets, id)
	if err != nil {
		return res, err
	}
	if m.Level != 2 {
		return res, fmt.Errorf("backup %s is a snapshot of one project or library; the data folder goes back to a full backup", id)
	}
	ch, err := chain(all, m)
	if err != nil {
		return res, err
	}
	kinds := []storage.Kind{storage.Manager, storage.FileServer}
	if err := newerData(ch, kinds, m.ID); err != nil {
		return res, err
	}
	res.Format = 1
	for _, b := range ch {
		for _, p := range b.Payloads {
			res.Format = max(res.Format, p.Format)
		}
	}
	op, err := s.opener(m, filepath.Dir(m.Path), passphrase)
	if err != nil {
		return res, err
	}
	need, err := restoreBytes(ch, kinds)
	if err != nil {
		return res, err
	}
	if err := storage.NeedSpace(dataDir, need, "the restore"); err != nil {
		return res, err
	}
	prog.Send(progress.Report{Phase: "Checking checksums"})
	if err := s.checkChain(ctx, ch, nil); err != nil {
		return res, err
	}
	stamp := time.Now().UTC().Format("20060102-150405")
	dirs := map[storage.Kind]string{}
	for _, k := range kinds {
		dirs[k] = stagingDir(dataDir, k, "older-"+stamp)
	}
	committed := false
	defer func() {
		if !committed {
			for _, d := range dirs {
				_ = os.RemoveAll(d)
			}
		}
	}()
	if err := stage(ctx, ch, op, dirs, storage.Options{}, prog); err != nil {
		return res, diskFull(err, dataDir, "the restore stopped and nothing was changed")
	}
	for k, dir := range dirs {
		if err := checkStaged(dir, k, m); err != nil {
			return res, err
		}
	}
	if err := loginStaged(ctx, dirs[storage.Manager], login); err != nil {
		return res, err
	}
	// Past every generation the target knows of these stores: backups the
	// newer Plinth took hold later versions of them, and no backup of the
	// restored stores may continue one of those.
	for _, k := range kinds {
		if err := raiseGeneration(dirs[k], k, all); err != nil {
			return res, err
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}

	res.Aside = filepath.Join(dataDir, "newer-data-"+stamp)
	if err := s.fs.MkdirAll(res.Aside, 0o700); err != nil {
		return res, fmt.Errorf("make the folder for the newer data: %w", err)
	}
	// The secret key stays (the restored Manager store's secrets are
	// sealed with it); the newer data gets a copy.
	if b, err := fsys.ReadFileLimit(s.fs, filepath.Join(dataDir, secretKeyName), 1<<10); err == nil {
		if err := fsys.WriteFile(s.fs, filepath.Join(res.Aside, secretKeyName), b, fsys.Options{Perm: 0o600}); err != nil {
			return res, fmt.Errorf("copy the secret key beside the newer data: %w", err)
		}
	}
	j := olderJournal{Format: upgrade.Control}
	aside, err := s.fs.ReadDir(dataDir)
	if err != nil {
		return res, err
	}
	for _, e := range aside {
		if stays(e.Name(), dirs) {
			continue
		}
		j.Renames = append(j.Renames, rename{From: filepath.Join(dataDir, e.Name()), To: filepath.Join(res.Aside, e.Name())})
	}
	for _, k := range kinds {
		j.Renames = append(j.Renames, rename{From: dirs[k], To: storage.Path(dataDir, k)})
	}
	j.Folder = upgrade.FolderFile{Format: res.Format, WrittenBy: version}
	if old, err := upgrade.Read(s.fs, dataDir, true); err == nil {
		for _, u := range old.File.Upgrades {
			if u.To <= res.Format {
				j.Folder.Upgrades = append(j.Folder.Upgrades, u)
			}
		}
	}
	b, _ := json.MarshalIndent(j, "", "  ")
	if err := fsys.WriteFile(s.fs, filepath.Join(dataDir, OlderJournalName), b, fsys.Options{}); err != nil {
		_ = os.Remove(filepath.Join(dataDir, OlderJournalName))
		_ = os.RemoveAll(res.Aside) // only the copy of the key is there
		return res, fmt.Errorf("record the restore, and nothing was changed: %w", err)
	}
	committed = true // from here on, the journal finishes what was begun
	prog.Send(progress.Report{Phase: "Putting the newer data aside and the backup in its place"})
	if _, err := FinishRestoreOlder(dataDir); err != nil {
		return res, fmt.Errorf("%w; start Plinth again to finish the restore", err)
	}
	return res, nil
}

// findBackup finds a level-2 backup by id in the first target that holds
// it, with every backup of that target.
func findBackup(fsy fsys.FS, targets []string, id string) (Manifest, []Manifest, error) {
	var seen []string
	for _, t := range targets {
		if t == "" || slices.Contains(seen, t) {
			continue
		}
		seen = append(seen, t)
		all, err := list(fsy, t)
		if err != nil {
			continue
		}
		for _, m := range all {
			if m.ID == id {
				return m, all, nil
			}
		}
	}
	return Manifest{}, nil, refusal(ErrNotFound, "there is no backup %s in %s", id, strings.Join(seen, ", "))
}

// loginStaged logs the user in against a restored Manager store.
func loginStaged(ctx context.Context, dir string, login func(context.Context, *account.Service) error) error {
	st, err := storage.Open(dir, storage.Manager, storage.Options{})
	if err != nil {
		return fmt.Errorf("the restored Manager store does not open: %w", err)
	}
	defer st.Close()
	return login(ctx, account.NewService(st))
}

// FinishRestoreOlder completes a RestoreOlder that was cut short (or runs
// the one just recorded): each rename is done unless it was, then the
// restored folder's format.json is written and the journal removed. It
// reports whether there was one. The caller holds the data folder's lock.
func FinishRestoreOlder(dataDir string) (bool, error) {
	path := filepath.Join(dataDir, OlderJournalName)
	b, err := fsys.ReadFileLimit(fsys.OS, path, 1<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("read %s: %w", path, err)
	}
	var head struct{ Format int }
	if err := json.Unmarshal(b, &head); err == nil && head.Format > upgrade.Control {
		return true, newerBackup("the journal of a restore that was cut short ("+path+")", "control file format", head.Format, upgrade.Control, "")
	}
	var j olderJournal
	if err := json.Unmarshal(b, &j); err != nil || j.Done < 0 || j.Done > len(j.Renames) {
		return true, fmt.Errorf("the journal of a restore that was cut short (%s) is damaged; the data folder is part newer data, part backup: ask for help before changing anything in it", path)
	}
	// Each rename is counted once done. One that is done but not yet
	// counted (a crash in between) has its source gone and its target
	// there.
	for ; j.Done < len(j.Renames); j.Done++ {
		r := j.Renames[j.Done]
		_, errFrom := os.Lstat(r.From)
		_, errTo := os.Lstat(r.To)
		switch {
		case errFrom == nil && errTo != nil:
			if err := os.Rename(r.From, r.To); err != nil {
				return true, fmt.Errorf("move %s to %s: %w; start Plinth again to finish the restore", r.From, r.To, err)
			}
			if err := fsys.OS.SyncDir(filepath.Dir(r.To)); err != nil {
				return true, err
			}
			if err := fsys.OS.SyncDir(filepath.Dir(r.From)); err != nil {
				return true, err
			}
		case errFrom != nil && errTo == nil:
			// done before the crash
		default:
			return true, fmt.Errorf("the restore that was cut short cannot move %s to %s (the one is missing or both are there); the data folder is part newer data, part backup: ask for help before changing anything in it", r.From, r.To)
		}
		next := j
		next.Done++
		jb, _ := json.MarshalIndent(next, "", "  ")
		if err := fsys.WriteFile(fsys.OS, path, jb, fsys.Options{}); err != nil {
			return true, fmt.Errorf("record the restore's progress: %w", err)
		}
	}
	fb, _ := json.MarshalIndent(j.Folder, "", "  ")
	if err := fsys.WriteFile(fsys.OS, filepath.Join(dataDir, upgrade.FolderFileName), append(fb, '\n'), fsys.Options{}); err != nil {
		return true, fmt.Errorf("record the restored data folder's format: %w", err)
	}
	if err := os.Remove(path); err != nil {
		return true, err
	}
	return true, fsys.OS.SyncDir(dataDir)
}
