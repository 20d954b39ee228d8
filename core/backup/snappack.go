package backup

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// Level-1 packs (snapshot repository format 3). A snapshot appends the
// chunks it adds, sealed as ever (snapcodec.go), to pack files of up to
// packTarget bytes, instead of writing one file per chunk:
//
//	packs/<32 hex digits>.pack
//
// A pack is its chunks one after the other, then its index, then a
// footer of packFooterSize bytes:
//
//	entry   × count   chunk id (32 bytes) | offset | stored size | length
//	                  (three big-endian uint64: where its sealed bytes lie
//	                  in the pack and how long the chunk is when opened)
//	footer            "PLNPACK1" | count (uint32) | 0 (uint32) |
//	                  recipient tag (8 bytes, zero when plain) |
//	                  data length (uint64) | SHA-256 of the entries
//
// All chunks of a pack are sealed for one recipient. A pack is written to
// a temporary file, fsynced once and renamed into place; the folder is
// synced before the snapshot's manifest is written. The pack's name is
// random and a pack is never changed: prune removes a pack none of whose
// chunks is used any more, and repacks one that is mostly unused (the
// new pack durable before the old is removed). Loose chunk files of
// formats 1 and 2 (chunks/<aa>/…) stay readable beside packs.
//
// Every chunk keeps its own check (its SHA-256, and age's AEAD when
// encrypted), so a damaged byte in a pack costs the chunk it lies in;
// the index is checked against the footer's SHA-256, and every offset
// and size against the pack's, before any of it is used.
//
// Which chunk lies where is known from the packs' indexes; a packSet
// keeps them in memory for a target, refreshed by one listing of the
// packs folder, so a snapshot of an unchanged project reads no index, and
// a process reads each pack's index once. The packs lie in one folder:
// at 32 MiB a pack, 10,000 of them hold 320 GiB, and one listing of them
// costs less than listing 256 subfolders.
//
// Copies to a snapshot copy target (snapcopy.go) still hold one object
// per chunk, read out of the packs here; a snapshot fetched from there
// has its chunks put into a pack here.

const (
	packsDir       = "packs"
	packExt        = ".pack"
	snapPackMagic  = "PLNPACK1"
	packEntrySize  = 32 + 3*8
	packFooterSize = 8 + 4 + 4 + 8 + 8 + 32
	// maxPackEntries and maxPackData bound what a pack may claim to hold.
	maxPackEntries = 1 << 16
	maxPackData    = 32<<20 + maxStoredChunk
)

// packTarget is the size at which a pack is closed (tests make it
// smaller); at most maxPackData - maxStoredChunk.
var packTarget int64 = 32 << 20

// packEntry is one chunk in a pack.
type packEntry struct {
	id     [32]byte
	off    int64
	stored int64
	raw    int64
}

// packLoc is where a chunk lies: in which pack, at which offset.
type packLoc struct {
	pack   string
	off    int64
	stored int64
}

// isPackName reports whether name is the file name of a pack.
func isPackName(name string) bool {
	id, ok := strings.CutSuffix(name, packExt)
	if !ok || len(id) != 32 || strings.ToLower(id) != id {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

func newPackName() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + packExt
}

// packTag is the recipient tag a pack's footer carries.
func packTag(recipient string) (tag [8]byte) {
	if recipient != "" {
		b, _ := hex.DecodeString(recipientTag(recipient))
		copy(tag[:], b)
	}
	return tag
}

// tagKey is the key a chunk of a pack with tag has in a packSet: the file
// name it would have loose (chunkName).
func tagKey(id [32]byte, tag [8]byte) string {
	h := hex.EncodeToString(id[:])
	if tag == ([8]byte{}) {
		return h + ".zst"
	}
	return h + "." + hex.EncodeToString(tag[:]) + ".age"
}

// encodePackTrailer is the index and footer that end a pack.
func encodePackTrailer(entries []packEntry, tag [8]byte, dataLen int64) []byte {
	b := make([]byte, 0, len(entries)*packEntrySize+packFooterSize)
	for _, e := range entries {
		b = append(b, e.id[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(e.off))
		b = binary.BigEndian.AppendUint64(b, uint64(e.stored))
		b = binary.BigEndian.AppendUint64(b, uint64(e.raw))
	}
	sum := sha256.Sum256(b)
	b = append(b, snapPackMagic...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(entries)))
	b = binary.BigEndian.AppendUint32(b, 0)
	b = append(b, tag[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(dataLen))
	return append(b, sum[:]...)
}

// errPackIndex says a pack's index is damaged.
var errPackIndex = errors.New("its index is damaged")

// readPackIndex reads and checks the index of the pack at path: the
// footer's magic, count and data length against the pack's size, the
// entries against their checksum, and every entry's place and size
// against the data. What it reads is bounded by maxPackEntries whatever
// the pack claims.
func readPackIndex(fsy fsys.FS, path string) (tag [8]byte, size int64, entries []packEntry, err error) {
	f, err := fsys.Or(fsy).Open(path)
	if err != nil {
		return tag, 0, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return tag, 0, nil, err
	}
	size = fi.Size()
	if size < packFooterSize {
		return tag, size, nil, errPackIndex
	}
	foot := make([]byte, packFooterSize)
	if _, err := f.ReadAt(foot, size-packFooterSize); err != nil {
		return tag, size, nil, err
	}
	if string(foot[:8]) != snapPackMagic {
		return tag, size, nil, errPackIndex
	}
	count := int64(binary.BigEndian.Uint32(foot[8:12]))
	copy(tag[:], foot[16:24])
	dataLen := binary.BigEndian.Uint64(foot[24:32])
	if count < 1 || count > maxPackEntries || dataLen > maxPackData ||
		int64(dataLen)+count*packEntrySize+packFooterSize != size {
		return tag, size, nil, errPackIndex
	}
	raw := make([]byte, count*packEntrySize)
	if _, err := f.ReadAt(raw, int64(dataLen)); err != nil {
		return tag, size, nil, err
	}
	if sum := sha256.Sum256(raw); !bytes.Equal(sum[:], foot[32:64]) {
		return tag, size, nil, errPackIndex
	}
	entries = make([]packEntry, count)
	var end int64
	for i := range entries {
		b := raw[i*packEntrySize:]
		e := &entries[i]
		copy(e.id[:], b[:32])
		off, stored, n := binary.BigEndian.Uint64(b[32:40]), binary.BigEndian.Uint64(b[40:48]), binary.BigEndian.Uint64(b[48:56])
		if off != uint64(end) || stored == 0 || stored > maxStoredChunk || n > files.ChunkSize {
			return tag, size, nil, errPackIndex
		}
		e.off, e.stored, e.raw = int64(off), int64(stored), int64(n)
		end += e.stored
	}
	if end != int64(dataLen) {
		return tag, size, nil, errPackIndex
	}
	return tag, size, entries, nil
}

// packMeta is what a packSet knows of one pack.
type packMeta struct {
	size    int64
	data    int64
	tag     [8]byte
	entries []packEntry
}

// packSet knows which chunk lies in which pack of a target. refresh lists
// the packs folder and reads the index of each pack it has not seen
// (with the same size) before; a pack whose index is damaged is kept in
// bad, never taken for an empty one; one that cannot be read now (an I/O
// error) fails the refresh, and is read again by the next.
type packSet struct {
	fs  fsys.FS
	dir string

	mu     sync.Mutex
	loose  bool // the target has a folder of loose chunks (formats 1, 2)
	packs  map[string]*packMeta
	chunks map[string][]packLoc // tagKey → where
	bad    map[string]int64     // damaged pack → its size
}

func newPackSet(fsy fsys.FS, target string) *packSet {
	return &packSet{fs: fsys.Or(fsy), dir: filepath.Join(target, packsDir),
		packs: map[string]*packMeta{}, chunks: map[string][]packLoc{}, bad: map[string]int64{}}
}

// packsOf returns the target's packSet, refreshed.
func (s *Service) packsOf(target string) (*packSet, error) {
	v, _ := s.packSets.LoadOrStore(target, newPackSet(s.fs, target))
	ps := v.(*packSet)
	if ps.fs != fsys.Or(s.fs) { // SetFS since
		ps = newPackSet(s.fs, target)
		s.packSets.Store(target, ps)
	}
	return ps, ps.refresh()
}

// refresh brings the set up to date with the packs folder.
func (ps *packSet) refresh() error {
	ents, err := ps.fs.ReadDir(ps.dir)
	if errors.Is(err, fs.ErrNotExist) {
		ents, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("read the packs of %s: %w", filepath.Dir(ps.dir), err)
	}
	_, lerr := ps.fs.Stat(filepath.Join(filepath.Dir(ps.dir), "chunks"))
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.loose = !errors.Is(lerr, fs.ErrNotExist)
	seen := make(map[string]bool, len(ents))
	for _, e := range ents {
		name := e.Name()
		if !isPackName(name) || !e.Type().IsRegular() {
			continue
		}
		seen[name] = true
		info, err := e.Info()
		if err != nil {
			continue
		}
		if m, ok := ps.packs[name]; ok && m.size == info.Size() {
			continue
		}
		if n, ok := ps.bad[name]; ok && n == info.Size() {
			continue
		}
		ps.dropLocked(name)
		tag, size, entries, err := readPackIndex(ps.fs, filepath.Join(ps.dir, name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // removed meanwhile
		case errors.Is(err, errPackIndex):
			ps.bad[name] = size
			continue
		case err != nil:
			// Not the pack's fault: the next refresh reads it again.
			return fmt.Errorf("read the index of pack %s: %w", name, err)
		}
		ps.addLocked(name, size, tag, entries)
	}
	for name := range ps.packs {
		if !seen[name] {
			ps.dropLocked(name)
		}
	}
	for name := range ps.bad {
		if !seen[name] {
			delete(ps.bad, name)
		}
	}
	return nil
}

func (ps *packSet) addLocked(name string, size int64, tag [8]byte, entries []packEntry) {
	m := &packMeta{size: size, tag: tag, entries: entries}
	for _, e := range entries {
		k := tagKey(e.id, tag)
		ps.chunks[k] = append(ps.chunks[k], packLoc{pack: name, off: e.off, stored: e.stored})
		m.data += e.stored
	}
	ps.packs[name] = m
}

// add records a pack just written.
func (ps *packSet) add(name string, size int64, tag [8]byte, entries []packEntry) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.dropLocked(name)
	ps.addLocked(name, size, tag, entries)
}

// drop forgets a pack removed.
func (ps *packSet) drop(name string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.dropLocked(name)
}

func (ps *packSet) dropLocked(name string) {
	delete(ps.bad, name)
	m, ok := ps.packs[name]
	if !ok {
		return
	}
	delete(ps.packs, name)
	for _, e := range m.entries {
		k := tagKey(e.id, m.tag)
		locs := ps.chunks[k][:0]
		for _, l := range ps.chunks[k] {
			if l.pack != name {
				locs = append(locs, l)
			}
		}
		if len(locs) == 0 {
			delete(ps.chunks, k)
		} else {
			ps.chunks[k] = locs
		}
	}
}

// lookup returns where chunk id, stored for recipient, lies in packs.
func (ps *packSet) lookup(id, recipient string) []packLoc {
	if ps == nil {
		return nil
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]packLoc(nil), ps.chunks[chunkName(id, recipient)]...)
}

// mayHaveLoose reports whether a chunk might lie loose in the target:
// not when it has no folder of loose chunks (a target of format 3 from
// the start), so that looking a chunk up costs no file system call.
func (ps *packSet) mayHaveLoose() bool {
	if ps == nil {
		return true
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.loose
}

// damaged names a pack whose index cannot be read, if there is one.
func (ps *packSet) damaged() string {
	if ps == nil {
		return ""
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	names := sortedIDs(ps.bad)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// readAt reads a chunk's sealed bytes from its pack.
func (ps *packSet) readAt(l packLoc) ([]byte, error) {
	f, err := ps.fs.Open(filepath.Join(ps.dir, l.pack))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, l.stored)
	if _, err := f.ReadAt(b, l.off); err != nil {
		return nil, err
	}
	return b, nil
}

// storedChunk returns the sealed bytes of chunk id for recipient in a
// target, from a pack or a loose file, and where it lay (for messages).
func storedChunk(fsy fsys.FS, target string, ps *packSet, id, recipient string) ([]byte, string, error) {
	for _, l := range ps.lookup(id, recipient) {
		if b, err := ps.readAt(l); err == nil {
			return b, "pack " + strings.TrimSuffix(l.pack, packExt), nil
		}
	}
	if !ps.mayHaveLoose() {
		return nil, "", missingChunk(id, ps)
	}
	b, err := fsys.ReadFileLimit(fsy, chunkPath(target, id, recipient), maxStoredChunk)
	if err != nil {
		return nil, "", missingChunk(id, ps)
	}
	return b, "", nil
}

// storedSize is the size chunk id for recipient has as stored in a
// target, if it is there.
func storedSize(fsy fsys.FS, target string, ps *packSet, id, recipient string) (int64, bool) {
	if locs := ps.lookup(id, recipient); len(locs) > 0 {
		return locs[0].stored, true
	}
	if !ps.mayHaveLoose() {
		return 0, false
	}
	fi, err := fsy.Stat(chunkPath(target, id, recipient))
	if err != nil || !fi.Mode().IsRegular() {
		return 0, false
	}
	return fi.Size(), true
}

// missingChunk says a chunk is not there, and names a damaged pack that
// may have held it.
func missingChunk(id string, ps *packSet) error {
	if bad := ps.damaged(); bad != "" {
		return refusal(ErrDamaged, "chunk %.12s of the snapshot is missing, and the index of pack %s, which may hold it, is damaged", id, strings.TrimSuffix(bad, packExt))
	}
	return refusal(ErrDamaged, "chunk %.12s of the snapshot is missing or cannot be read", id)
}

// packWriter appends sealed chunks to a new pack.
type packWriter struct {
	dir     string
	name    string
	tag     [8]byte
	p       *fsys.Pending
	entries []packEntry
	n       int64
}

func newPackWriter(fsy fsys.FS, dir, recipient string) (*packWriter, error) {
	name := newPackName()
	p, err := fsys.Create(fsy, filepath.Join(dir, name), fsys.Options{NoDirSync: true, NoReplace: true})
	if err != nil {
		return nil, err
	}
	return &packWriter{dir: dir, name: name, tag: packTag(recipient), p: p}, nil
}

// add appends chunk id (raw bytes long when opened) as stored.
func (w *packWriter) add(id string, stored []byte, raw int64) error {
	var e packEntry
	if _, err := hex.Decode(e.id[:], []byte(id)); err != nil {
		return fmt.Errorf("chunk %q is not one", id)
	}
	if _, err := w.p.Write(stored); err != nil {
		return err
	}
	e.off, e.stored, e.raw = w.n, int64(len(stored)), raw
	w.n += e.stored
	w.entries = append(w.entries, e)
	return nil
}

// full reports whether the pack should be closed.
func (w *packWriter) full() bool {
	return w.n >= packTarget || len(w.entries) >= maxPackEntries
}

// commit writes the index and footer, fsyncs the pack and renames it
// into place; the caller syncs the folder. It returns the pack's size.
func (w *packWriter) commit() (int64, error) {
	if _, err := w.p.Write(encodePackTrailer(w.entries, w.tag, w.n)); err != nil {
		w.p.Abort()
		return 0, err
	}
	size := w.p.Written()
	return size, w.p.Commit()
}

func (w *packWriter) abort() { w.p.Abort() }

// list lists a set's packs by name.
func (ps *packSet) list() []string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]string, 0, len(ps.packs))
	for n := range ps.packs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// meta returns what the set knows of pack name.
func (ps *packSet) meta(name string) (*packMeta, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	m, ok := ps.packs[name]
	return m, ok
}
