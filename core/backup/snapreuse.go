package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strconv"
	"time"

	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// An unchanged item's snapshot reuses the tree and chunk index of the
// last snapshot this Plinth took of it, byte for byte, without reading
// the file server's records or encoding the tree again. What makes that
// safe is kept in the manager, never taken from the target (where anyone
// who can write the folder could change a tree and its manifest alike):
//
//   - the shape the tree was made from (shapeHash: every path, kind,
//     size, content hash, modification time and version of the item as
//     the manager lists it, and the item's name and kind), which must be
//     the live one's; a version's chunks never change, so equal shapes
//     give equal trees;
//   - the file server's identity and restore generation, which must be
//     the live ones (after a restore of the file server the records are
//     read again);
//   - the checksums of the tree and the index as they were written, which
//     the files in the target must still have;
//
// and every chunk the index lists must still be in the target with the
// size it was written with. Anything else, or anything that cannot be
// read, takes the whole way: the tree made from the live stores.

// lastSnap is what the manager keeps of an item's last snapshot.
type lastSnap struct {
	Snapshot  string   `json:"snapshot"` // its id
	Target    string   `json:"target"`   // the snapshot folder it was written to
	Recipient string   `json:"recipient,omitempty"`
	Shape     string   `json:"shape"`  // shapeHash of the tree it was made from
	Server    string   `json:"server"` // the file server's identity and generation then
	Tree      TreeFile `json:"tree"`
}

var lastSnaps = storage.NewCollection[lastSnap]("snaplast")

// shapeHash identifies everything of an item a snapshot's tree holds but
// the chunk lists (which follow from the versions): the item's id, kind
// and name, and each entry's path, kind, size, content hash, modification
// time and version.
func shapeHash(item files.Node, entries []files.TreeEntry) string {
	h := sha256.New()
	b := make([]byte, 0, 512)
	b = append(b, item.ID...)
	b = append(b, 0)
	b = append(b, item.Kind.String()...)
	b = append(b, 0)
	b = append(b, item.Name...)
	b = append(b, '\n')
	for _, e := range entries {
		b = append(b, e.Path...)
		b = append(b, 0)
		b = append(b, e.Kind.String()...)
		b = append(b, 0)
		b = strconv.AppendInt(b, e.Size, 10)
		b = append(b, 0)
		b = hex.AppendEncode(b, e.Hash[:])
		b = append(b, 0)
		b = e.Modified.AppendFormat(b, time.RFC3339Nano)
		b = append(b, 0)
		b = append(b, e.Version...)
		b = append(b, '\n')
		if len(b) > 32<<10 {
			h.Write(b)
			b = b[:0]
		}
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// serverGeneration names the file server's identity and restore
// generation.
func serverGeneration(id storage.Identity) string {
	return id.ID + "/" + strconv.FormatUint(id.Generation, 10)
}

// reused is the tree and index of an earlier snapshot, as stored, that an
// unchanged item's snapshot takes over.
type reused struct {
	tree, index   []byte
	tf            TreeFile
	chunks        map[string]int64 // chunk → size as stored
	shape, server string           // what they were made from
}

// lastSnapshot returns the stored tree and index of the item's last
// snapshot in target for recipient, as the manager remembers them, when
// they are still there as they were written; ok is false otherwise. The
// caller compares the shape and the file server, and checks the chunks
// (chunkStore.keepAll).
func (s *Service) lastSnapshot(target, recipient, itemID string) (r reused, ok bool) {
	var last lastSnap
	if err := s.mgr.View(func(tx *storage.Tx) (err error) { last, err = lastSnaps.Get(tx, itemID); return err }); err != nil {
		return r, false
	}
	if last.Recipient != recipient || last.Target != target || !snapshotID.MatchString(last.Snapshot) || last.Tree.Index != indexName {
		return r, false
	}
	m := Manifest{ID: last.Snapshot, Recipient: last.Recipient, Tree: &last.Tree}
	if checkTreeFile(m) != nil {
		return r, false
	}
	dir := filepath.Join(target, "items", itemID, last.Snapshot)
	tree, err := fsys.ReadFileLimit(s.fs, filepath.Join(dir, last.Tree.File), maxTree)
	if err != nil || checkTree(m, tree) != nil {
		return r, false
	}
	index, err := fsys.ReadFileLimit(s.fs, filepath.Join(dir, indexName), maxTree)
	if err != nil {
		return r, false
	}
	idx, err := decodeIndex(m, index)
	if err != nil || len(idx.Chunks) == 0 && last.Tree.Content > 0 {
		return r, false
	}
	return reused{tree: tree, index: index, tf: last.Tree, chunks: idx.Chunks, shape: last.Shape, server: last.Server}, true
}

// keepAll notes every chunk of chunks (id → size as stored) as reused
// when each is in the target with that size; otherwise it notes none and
// returns false.
func (cs *chunkStore) keepAll(chunks map[string]int64) bool {
	for id, n := range chunks {
		if size, ok := cs.size(id); !ok || size != n {
			return false
		}
	}
	for id, n := range chunks {
		cs.keep(id, n)
	}
	return true
}

// rememberSnapshot keeps what the next snapshot of the item needs to
// reuse this one's tree. A failure costs the next snapshot its shortcut,
// nothing else.
func (s *Service) rememberSnapshot(itemID string, last lastSnap) {
	if err := s.mgr.Update(func(tx *storage.Tx) error { return lastSnaps.Put(tx, itemID, last) }); err != nil {
		s.log.Warn("remember the last snapshot", "item", itemID, "err", err)
	}
}
