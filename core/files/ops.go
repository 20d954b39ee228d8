package files

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/storage"
)

// Delete removes a node: a file with all its versions, or a folder,
// project, library or iModel with everything in it. It needs Delete content
// on the node's container. A crash part-way finishes the deletion on the
// next start.
func (s *Service) Delete(ctx context.Context, actor account.Actor, id string, prog progress.Func) error {
	if id == RootID {
		return errors.New("the Projects root cannot be deleted")
	}
	var n, parent Node
	err := s.mgr.View(func(tx *storage.Tx) (err error) {
		if n, err = getNode(tx, id); err != nil {
			return err
		}
		parent, err = getNode(tx, n.Parent)
		return err
	})
	if err != nil {
		return err
	}
	if err := s.check(ctx, actor, parent, account.DeleteContent); err != nil {
		return err
	}
	var imodels []Node
	if s.IModelGuard != nil || s.IModelGone != nil {
		err := s.mgr.View(func(tx *storage.Tx) error {
			return walk(tx, n, func(c Node) error {
				if c.Kind == KindIModel {
					imodels = append(imodels, c)
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
	}
	if len(imodels) > 0 && s.IModelGuard != nil {
		if err := s.IModelGuard(ctx, imodels); err != nil {
			return err
		}
	}
	s.gate.RLock()
	defer s.gate.RUnlock()
	in := Intent{ID: newID(s.now()), Op: "deltree", Node: id, Name: n.Name, Created: s.nowUTC()}
	if err := s.mgr.Update(func(tx *storage.Tx) error { return intents.Put(tx, in.ID, in) }); err != nil {
		return fmt.Errorf("delete %s: %w", n.Name, err)
	}
	if err := s.deleteTree(ctx, in); err != nil {
		return err
	}
	for _, m := range imodels {
		if s.IModelGone != nil {
			s.IModelGone(ctx, m.ID)
		}
	}
	return nil
}

// deleteTree removes the subtree of in.Node in batches: the files of a
// batch leave the manager together with a drop intent for their contents,
// then the contents leave the fileserver. Containers go last, deepest
// first. Running it again after a crash continues where it stopped.
func (s *Service) deleteTree(ctx context.Context, in Intent) error {
	const batch = 500
	var files, containers []Node
	err := s.mgr.View(func(tx *storage.Tx) error {
		n, err := getNode(tx, in.Node)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return walk(tx, n, func(c Node) error {
			if c.Kind == KindFile {
				files = append(files, c)
			} else {
				containers = append(containers, c)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for i := 0; i < len(files); i += batch {
		if err := s.removeFiles(ctx, files[i:min(i+batch, len(files))]); err != nil {
			return err
		}
	}
	// No files left: remove the containers, deepest first (walk lists
	// parents before children), the intent with the last of them.
	for end := len(containers); end > 0 || len(containers) == 0; end -= 1000 {
		start := max(0, end-1000)
		err = s.mgr.Update(func(tx *storage.Tx) error {
			for i := end - 1; i >= start; i-- {
				if err := delNode(tx, containers[i]); err != nil {
					return err
				}
			}
			if start == 0 {
				return intents.Delete(tx, in.ID)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("delete %s: %w", in.Name, err)
		}
		if start == 0 {
			break
		}
	}
	return nil
}

// walk calls fn for n and every node below it, parents before children.
func walk(tx *storage.Tx, n Node, fn func(Node) error) error {
	if err := fn(n); err != nil {
		return err
	}
	if !n.Kind.IsContainer() && n.Kind != KindIModel {
		return nil
	}
	var kids []Node
	err := nodes.Scan(tx, n.ID+"/", func(_ string, c Node) error {
		kids = append(kids, c)
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range kids {
		if err := walk(tx, c, fn); err != nil {
			return err
		}
	}
	return nil
}

// removeFiles takes file entries with all their versions out of the
// manager and then their contents out of the fileserver.
func (s *Service) removeFiles(ctx context.Context, files []Node) error {
	drop := Intent{ID: newID(s.now()), Op: "drop", Created: s.nowUTC()}
	// List the versions first: iterating inside a write transaction with
	// many pending writes is slow.
	vers := make([][]Version, len(files))
	err := s.mgr.View(func(tx *storage.Tx) error {
		for i, f := range files {
			err := entryVer.Scan(tx, f.ID+"/", func(k string, _ string) error {
				v, err := versions.Get(tx, k[len(f.ID)+1:])
				if err == nil {
					vers[i] = append(vers[i], v)
				}
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = s.mgr.Update(func(tx *storage.Tx) error {
		drop.Records = drop.Records[:0]
		set, err := tx.FileSet()
		if err != nil {
			return err
		}
		for i, f := range files {
			for _, v := range vers[i] {
				if ok, err := versions.Has(tx, v.ID); err != nil {
					return err
				} else if !ok {
					continue // dropped meanwhile
				}
				if err := dropVersion(tx, &set, f.ID, v); err != nil {
					return err
				}
				drop.Records = append(drop.Records, v.ID)
			}
			if err := delNode(tx, f); err != nil {
				return err
			}
		}
		if err := tx.SetFileSet(set); err != nil {
			return err
		}
		return intents.Put(tx, drop.ID, drop)
	})
	if err != nil {
		return fmt.Errorf("remove files from the Manager: %w", err)
	}
	if err := s.step("delete:manager"); err != nil {
		return err
	}
	return s.finishDrop(ctx, drop)
}

// Rename gives a node a new name in the same container. It needs Modify
// details on the container.
func (s *Service) Rename(ctx context.Context, actor account.Actor, id, name string) (Node, error) {
	return s.relocate(ctx, actor, id, "", name)
}

// Move puts a node into another container, keeping its name. It needs
// Modify details on the old container and Modify content on the new one.
func (s *Service) Move(ctx context.Context, actor account.Actor, id, newParent string) (Node, error) {
	return s.relocate(ctx, actor, id, newParent, "")
}

func (s *Service) relocate(ctx context.Context, actor account.Actor, id, newParent, newName string) (Node, error) {
	if id == RootID {
		return Node{}, errors.New("the Projects root cannot be moved or renamed")
	}
	if newName != "" {
		newName = normalize(newName)
		if err := CheckName(newName); err != nil {
			return Node{}, err
		}
	}
	var n, from, to Node
	err := s.mgr.View(func(tx *storage.Tx) (err error) {
		if n, err = getNode(tx, id); err != nil {
			return err
		}
		if from, err = getNode(tx, n.Parent); err != nil {
			return err
		}
		to = from
		if newParent != "" {
			to, err = getNode(tx, newParent)
		}
		return err
	})
	if err != nil {
		return Node{}, err
	}
	if err := s.check(ctx, actor, from, account.ModifyDetails); err != nil {
		return Node{}, err
	}
	if to.ID != from.ID {
		if err := s.check(ctx, actor, to, account.ModifyContent); err != nil {
			return Node{}, err
		}
	}
	s.gate.RLock()
	defer s.gate.RUnlock()
	in := Intent{ID: newID(s.now()), Op: "repath", Node: id, Created: s.nowUTC()}
	err = s.mgr.Update(func(tx *storage.Tx) error {
		cur, err := getNode(tx, id)
		if err != nil {
			return err
		}
		dest, err := getNode(tx, to.ID)
		if err != nil {
			return err
		}
		if !dest.Kind.IsContainer() {
			return refuse(ErrNotDir, "%q is a %s; it cannot hold other items", dest.Name, dest.Kind)
		}
		// A folder cannot go into itself or below itself.
		for p := dest; ; {
			if p.ID == cur.ID {
				return fmt.Errorf("%q cannot be moved into itself", cur.Name)
			}
			if p.ID == RootID {
				break
			}
			if p, err = getNode(tx, p.Parent); err != nil {
				return err
			}
		}
		moved := cur
		moved.Parent = dest.ID
		if newName != "" {
			moved.Name = newName
		}
		if other, ok, err := lookupChild(tx, moved.Parent, moved.Name); err != nil {
			return err
		} else if ok && other.ID != cur.ID {
			return refuse(ErrExists, "%q already holds a %s named %q", dest.Name, other.Kind, other.Name)
		}
		moved.Modified = s.nowUTC()
		if err := delNode(tx, cur); err != nil {
			return err
		}
		if err := putNode(tx, moved); err != nil {
			return err
		}
		n = moved
		in.Name = moved.Name
		return intents.Put(tx, in.ID, in)
	})
	if err != nil {
		return Node{}, err
	}
	if err := s.step("repath:manager"); err != nil {
		return n, err
	}
	return n, s.repath(ctx, in)
}

// repath brings the folder paths kept with the contents on the fileserver
// up to date for every file at or below in.Node, then clears the intent.
func (s *Service) repath(ctx context.Context, in Intent) error {
	type fix struct {
		vid, path string
	}
	var fixes []fix
	err := s.mgr.View(func(tx *storage.Tx) error {
		n, err := getNode(tx, in.Node)
		if errors.Is(err, ErrNotFound) {
			return nil // deleted since: nothing to fix
		}
		if err != nil {
			return err
		}
		return walk(tx, n, func(c Node) error {
			if c.Kind != KindFile {
				return nil
			}
			p, err := pathOf(tx, c.Parent)
			if err != nil {
				return err
			}
			return entryVer.Scan(tx, c.ID+"/", func(k string, _ string) error {
				fixes = append(fixes, fix{vid: k[len(c.ID)+1:], path: p})
				return nil
			})
		})
	})
	if err != nil {
		return err
	}
	const batch = 500
	for i := 0; i < len(fixes); i += batch {
		part := fixes[i:min(i+batch, len(fixes))]
		err := s.fs.Update(func(tx *storage.Tx) error {
			for _, f := range part {
				rec, err := records.Get(tx, f.vid)
				if errors.Is(err, storage.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if rec.Path != f.path {
					rec.Path = f.path
					if err := records.Put(tx, f.vid, rec); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("update paths on the file server: %w", err)
		}
	}
	if len(fixes) > 0 {
		if err := s.syncServer(); err != nil {
			return err
		}
	}
	return s.mgr.Update(func(tx *storage.Tx) error { return intents.Delete(tx, in.ID) })
}

// MakeCurrent makes an older version the newest again, as a new version
// with the same content (no content is copied). It needs Modify content on
// the file's container.
func (s *Service) MakeCurrent(ctx context.Context, actor account.Actor, fileID, versionID string) (Node, error) {
	var n, parent Node
	var v Version
	err := s.mgr.View(func(tx *storage.Tx) (err error) {
		if n, err = getNode(tx, fileID); err != nil {
			return err
		}
		if parent, err = getNode(tx, n.Parent); err != nil {
			return err
		}
		v, err = versions.Get(tx, versionID)
		if errors.Is(err, storage.ErrNotFound) || v.Entry != fileID {
			return refuse(ErrNotFound, "%q has no such version", n.Name)
		}
		return err
	})
	if err != nil {
		return Node{}, err
	}
	if err := s.check(ctx, actor, parent, account.ModifyContent); err != nil {
		return Node{}, err
	}
	var rec Record
	err = s.fs.View(func(tx *storage.Tx) (err error) { rec, err = records.Get(tx, versionID); return err })
	if errors.Is(err, storage.ErrNotFound) {
		return Node{}, refuse(ErrDamaged, "the content of this version of %q is missing from the file server; run a full file synchronization", n.Name)
	}
	if err != nil {
		return Node{}, err
	}
	s.gate.RLock()
	defer s.gate.RUnlock()
	made, _, err := s.commitVersion(ctx, actor.Name(), n.Parent, n.Name, content{chunks: rec.Chunks, hash: v.Hash, size: v.Size})
	return made, err
}

// VersionAt returns one version of a file.
func (s *Service) VersionAt(ctx context.Context, actor account.Actor, fileID, versionID string) (Version, error) {
	vs, err := s.Versions(ctx, actor, fileID)
	if err != nil {
		return Version{}, err
	}
	for _, v := range vs {
		if v.ID == versionID || strings.HasPrefix(v.ID, versionID) && len(versionID) >= 8 {
			return v, nil
		}
	}
	return Version{}, refuse(ErrNotFound, "there is no version %s of this file", versionID)
}

// PruneVersions drops, under Keep last N days, the versions older than N
// days that are not their file's current version; uploads prune the file
// they add to, this catches the files nobody touched. It returns how many
// versions went.
func (s *Service) PruneVersions(ctx context.Context) (int, error) {
	rule, err := s.Versioning(ctx)
	if err != nil || (rule.Rule != KeepLastDays && rule.Rule != KeepNone) {
		return 0, err
	}
	cutoff := s.nowUTC().AddDate(0, 0, -rule.Days)
	var old []Version
	err = s.mgr.View(func(tx *storage.Tx) error {
		return versions.Scan(tx, "", func(_ string, v Version) error {
			if rule.Rule == KeepNone || v.Created.Before(cutoff) {
				n, err := getNode(tx, v.Entry)
				if err == nil && n.Version != v.ID {
					old = append(old, v)
				}
			}
			return nil
		})
	})
	if err != nil || len(old) == 0 {
		return 0, err
	}
	s.gate.RLock()
	defer s.gate.RUnlock()
	const batch = 500
	for i := 0; i < len(old); i += batch {
		part := old[i:min(i+batch, len(old))]
		drop := Intent{ID: newID(s.now()), Op: "drop", Created: s.nowUTC()}
		err := s.mgr.Update(func(tx *storage.Tx) error {
			drop.Records = drop.Records[:0]
			set, err := tx.FileSet()
			if err != nil {
				return err
			}
			for _, v := range part {
				n, err := getNode(tx, v.Entry)
				if err != nil || n.Version == v.ID {
					continue
				}
				if ok, err := versions.Has(tx, v.ID); err != nil || !ok {
					continue
				}
				if err := dropVersion(tx, &set, n.ID, v); err != nil {
					return err
				}
				n.Versions--
				if err := putNode(tx, n); err != nil {
					return err
				}
				drop.Records = append(drop.Records, v.ID)
			}
			if err := tx.SetFileSet(set); err != nil {
				return err
			}
			return intents.Put(tx, drop.ID, drop)
		})
		if err != nil {
			return i, err
		}
		if err := s.finishDrop(ctx, drop); err != nil {
			return i, err
		}
	}
	return len(old), nil
}
