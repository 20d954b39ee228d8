package backup

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/klauspost/compress/zstd"

	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// zblock is one block of a zstd frame written by hand: raw bytes, or a
// run of n zero bytes (RLE blocks).
type zblock struct {
	raw []byte
	run int64
}

// zstdFrame writes a zstd frame by hand, as someone crafting a backup
// would: with a window of 1<<windowLog bytes, or, when size > 0, as a
// single segment of that declared size (its window is its size).
func zstdFrame(windowLog int, size uint64, blocks ...zblock) []byte {
	out := []byte{0x28, 0xb5, 0x2f, 0xfd}
	maxBlock := int64(128 << 10)
	if size > 0 {
		out = append(out, 3<<6|1<<5) // an 8-byte content size, single segment
		out = binary.LittleEndian.AppendUint64(out, size)
	} else {
		out = append(out, 0, byte(windowLog-10)<<3)
		maxBlock = min(maxBlock, 1<<windowLog)
	}
	head := func(last bool, typ, n int64) {
		h := uint32(typ<<1 | n<<3)
		if last {
			h |= 1
		}
		out = append(out, byte(h), byte(h>>8), byte(h>>16))
	}
	for i, b := range blocks {
		last := i == len(blocks)-1
		if b.raw != nil {
			head(last, 0, int64(len(b.raw)))
			out = append(out, b.raw...)
			continue
		}
		for left := b.run; left > 0; {
			n := min(left, maxBlock)
			left -= n
			head(last && left == 0, 1, n)
			out = append(out, 0)
		}
	}
	return out
}

func lengthOf(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }

// plainPart returns the decompressed Badger stream of a backup's part.
func plainPart(t *testing.T, m Manifest, kind storage.Kind) []byte {
	t.Helper()
	p, _ := m.Payload(kind)
	stored, err := os.ReadFile(filepath.Join(m.Path, filepath.FromSlash(p.File)))
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := zstd.NewReader(nil)
	defer dec.Close()
	plain, err := dec.DecodeAll(stored, nil)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

// craftPart copies backup m as backup id with the stored file of its
// Manager part replaced by stored; with fixSum its manifest gives the new
// file's size and SHA-256, as someone who can write the target can make
// it.
func craftPart(t *testing.T, m Manifest, id string, stored []byte, fixSum bool) string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(m.Path), id)
	return craft(t, m, id, func(doc map[string]any) {
		p := payloadDoc(doc, storage.Manager)
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(p["file"].(string))), stored, 0o600); err != nil {
			t.Fatal(err)
		}
		if fixSum {
			sum := sha256.Sum256(stored)
			p["bytes"], p["sha256"] = len(stored), hex.EncodeToString(sum[:])
		}
	})
}

// allocated runs fn and returns how many bytes it allocated.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A backup whose Manager part is crafted (its manifest's size and
// checksum made to match) is damaged: verify, restore and the weekly
// verify say so in one sentence naming it, with bounded memory, and
// nothing live changes. Before, Badger's Load allocated whatever length
// the stream claimed (a panic for 2^50, gigabytes for a zstd bomb) and
// the zstd reader took any window the file asked for.
func TestCraftedBackupStreamIsDamaged(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // verify's scratch folder
	e.put("/Tower/plans.pdf", random(200_000))
	real := e.full()
	e.put("/Tower/later.txt", []byte("after the backup"))
	before := e.state()
	plain := plainPart(t, real, storage.Manager)
	enc, _ := zstd.NewWriter(nil, zstd.WithWindowSize(1<<20))
	sealed := func(b []byte) []byte { return enc.EncodeAll(b, nil) }
	// The memory one real verify and restore take, for comparison.
	realCost := allocated(func() {
		if _, err := e.b.Verify(ctx, e.master, real.ID, "", nil); err != nil {
			t.Fatal(err)
		}
	})

	const crafted = "20991231-235959-bad000"
	cases := []struct {
		name   string
		stored []byte
		says   string
	}{
		{"a length of 2^50", sealed(append(lengthOf(1<<50), make([]byte, 8)...)),
			"backup " + crafted + " is damaged: its Manager part holds a block of 1.0 PiB, more than the 256 MiB a block may hold"},
		// 80 KB that decode to a length of 8 GiB and 2.6 GB of zeros.
		{"8 GiB and a zstd bomb", zstdFrame(20, 0, zblock{raw: lengthOf(8 << 30)}, zblock{run: 2600 << 20}),
			"backup " + crafted + " is damaged: its Manager part holds a block of 8.0 GiB"},
		// zstd's own default refuses windows above 512 MiB.
		{"a window of 256 MiB", zstdFrame(28, 0, zblock{run: 300 << 20}),
			"the Manager part of backup " + crafted + " is damaged: it asks for a decompression window larger than the 8 MiB Plinth allows"},
		{"a single segment of 300 MiB", zstdFrame(0, 300<<20, zblock{run: 300 << 20}),
			"the Manager part of backup " + crafted + " is damaged: it asks for a decompression window larger than the 8 MiB Plinth allows"},
		{"a truncated block", sealed(plain[:len(plain)-10]),
			"backup " + crafted + " is damaged: its Manager part ends inside a block"},
		{"not protobuf", sealed(append(lengthOf(32), slices.Repeat([]byte{0xff}, 32)...)),
			"backup " + crafted + " is damaged: its Manager part holds a block that cannot be read"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			dir := craftPart(t, real, crafted, tt.stored, true)
			defer os.RemoveAll(dir)
			damaged := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, ErrDamaged) || !strings.HasPrefix(err.Error(), tt.says) {
					t.Fatalf("%s of the crafted backup: %v\nwant %s", what, err, tt.says)
				}
				oneSentence(t, err)
				emptyDir(t, tmp, what)
				if d := leftIn(e.dir); len(d) > 0 {
					t.Fatalf("%s left %v", what, d)
				}
			}
			cost := allocated(func() {
				_, err := e.b.Verify(ctx, e.master, crafted, "", nil)
				damaged("verify", err)
				_, err = e.b.Restore(ctx, e.master, crafted, ScopeAll, "", nil)
				damaged("restore", err)
				_, err = e.b.VerifyNewest(ctx, e.master)
				damaged("the weekly verify", err)
			})
			if got := e.state(); got != before {
				t.Fatalf("the refused restore changed the live data:\n%s", got)
			}
			if copies, _ := e.b.SafetyCopies(); len(copies) > 0 {
				t.Fatalf("the refused restore left %v", copies)
			}
			t.Logf("verify, restore and the weekly verify allocated %d MiB; verifying the real backup %d MiB", cost>>20, realCost>>20)
			if cost > 3*realCost+64<<20 {
				t.Fatalf("refusing the crafted backup three times allocated %d MiB; verifying the real one %d MiB", cost>>20, realCost>>20)
			}
		})
	}
}

// A restore checks every file of the chain against its checksum before it
// decodes any: a crafted part whose checksum does not match is refused
// for that, before Badger or zstd read a byte of it.
func TestRestoreChecksSumsBeforeDecoding(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/Tower/a.bin", random(100_000))
	real := e.full()
	before := e.state()
	const crafted = "20991231-235959-bad001"
	craftPart(t, real, crafted, zstdFrame(20, 0, zblock{raw: lengthOf(1 << 50)}), false)
	want := "the Manager part of backup " + crafted + " does not match its checksum"
	_, err := e.b.Restore(ctx, e.master, crafted, ScopeAll, "", nil)
	if !errors.Is(err, ErrDamaged) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("restore: %v\nwant %s", err, want)
	}
	_, err = e.b.RestoreItem(ctx, e.master, crafted, "/Tower", "Tower again", "", nil)
	if !errors.Is(err, ErrDamaged) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("restore of an item: %v\nwant %s", err, want)
	}
	if e.state() != before {
		t.Fatal("a refused restore changed the live data")
	}
	if d := leftIn(e.dir); len(d) > 0 {
		t.Fatalf("left %v", d)
	}
}

// A store whose chunk index gives a chunk an impossible length (a crafted
// backup's, restored) is damage to verify and to restoring an item from
// it; reading the chunk used to allocate that length (a panic for 2^50).
func TestCraftedChunkIndexIsDamage(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/Tower/a.bin", random(100_000))
	_, tree, err := e.files.TreeOf(ctx, e.master, files.RootID)
	if err != nil {
		t.Fatal(err)
	}
	var chunk string
	for _, x := range tree {
		if x.Kind == files.KindFile {
			chunk = x.Chunks[0]
		}
	}
	key := []byte("chunk/" + chunk)
	if err := e.fs.Update(func(tx *storage.Tx) error {
		v, err := tx.Get(key)
		if err != nil {
			return err
		}
		pack, n := binary.Uvarint(v)
		off, _ := binary.Uvarint(v[n:])
		loc := binary.AppendUvarint(binary.AppendUvarint(nil, pack), off)
		return tx.Set(key, binary.AppendUvarint(loc, 1<<50))
	}); err != nil {
		t.Fatal(err)
	}
	b := e.full()
	before := e.state()
	_, err = e.b.Verify(ctx, e.master, b.ID, "", nil)
	if !errors.Is(err, files.ErrDamaged) || !strings.Contains(err.Error(), "1 file version on the File Server has damaged content: /Tower/a.bin") {
		t.Fatalf("verify: %v", err)
	}
	oneSentence(t, err)
	_, err = e.b.RestoreItem(ctx, e.master, b.ID, "/Tower", "Tower again", "", nil)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "its chunk index places a chunk of 1125899906842624 bytes") {
		t.Fatalf("restore of an item: %v", err)
	}
	oneSentence(t, err)
	t.Log(err)
	if e.state() != before {
		t.Fatal("the refused restore of an item changed the live data")
	}
}

// A manifest whose sizes are negative or beyond any disk is damaged, and
// a chain whose sizes add up beyond int64 is refused before the restore
// measures the space it needs (a negative sum passed that check).
func TestManifestSizesAreBounded(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/a.bin", random(50_000))
	real := e.full()
	for i, edit := range []func(doc map[string]any){
		func(doc map[string]any) { payloadDoc(doc, storage.Manager)["bytes"] = int64(1) << 62 },
		func(doc map[string]any) { payloadDoc(doc, storage.FileServer)["files"] = -1 },
		func(doc map[string]any) { firstSegment(doc)["bytes"] = int64(1) << 51 },
		func(doc map[string]any) {
			c := payloadDoc(doc, storage.FileServer)["committed"].(map[string]any)
			for n := range 2000 {
				c[storage.PackName(uint32(n+100))] = int64(1) << 49
			}
		},
		func(doc map[string]any) { payloadDoc(doc, storage.Manager)["bytes"] = -5 },
	} {
		id := fmt.Sprintf("20991231-235959-5ize%02d", i)
		dir := craft(t, real, id, edit)
		_, err := e.b.Restore(ctx, e.master, id, ScopeAll, "", nil)
		if !errors.Is(err, ErrDamaged) || !strings.HasPrefix(err.Error(), "backup "+id+" is damaged: its manifest cannot be trusted (it gives ") {
			t.Fatalf("case %d: %v", i, err)
		}
		_ = os.RemoveAll(dir)
	}
	// Sizes each within bounds whose sum overflows: 8,192 backups' parts of
	// 1 PiB, four times over.
	ch := make([]Manifest, 0, 2048)
	for i := range cap(ch) {
		ch = append(ch, Manifest{ID: fmt.Sprint(i), Payloads: []Payload{{Kind: storage.Manager, Bytes: maxSize}}})
	}
	if n, err := restoreBytes(ch, []storage.Kind{storage.Manager}); !errors.Is(err, ErrDamaged) {
		t.Fatalf("a chain of 2048 parts of 1 PiB needs %d bytes, %v", n, err)
	}
}

// A level-2 backup never succeeds without the file counts it records: a
// restore is compared against them, and zero counts would pass for an
// empty store.
func TestFullBackupNeedsFileCounts(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/a.bin", random(50_000))
	if err := e.mgr.Update(func(tx *storage.Tx) error { return tx.Set([]byte("meta/fileset"), []byte("not json")) }); err != nil {
		t.Fatal(err)
	}
	_, err := e.b.Full(ctx, e.master, nil)
	if err == nil || !strings.Contains(err.Error(), "read the file count of the Manager") {
		t.Fatalf("backup of a store whose counts cannot be read: %v", err)
	}
	if all, _ := e.b.List(); len(all) != 0 {
		t.Fatalf("listed %s", ids(all))
	}
}

// syncRecorder is the OS file system, recording folder syncs and renames
// in order; SyncDir fails for the folders in fail.
type syncRecorder struct {
	fsys.FS
	mu   sync.Mutex
	ops  []string
	fail string
}

func (r *syncRecorder) SyncDir(dir string) error {
	r.mu.Lock()
	r.ops = append(r.ops, "syncdir "+dir)
	r.mu.Unlock()
	if dir == r.fail {
		return syscall.EIO
	}
	return r.FS.SyncDir(dir)
}

func (r *syncRecorder) Rename(from, to string) error {
	r.mu.Lock()
	r.ops = append(r.ops, "rename "+from+" "+to)
	r.mu.Unlock()
	return r.FS.Rename(from, to)
}

// The names of a full backup's content-pack files are made durable (their
// folder synced) before the backup is put in place.
func TestFullBackupSyncsPacksFolder(t *testing.T) {
	e := newEnv(t)
	e.put("/a.bin", random(50_000))
	rec := &syncRecorder{FS: fsys.OS}
	e.b.SetFS(rec)
	m := e.full()
	synced := false
	for _, op := range rec.ops {
		if strings.HasPrefix(op, "syncdir ") && filepath.Base(op) == "packs" && strings.Contains(op, ".incomplete-") {
			synced = true
		}
		if strings.HasPrefix(op, "rename ") && strings.HasSuffix(op, " "+m.Path) && !synced {
			t.Fatalf("backup %s was put in place before its packs folder was synced: %v", m.ID, rec.ops)
		}
	}
	if !synced {
		t.Fatalf("the packs folder was never synced: %v", rec.ops)
	}
}

// A restore whose journal could not be written (its folder's sync
// failed after the journal was renamed into place) leaves no journal: the
// next start must not carry out a restore the user was told failed.
func TestFailedJournalWriteLeavesNoJournal(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/a.bin", random(50_000))
	m := e.full()
	e.put("/b.txt", []byte("later"))
	before := e.state()
	e.b.SetFS(&syncRecorder{FS: fsys.OS, fail: e.dir})
	_, err := e.b.Restore(ctx, e.master, m.ID, ScopeAll, "", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "record the restore:") {
		t.Fatalf("restore with a failing journal: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, journalName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the failed restore left its journal: %v", err)
	}
	if e.state() != before {
		t.Fatal("the failed restore changed the live data")
	}
	if d := leftIn(e.dir); len(d) > 0 {
		t.Fatalf("left %v", d)
	}
}

// diskFull gives every way a disk says it is full the same sentence
// (storage.IsDiskFull: on Windows ERROR_DISK_FULL and
// ERROR_HANDLE_DISK_FULL too), and leaves a refusal for lack of space
// its own sentence.
func TestDiskFullSentence(t *testing.T) {
	want := "the disk holding /data is full; the restore stopped and nothing was changed"
	for _, err := range append([]error{
		&os.PathError{Op: "write", Path: "/data/x", Err: syscall.ENOSPC},
		fmt.Errorf("load part 1: %w", syscall.EDQUOT),
		fmt.Errorf("restore: %w", storage.ErrDiskFull),
	}, osDiskFull...) {
		got := diskFull(err, "/data", "the restore stopped and nothing was changed")
		if !errors.Is(got, storage.ErrDiskFull) || got.Error() != want {
			t.Fatalf("%v: %v", err, got)
		}
	}
	dir := t.TempDir()
	space := storage.NeedSpace(dir, 1<<62, "the restore")
	if got := diskFull(space, "/data", "x"); got != space {
		t.Fatalf("a refusal for lack of space became %v", got)
	}
	if got := diskFull(syscall.EIO, "/data", "x"); got != syscall.EIO {
		t.Fatalf("an I/O error became %v", got)
	}
}

// openCounter is the OS file system, counting how many stored parts
// (".badger.zst" files) are open at once.
type openCounter struct {
	fsys.FS
	mu        sync.Mutex
	open, max int
}

type countedFile struct {
	fsys.File
	c    *openCounter
	once sync.Once
}

func (c *openCounter) Open(name string) (fsys.File, error) {
	f, err := c.FS.Open(name)
	if err != nil || !strings.HasSuffix(name, ".badger.zst") {
		return f, err
	}
	c.mu.Lock()
	c.open++
	c.max = max(c.max, c.open)
	c.mu.Unlock()
	return &countedFile{File: f, c: c}, nil
}

func (f *countedFile) Close() error {
	f.once.Do(func() {
		f.c.mu.Lock()
		f.c.open--
		f.c.mu.Unlock()
	})
	return f.File.Close()
}

// A restore of a long chain opens its parts one at a time, each with its
// decoder, rather than all at once: memory does not grow with the chain.
func TestChainOpensOnePartAtATime(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	var m Manifest
	for i := range 6 {
		e.put(fmt.Sprintf("/Tower/%d.bin", i), random(20_000))
		m = e.full()
	}
	if m.Type != TypeIncremental {
		t.Fatalf("the last backup is %s", m.Type)
	}
	want := e.state()
	e.put("/Tower/later.txt", []byte("after the backups"))
	count := &openCounter{FS: fsys.OS}
	e.b.SetFS(count)
	if _, err := e.b.Restore(ctx, e.master, m.ID, ScopeAll, "", nil); err != nil {
		t.Fatal(err)
	}
	if got := e.state(); got != want {
		t.Fatalf("restored\n%s\nwant\n%s", got, want)
	}
	if count.max != 1 || count.open != 0 {
		t.Fatalf("the restore of a chain of 6 had up to %d parts open at once (%d left open)", count.max, count.open)
	}
}
