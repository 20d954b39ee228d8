package storage

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dustin/go-humanize"
	"google.golang.org/protobuf/proto"
)

// Backup writes a consistent snapshot of every entry newer than since to w
// and returns the version to pass, unchanged, as since for the next
// incremental backup. (Badger's doc comment says to add 1; that drops the
// entries of that version, badger issue #2060.)
//
// A full backup (since 0) holds the newest version of each key and
// nothing of a key whose newest version deletes it (fullStream); an
// incremental holds every version since, deletions included (Badger's
// stream). Both load with LoadInto.
func (s *Store) Backup(w io.Writer, since uint64) (uint64, error) {
	s.swap.RLock()
	defer s.swap.RUnlock()
	if since == 0 {
		v, err := s.fullStream(w)
		if err != nil {
			return 0, s.wrap("backup", fmt.Errorf("back up the %s store: %w", s.kind, err))
		}
		return v, nil
	}
	// A desktop-sized stream: one producer and 16 MB batches rather than
	// Badger's defaults, which hold up to 100 MB in flight. Each producer
	// takes 32 MB buffers (a constant in Badger) and Plinth's stores hold
	// only metadata, so a second one costs more memory than it saves time.
	st := s.db.NewStream()
	st.LogPrefix = "Plinth backup"
	st.NumGo = 1
	st.MaxSize = 16 << 20
	st.SinceTs = since
	v, err := st.Backup(w, since)
	if err != nil {
		return 0, s.wrap("backup", fmt.Errorf("back up the %s store: %w", s.kind, err))
	}
	return v, nil
}

// fullBlock is about how many bytes of keys and values one block of a
// full backup stream holds: small enough to keep the stream's memory
// small, large enough that the blocks' headers cost nothing.
const fullBlock = 1 << 20

// fullStream writes the newest version of every key in one read
// transaction to w, in Badger's backup format (what Stream.Backup
// writes, and Load reads), and returns the highest version it saw, as
// Stream.Backup does. It leaves out what a full backup loaded into an
// empty store does not need: the older versions of a key, and the keys
// whose newest version deletes them or has expired. Each entry is
// encoded once, straight from the iterator; Badger's stream encodes every
// entry into its own buffer (32 MB a producer), decodes it and encodes it
// again, which took half the CPU of a full backup of 50,000 small files.
func (s *Store) fullStream(w io.Writer) (uint64, error) {
	type entry struct {
		key, val      int // ends of the key and the value in arena
		version       uint64
		expires       uint64
		userMeta, bit byte
	}
	var (
		maxVersion uint64
		arena      []byte // keys and values of the block being built
		ents       []entry
		kvs        []pb.KV
		list       pb.KVList
		out        []byte
		last       []byte // the key whose versions are being skipped
	)
	flags := make([]byte, 256) // flags[b:b+1] is the one-byte slice b
	for i := range flags {
		flags[i] = byte(i)
	}
	flush := func() error {
		if len(ents) == 0 {
			return nil
		}
		kvs = slices.Grow(kvs[:0], len(ents))[:len(ents)]
		list.Kv = list.Kv[:0]
		at := 0
		for i, e := range ents {
			kvs[i] = pb.KV{Key: arena[at:e.key], Value: arena[e.key:e.val:e.val], Version: e.version, ExpiresAt: e.expires,
				UserMeta: flags[int(e.userMeta) : int(e.userMeta)+1], Meta: flags[int(e.bit) : int(e.bit)+1]}
			if e.key == e.val {
				kvs[i].Value = nil
			}
			list.Kv = append(list.Kv, &kvs[i])
			at = e.val
		}
		var err error
		out, err = proto.MarshalOptions{}.MarshalAppend(binary.LittleEndian.AppendUint64(out[:0], 0), &list)
		if err != nil {
			return err
		}
		binary.LittleEndian.PutUint64(out, uint64(len(out)-8))
		if _, err := w.Write(out); err != nil {
			return err
		}
		arena, ents = arena[:0], ents[:0]
		return nil
	}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			if last != nil && bytes.Equal(item.Key(), last) {
				continue // an older version
			}
			last = append(last[:0], item.Key()...)
			maxVersion = max(maxVersion, item.Version())
			if item.IsDeletedOrExpired() {
				continue
			}
			e := entry{version: item.Version(), expires: item.ExpiresAt(), userMeta: item.UserMeta()}
			if item.DiscardEarlierVersions() {
				e.bit = bitDiscardEarlierVersions
			}
			arena = append(arena, last...)
			e.key = len(arena)
			if err := item.Value(func(v []byte) error {
				arena = append(arena, v...)
				return nil
			}); err != nil {
				return fmt.Errorf("read the value of %q: %w", last, err)
			}
			e.val = len(arena)
			ents = append(ents, e)
			if len(arena) >= fullBlock {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	})
	return maxVersion, err
}

// bitDiscardEarlierVersions is Badger's meta bit of an entry whose older
// versions are to be dropped (its own constant is not exported).
const bitDiscardEarlierVersions = 0x04

// ErrBadBackup means a backup stream is not what Backup writes: it was
// damaged or crafted. The error is a *BackupError.
var ErrBadBackup = errors.New("the backup stream is damaged")

// BackupError says which part of a backup stream LoadInto refused, and
// why.
type BackupError struct {
	Kind   Kind
	Part   int    // 1 for the first stream given to LoadInto
	Reason string // "holds a block of 1.0 PiB, more than the 256 MiB a block may hold"
}

func (e *BackupError) Error() string {
	return fmt.Sprintf("part %d of the %s backup is damaged: it %s", e.Part, e.Kind.Name(), e.Reason)
}

func (e *BackupError) Unwrap() error { return ErrBadBackup }

// IsDiskFull reports whether err says that a disk is full: the operating
// system's own error (ENOSPC or EDQUOT; on Windows ERROR_DISK_FULL and
// ERROR_HANDLE_DISK_FULL), or an error of this package that wraps
// ErrDiskFull.
func IsDiskFull(err error) bool {
	return err != nil && (isDiskFull(err) || errors.Is(err, ErrDiskFull))
}

// LoadInto creates a store of the given kind in dir (which must not exist
// or be empty) from backup streams, applied in order (a full backup, then
// its incrementals). The store is closed again; open it with Open.
//
// A stream comes from a backup target that others may write, so it is
// read through a guard (loadGuard) that passes on to Badger only entries
// a store could hold, in small blocks: a damaged or crafted stream is
// refused with a *BackupError and costs bounded memory. Badger loads
// spaceEvery bytes of it at a time, and writes them all, before the free
// space is checked again (NeedSpace, which keeps Reserve free), so it
// never writes its memory-mapped files onto a full disk.
func LoadInto(dir string, kind Kind, opt Options, streams ...io.Reader) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("folder %s is not empty", dir)
	}
	if err := CheckFolder(dir); err != nil {
		return err
	}
	// Badger writes the loaded tables through memory maps: never onto a
	// disk below the reserve (the caller checks the space the backup needs).
	doing := "loading the " + kind.Name() + " backup"
	if err := NeedSpace(dir, 0, doing); err != nil {
		return err
	}
	o := badgerOptions(dir, kind, opt.logger())
	o.SyncWrites = false // the caller syncs by closing before the swap
	db, err := openBadger(o)
	if err != nil {
		return err
	}
	for i, r := range streams {
		if err := NeedSpace(dir, 0, doing); err != nil {
			closeLoaded(db)
			return err
		}
		g := &loadGuard{src: bufio.NewReaderSize(r, 64<<10), kind: kind, part: i + 1, maxValue: o.ValueLogFileSize}
		for {
			if err := load(db, g); err != nil {
				closeLoaded(db)
				var bad *BackupError
				if errors.As(err, &bad) {
					return err
				}
				return fmt.Errorf("load part %d of the %s backup: %w", i+1, kind, err)
			}
			if !g.paused {
				break
			}
			// Everything passed on so far is written: what the next
			// spaceEvery bytes add must fit beside the reserve.
			if err := NeedSpace(dir, 0, doing); err != nil {
				closeLoaded(db)
				return err
			}
			g.paused = false
		}
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("close the restored %s store: %w", kind, err)
	}
	return nil
}

// loadPending is how many batches of entries Badger's loader may have
// waiting to be written. A batch holds up to some 28,000 entries; the
// default of 256 would let a stream of tiny entries that decodes faster
// than the disk writes hold gigabytes of them.
const loadPending = 2

// load runs Badger's Load on what the guard passes on, until the guard
// pauses (io.EOF after spaceEvery bytes, g.paused) or the stream ends;
// Load returns when all it was given is written. Badger panics on some
// input it does not expect; that is a damaged backup, not a crash of
// Plinth.
func load(db *badger.DB, g *loadGuard) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = g.bad("stopped Badger's loader (%v)", p)
		}
	}()
	err = db.Load(g, loadPending)
	if g.err != nil && !errors.Is(g.err, io.EOF) {
		// What the guard saw comes first: Badger's wrapping of it, if
		// any, adds nothing.
		return g.err
	}
	return err
}

// closeLoaded closes a store whose load failed, whatever state the
// failure left Badger in.
func closeLoaded(db *badger.DB) {
	defer func() { _ = recover() }()
	_ = db.Close()
}

// Limits on a backup stream. Badger's backup format is a sequence of
// blocks: an 8-byte little-endian length, then a protobuf KVList of that
// many bytes (field 1: the entries, each a KV message; field 10: a number
// for Badger's own use). Badger's Load allocates whatever length a block
// claims and decodes the whole block at once.
const (
	// maxBlock is the longest block accepted. Backup sends batches of
	// about Stream.MaxSize (16 MiB), which overshoot by at most one more
	// 16 MiB batch and the versions of one key; Badger keeps a value to
	// the value-log file size (64 MiB, badgerOptions). 256 MiB leaves
	// room for a key with a few such versions. Memory does not grow with
	// it: the guard reads a block one entry at a time.
	maxBlock = 256 << 20
	// loadBlock is about how many bytes of entries the guard hands Badger
	// in one block: decoding a block costs some 50 bytes of memory for
	// every byte of tiny entries, so blocks are kept small (one entry
	// larger than this goes alone).
	loadBlock = 256 << 10
	// spaceEvery is how many bytes the guard passes on to one Load, with
	// a free-space check after each: well inside Reserve.
	spaceEvery = 64 << 20
	// Badger's own rules for an entry (Txn.modify): a key of 1 to
	// 65,000 bytes outside Badger's internal prefix, a value no larger
	// than a value-log file (checked with loadGuard.maxValue).
	maxKey = 65000
	// maxVersion is above any version a store reaches (one per commit)
	// and far from overflowing: Badger hangs on versions near 2^64.
	maxVersion = 1 << 62
	// entryFlags are the bits of an entry's meta byte a backup holds:
	// deleted, value pointer, discard earlier versions, merge entry.
	entryFlags = 0x0f
)

var badgerPrefix = []byte("!badger!")

// loadGuard reads one backup stream and passes on to Badger's Load the
// same entries, re-blocked into blocks of about loadBlock bytes, after
// checking every block and entry: a block longer than maxBlock, a stream
// that ends inside a block, bytes that are not protobuf, and entries
// that break Badger's own rules are refused with a *BackupError. After
// every spaceEvery bytes passed on it pauses: it ends that Load, so that
// the free space can be checked. It holds at most one entry (and the
// block being built) at a time.
type loadGuard struct {
	src      *bufio.Reader
	kind     Kind
	part     int
	maxValue int64
	inBlock  bool
	left     int64 // bytes of the current block still to read
	sent     int64 // bytes passed on since the last pause
	paused   bool  // Read says io.EOF until the next load

	head  [8]byte // the length of out, when headN > 0
	headN int     // bytes of head still to hand out
	out   []byte  // the block being handed out, from pos
	pos   int
	next  []byte // the block being built: KV fields
	err   error  // what ends the stream (io.EOF at its clean end)
}

// Read hands out the re-blocked stream.
func (g *loadGuard) Read(p []byte) (int, error) {
	for g.headN == 0 && g.pos == len(g.out) {
		if g.err != nil {
			return 0, g.err
		}
		if g.paused || g.sent >= spaceEvery {
			g.sent, g.paused = 0, true
			return 0, io.EOF // between two blocks: this Load ends cleanly
		}
		g.err = g.fill()
	}
	var n int
	if g.headN > 0 {
		n = copy(p, g.head[len(g.head)-g.headN:])
		g.headN -= n
	} else {
		n = copy(p, g.out[g.pos:])
		g.pos += n
	}
	g.sent += int64(n)
	return n, nil
}

// fill reads the stream until a block is ready to hand out, or the
// stream ends (io.EOF) or fails.
func (g *loadGuard) fill() error {
	for g.headN == 0 {
		if len(g.next) >= loadBlock {
			g.flush()
			break
		}
		if !g.inBlock {
			var h [8]byte
			_, err := io.ReadFull(g.src, h[:])
			switch {
			case errors.Is(err, io.EOF):
				return io.EOF
			case errors.Is(err, io.ErrUnexpectedEOF):
				return g.bad("ends inside the length of a block")
			case err != nil:
				return err
			}
			size := binary.LittleEndian.Uint64(h[:])
			if size > maxBlock {
				return g.bad("holds a block of %s, more than the %s a block may hold", humanize.IBytes(size), humanize.IBytes(maxBlock))
			}
			g.inBlock, g.left = true, int64(size)
			continue
		}
		if g.left == 0 {
			g.inBlock = false
			g.flush()
			continue
		}
		if err := g.field(); err != nil {
			return err
		}
	}
	return nil
}

// field reads one field of a block's KVList: an entry is checked and
// added to the block being built (which is handed on first when the
// entry would make it longer than loadBlock), anything else is skipped.
func (g *loadGuard) field() error {
	tag, err := g.uvarint()
	if err != nil {
		return err
	}
	num, typ := tag>>3, tag&7
	if num == 0 {
		return g.bad("holds a block that cannot be read")
	}
	if num == 1 && typ != 2 {
		return g.bad("holds a block that cannot be read")
	}
	switch typ {
	case 0:
		_, err = g.uvarint()
		return err
	case 1, 5:
		n := int64(8)
		if typ == 5 {
			n = 4
		}
		return g.skip(n)
	case 2:
	default:
		return g.bad("holds a block that cannot be read")
	}
	size, err := g.uvarint()
	if err != nil {
		return err
	}
	if size > uint64(g.left) {
		return g.bad("holds an entry that runs past the end of its block")
	}
	if num != 1 {
		return g.skip(int64(size))
	}
	if size > uint64(maxKey+g.maxValue+64) {
		return g.bad("holds an entry of %s, more than a store holds", humanize.IBytes(size))
	}
	if len(g.next) > 0 && len(g.next)+int(size)+16 > loadBlock {
		g.flush()
	}
	g.next = append(g.next, 1<<3|2)
	g.next = binary.AppendUvarint(g.next, size)
	at := len(g.next)
	g.next = slices.Grow(g.next, int(size))[:at+int(size)]
	n, err := io.ReadFull(g.src, g.next[at:])
	g.left -= int64(n)
	if err != nil {
		return g.short(err)
	}
	if why := g.checkEntry(g.next[at:]); why != "" {
		return g.bad("%s", why)
	}
	return nil
}

// flush makes the block being built the one handed out next.
func (g *loadGuard) flush() {
	if len(g.next) == 0 {
		return
	}
	binary.LittleEndian.PutUint64(g.head[:], uint64(len(g.next)))
	g.headN = len(g.head)
	spare := g.out[:0]
	if cap(spare) > 4*loadBlock {
		spare = nil // a large entry's buffer goes back to the heap
	}
	g.out, g.pos, g.next = g.next, 0, spare
}

// checkEntry returns why the KV message b is not an entry a store could
// hold, or "".
func (g *loadGuard) checkEntry(b []byte) string {
	const unreadable = "holds an entry that cannot be read"
	var key []byte
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 || tag>>3 == 0 {
			return unreadable
		}
		b = b[n:]
		num, typ := tag>>3, tag&7
		switch typ {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return unreadable
			}
			b = b[n:]
			switch num {
			case 1, 2, 3, 6:
				return unreadable
			case 4:
				if v >= maxVersion {
					return fmt.Sprintf("holds an entry of version %d, beyond any store's", v)
				}
			}
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return unreadable
			}
			data := b[n : n+int(l)]
			b = b[n+int(l):]
			switch num {
			case 1:
				key = data
			case 2:
				if int64(len(data)) > g.maxValue {
					return fmt.Sprintf("holds a value of %s, more than a store holds", humanize.IBytes(uint64(len(data))))
				}
			case 3, 6:
				if len(data) > 1 || num == 6 && len(data) == 1 && data[0]&^entryFlags != 0 {
					return "holds an entry with flags Badger does not write"
				}
			case 4, 5, 10, 11:
				return unreadable
			}
		case 1, 5:
			n := 8
			if typ == 5 {
				n = 4
			}
			if len(b) < n || num <= 6 || num == 10 || num == 11 {
				return unreadable
			}
			b = b[n:]
		default:
			return unreadable
		}
	}
	switch {
	case len(key) == 0:
		return "holds an entry without a key"
	case len(key) > maxKey:
		return fmt.Sprintf("holds a key of %d bytes, more than a store holds", len(key))
	case bytes.HasPrefix(key, badgerPrefix):
		return "holds a key of Badger's own"
	}
	return ""
}

// uvarint reads a protobuf varint inside the current block.
func (g *loadGuard) uvarint() (uint64, error) {
	var x uint64
	for i := range binary.MaxVarintLen64 {
		if g.left == 0 {
			return 0, g.bad("holds an entry that runs past the end of its block")
		}
		c, err := g.src.ReadByte()
		if err != nil {
			return 0, g.short(err)
		}
		g.left--
		if i == binary.MaxVarintLen64-1 && c > 1 {
			break
		}
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, nil
		}
	}
	return 0, g.bad("holds a block that cannot be read")
}

// skip passes over n bytes of the current block.
func (g *loadGuard) skip(n int64) error {
	if n > g.left {
		return g.bad("holds an entry that runs past the end of its block")
	}
	m, err := io.CopyN(io.Discard, g.src, n)
	g.left -= m
	if err != nil {
		return g.short(err)
	}
	return nil
}

// short gives an error of the stream met inside a block its meaning: an
// end there is damage; anything else (the stream's own checksum, a
// cancelled restore) is passed on as it is.
func (g *loadGuard) short(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return g.bad("ends inside a block")
	}
	return err
}

func (g *loadGuard) bad(format string, args ...any) error {
	return &BackupError{Kind: g.kind, Part: g.part, Reason: fmt.Sprintf(format, args...)}
}
