package files

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"codeberg.org/plinth/plinth/storage"
)

// This file is what the drift check and the full file synchronization
// (package filesync) need: the two stores' digests, their exact difference,
// and manager-side repairs that make the Manager agree with the File Server.
// The repairs never touch folders, projects, libraries or iModels, only
// file entries and their versions, and each one is idempotent.

// Digests returns both stores' file-set summaries, read at the same moment
// (call inside Exclusive for a quiet moment).
func (s *Service) Digests() (manager, fileserver storage.FileSet, err error) {
	err = s.mgr.View(func(tx *storage.Tx) (err error) { manager, err = tx.FileSet(); return err })
	if err == nil {
		err = s.fs.View(func(tx *storage.Tx) (err error) { fileserver, err = tx.FileSet(); return err })
	}
	return manager, fileserver, err
}

// Entry is one file version in a difference between the stores, with where
// it is (or was) for the report.
type Entry struct {
	ID   string `json:"id"`   // version id
	Path string `json:"path"` // "/"-separated path of the file
	Size int64  `json:"size"`
	Hash string `json:"hash"`
	// For differing entries: what the File Server has.
	ServerSize int64  `json:"serverSize,omitempty"`
	ServerHash string `json:"serverHash,omitempty"`
}

// Diff is the exact difference between the stores.
type Diff struct {
	MissingOnServer  []Entry `json:"missingOnServer"`  // the Manager lists it, the content is absent
	UnknownToManager []Entry `json:"unknownToManager"` // the content is there, no entry lists it
	Differing        []Entry `json:"differing"`        // same id, other content
}

// Empty reports whether the stores agree.
func (d Diff) Empty() bool {
	return len(d.MissingOnServer) == 0 && len(d.UnknownToManager) == 0 && len(d.Differing) == 0
}

// idSum is one file version in a diff: its id and, on the Manager's
// side, its entry, kept in its list's text.
type idSum struct {
	id, ent span
	sum     Sum
}

// span is a piece of a list's text.
type span struct{ off, n uint32 }

// sumList is one store's file versions in id order. Their ids are kept in
// one byte slice rather than a string each: a diff of 100,000 files then
// makes a handful of allocations instead of 400,000, none of which the
// collector has to scan.
type sumList struct {
	text  []byte
	items []idSum
}

// newSumList makes a list for the files the store's summary counts (only
// a capacity, up to a million files: the scan decides), at idLen bytes of
// text a file.
func newSumList(tx *storage.Tx, idLen int) sumList {
	n := 0
	if set, err := tx.FileSet(); err == nil {
		n = int(min(max(set.Count, 0), 1<<20))
	}
	return sumList{text: make([]byte, 0, n*idLen), items: make([]idSum, 0, n)}
}

func (l *sumList) add(id, ent []byte, sum Sum) {
	l.items = append(l.items, idSum{id: l.keep(id), ent: l.keep(ent), sum: sum})
}

func (l *sumList) keep(b []byte) span {
	sp := span{off: uint32(len(l.text)), n: uint32(len(b))}
	l.text = append(l.text, b...)
	return sp
}

func (l *sumList) bytes(sp span) []byte { return l.text[sp.off : sp.off+sp.n] }
func (l *sumList) str(sp span) string   { return string(l.bytes(sp)) }

// Diff compares the stores file by file. Both sides are scanned in id
// order and merged, so the cost is linear and the memory is that of the
// difference plus one id list.
func (s *Service) Diff(ctx context.Context) (Diff, error) {
	var mgr, srv sumList
	// Read both stores at once: each is a sequential scan.
	var srvErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		srvErr = s.fs.View(func(tx *storage.Tx) error {
			srv = newSumList(tx, 32)
			return tx.Scan([]byte(sums.Prefix()), func(k, v []byte) error {
				var sm Sum
				if err := (sumCodec{}).Decode(v, &sm); err != nil {
					return fmt.Errorf("decode %s: %w", k, err)
				}
				srv.add(k[len(sums.Prefix()):], nil, sm)
				return nil
			})
		})
	})
	err := s.mgr.View(func(tx *storage.Tx) error {
		mgr = newSumList(tx, 64)
		return tx.Scan([]byte(versions.Prefix()), func(k, v []byte) error {
			id, ent, sm, err := decodeVersionSum(v)
			if err != nil {
				return fmt.Errorf("decode %s: %w", k, err)
			}
			mgr.add(id, ent, sm)
			return nil
		})
	})
	wg.Wait()
	if err != nil {
		return Diff{}, fmt.Errorf("read the Manager: %w", err)
	}
	if srvErr != nil {
		return Diff{}, fmt.Errorf("read the File Server: %w", srvErr)
	}
	if err := ctx.Err(); err != nil {
		return Diff{}, err
	}
	var d Diff
	var missing, differing []idSum
	var unknown []string
	i, j := 0, 0
	for i < len(mgr.items) || j < len(srv.items) {
		var c int
		switch {
		case j >= len(srv.items):
			c = -1
		case i >= len(mgr.items):
			c = 1
		default:
			c = bytes.Compare(mgr.bytes(mgr.items[i].id), srv.bytes(srv.items[j].id))
		}
		switch {
		case c < 0:
			missing = append(missing, mgr.items[i])
			i++
		case c > 0:
			unknown = append(unknown, srv.str(srv.items[j].id))
			j++
		default:
			m := mgr.items[i]
			if m.sum != srv.items[j].sum {
				theirs := m
				theirs.sum = srv.items[j].sum
				differing = append(differing, m, theirs)
			}
			i++
			j++
		}
	}
	// Describe the differences with paths, for the plan and the report.
	err = s.mgr.View(func(tx *storage.Tx) error {
		describe := func(x idSum) Entry {
			p := "(unknown)"
			if n, err := getNode(tx, mgr.str(x.ent)); err == nil {
				if dir, err := pathOf(tx, n.Parent); err == nil {
					p = joinPath(dir, n.Name)
				}
			}
			return Entry{ID: mgr.str(x.id), Path: p, Size: x.sum.Size, Hash: hex.EncodeToString(x.sum.Hash[:])}
		}
		for _, m := range missing {
			d.MissingOnServer = append(d.MissingOnServer, describe(m))
		}
		for k := 0; k < len(differing); k += 2 {
			e := describe(differing[k])
			e.ServerSize = differing[k+1].sum.Size
			e.ServerHash = hex.EncodeToString(differing[k+1].sum.Hash[:])
			d.Differing = append(d.Differing, e)
		}
		return nil
	})
	if err != nil {
		return Diff{}, err
	}
	err = s.fs.View(func(tx *storage.Tx) error {
		for _, id := range unknown {
			rec, err := records.Get(tx, id)
			if err != nil {
				return err
			}
			d.UnknownToManager = append(d.UnknownToManager, Entry{ID: id, Path: joinPath(rec.Path, rec.Name), Size: rec.Size, Hash: rec.Hash})
		}
		return nil
	})
	return d, err
}

func joinPath(dir, name string) string {
	if dir == "" {
		return "/" + name
	}
	return "/" + dir + "/" + name
}

// DropMissing removes from the Manager the versions whose content the File
// Server does not have. A file left without versions is removed; a file
// that lost its current version falls back to its newest remaining one.
// Versions already gone are skipped.
//
// also, when not nil, runs in the same transaction: the synchronization
// writes its report lines there, so a crash cannot separate the two.
func (s *Service) DropMissing(ctx context.Context, ids []string, also func(*storage.Tx) error) error {
	return s.changeManager(also, func(tx *storage.Tx, set *storage.FileSet) error {
		dropped := map[string]bool{}
		for _, id := range ids {
			v, err := versions.Get(tx, id)
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if err := dropVersion(tx, set, v.Entry, v); err != nil {
				return err
			}
			dropped[v.ID] = true
			n, err := getNode(tx, v.Entry)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			n.Versions--
			switch {
			case n.Versions <= 0:
				err = delNode(tx, n)
			case n.Version == v.ID:
				err = s.fallBack(tx, n, dropped)
			default:
				err = putNode(tx, n)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// fallBack makes a file's newest remaining version current after its
// current one was dropped. It reads the versions outside the write
// transaction (iterating inside one is slow with many pending writes) and
// leaves out those dropped in it.
func (s *Service) fallBack(tx *storage.Tx, n Node, dropped map[string]bool) error {
	var newest Version
	err := s.mgr.View(func(rtx *storage.Tx) error {
		return entryVer.Scan(rtx, n.ID+"/", func(k string, _ string) error {
			id := k[len(n.ID)+1:]
			if dropped[id] || id <= newest.ID {
				return nil
			}
			v, err := versions.Get(rtx, id)
			if err == nil {
				newest = v
			}
			return err
		})
	})
	if err != nil {
		return err
	}
	if newest.ID == "" {
		return delNode(tx, n)
	}
	n.Version, n.Hash, n.Size, n.Modified, n.By = newest.ID, newest.Hash, newest.Size, newest.Created, newest.By
	return putNode(tx, n)
}

// TakeServer makes the Manager's versions agree with the File Server's
// content where the two differ. also is as for DropMissing.
func (s *Service) TakeServer(ctx context.Context, ids []string, also func(*storage.Tx) error) error {
	want := map[string]Sum{}
	err := s.fs.View(func(tx *storage.Tx) error {
		for _, id := range ids {
			sm, err := sums.Get(tx, id)
			if err != nil {
				return err
			}
			want[id] = sm
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.syncServer(); err != nil { // the Manager takes what it reads
		return err
	}
	return s.changeManager(also, func(tx *storage.Tx, set *storage.FileSet) error {
		for _, id := range ids {
			v, err := versions.Get(tx, id)
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			sm := want[id]
			if v.Hash == sm.Hash && v.Size == sm.Size {
				continue
			}
			removeFile(set, v.ID, v.Hash, v.Size)
			v.Hash, v.Size = sm.Hash, sm.Size
			addFile(set, v.ID, v.Hash, v.Size)
			if err := versions.Put(tx, v.ID, v); err != nil {
				return err
			}
			if n, err := getNode(tx, v.Entry); err == nil && n.Version == v.ID {
				n.Hash, n.Size = v.Hash, v.Size
				if err := putNode(tx, n); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Adopt lists in the Manager contents that the File Server holds but no
// entry lists, below the folder into: each goes to its original path,
// sub-folders included. Records with the same path become versions of one
// file, oldest first. Records already adopted are skipped. also is as for
// DropMissing.
func (s *Service) Adopt(ctx context.Context, into string, ids []string, also func(*storage.Tx) error) error {
	var recs []Record
	err := s.fs.View(func(tx *storage.Tx) error {
		for _, id := range ids {
			rec, err := records.Get(tx, id)
			if err != nil {
				return err
			}
			recs = append(recs, rec)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	if err := s.syncServer(); err != nil { // the Manager lists what it reads
		return err
	}
	now := s.nowUTC()
	return s.changeManager(also, func(tx *storage.Tx, set *storage.FileSet) error {
		for _, rec := range recs {
			if ok, err := versions.Has(tx, rec.ID); err != nil {
				return err
			} else if ok {
				continue
			}
			dir, err := ensureFolders(tx, into, rec.Path, now)
			if err != nil {
				return err
			}
			name := normalize(rec.Name)
			if CheckName(name) != nil {
				name = "file " + rec.ID[:12]
			}
			var hash Hash
			if err := hash.UnmarshalText([]byte(rec.Hash)); err != nil {
				return fmt.Errorf("record %s: bad hash", rec.ID)
			}
			n, ok, err := lookupChild(tx, dir, name)
			if err != nil {
				return err
			}
			if ok && n.Kind != KindFile {
				name = name + " (file)"
				n, ok, err = lookupChild(tx, dir, name)
				if err != nil {
					return err
				}
			}
			if !ok {
				n = Node{ID: newID(rec.Created), Parent: dir, Kind: KindFile, Name: name, Created: rec.Created}
			}
			v := Version{ID: rec.ID, Entry: n.ID, Hash: hash, Size: rec.Size, Created: rec.Created, By: "File Server"}
			if err := versions.Put(tx, v.ID, v); err != nil {
				return err
			}
			if err := entryVer.Put(tx, n.ID+"/"+v.ID, ""); err != nil {
				return err
			}
			addFile(set, v.ID, v.Hash, v.Size)
			n.Versions++
			if v.ID > n.Version { // records come oldest first: the newest is current
				n.Version, n.Hash, n.Size, n.Modified, n.By = v.ID, v.Hash, v.Size, v.Created, v.By
			}
			if err := putNode(tx, n); err != nil {
				return err
			}
		}
		return nil
	})
}

// ensureFolders makes the folder chain path below into inside tx.
func ensureFolders(tx *storage.Tx, into, path string, now time.Time) (string, error) {
	cur := into
	for _, part := range strings.Split(path, "/") {
		if part == "" {
			continue
		}
		name := normalize(part)
		if CheckName(name) != nil {
			name = "folder"
		}
		n, ok, err := lookupChild(tx, cur, name)
		if err != nil {
			return "", err
		}
		if ok && !n.Kind.IsContainer() {
			name += " (folder)"
			if n, ok, err = lookupChild(tx, cur, name); err != nil {
				return "", err
			}
		}
		if !ok {
			n = Node{ID: newID(now), Parent: cur, Kind: KindFolder, Name: name, Created: now, Modified: now, By: "File Server"}
			if err := putNode(tx, n); err != nil {
				return "", err
			}
		}
		cur = n.ID
	}
	return cur, nil
}

// changeManager runs fn in one manager transaction after also, with the
// manager's file-set summary loaded before and saved after it.
func (s *Service) changeManager(also func(*storage.Tx) error, fn func(tx *storage.Tx, set *storage.FileSet) error) error {
	return s.mgr.Update(func(tx *storage.Tx) error {
		if err := runAlso(tx, also); err != nil {
			return err
		}
		set, err := tx.FileSet()
		if err != nil {
			return err
		}
		if err := fn(tx, &set); err != nil {
			return err
		}
		return tx.SetFileSet(set)
	})
}

func runAlso(tx *storage.Tx, also func(*storage.Tx) error) error {
	if also == nil {
		return nil
	}
	return also(tx)
}

// Manager returns the manager store, where the synchronization keeps its
// job record and history.
func (s *Service) Manager() *storage.Store { return s.mgr }

// Readable checks that both stores are open and answer, at a cost that
// does not grow with them (storage.Store.Readable); Healthy also reads
// every table of both against its checksums.
func (s *Service) Readable() error { return s.bothStores((*storage.Store).Readable) }

// Healthy checks that both stores are open and readable: every table of
// both is read against its checksums (storage.Store.Healthy).
func (s *Service) Healthy() error { return s.bothStores((*storage.Store).Healthy) }

// bothStores runs check on the Manager store, then the File Server's.
func (s *Service) bothStores(check func(*storage.Store) error) error {
	if err := check(s.mgr); err != nil {
		return fmt.Errorf("the Manager store is not healthy: %w", err)
	}
	if err := check(s.fs); err != nil {
		return fmt.Errorf("the File Server store is not healthy: %w", err)
	}
	return nil
}
