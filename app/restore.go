package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/core/filesync"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/storage"
)

// Scope says which stores a restore replaces.
type Scope string

// Restore scopes.
const (
	ScopeAll        Scope = "all"
	ScopeManager    Scope = "manager"
	ScopeFileServer Scope = "fileserver"
)

func (s Scope) kinds() ([]storage.Kind, error) {
	switch s {
	case ScopeAll:
		return []storage.Kind{storage.Manager, storage.FileServer}, nil
	case ScopeManager:
		return []storage.Kind{storage.Manager}, nil
	case ScopeFileServer:
		return []storage.Kind{storage.FileServer}, nil
	}
	return nil, fmt.Errorf("unknown restore scope %q: use all, manager or fileserver", s)
}

// RestoreResult says what a restore did.
type RestoreResult struct {
	Backup     string         `json:"backup"`
	Scope      Scope          `json:"scope"`
	SafetyCopy string         `json:"safetyCopy"` // where the replaced data was kept
	Check      filesync.Check `json:"check"`      // drift detection after the restore
}

// Restore replaces one or both stores with their state in a backup. It
// checks the backup, loads it into new folders beside the live ones, and
// only then closes the stores and swaps the folders by renaming; the
// replaced folders stay as a safety copy. Any failure before the swap
// leaves the live data exactly as it was. Afterwards the restore
// generation is bumped and drift detection runs, which leads into the
// full file synchronization when only one store was restored.
//
// It needs every permission on the Servers page.
func (a *App) Restore(ctx context.Context, actor account.Actor, id string, scope Scope, prog progress.Func) (RestoreResult, error) {
	res := RestoreResult{Scope: scope}
	kinds, err := scope.kinds()
	if err != nil {
		return res, err
	}
	if err := a.Accounts.Check(ctx, actor, account.ServersPage, account.All); err != nil {
		return res, err
	}
	m, err := a.Backups.Get(id)
	if err != nil {
		return res, err
	}
	res.Backup = m.ID
	prog.Send(progress.Report{Phase: "Checking the backup"})
	if err := a.Backups.Verify(ctx, m); err != nil {
		return res, err
	}
	// A backup of another Plinth may only go onto a fresh one (moving to a
	// new machine), and then only as a whole.
	for _, k := range kinds {
		p, ok := m.Payload(k)
		if !ok {
			return res, fmt.Errorf("backup %s has no %s part", m.ID, k)
		}
		cur := a.store(k)
		if p.Identity != cur.Identity().ID && !a.fresh() {
			return res, fmt.Errorf("backup %s was taken of another Plinth (%s store %s…); restore it on a fresh installation to move that Plinth here", m.ID, k, p.Identity[:8])
		}
		if p.Identity != cur.Identity().ID && scope != ScopeAll {
			return res, fmt.Errorf("backup %s was taken of another Plinth; restore it whole (scope all) to move it here", m.ID)
		}
	}
	// Load into new folders while the live stores keep running.
	stamp := time.Now().UTC().Format("20060102-150405")
	staged := map[storage.Kind]string{}
	defer func() {
		for _, dir := range staged {
			_ = os.RemoveAll(dir) // gone after a successful swap
		}
	}()
	for i, k := range kinds {
		prog.Send(progress.Report{Phase: "Loading the " + string(k) + " store from the backup", Done: int64(i), Total: int64(len(kinds))})
		dir := filepath.Join(a.DataDir, "."+string(k)+".restoring-"+stamp)
		staged[k] = dir
		r, err := backup.OpenPayload(m, k)
		if err != nil {
			return res, err
		}
		err = storage.LoadInto(dir, k, storage.Options{Logger: a.Log}, r)
		r.Close()
		if err == nil && k == storage.FileServer {
			err = backup.RestorePacks(ctx, m, dir)
		}
		if err != nil {
			return res, fmt.Errorf("restore the %s store: %w", k, err)
		}
	}
	gens := map[storage.Kind]uint64{}
	for _, k := range kinds {
		gens[k] = a.store(k).Identity().Generation
	}
	// Swap: close, rename live → safety copy, staged → live, reopen.
	prog.Send(progress.Report{Phase: "Swapping in the restored data"})
	res.SafetyCopy = filepath.Join(a.DataDir, "safety", stamp)
	if err := os.MkdirAll(res.SafetyCopy, 0o700); err != nil {
		return res, fmt.Errorf("make the safety copy folder: %w", err)
	}
	if err := a.closeStores(); err != nil {
		return res, err
	}
	var swapped []storage.Kind
	stagedAt := map[storage.Kind]string{}
	for k, d := range staged {
		stagedAt[k] = d
	}
	swapErr := func() error {
		for _, k := range kinds {
			live := storage.Path(a.DataDir, k)
			if err := os.Rename(live, filepath.Join(res.SafetyCopy, string(k))); err != nil {
				return err
			}
			if err := os.Rename(staged[k], live); err != nil {
				_ = os.Rename(filepath.Join(res.SafetyCopy, string(k)), live)
				return err
			}
			delete(staged, k)
			swapped = append(swapped, k)
		}
		return nil
	}()
	if swapErr != nil { // put back what was swapped; the data stays as it was
		for _, k := range swapped {
			live := storage.Path(a.DataDir, k)
			_ = os.Rename(live, stagedAt[k]+"-failed")
			_ = os.Rename(filepath.Join(res.SafetyCopy, string(k)), live)
		}
	}
	syncDir(a.DataDir)
	if err := a.openStores(); err != nil {
		return res, errors.Join(swapErr, err)
	}
	if swapErr != nil {
		return res, fmt.Errorf("swap in the restored data: %w; the current data was kept", swapErr)
	}
	for _, k := range kinds {
		if _, err := a.store(k).SetGeneration(gens[k] + 1); err != nil {
			return res, err
		}
	}
	if err := a.Files.Recover(ctx); err != nil {
		return res, err
	}
	a.Log.Info("restored", "backup", m.ID, "scope", scope, "safety", res.SafetyCopy)
	_ = a.Notify.Publish(ctx, notify.Event{Kind: notify.RestoreCompleted, Severity: notify.Info, Target: notify.TargetBackups,
		Text: fmt.Sprintf("Restore of backup %s (%s) finished. The data it replaced is kept in %s until you remove it.", m.ID, scope, res.SafetyCopy)})
	res.Check, _, err = a.Sync.Detect(ctx, true)
	return res, err
}

func (a *App) store(k storage.Kind) *storage.Store {
	if k == storage.Manager {
		return a.Manager
	}
	return a.FileServer
}

// fresh reports whether this Plinth holds no files yet (a new installation).
func (a *App) fresh() bool {
	for _, st := range []*storage.Store{a.Manager, a.FileServer} {
		var set storage.FileSet
		_ = st.View(func(tx *storage.Tx) (err error) { set, err = tx.FileSet(); return err })
		if set.Count > 0 {
			return false
		}
	}
	return true
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
