package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/storage"
)

// This file is what project and library snapshots (level-1 backups) need:
// an item's tree with the chunks of each file's current version, the
// chunks themselves, and writing a tree back into a container.

// TreeEntry is one folder or file of an item, by its path inside the item.
type TreeEntry struct {
	Path     string    `json:"path"` // "/"-separated, relative to the item
	Kind     Kind      `json:"kind"`
	Size     int64     `json:"size,omitempty"`
	Hash     Hash      `json:"hash,omitzero"`
	Chunks   []string  `json:"chunks,omitempty"`
	Modified time.Time `json:"modified"`
	Version  string    `json:"version,omitempty"`
}

// TreeOf returns an item (project, library or folder) and everything below
// it, files with the chunks of their current version, sorted by path. It
// needs View item.
func (s *Service) TreeOf(ctx context.Context, actor account.Actor, id string) (Node, []TreeEntry, error) {
	item, out, err := s.TreeShape(ctx, actor, id)
	if err != nil {
		return item, nil, err
	}
	return item, out, s.FillChunks(out, nil)
}

// TreeShape is TreeOf without the chunk lists: only the manager is read,
// which is enough to tell whether an item changed.
func (s *Service) TreeShape(ctx context.Context, actor account.Actor, id string) (Node, []TreeEntry, error) {
	item, err := s.Get(ctx, actor, id)
	if err != nil {
		return Node{}, nil, err
	}
	var out []TreeEntry
	err = s.mgr.View(func(tx *storage.Tx) error {
		// walk visits parents first: build each path from its parent's.
		rel := map[string]string{item.ID: ""}
		return walk(tx, item, func(n Node) error {
			if n.ID == item.ID {
				return nil
			}
			p := n.Name
			if pp := rel[n.Parent]; pp != "" {
				p = pp + "/" + n.Name
			}
			rel[n.ID] = p
			out = append(out, TreeEntry{Path: p, Kind: n.Kind, Size: n.Size, Hash: n.Hash, Modified: n.Modified, Version: n.Version})
			return nil
		})
	})
	if err != nil {
		return Node{}, nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return item, out, err
}

// FillChunks sets the chunk lists of a tree's files: from known (version
// id → chunks) where it has them, else from the file server.
func (s *Service) FillChunks(tree []TreeEntry, known map[string][]string) error {
	return s.fs.View(func(tx *storage.Tx) error {
		for i := range tree {
			if tree[i].Kind != KindFile {
				continue
			}
			if c, ok := known[tree[i].Version]; ok {
				tree[i].Chunks = c
				continue
			}
			rec, err := records.Get(tx, tree[i].Version)
			if errors.Is(err, storage.ErrNotFound) {
				return refuse(ErrDamaged, "the content of %q is missing from the file server; run a full file synchronization first", tree[i].Path)
			}
			if err != nil {
				return err
			}
			tree[i].Chunks = rec.Chunks
		}
		return nil
	})
}

// ReadChunk returns one chunk's bytes, checked against its hash.
func (s *Service) ReadChunk(id string) ([]byte, error) { return s.ReadChunkInto(id, nil) }

// ReadChunkInto is ReadChunk into buf when it has room for the chunk.
func (s *Service) ReadChunkInto(id string, buf []byte) ([]byte, error) {
	var loc storage.Loc
	if err := s.fs.View(func(tx *storage.Tx) (err error) { loc, err = chunks.Get(tx, id); return err }); err != nil {
		return nil, refuse(ErrDamaged, "a chunk is missing from the file server")
	}
	data, err := s.fs.Blobs().ReadInto(loc, buf)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != id {
		return nil, refuse(ErrDamaged, "a chunk in pack %d is damaged", loc.Pack)
	}
	return data, nil
}

// Items lists every project and library.
func (s *Service) Items(ctx context.Context) ([]Node, error) {
	var out []Node
	err := s.mgr.View(func(tx *storage.Tx) error {
		return tx.Scan([]byte(nodes.Prefix()), func(_, v []byte) error {
			// Only the kind byte is needed to skip files cheaply.
			if len(v) > 1 && (Kind(v[1]) == KindProject || Kind(v[1]) == KindLibrary) {
				var n Node
				if err := (nodeCodec{}).Decode(v, &n); err != nil {
					return err
				}
				out = append(out, n)
			}
			return nil
		})
	})
	return out, err
}

// PutTree writes a tree into container: folders are made, files whose
// content differs (or that are missing) get a new version read through
// open. With mirror, what the container holds beyond the tree is deleted,
// so it ends up exactly as the tree says (a rollback). It needs Modify
// content on the container, and Delete content for a mirror.
func (s *Service) PutTree(ctx context.Context, actor account.Actor, container string, tree []TreeEntry, mirror bool,
	open func(TreeEntry) (io.ReadCloser, error), prog progress.Func) error {
	var total, done int64
	for _, e := range tree {
		total += e.Size
	}
	have := map[string]Node{} // path → node now
	if mirror {
		_, cur, err := s.TreeOfNodes(ctx, actor, container)
		if err != nil {
			return err
		}
		have = cur
	}
	want := map[string]bool{}
	for _, e := range tree {
		if err := ctx.Err(); err != nil {
			return err
		}
		want[e.Path] = true
		dir, name := splitLast(e.Path)
		parent, err := s.mkdirChainKinds(ctx, actor, container, dir)
		if err != nil {
			return err
		}
		switch e.Kind {
		case KindFile:
			if n, ok := have[e.Path]; ok && n.Kind == KindFile && n.Hash == e.Hash {
				done += e.Size
				continue
			}
			rc, err := open(e)
			if err != nil {
				return err
			}
			base := done
			_, err = s.Upload(ctx, actor, parent.ID, name, rc, e.Size, func(r progress.Report) {
				prog.Send(progress.Report{Phase: "Restoring files", Done: base + r.Done, Total: total, Item: e.Path, Bytes: true})
			})
			rc.Close()
			if err != nil {
				return fmt.Errorf("restore %s: %w", e.Path, err)
			}
			done += e.Size
		default:
			if _, ok := have[e.Path]; ok {
				continue
			}
			var found bool
			_ = s.mgr.View(func(tx *storage.Tx) error {
				_, found, _ = lookupChild(tx, parent.ID, name)
				return nil
			})
			if !found {
				if _, err := s.Create(ctx, actor, parent.ID, name, e.Kind); err != nil {
					return fmt.Errorf("restore %s: %w", e.Path, err)
				}
			}
		}
	}
	if !mirror {
		return nil
	}
	// Delete what the tree does not have, deepest paths first.
	var extra []string
	for p := range have {
		if !want[p] {
			extra = append(extra, p)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i] > extra[j] })
	for _, p := range extra {
		n := have[p]
		if err := s.Delete(ctx, actor, n.ID, nil); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return nil
}

// TreeOfNodes maps the paths below an item to their nodes.
func (s *Service) TreeOfNodes(ctx context.Context, actor account.Actor, id string) (Node, map[string]Node, error) {
	item, err := s.Get(ctx, actor, id)
	if err != nil {
		return Node{}, nil, err
	}
	out := map[string]Node{}
	err = s.mgr.View(func(tx *storage.Tx) error {
		rel := map[string]string{item.ID: ""}
		return walk(tx, item, func(n Node) error {
			if n.ID == item.ID {
				return nil
			}
			p := n.Name
			if pp := rel[n.Parent]; pp != "" {
				p = pp + "/" + n.Name
			}
			rel[n.ID] = p
			out[p] = n
			return nil
		})
	})
	return item, out, err
}

// mkdirChainKinds is mkdirChain for a "/"-separated path inside container.
func (s *Service) mkdirChainKinds(ctx context.Context, actor account.Actor, container, dir string) (Node, error) {
	var names []string
	if dir != "" {
		names = strings.Split(dir, "/")
	}
	return s.mkdirChain(ctx, actor, container, names)
}

func splitLast(p string) (dir, name string) {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return "", p
}
