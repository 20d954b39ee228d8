package storage

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"

	"codeberg.org/plinth/plinth/storage/fsys/disktest"
)

// block is one block of Badger's backup format: the 8-byte little-endian
// length of a KVList, then the list.
func block(kvs ...*pb.KV) []byte {
	b, err := proto.Marshal(&pb.KVList{Kv: kvs})
	if err != nil {
		panic(err)
	}
	return append(blockHead(uint64(len(b))), b...)
}

func blockHead(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// repeat reads as b repeated n times, without holding them.
func repeat(b []byte, n int) io.Reader {
	rs := make([]io.Reader, 0, n)
	for range n {
		rs = append(rs, bytes.NewReader(b))
	}
	return io.MultiReader(rs...)
}

// backupOf fills a store of kind with some entries and returns its
// backup stream.
func backupOf(t *testing.T, kind Kind) []byte {
	t.Helper()
	s := openT(t, filepath.Join(t.TempDir(), string(kind)), kind)
	defer s.Close()
	if err := s.Update(func(tx *Tx) error { return tx.Set([]byte("rec/a"), []byte("first")) }); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := s.Backup(&buf, 0); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// peakHeap runs fn and returns the most live heap it left after any
// garbage collection while it ran (sampled every few milliseconds, above
// what was live before), and the bytes it allocated in all.
func peakHeap(fn func()) (peak, total uint64) {
	runtime.GC()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(live)
	base, allocs := live[0].Value.Uint64(), live[1].Value.Uint64()
	var top atomic.Uint64
	sample := func() {
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(s)
		if v := s[0].Value.Uint64(); v > top.Load() {
			top.Store(v)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			sample()
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	fn()
	close(stop)
	wg.Wait()
	metrics.Read(live)
	return top.Load() - min(top.Load(), base), live[1].Value.Uint64() - allocs
}

// A backup stream that is damaged or crafted (it comes from a target
// others may write) is refused as damaged, naming its part, with bounded
// memory; Badger's own Load would allocate whatever a block claims, panic
// on some, hang on others, or load entries no store can hold.
func TestLoadIntoRefusesDamagedStreams(t *testing.T) {
	good := backupOf(t, Manager)
	kv := func(edit func(*pb.KV)) []byte {
		x := &pb.KV{Key: []byte("rec/b"), Value: []byte("v"), Version: 7, Meta: []byte{0}, UserMeta: []byte{0}}
		edit(x)
		return block(x)
	}
	cases := []struct {
		name   string
		stream func() io.Reader
		says   string
	}{
		{"a length of 2^50", func() io.Reader { return bytes.NewReader(append(blockHead(1<<50), make([]byte, 8)...)) },
			"holds a block of 1.0 PiB, more than the 256 MiB a block may hold"},
		{"8 GiB of zeros", func() io.Reader {
			return io.MultiReader(bytes.NewReader(blockHead(8<<30)), io.LimitReader(zeros{}, 8<<30))
		}, "holds a block of 8.0 GiB"},
		{"cut inside a block", func() io.Reader { return bytes.NewReader(good[:len(good)-20]) }, "ends inside a block"},
		{"cut inside a length", func() io.Reader { return bytes.NewReader(append(append([]byte(nil), good...), 1, 2, 3)) },
			"ends inside the length of a block"},
		{"not protobuf", func() io.Reader { return bytes.NewReader(append(blockHead(16), bytes.Repeat([]byte{0xff}, 16)...)) },
			"holds a block that cannot be read"},
		{"an entry longer than its block", func() io.Reader {
			return bytes.NewReader(append(blockHead(4), 0x0a, 0x7f, 'a', 'b'))
		}, "holds an entry that runs past the end of its block"},
		{"a bad entry", func() io.Reader {
			return bytes.NewReader(append(blockHead(4), 0x0a, 0x02, 0xff, 0xff))
		}, "holds an entry that cannot be read"},
		{"no key", func() io.Reader { return bytes.NewReader(kv(func(x *pb.KV) { x.Key = nil })) }, "holds an entry without a key"},
		{"a key of 70,000 bytes", func() io.Reader {
			return bytes.NewReader(kv(func(x *pb.KV) { x.Key = bytes.Repeat([]byte("k"), 70_000) }))
		}, "holds a key of 70000 bytes"},
		{"Badger's own key", func() io.Reader { return bytes.NewReader(kv(func(x *pb.KV) { x.Key = []byte("!badger!head") })) },
			"holds a key of Badger's own"},
		{"version 2^64-1", func() io.Reader { return bytes.NewReader(kv(func(x *pb.KV) { x.Version = ^uint64(0) })) },
			"holds an entry of version 18446744073709551615"},
		{"unknown flags", func() io.Reader { return bytes.NewReader(kv(func(x *pb.KV) { x.Meta = []byte{0xff} })) },
			"holds an entry with flags Badger does not write"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "manager")
			var err error
			peak, total := peakHeap(func() {
				err = LoadInto(dir, Manager, Options{}, bytes.NewReader(good), tt.stream())
			})
			var bad *BackupError
			if !errors.As(err, &bad) || !errors.Is(err, ErrBadBackup) || bad.Part != 2 || bad.Kind != Manager {
				t.Fatalf("load: %v\nwant part 2 of the Manager backup refused as damaged", err)
			}
			want := "part 2 of the Manager backup is damaged: it " + tt.says
			if !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("load: %q\nwant one sentence beginning %q", err, want)
			}
			if peak > 64<<20 || total > 256<<20 {
				t.Fatalf("refusing it took %d MiB of heap (%d MiB allocated)", peak>>20, total>>20)
			}
		})
	}
}

// A block of millions of tiny entries is passed to Badger in small
// blocks: Badger decodes each block whole, some 50 bytes of memory for
// every byte of such entries.
func TestLoadIntoTinyEntriesKeepMemoryBounded(t *testing.T) {
	// KV{key: "a"}: 5 bytes as an entry of a KVList.
	entry := []byte{0x0a, 0x03, 0x0a, 0x01, 'a'}
	const n = 3_000_000
	stream := io.MultiReader(bytes.NewReader(blockHead(uint64(n*len(entry)))), repeat(entry, n))
	var err error
	peak, _ := peakHeap(func() { err = LoadInto(filepath.Join(t.TempDir(), "manager"), Manager, Options{}, stream) })
	if err != nil {
		t.Fatal(err)
	}
	if peak > 160<<20 {
		t.Fatalf("loading %d tiny entries took %d MiB of heap", n, peak>>20)
	}
}

// What LoadInto loads, re-blocked and in pieces of spaceEvery bytes, is
// exactly the store backed up: small and large values, deletions, a full
// backup and an incremental.
func TestLoadIntoRestoresExactly(t *testing.T) {
	src := openT(t, filepath.Join(t.TempDir(), "fileserver"), FileServer)
	defer src.Close()
	put := func(from, to int, size int) {
		t.Helper()
		b := src.NewBatch()
		for i := from; i < to; i++ {
			v := bytes.Repeat([]byte{byte(i)}, size)
			if err := b.Set(fmt.Appendf(nil, "rec/%06d", i), v); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	put(0, 6_000, 1000)        // one 16 MiB batch of small entries: many blocks
	put(10_000, 10_040, 2<<20) // 80 MiB in the value log: more than spaceEvery
	var full bytes.Buffer
	since, err := src.Backup(&full, 0)
	if err != nil {
		t.Fatal(err)
	}
	put(3_000, 3_100, 500)
	if err := src.Update(func(tx *Tx) error {
		for i := range 50 {
			if err := tx.Delete(fmt.Appendf(nil, "rec/%06d", i)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var inc bytes.Buffer
	if _, err := src.Backup(&inc, since); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "fileserver")
	if err := LoadInto(dir, FileServer, Options{}, &full, &inc); err != nil {
		t.Fatal(err)
	}
	dst := openT(t, dir, FileServer)
	defer dst.Close()
	all := func(s *Store) map[string][32]byte {
		out := map[string][32]byte{}
		if err := s.View(func(tx *Tx) error {
			return tx.Scan([]byte("rec/"), func(k, v []byte) error {
				var sum [32]byte
				copy(sum[:], v)
				binary.LittleEndian.PutUint64(sum[24:], uint64(len(v)))
				out[string(k)] = sum
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	want, got := all(src), all(dst)
	if len(got) != len(want) || len(want) != 6_000+40-50 {
		t.Fatalf("loaded %d records, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("record %s differs after the load", k)
		}
	}
}

// The guard passes on every entry of a stream, in order and unchanged,
// however the entries fall into blocks: small ones gathered, ones larger
// than a block alone, across the pauses for the free-space check.
func TestGuardPassesEveryEntry(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	sizes := []int{0, 1, 100, 4 << 10, loadBlock - 200, loadBlock - 20, loadBlock, loadBlock + 1, 300 << 10, 2 << 20}
	var want []*pb.KV
	var src bytes.Buffer
	for len(want) < 600 {
		var list pb.KVList
		for range rnd.IntN(40) {
			kv := &pb.KV{Key: fmt.Appendf(nil, "rec/%06d", len(want)), Value: bytes.Repeat([]byte{byte(len(want))}, sizes[rnd.IntN(len(sizes))]),
				Version: uint64(len(want) + 1), UserMeta: []byte{byte(rnd.IntN(2))}, Meta: []byte{byte(rnd.IntN(16))}}
			list.Kv = append(list.Kv, kv)
			want = append(want, kv)
		}
		list.AllocRef = rnd.Uint64()
		b, _ := proto.Marshal(&list)
		src.Write(blockHead(uint64(len(b))))
		src.Write(b)
	}
	total := int64(src.Len())
	g := &loadGuard{src: bufio.NewReader(&src), kind: FileServer, part: 1, maxValue: 64 << 20}
	var got []*pb.KV
	pauses := 0
	for {
		var sz uint64
		err := binary.Read(g, binary.LittleEndian, &sz)
		if errors.Is(err, io.EOF) && g.paused {
			pauses++
			g.paused = false
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if sz > 4<<20 {
			t.Fatalf("the guard passed on a block of %d bytes", sz)
		}
		b := make([]byte, sz)
		if _, err := io.ReadFull(g, b); err != nil {
			t.Fatal(err)
		}
		var list pb.KVList
		if err := proto.Unmarshal(b, &list); err != nil {
			t.Fatal(err)
		}
		got = append(got, list.Kv...)
	}
	if len(got) != len(want) {
		t.Fatalf("passed on %d entries of %d", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("entry %d changed", i)
		}
	}
	if wantPauses := int(total / (spaceEvery + 3<<20)); pauses < wantPauses {
		t.Fatalf("%d pauses in %d MiB, want at least %d", pauses, total>>20, wantPauses)
	}
}

// A stream that decodes to more than the disk holds stops with one
// sentence when the disk nears Reserve; Badger, which writes through
// memory maps, would otherwise kill the process with SIGBUS.
func TestLoadIntoStopsBeforeTheDiskFills(t *testing.T) {
	disk := disktest.Sized(t, 300<<20)
	value := make([]byte, 2<<20)
	var blocks []io.Reader
	for i := range 200 { // 400 MiB
		blocks = append(blocks, bytes.NewReader(block(&pb.KV{Key: fmt.Appendf(nil, "rec/%06d", i), Value: value, Version: uint64(i + 1)})))
	}
	dir := filepath.Join(disk, "manager")
	err := LoadInto(dir, Manager, Options{}, io.MultiReader(blocks...))
	want := "the disk holding " + dir + " has "
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, ErrDiskFull) || !strings.HasPrefix(err.Error(), want) ||
		!strings.Contains(err.Error(), "loading the Manager backup needs at least 256 MiB free") {
		t.Fatalf("load onto a disk too small: %v", err)
	}
}

// A chunk location no entry can have (from a damaged or crafted store)
// is damage, read without allocating what it claims.
func TestReadRefusesImpossibleLocations(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "fileserver"), FileServer)
	defer s.Close()
	loc, err := s.Blobs().Append([32]byte{}, []byte("chunk"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Blobs().Sync(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Loc{
		{Pack: loc.Pack, Off: loc.Off, Len: 1 << 50},
		{Pack: loc.Pack, Off: loc.Off, Len: 8 << 30},
		{Pack: loc.Pack, Off: loc.Off, Len: -1},
		{Pack: loc.Pack, Off: -5, Len: 5},
	} {
		var data []byte
		var err error
		_, total := peakHeap(func() { data, err = s.Blobs().Read(bad) })
		var d *DamageError
		if data != nil || !errors.As(err, &d) || d.Kind != FileServer || errors.Is(err, ErrNotFound) ||
			!strings.Contains(err.Error(), fmt.Sprintf("its chunk index places a chunk of %d bytes at byte %d of content pack %d", bad.Len, bad.Off, bad.Pack)) {
			t.Fatalf("read %+v: %v", bad, err)
		}
		if total > 16<<20 {
			t.Fatalf("read %+v allocated %d MiB", bad, total>>20)
		}
	}
	if data, err := s.Blobs().Read(loc); err != nil || string(data) != "chunk" {
		t.Fatalf("read %+v: %q, %v", loc, data, err)
	}
}

// panicky panics when read, as Badger does on some input it does not
// expect.
type panicky struct{}

func (panicky) Read([]byte) (int, error) { panic("index out of range [5] with length 3") }

// A panic while Badger loads a stream is a damaged part, not a crash, and
// the half-loaded store is closed (its folder can go).
func TestLoadIntoRecoversFromAPanic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "manager")
	err := LoadInto(dir, Manager, Options{}, bytes.NewReader(backupOf(t, Manager)), panicky{})
	var bad *BackupError
	if !errors.As(err, &bad) || bad.Part != 2 ||
		err.Error() != "part 2 of the Manager backup is damaged: it stopped Badger's loader (index out of range [5] with length 3)" {
		t.Fatalf("load: %v", err)
	}
	// Closed: the folder opens again (Badger's lock is gone).
	s, err := Open(dir, Manager, Options{})
	if err == nil {
		_ = s.Close()
	} else if errors.Is(err, ErrLocked) {
		t.Fatalf("the failed load left the store open: %v", err)
	}
}
