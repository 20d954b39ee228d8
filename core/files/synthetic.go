package files

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"codeberg.org/plinth/plinth/storage"
)

// Side says which stores Synthesize writes a file into.
type Side int

// Sides.
const (
	Both        Side = iota // a normal file
	ManagerOnly             // an entry whose content is missing on the File Server
	ServerOnly              // content the Manager does not list
)

// Synthesize writes n small files named prefix-000000… directly into
// container parent, bypassing the journal, in bulk batches. It exists for
// benchmarks and for tests of big folders, where a hundred thousand real
// uploads would take minutes; with Side it builds stores that disagree on
// purpose. The files are real: they read back, export and synchronize.
func (s *Service) Synthesize(ctx context.Context, parent, prefix string, n int, side Side) error {
	s.gate.Lock()
	defer s.gate.Unlock()
	var dir Node
	var path string
	err := s.mgr.View(func(tx *storage.Tx) (err error) {
		if dir, err = getNode(tx, parent); err != nil {
			return err
		}
		path, err = pathOf(tx, parent)
		return err
	})
	if err != nil {
		return err
	}
	if !dir.Kind.IsContainer() {
		return refuse(ErrNotDir, "%q is not a folder", dir.Name)
	}
	mb, fb := s.mgr.NewBatch(), s.fs.NewBatch()
	var mset, fset storage.FileSet
	touched := map[uint32]PackInfo{}
	now := s.nowUTC()
	for i := range n {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				mb.Cancel()
				fb.Cancel()
				return err
			}
		}
		data := make([]byte, 24)
		binary.BigEndian.PutUint64(data, uint64(i))
		_, _ = rand.Read(data[8:])
		sum := sha256.Sum256(data)
		chunk := hex.EncodeToString(sum[:])
		hash := contentHash([][32]byte{sum}, int64(len(data)))
		vid := newID(now)
		name := fmt.Sprintf("%s-%06d.bin", prefix, i)
		if side != ServerOnly {
			node := Node{ID: newID(now), Parent: parent, Kind: KindFile, Name: name, Created: now, Modified: now,
				By: "synthetic", Size: int64(len(data)), Hash: hash, Version: vid, Versions: 1}
			v := Version{ID: vid, Entry: node.ID, Hash: hash, Size: node.Size, Created: now, By: "synthetic"}
			k := childKey(parent, name)
			err := firstErr(nodes.PutBatch(mb, k, node), nodeIDs.PutBatch(mb, node.ID, k),
				versions.PutBatch(mb, vid, v), entryVer.PutBatch(mb, node.ID+"/"+vid, ""))
			if err != nil {
				mb.Cancel()
				fb.Cancel()
				return err
			}
			addFile(&mset, vid, hash, node.Size)
		}
		if side != ManagerOnly {
			loc, err := s.fs.Blobs().Append(sum, data)
			if err != nil {
				mb.Cancel()
				fb.Cancel()
				return err
			}
			pi := touched[loc.Pack]
			pi.Live += loc.Len + entryOverhead
			pi.Size = max(pi.Size, loc.Off+loc.Len)
			touched[loc.Pack] = pi
			rec := Record{ID: vid, Path: path, Name: name, Size: int64(len(data)), Hash: hash.String(), Chunks: []string{chunk}, Created: now}
			err = firstErr(records.PutBatch(fb, vid, rec), sums.PutBatch(fb, vid, Sum{Hash: hash, Size: rec.Size}),
				chunks.PutBatch(fb, chunk, loc), refs.PutBatch(fb, chunk, 1))
			if err != nil {
				mb.Cancel()
				fb.Cancel()
				return err
			}
			addFile(&fset, vid, hash, rec.Size)
		}
	}
	if err := s.fs.Blobs().Sync(); err != nil {
		mb.Cancel()
		fb.Cancel()
		return err
	}
	// The File Server side first, durably: the Manager never lists
	// content that is not on disk.
	if err := fb.Flush(); err != nil {
		mb.Cancel()
		return err
	}
	merge := func(st *storage.Store, extra storage.FileSet) error {
		return st.Update(func(tx *storage.Tx) error {
			set, err := tx.FileSet()
			if err != nil {
				return err
			}
			set.Count += extra.Count
			set.Bytes += extra.Bytes
			set.Digest = add(set.Digest, extra.Digest)
			return tx.SetFileSet(set)
		})
	}
	err = merge(s.fs, fset)
	if err == nil {
		err = s.fs.Update(func(tx *storage.Tx) error {
			for id, add := range touched {
				pi, err := packs.Get(tx, packKey(id))
				if err != nil && !errors.Is(err, storage.ErrNotFound) {
					return err
				}
				pi.Live += add.Live
				pi.Size = max(pi.Size, add.Size)
				if err := packs.Put(tx, packKey(id), pi); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err == nil {
		err = s.syncServer()
	}
	if err != nil {
		mb.Cancel()
		return err
	}
	if err := mb.Flush(); err != nil {
		return err
	}
	return merge(s.mgr, mset)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
