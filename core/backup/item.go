package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/text"
	"codeberg.org/plinth/plinth/storage"
)

// One project, library (or folder) out of a full (level-2) backup. The backup is
// loaded into a scratch folder beside the live data, the item is read from
// there and written into the live stores like a snapshot rollback: the
// rest of the office is not touched, and the two stores stay in step.

// PreviewItem says, in sentences, what restoring the item at itemPath from
// the level-2 backup m would change. Level-2 backups are not indexed by
// item, so it speaks of the item as it is now.
func (s *Service) PreviewItem(ctx context.Context, actor account.Actor, m Manifest, itemPath, asNew string) ([]string, error) {
	if m.Level != 2 {
		return s.previewSnapshot(ctx, m)
	}
	when := m.Created.Local().Format("2006-01-02 15:04")
	if asNew != "" {
		return []string{fmt.Sprintf("A new project or library %q is created with the content %s had in the backup of %s.", asNew, itemPath, when),
			"Nothing else changes."}, nil
	}
	live, err := s.files.Lookup(ctx, actor, itemPath)
	if err != nil {
		return nil, fmt.Errorf("there is no %s now; restore it as a new project or library: %w", itemPath, err)
	}
	shape, tree, err := s.files.TreeShape(ctx, actor, live.ID)
	if err != nil {
		return nil, err
	}
	nfiles := 0
	for _, e := range tree {
		if e.Kind == files.KindFile {
			nfiles++
		}
	}
	return []string{
		fmt.Sprintf("%s %q (%s now) goes back to its content in the backup of %s: files change back as new versions, files added since are deleted.",
			strings.ToUpper(shape.Kind.String()[:1])+shape.Kind.String()[1:], shape.Name, text.Count(nfiles, "file"), when),
		"The current state is saved as a snapshot first. Nothing outside it changes.",
	}, nil
}

// RestoreItem restores one project or library from the level-2 backup id:
// in place (asNew "", the current state saved as a snapshot first; needs
// Modify and Delete content on the item) or as a new project or library
// named asNew (needs Modify content on the Projects root). itemPath is the
// item's path in the backup. Reading backups needs View on the Servers page.
func (s *Service) RestoreItem(ctx context.Context, actor account.Actor, id, itemPath, asNew, passphrase string, prog progress.Func) (Result, error) {
	res := Result{Scope: ScopeItem}
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.View); err != nil {
		return res, err
	}
	m, err := s.Get(id)
	if err != nil {
		return res, err
	}
	res.Backup = m.ID
	if m.Level == 1 {
		return s.restoreSnapshot(ctx, actor, m, asNew, passphrase, prog)
	}
	if m.Level != 2 {
		return res, fmt.Errorf("backup %s holds no projects or libraries", m.ID)
	}
	if itemPath == "" {
		return res, errors.New("say which project or library to restore")
	}
	// Check what can be checked before the long part.
	var live files.Node
	if asNew == "" {
		if live, err = s.files.Lookup(ctx, actor, itemPath); err != nil {
			return res, fmt.Errorf("there is no %s now; restore it as a new project or library: %w", itemPath, err)
		}
		if err := s.acc.Check(ctx, actor, live.Item(), account.ModifyContent|account.DeleteContent); err != nil {
			return res, err
		}
	} else {
		if err := files.CheckName(asNew); err != nil {
			return res, err
		}
		rootNode, err := s.files.Get(ctx, actor, files.RootID)
		if err != nil {
			return res, err
		}
		if err := s.acc.Check(ctx, actor, rootNode.Item(), account.ModifyContent); err != nil {
			return res, err
		}
		if _, err := s.files.Lookup(ctx, actor, "/"+asNew); err == nil {
			return res, fmt.Errorf("%q already exists; choose another name", asNew)
		}
	}
	end, err := s.begin(2)
	if err != nil {
		return res, err
	}
	defer end()
	start := s.now()
	all, err := s.siblings(ctx, m)
	if err != nil {
		return res, err
	}
	ch, err := chain(all, m)
	if err != nil {
		return res, err
	}
	op, err := s.opener(m, filepath.Dir(m.Path), passphrase)
	if err != nil {
		return res, err
	}
	// Every file of the chain must match its checksum before any is
	// decoded.
	prog.Send(progress.Report{Phase: "Checking checksums"})
	if err := s.checkChain(ctx, ch, nil); err != nil {
		return res, err
	}
	// The scratch copy lies beside the live data: same disk, same room.
	scratch, err := os.MkdirTemp(s.dataDir, ".item-restoring-")
	if err != nil {
		return res, fmt.Errorf("make a scratch folder: %w", err)
	}
	defer os.RemoveAll(scratch)
	dirs := map[storage.Kind]string{storage.Manager: filepath.Join(scratch, "manager"), storage.FileServer: filepath.Join(scratch, "fileserver")}
	if err := stage(ctx, ch, op, dirs, storage.Options{}, prog); err != nil {
		return res, err
	}
	for k, dir := range dirs {
		if err := checkStaged(dir, k, m); err != nil {
			return res, err
		}
	}
	old, err := openScratch(dirs)
	if err != nil {
		return res, err
	}
	defer old.close()
	reader, err := old.acc.ActAs(ctx, account.MasterAdmin)
	if err != nil {
		return res, fmt.Errorf("read backup %s: %w", m.ID, err)
	}
	was, err := old.files.Lookup(ctx, reader, itemPath)
	if err != nil {
		return res, fmt.Errorf("backup %s has no %s: %w", m.ID, itemPath, err)
	}
	if !was.Kind.IsContainer() || was.ID == files.RootID {
		return res, fmt.Errorf("%s is a %s; choose a project, library or folder", itemPath, was.Kind)
	}
	_, tree, err := old.files.TreeOf(ctx, reader, was.ID)
	if err != nil {
		return res, err
	}
	// The scratch stores came from the backup: damage in them is damage
	// to the backup, not to a store of this Plinth.
	load := func(id string) ([]byte, error) {
		data, err := old.files.ReadChunk(id)
		if d := (*storage.DamageError)(nil); errors.As(err, &d) {
			return nil, refusal(ErrDamaged, "backup %s is damaged: in the %s it holds, %s", m.ID, storeName(d.Kind), d.Reason)
		}
		return data, err
	}
	open := func(e files.TreeEntry) (io.ReadCloser, error) {
		return &chunkReader{load: load, chunks: e.Chunks, name: e.Path, size: e.Size}, nil
	}
	if asNew == "" {
		// What is there now is saved as a snapshot first, so that the
		// restore can be undone.
		p := Pending{Op: opItemRollback, From: m.ID, ItemPath: itemPath}
		if err := s.rollBack(ctx, actor, live, p, tree, open, passphrase, prog); err != nil {
			return res, err
		}
		res.Item = live.Name
		s.record(s.restoreRecord(m, live.Name, start))
		return res, nil
	}
	n, err := s.createFromTree(ctx, actor, Pending{Op: opItemNew, Name: asNew, From: m.ID, ItemPath: itemPath}, was.Kind, tree, open, prog)
	if err != nil {
		return res, err
	}
	res.Item = n.Name
	s.record(s.restoreRecord(m, n.Name+" (new)", start))
	return res, nil
}

// scratchStores is a backup loaded into a scratch folder, read through the
// same services as the live data.
type scratchStores struct {
	mgr, fsr *storage.Store
	acc      *account.Service
	files    *files.Service
}

func openScratch(dirs map[storage.Kind]string) (*scratchStores, error) {
	mgr, err := storage.Open(dirs[storage.Manager], storage.Manager, storage.Options{})
	if err != nil {
		return nil, err
	}
	fsr, err := storage.Open(dirs[storage.FileServer], storage.FileServer, storage.Options{})
	if err != nil {
		mgr.Close()
		return nil, err
	}
	acc := account.NewService(mgr)
	return &scratchStores{mgr: mgr, fsr: fsr, acc: acc, files: files.NewService(mgr, fsr, acc, nil)}, nil
}

func (o *scratchStores) close() {
	o.fsr.Close()
	o.mgr.Close()
}
