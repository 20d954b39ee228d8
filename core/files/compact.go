package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"codeberg.org/plinth/plinth/storage"
)

// Compact reclaims disk space in the fileserver's packs: packs no file
// uses any more are removed, and packs that are less than half used have
// their live chunks copied into a new pack and are then removed. The copy
// is committed (index updated in one transaction, after the new pack is
// durable) before the old pack goes, so a crash at any point loses nothing.
// It returns the bytes freed. Uploads wait while it runs.
func (s *Service) Compact(ctx context.Context) (int64, error) {
	s.packPin.Lock() // not while a backup copies packs
	defer s.packPin.Unlock()
	s.gate.Lock()
	defer s.gate.Unlock()
	b := s.fs.Blobs()
	before := packBytes(b)
	// Packs are removed by what the store says; make sure it says it durably.
	if err := s.syncServer(); err != nil {
		return 0, err
	}
	if _, err := s.tidyPacks(ctx); err != nil {
		return 0, err
	}
	var sparse []uint32
	err := s.fs.View(func(tx *storage.Tx) error {
		return packs.Scan(tx, "", func(k string, pi PackInfo) error {
			var id uint32
			if _, err := fmt.Sscanf(k, "%d", &id); err == nil && pi.Live*2 < pi.Size {
				sparse = append(sparse, id)
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	for _, id := range sparse {
		if err := ctx.Err(); err != nil {
			return before - packBytes(b), err
		}
		if err := s.rewritePack(id); err != nil {
			return before - packBytes(b), fmt.Errorf("compact pack %d: %w", id, err)
		}
	}
	if _, err := s.tidyPacks(ctx); err != nil {
		return 0, err
	}
	return before - packBytes(b), nil
}

func packBytes(b *storage.Blobs) int64 {
	ps, _ := b.Packs()
	var n int64
	for _, sz := range ps {
		n += sz
	}
	return n
}

// rewritePack moves the live chunks of one pack into the current pack.
// The new pack and the index that points into it are durable before it
// returns, so the old pack can go.
func (s *Service) rewritePack(id uint32) error {
	type live struct {
		chunk string
		loc   storage.Loc
	}
	var ls []live
	err := s.fs.View(func(tx *storage.Tx) error {
		return chunks.Scan(tx, "", func(c string, loc storage.Loc) error {
			if loc.Pack == id {
				ls = append(ls, live{c, loc})
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	b := s.fs.Blobs()
	b.Seal() // never copy into the pack being emptied
	moved := map[string]storage.Loc{}
	for _, l := range ls {
		data, err := b.Read(l.loc)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != l.chunk {
			return refuse(ErrDamaged, "a chunk in pack %d is damaged; it was left in place", id)
		}
		nl, err := b.Append(sum, data)
		if err != nil {
			return err
		}
		if nl.Pack == id {
			return errors.New("the pack being compacted is still being written")
		}
		moved[l.chunk] = nl
	}
	if err := b.Sync(); err != nil {
		return err
	}
	err = s.fs.Update(func(tx *storage.Tx) error {
		touched := map[uint32]PackInfo{}
		for c, nl := range moved {
			if err := chunks.Put(tx, c, nl); err != nil {
				return err
			}
			pi, ok := touched[nl.Pack]
			if !ok {
				var err error
				if pi, err = packs.Get(tx, packKey(nl.Pack)); err != nil && !errors.Is(err, storage.ErrNotFound) {
					return err
				}
			}
			pi.Live += nl.Len + entryOverhead
			pi.Size = max(pi.Size, nl.Off+nl.Len)
			touched[nl.Pack] = pi
		}
		for pid, pi := range touched {
			if err := packs.Put(tx, packKey(pid), pi); err != nil {
				return err
			}
		}
		// The old pack holds nothing live now; tidyPacks removes it.
		return packs.Put(tx, packKey(id), PackInfo{})
	})
	if err != nil {
		return err
	}
	return s.syncServer()
}

// CommittedPacks returns each pack's committed size: what a backup must
// copy. Call it inside Exclusive, with the backup's snapshot of the store.
func (s *Service) CommittedPacks() (map[uint32]int64, error) {
	out := map[uint32]int64{}
	err := s.fs.View(func(tx *storage.Tx) error {
		return packs.Scan(tx, "", func(k string, pi PackInfo) error {
			var id uint32
			if _, err := fmt.Sscanf(k, "%d", &id); err == nil && pi.Size > 0 {
				out[id] = pi.Size
			}
			return nil
		})
	})
	return out, err
}

// PinPacks keeps compaction from removing or rewriting packs until the
// returned function is called: a backup copies packs outside Exclusive.
func (s *Service) PinPacks() func() {
	s.packPin.RLock()
	return s.packPin.RUnlock
}
