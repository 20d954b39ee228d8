package backup

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/text"
	"codeberg.org/plinth/plinth/storage"
)

func (s *Service) previewSnapshot(ctx context.Context, m Manifest) ([]string, error) {
	what := fmt.Sprintf("%s %q goes back to %s.", upperFirst(m.ItemKind), m.ItemName, m.Created.Local().Format("2006-01-02 15:04"))
	if m.Source != nil {
		return []string{what, fmt.Sprintf("The snapshot is in %s only: it is fetched from there and checked first.", m.Source.Name),
			"The current state is saved as a snapshot first."}, nil
	}
	if m.Encrypted() {
		return []string{what, "The snapshot is encrypted: what changes can be told only with the backup passphrase.",
			"The current state is saved as a snapshot first."}, nil
	}
	doc, _, err := s.readTree(m, plain)
	if err != nil {
		return nil, err
	}
	master, _ := s.acc.ActAs(ctx, account.MasterAdmin)
	_, cur, err := s.files.TreeOfNodes(ctx, master, m.Item)
	if err != nil {
		return []string{fmt.Sprintf("%s %q no longer exists; restore it as a new %s from this snapshot.", m.ItemKind, m.ItemName, m.ItemKind)}, nil
	}
	var changed, added, removed int
	in := map[string]bool{}
	for _, e := range doc.Entries {
		in[e.Path] = true
		n, ok := cur[e.Path]
		switch {
		case !ok:
			added++
		case e.Kind == files.KindFile && n.Hash != e.Hash:
			changed++
		}
	}
	for p := range cur {
		if !in[p] {
			removed++
		}
	}
	return []string{what, changeSummary(changed, added, removed), "The current state is saved as a snapshot first."}, nil
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// changeSummary says in one sentence what a rollback changes.
func changeSummary(changed, added, removed int) string {
	one := func(n int, single, many string) string {
		if n == 1 {
			return single
		}
		return many
	}
	var parts []string
	if changed > 0 {
		parts = append(parts, text.Count(changed, "file")+one(changed, " gets its", " get their")+" earlier content back (as a new version)")
	}
	if added > 0 {
		parts = append(parts, text.Count(added, "item")+one(added, " comes back", " come back"))
	}
	if removed > 0 {
		parts = append(parts, text.Count(removed, "item")+" added since"+one(removed, " is", " are")+" deleted")
	}
	if len(parts) == 0 {
		return "Nothing has changed since the snapshot."
	}
	return upperFirst(strings.Join(parts, ", ") + ".")
}

// RestoreSnapshot rolls an item back to a snapshot in place (asNew "")
// after saving its current state as a snapshot, or creates a new project
// or library named asNew from it. In place needs Modify content and
// Delete content on the item; as new, Modify content on the Projects root.
// An encrypted snapshot needs the backup passphrase. A snapshot that lies
// only in the snapshot copy target is fetched here first (fetchSnapshot).
// Every chunk is read
// and checked before anything changes; a restore that fails part-way puts
// the item back as it was (in place) or removes what it created (as new).
func (s *Service) RestoreSnapshot(ctx context.Context, actor account.Actor, id, asNew, passphrase string, prog progress.Func) (Result, error) {
	m, err := s.FindBackup(ctx, id)
	if err != nil {
		return Result{}, err
	}
	if m.Level != 1 {
		return Result{}, fmt.Errorf("backup %s is not a project or library snapshot", m.ID)
	}
	return s.restoreSnapshot(ctx, actor, m, asNew, passphrase, prog)
}

func (s *Service) restoreSnapshot(ctx context.Context, actor account.Actor, m Manifest, asNew, passphrase string, prog progress.Func) (Result, error) {
	res := Result{Backup: m.ID, Scope: ScopeItem}
	// Permission first: nothing is read for someone who may not restore.
	var item files.Node
	if asNew == "" {
		var err error
		if item, err = s.files.Get(ctx, actor, m.Item); err != nil {
			return res, fmt.Errorf("%s %q no longer exists; restore it as a new %s: %w", m.ItemKind, m.ItemName, m.ItemKind, err)
		}
		if err := s.acc.Check(ctx, actor, item.Item(), account.ModifyContent|account.DeleteContent); err != nil {
			return res, err
		}
	} else if err := s.mayCreate(ctx, actor, asNew); err != nil {
		return res, err
	}
	// A snapshot that lies only in the copy target comes here first.
	m, err := s.fetchSnapshot(ctx, m, passphrase)
	if err != nil {
		return res, err
	}
	cd, err := s.readingCodec(m, passphrase)
	if err != nil {
		return res, err
	}
	doc, want, err := s.readTree(m, cd)
	if err != nil {
		return res, err
	}
	var content int64
	for _, n := range want {
		content += n
	}
	if err := storage.NeedSpace(s.dataDir, content, "restoring snapshot "+m.ID); err != nil {
		return res, err
	}
	if _, err := s.readChunks(ctx, m, cd, want); err != nil {
		return res, err
	}
	target := s.snapshotTarget()
	ps, err := s.packsOf(target)
	if err != nil {
		return res, err
	}
	open := chunkOpener(s.fs, target, ps, cd, want)
	if asNew == "" {
		if err := s.rollBack(ctx, actor, item, Pending{Op: opRollback, From: m.ID}, doc.Entries, open, passphrase, prog); err != nil {
			return res, err
		}
		res.Item = item.Name
	} else {
		kind, err := files.ParseKind(doc.Kind)
		if err != nil || (kind != files.KindProject && kind != files.KindLibrary) {
			kind = files.KindProject
		}
		n, err := s.createFromTree(ctx, actor, Pending{Op: opRestoreNew, Name: asNew, From: m.ID}, kind, doc.Entries, open, prog)
		if err != nil {
			return res, err
		}
		res.Item = n.Name
	}
	s.tell(ctx, notify.RestoreCompleted, notify.Info, fmt.Sprintf("%s %q was restored from the snapshot of %s.",
		upperFirst(m.ItemKind), res.Item, m.Created.Local().Format("2006-01-02 15:04")))
	return res, nil
}

// mayCreate checks that actor may create a project or library named name
// at the Projects root, and that the name is free.
func (s *Service) mayCreate(ctx context.Context, actor account.Actor, name string) error {
	root, err := s.files.Get(ctx, actor, files.RootID)
	if err != nil {
		return err
	}
	if err := s.acc.Check(ctx, actor, root.Item(), account.ModifyContent); err != nil {
		return err
	}
	if err := files.CheckName(name); err != nil {
		return err
	}
	if _, err := s.files.Lookup(ctx, actor, "/"+name); err == nil {
		return fmt.Errorf("%q already exists; choose another name", name)
	}
	return nil
}

// createFromTree creates a project or library named p.Name holding
// tree, all or nothing: when filling it fails, it is removed again, and
// while it is filled a pending record says so, so that a Plinth stopped
// part-way removes it at its next start (Recover).
func (s *Service) createFromTree(ctx context.Context, actor account.Actor, p Pending, kind files.Kind, tree []files.TreeEntry,
	open func(files.TreeEntry) (io.ReadCloser, error), prog progress.Func) (files.Node, error) {
	p.Kind, p.By, p.Started = kind.String(), actor.Name(), s.now().UTC()
	n, err := s.files.CreateWith(ctx, actor, files.RootID, p.Name, kind, func(tx *storage.Tx, n files.Node) error {
		p.Node, p.Name = n.ID, n.Name
		return pendings.Put(tx, n.ID, p)
	})
	if err != nil {
		return files.Node{}, err
	}
	err = s.files.PutTree(ctx, actor, n.ID, tree, false, open, prog)
	if err == nil {
		if err = s.clearPending(n.ID); err == nil {
			return n, nil
		}
		err = fmt.Errorf("finish %s %q: %w", kind, n.Name, err)
	}
	if rerr := s.removeItem(ctx, n.ID); rerr != nil {
		return files.Node{}, fmt.Errorf("%w; the half-filled %s %q could not be removed (%v); Plinth removes it when it starts again", err, kind, n.Name, rerr)
	}
	if cerr := s.clearPending(n.ID); cerr != nil {
		s.log.Error("clear the record of a failed restore", "item", n.Name, "err", cerr)
	}
	return files.Node{}, err
}

// removeItem deletes what a failed restore or import created, whoever
// started it: it was not there before.
func (s *Service) removeItem(ctx context.Context, id string) error {
	master, err := s.acc.ActAs(ctx, account.MasterAdmin)
	if err != nil {
		return err
	}
	return s.files.Delete(context.WithoutCancel(ctx), master, id, nil)
}

// rollBack puts tree into item in place after saving the item's state as
// a safety snapshot; p says what the rollback is (Op, From, ItemPath). A
// pending record covers the changes, so that a Plinth stopped part-way
// finishes the rollback or puts the item back at its next start
// (Recover). When the rollback fails part-way, the state before is put
// back from the file server (or the safety snapshot, which passphrase
// opens when it is encrypted), so that the item is as it was.
func (s *Service) rollBack(ctx context.Context, actor account.Actor, item files.Node, p Pending, tree []files.TreeEntry,
	open func(files.TreeEntry) (io.ReadCloser, error), passphrase string, prog progress.Func) error {
	if _, busy := s.running.LoadOrStore(rollbackKey{item.ID}, struct{}{}); busy {
		return fmt.Errorf("%q is being restored already; try again when that has finished", item.Name)
	}
	defer s.running.Delete(rollbackKey{item.ID})
	master, err := s.acc.ActAs(ctx, account.MasterAdmin)
	if err != nil {
		return err
	}
	_, before, err := s.files.TreeOf(ctx, master, item.ID)
	if err != nil {
		return err
	}
	safety, err := s.snapshot(ctx, actor, item.ID, TriggerSafety, nil)
	if err != nil {
		return fmt.Errorf("save the current state first: %w", err)
	}
	p.Node, p.Name, p.Kind, p.By, p.Started, p.Safety = item.ID, item.Name, item.Kind.String(), actor.Name(), s.now().UTC(), safety.ID
	if err := s.putPending(p); err != nil {
		return fmt.Errorf("record the rollback of %s: %w", item.Name, err)
	}
	err = s.files.PutTree(ctx, actor, item.ID, tree, true, open, prog)
	if err == nil {
		if cerr := s.clearPending(item.ID); cerr != nil {
			// Harmless: the next start rolls back to the same state again.
			s.log.Error("clear the record of a rollback", "item", item.Name, "err", cerr)
		}
		return nil
	}
	// Put the state before back: its contents are on the file server,
	// and in the safety snapshot just taken. Should that fail too, or
	// Plinth stop meanwhile, the next start puts the item back from the
	// safety snapshot.
	p.Undo = true
	if uerr := s.putPending(p); uerr != nil {
		s.log.Error("record the rollback", "item", item.Name, "err", uerr)
	}
	target := s.snapshotTarget()
	safetyCodec := sync.OnceValues(func() (*codec, error) { return s.readingCodec(safety, passphrase) })
	load := func(id string) ([]byte, error) {
		data, ferr := s.files.ReadChunk(id)
		if ferr == nil {
			return data, nil
		}
		cd, cerr := safetyCodec()
		if cerr != nil {
			return nil, ferr
		}
		ps, perr := s.packsOf(target)
		if perr != nil {
			return nil, ferr
		}
		return loadChunk(s.fs, target, ps, cd, id, -1)
	}
	back := func(e files.TreeEntry) (io.ReadCloser, error) {
		return &chunkReader{load: load, chunks: e.Chunks, name: e.Path, size: e.Size}, nil
	}
	if uerr := s.files.PutTree(context.WithoutCancel(ctx), master, item.ID, before, true, back, nil); uerr != nil {
		return fmt.Errorf("%w; putting the state before back failed too (%v): it is kept as snapshot %s", err, uerr, safety.ID)
	}
	if cerr := s.clearPending(item.ID); cerr != nil {
		s.log.Error("clear the record of a rollback", "item", item.Name, "err", cerr)
	}
	return err
}
