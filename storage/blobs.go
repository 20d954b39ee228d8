package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"codeberg.org/plinth/plinth/storage/fsys"
)

// Blobs keeps file contents outside Badger, in append-only pack files in
// the fileserver store's folder ("packs/"). Badger is excellent at many
// small records and poor at gigabytes of content: its value log is
// memory-mapped, so a 5 GB upload would show as 5 GB of resident memory.
// Packs are written with plain write calls, read with ReadAt, and never
// change below their committed size, which makes them cheap to back up.
//
// Each entry in a pack is a 4-byte length, the 32-byte SHA-256 of the data,
// then the data, so a pack can be checked or re-indexed on its own. Which
// entry holds which chunk, and how much of each pack is committed and
// still used, is recorded in Badger by the caller, in the same transaction
// as the file that needs it.
type Blobs struct {
	fs      fsys.FS
	dir     string
	maxPack int64

	// syncMu makes Sync wait for a Sync in progress: an entry is durable
	// only when the fsync that covers it has returned.
	syncMu sync.Mutex

	mu    sync.Mutex
	cur   fsys.File // the pack being appended to
	curID uint32
	size  int64 // bytes written to cur
	dirty map[uint32]fsys.File
	// fresh: a pack was created since the folder was last synced
	fresh bool
	open  map[uint32]*handle // read handles, shared by concurrent readers
}

// handle is a pack open for reading. It is closed when no reader uses it
// any more and it was dropped from the open set (to keep few files open,
// or because the pack was cut back or removed).
type handle struct {
	f       fsys.File
	refs    int
	dropped bool
}

// Loc is where an entry's data lies.
type Loc struct {
	Pack uint32
	Off  int64
	Len  int64
}

const (
	packMagic  = "PLNPACK1"
	entryHead  = 4 + 32
	packSuffix = ".pack"
)

// DefaultPackSize is where a pack is closed and the next one begun.
const DefaultPackSize = 256 << 20

func openBlobs(fs fsys.FS, dir string) (*Blobs, error) {
	fs = fsys.Or(fs)
	if err := fs.MkdirAll(dir, 0o700); err != nil {
		if c := classify(dir, err); c != nil {
			return nil, c
		}
		return nil, err
	}
	return &Blobs{fs: fs, dir: dir, maxPack: DefaultPackSize, dirty: map[uint32]fsys.File{}, open: map[uint32]*handle{}}, nil
}

func (b *Blobs) path(id uint32) string { return filepath.Join(b.dir, PackName(id)) }

// PackName is the file name of a pack.
func PackName(id uint32) string { return fmt.Sprintf("%08d%s", id, packSuffix) }

// Path is where a pack lies.
func (b *Blobs) Path(id uint32) string { return b.path(id) }

// Dir is the folder the packs are in.
func (b *Blobs) Dir() string { return b.dir }

// Packs lists the pack ids on disk with their sizes.
func (b *Blobs) Packs() (map[uint32]int64, error) {
	ents, err := b.fs.ReadDir(b.dir)
	if err != nil {
		return nil, err
	}
	out := map[uint32]int64{}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, packSuffix) {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(name, packSuffix), 10, 32)
		if err != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		out[uint32(id)] = fi.Size()
	}
	return out, nil
}

// Append writes one entry and returns where its data is. The data is not
// durable until Sync. The slice may be reused when Append returns.
func (b *Blobs) Append(sum [32]byte, data []byte) (Loc, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur == nil || b.size+entryHead+int64(len(data)) > b.maxPack && b.size > int64(len(packMagic)) {
		if err := b.roll(); err != nil {
			return Loc{}, err
		}
	}
	var head [entryHead]byte
	binary.BigEndian.PutUint32(head[:4], uint32(len(data)))
	copy(head[4:], sum[:])
	if _, err := b.cur.Write(head[:]); err != nil {
		return Loc{}, b.fail(err)
	}
	if _, err := b.cur.Write(data); err != nil {
		return Loc{}, b.fail(err)
	}
	loc := Loc{Pack: b.curID, Off: b.size + entryHead, Len: int64(len(data))}
	b.size += entryHead + int64(len(data))
	b.dirty[b.curID] = b.cur
	return loc, nil
}

// fail rolls the pack over after a failed write, so the next entry does not
// land after a torn one, and gives the error its sentence.
func (b *Blobs) fail(err error) error {
	b.cur = nil
	if c := classify(b.dir, err); c != nil {
		return c
	}
	return fmt.Errorf("write pack: %w", err)
}

// roll starts a new pack after the highest existing one.
func (b *Blobs) roll() error {
	packs, err := b.Packs()
	if err != nil {
		return err
	}
	next := uint32(1)
	for id := range packs {
		if id >= next {
			next = id + 1
		}
	}
	if b.curID >= next {
		next = b.curID + 1
	}
	// Never reuse the id of a pack that was removed: backups rebuild packs
	// from their segments by id.
	seqPath := filepath.Join(b.dir, "NEXT")
	if raw, err := fsys.ReadFileLimit(b.fs, seqPath, 64); err == nil {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 32); err == nil && uint32(v) > next {
			next = uint32(v)
		}
	}
	if err := fsys.WriteFile(b.fs, seqPath, []byte(strconv.FormatUint(uint64(next)+1, 10)+"\n"), fsys.Options{}); err != nil {
		return b.fail(err)
	}
	f, err := b.fs.OpenFile(b.path(next), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return b.fail(err)
	}
	if _, err := f.Write([]byte(packMagic)); err != nil {
		_ = f.Close()
		_ = b.fs.Remove(b.path(next))
		return b.fail(err)
	}
	b.cur, b.curID, b.size = f, next, int64(len(packMagic))
	b.dirty[next] = f
	b.fresh = true
	return nil
}

// Seal ends the current pack: the next Append starts a new one.
func (b *Blobs) Seal() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur != nil {
		b.dirty[b.curID] = b.cur // Sync syncs and closes it
		b.cur = nil
	}
}

// Sync makes every entry appended so far durable. A pack that fails to
// sync stays on the list, so the next Sync tries it again; its data is
// never taken as durable.
func (b *Blobs) Sync() error {
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	b.mu.Lock()
	dirty, fresh := b.dirty, b.fresh
	b.dirty, b.fresh = map[uint32]fsys.File{}, false
	b.mu.Unlock()
	var errs []error
	synced := map[uint32]int64{} // for the power-cut test hook
	for id, f := range dirty {
		if watching() {
			if fi, err := f.Stat(); err == nil {
				synced[id] = fi.Size()
			}
		}
		if err := f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("sync pack %d: %w", id, err))
			b.mu.Lock()
			if _, again := b.dirty[id]; !again {
				b.dirty[id] = f
			}
			if b.cur == f {
				b.cur = nil // append no more after what may be lost
			}
			b.mu.Unlock()
			continue
		}
		if f != b.current() {
			if err := f.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close pack %d: %w", id, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		if fresh {
			b.mu.Lock()
			b.fresh = true
			b.mu.Unlock()
		}
		return err
	}
	// A new pack's name is durable once the folder is synced; appending
	// to a pack needs only the pack's own fsync.
	if fresh {
		if err := b.fs.SyncDir(b.dir); err != nil {
			b.mu.Lock()
			b.fresh = true
			b.mu.Unlock()
			return fmt.Errorf("sync the packs folder: %w", err)
		}
	}
	for id, size := range synced {
		durablePack(b.dir, id, size)
	}
	return nil
}

func (b *Blobs) current() fsys.File {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}

// maxEntry is the longest entry Read reads: an entry holds one chunk, at
// most 4 MiB (files.ChunkSize). A location that says more comes from a
// damaged or crafted store (one restored from a backup, say), and reading
// it would take that much memory.
const maxEntry = 16 << 20

// Read returns an entry's data. A location no entry can have is damage
// (a *DamageError naming the File Server store).
func (b *Blobs) Read(loc Loc) ([]byte, error) { return b.ReadInto(loc, nil) }

// ReadInto is Read into buf when it has room for the bytes (else into a
// new slice); the bytes returned start at buf's start.
func (b *Blobs) ReadInto(loc Loc, buf []byte) ([]byte, error) {
	if loc.Len < 0 || loc.Len > maxEntry || loc.Off < 0 {
		return nil, damaged(FileServer, filepath.Dir(b.dir), nil,
			"its chunk index places a chunk of %d bytes at byte %d of content pack %d, where a chunk holds at most %d MiB", loc.Len, loc.Off, loc.Pack, maxEntry>>20)
	}
	h, err := b.acquire(loc.Pack)
	if err != nil {
		return nil, err
	}
	defer b.release(h)
	if int64(cap(buf)) >= loc.Len {
		buf = buf[:loc.Len]
	} else {
		buf = make([]byte, loc.Len)
	}
	if _, err := h.f.ReadAt(buf, loc.Off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("pack %d ends before the data: %w", loc.Pack, ErrNotFound)
		}
		return nil, fmt.Errorf("read pack %d: %w", loc.Pack, err)
	}
	return buf, nil
}

// acquire returns pack id open for reading; release it when done. A
// handle another reader still uses is never closed under it.
func (b *Blobs) acquire(id uint32) (*handle, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if h, ok := b.open[id]; ok {
		h.refs++
		return h, nil
	}
	f, err := b.fs.Open(b.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("pack %d is missing: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if len(b.open) > 64 { // keep few handles open
		for k := range b.open {
			b.dropLocked(k)
		}
	}
	h := &handle{f: f, refs: 1}
	b.open[id] = h
	return h, nil
}

func (b *Blobs) release(h *handle) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h.refs--
	if h.refs == 0 && h.dropped {
		_ = h.f.Close()
	}
}

// dropLocked takes pack id out of the open set, closing its handle now if
// no reader uses it, else when the last one releases it. b.mu is held.
func (b *Blobs) dropLocked(id uint32) {
	h, ok := b.open[id]
	if !ok {
		return
	}
	delete(b.open, id)
	h.dropped = true
	if h.refs == 0 {
		_ = h.f.Close()
	}
}

// Truncate cuts a pack back to size (its committed size after a crash)
// and removes it when size is only the header or less.
func (b *Blobs) Truncate(id uint32, size int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur != nil && b.curID == id {
		_ = b.cur.Close()
		b.cur = nil
	}
	b.dropLocked(id)
	defer durableChange(b.dir) // a test hook: see durable.go
	if size <= int64(len(packMagic)) {
		err := b.fs.Remove(b.path(id))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return b.fs.Truncate(b.path(id), size)
}

// Remove deletes a pack nobody uses any more.
func (b *Blobs) Remove(id uint32) error { return b.Truncate(id, 0) }

// SortedPacks lists pack ids in order.
func (b *Blobs) SortedPacks() ([]uint32, error) {
	packs, err := b.Packs()
	if err != nil {
		return nil, err
	}
	ids := make([]uint32, 0, len(packs))
	for id := range packs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}

// Close closes every open pack.
func (b *Blobs) Close() error {
	err := b.Sync()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur != nil {
		_ = b.cur.Close()
		b.cur = nil
	}
	for k := range b.open {
		b.dropLocked(k)
	}
	return err
}
