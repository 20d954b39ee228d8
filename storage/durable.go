package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// This file is a test hook: it simulates a power cut, which keeps on disk
// only what was made durable, so that tests can check that Plinth never
// relies on a write that was not. Production code never turns it on; the
// store calls into it at its durable points (durableCommit, durableSync,
// durablePack, durableChange), which do nothing unless a test called
// WatchPowerCut.
//
// What counts as durable:
//   - the manager store (SyncWrites on): every committed transaction;
//   - the fileserver store: what Store.Sync made durable (Badger's files
//     are snapshotted there; its later commits may be lost);
//   - a pack: its size when it was last fsynced (Blobs.Sync);
//   - pack removals and truncations: at once (the pessimistic case: the
//     bytes are gone even if the store that still points at them is not).

// PowerCut records, for a test, what each watched store held on disk
// durably, and puts the stores' folders back to that state as a power cut
// would leave them.
type PowerCut struct {
	at int // the power goes right after this durable event; 0: never

	mu     sync.Mutex
	events int
	gone   bool
	stores map[*Store]*durableState
}

type durableState struct {
	dir    string
	kind   Kind
	badger []fileImage      // the store's own files at its last durable point
	synced map[uint32]int64 // pack id → size at its last fsync
	image  *storeImage      // what the disk held when the power went
}

// storeImage is a store's folder as the power cut left it.
type storeImage struct {
	badger []fileImage
	packs  map[uint32]fileImage
}

// fileImage is a file's size and the bytes of its data regions (holes in
// sparse files, such as Badger's memory-mapped logs, are not copied).
type fileImage struct {
	name  string
	size  int64
	parts []extent
}

type extent struct {
	off  int64
	data []byte
}

var powerCut atomic.Pointer[PowerCut]

// WatchPowerCut starts recording the durable state of the given stores,
// for a test. With at > 0 the power goes right after the at-th durable
// event (a manager commit, a Store.Sync, a pack fsync, a pack removal or
// truncation): what the disk held then is kept, and later writes do not
// matter. With at = 0 the power goes when Apply is called. Only one
// PowerCut is active at a time; Apply ends it.
func WatchPowerCut(at int, stores ...*Store) (*PowerCut, error) {
	p := &PowerCut{at: at, stores: map[*Store]*durableState{}}
	for _, s := range stores {
		st := &durableState{dir: s.dir, kind: s.kind, synced: map[uint32]int64{}}
		// What is there now counts as durable: the test starts from a
		// closed-and-reopened or freshly synced state.
		if err := s.Sync(); err != nil {
			return nil, err
		}
		img, err := imageDir(s.dir)
		if err != nil {
			return nil, err
		}
		st.badger = img
		if s.blobs != nil {
			sizes, err := s.blobs.Packs()
			if err != nil {
				return nil, err
			}
			for id, n := range sizes {
				st.synced[id] = n
			}
		}
		p.stores[s] = st
	}
	if !powerCut.CompareAndSwap(nil, p) {
		return nil, errors.New("another power cut is being watched")
	}
	return p, nil
}

// Events is how many durable events were seen so far.
func (p *PowerCut) Events() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.events
}

// Happened reports whether the power went (at was reached).
func (p *PowerCut) Happened() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gone
}

// Apply ends the watch and puts every watched store's folder back to what
// the disk held when the power went (now, if it has not gone yet): the
// store's own files as of its last durable point, and each pack cut to
// the size it had when last synced (a pack never synced is gone). The
// stores must be closed.
func (p *PowerCut) Apply() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	powerCut.CompareAndSwap(p, nil)
	for s, st := range p.stores {
		if !s.db.IsClosed() {
			return fmt.Errorf("close the %s store before the power cut is applied", s.kind)
		}
		if st.image == nil {
			// The power goes now: the packs on disk are as they are.
			img, err := st.freeze()
			if err != nil {
				return err
			}
			st.image = img
		}
		if err := st.restore(); err != nil {
			return err
		}
	}
	return nil
}

// event counts a durable event and, when it is the one the power goes
// after, freezes every watched store's disk.
func (p *PowerCut) event() {
	p.events++
	if p.at == 0 || p.events != p.at {
		return
	}
	p.gone = true
	for _, st := range p.stores {
		img, err := st.freeze()
		if err != nil {
			panic(fmt.Sprintf("power cut: %v", err)) // test hook: fail loudly
		}
		st.image = img
	}
}

// watching reports whether a power cut is being watched.
func watching() bool { return powerCut.Load() != nil }

// watch returns the active PowerCut with its lock held, or nil when none
// is active or the power has gone.
func watch() *PowerCut {
	p := powerCut.Load()
	if p == nil {
		return nil
	}
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		return nil
	}
	return p
}

// durableCommit is called after every committed transaction.
func durableCommit(s *Store) {
	if s.kind != Manager {
		return
	}
	durableSync(s)
}

// durableSync is called when everything s wrote is durable.
func durableSync(s *Store) {
	p := watch()
	if p == nil {
		return
	}
	defer p.mu.Unlock()
	st, ok := p.stores[s]
	if !ok {
		return
	}
	img, err := imageDir(s.dir)
	if err != nil {
		panic(fmt.Sprintf("power cut: snapshot %s: %v", s.dir, err))
	}
	st.badger = img
	p.event()
}

// durablePack is called after a pack was fsynced at size bytes or more.
func durablePack(packsDir string, id uint32, size int64) {
	p := watch()
	if p == nil {
		return
	}
	defer p.mu.Unlock()
	for _, st := range p.stores {
		if filepath.Join(st.dir, "packs") == packsDir {
			st.synced[id] = max(st.synced[id], size)
			p.event()
		}
	}
}

// durableChange is called after a pack was removed or truncated: that
// takes effect at once.
func durableChange(packsDir string) {
	p := watch()
	if p == nil {
		return
	}
	defer p.mu.Unlock()
	for _, st := range p.stores {
		if filepath.Join(st.dir, "packs") == packsDir {
			p.event()
		}
	}
}

// freeze captures what the store's disk holds after a power cut now.
func (st *durableState) freeze() (*storeImage, error) {
	img := &storeImage{badger: st.badger, packs: map[uint32]fileImage{}}
	dir := filepath.Join(st.dir, "packs")
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		var id uint32
		if _, err := fmt.Sscanf(e.Name(), "%d"+packSuffix, &id); err != nil || PackName(id) != e.Name() {
			continue
		}
		synced, ok := st.synced[id]
		if !ok {
			continue // never synced: lost
		}
		fi, err := imageFile(filepath.Join(dir, e.Name()), synced)
		if err != nil {
			return nil, err
		}
		img.packs[id] = fi
	}
	return img, nil
}

// restore writes the frozen image back into the store's folder.
func (st *durableState) restore() error {
	ents, err := os.ReadDir(st.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name() == "packs" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(st.dir, e.Name())); err != nil {
			return err
		}
	}
	for _, f := range st.image.badger {
		if err := f.write(filepath.Join(st.dir, f.name)); err != nil {
			return err
		}
	}
	dir := filepath.Join(st.dir, "packs")
	packs, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range packs {
		if strings.HasSuffix(e.Name(), packSuffix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	for id, f := range st.image.packs {
		if err := f.write(filepath.Join(dir, PackName(id))); err != nil {
			return err
		}
	}
	return nil
}

// imageDir copies the files of a store's folder (not the packs, not the
// lock) into memory.
func imageDir(dir string) ([]fileImage, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []fileImage
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name() == "LOCK" {
			continue
		}
		fi, err := imageFile(filepath.Join(dir, e.Name()), -1)
		if err != nil {
			return nil, err
		}
		out = append(out, fi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// Whence values of lseek for data and holes (Linux, macOS, FreeBSD).
const (
	seekData = 3
	seekHole = 4
)

// imageFile reads the data regions of a file up to limit bytes (all when
// limit < 0), skipping holes where the system can tell them.
func imageFile(path string, limit int64) (fileImage, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileImage{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fileImage{}, err
	}
	size := info.Size()
	if limit >= 0 {
		size = min(size, limit)
	}
	img := fileImage{name: filepath.Base(path), size: size}
	read := func(start, end int64) error {
		buf := make([]byte, end-start)
		if _, err := f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		img.parts = append(img.parts, extent{off: start, data: buf})
		return nil
	}
	for off := int64(0); off < size; {
		start, err := f.Seek(off, seekData)
		if errors.Is(err, syscall.ENXIO) {
			break // only a hole from here
		}
		if err != nil { // no hole support: copy the rest
			return img, read(off, size)
		}
		if start >= size {
			break
		}
		end, err := f.Seek(start, seekHole)
		if err != nil || end > size {
			end = size
		}
		if err := read(start, end); err != nil {
			return img, err
		}
		off = end
	}
	return img, nil
}

// write creates the file again, sparse where it was.
func (fi fileImage) write(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(fi.size)
	for _, p := range fi.parts {
		if err == nil {
			_, err = f.WriteAt(p.data, p.off)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
