package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/storage/fsys/faultfs"
)

// withPackTarget makes packs close at n bytes for one test.
func withPackTarget(t *testing.T, n int64) {
	old := packTarget
	packTarget = n
	t.Cleanup(func() { packTarget = old })
}

// chunkKeys lists the chunks of a target by name, wherever they lie.
func chunkKeys(t *testing.T, target string) string {
	t.Helper()
	var out []string
	for _, c := range chunkFiles(t, target) {
		if _, k, ok := strings.Cut(c, "#"); ok {
			out = append(out, k)
		} else {
			out = append(out, filepath.Base(c))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// chunkID is the id of the first chunk of data.
func chunkID(data []byte) string { return sha(data[:min(len(data), files.ChunkSize)]) }

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// A first snapshot writes its chunks into a few packs, each fsynced
// once, and no chunk file; it restores byte for byte; a snapshot of the
// unchanged project writes no pack; a change writes one pack holding
// only the new chunk.
func TestSnapshotPacks(t *testing.T) {
	withPackTarget(t, 256<<10)
	e := newEnv(t)
	ctx := context.Background()
	ffs := faultfs.New(nil)
	e.b.SetFS(ffs)
	tower := e.project("Tower")
	want := map[string][]byte{
		"/Tower/a.bin":        random(5 << 20),
		"/Tower/b.bin":        random(300 << 10),
		"/Tower/c.txt":        bytes.Repeat([]byte("wall slab "), 5000),
		"/Tower/sub/empty":    {},
		"/Tower/sub/deep.txt": []byte("deep"),
	}
	for p, b := range want {
		e.put(p, b)
	}
	ffs.Reset()
	s1 := e.snap(tower.ID)
	target := e.b.snapshotTarget()
	packs := packFiles(t, target)
	if len(packs) < 3 {
		t.Fatalf("%d packs, want the chunks spread over at least 3 (a pack closes at 256 KiB)", len(packs))
	}
	if _, err := os.Stat(filepath.Join(target, "chunks")); !os.IsNotExist(err) {
		t.Fatalf("a format-3 snapshot wrote loose chunks: %v", err)
	}
	// Fsyncs: one per pack, plus the snapshot's own few files.
	if n := ffs.Calls(faultfs.OpSync); n > len(packs)+6 {
		t.Fatalf("%d fsyncs for %d packs", n, len(packs))
	}
	if n := len(chunkFiles(t, target)); n != 5 { // a.bin has two
		t.Fatalf("%d chunks stored, want 5", n)
	}
	if _, err := e.b.Verify(ctx, e.master, s1.ID, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.RestoreSnapshot(ctx, e.master, s1.ID, "Copy", "", nil); err != nil {
		t.Fatal(err)
	}
	for p, b := range want {
		if got := e.read("/Copy" + strings.TrimPrefix(p, "/Tower")); !bytes.Equal(got, b) {
			t.Fatalf("%s: restored %d bytes differ from the %d taken", p, len(got), len(b))
		}
	}
	// Unchanged: no pack.
	s2 := e.snap(tower.ID)
	if got := packFiles(t, target); strings.Join(got, ",") != strings.Join(packs, ",") {
		t.Fatalf("a snapshot of the unchanged project wrote packs: %d, had %d", len(got), len(packs))
	}
	if s2.Added > s1.Tree.Bytes+s1.Tree.IndexBytes+4096 {
		t.Fatalf("a snapshot of the unchanged project added %d bytes", s2.Added)
	}
	// One new file: one new pack, with its one chunk.
	e.put("/Tower/d.bin", random(100<<10))
	s3 := e.snap(tower.ID)
	after := packFiles(t, target)
	if len(after) != len(packs)+1 {
		t.Fatalf("%d packs after a change, want %d", len(after), len(packs)+1)
	}
	if n := len(chunkFiles(t, target)); n != 6 {
		t.Fatalf("%d chunks stored after a change, want 6", n)
	}
	if _, err := e.b.Verify(ctx, e.master, s3.ID, "", nil); err != nil {
		t.Fatal(err)
	}
	// A fresh service (another process) finds the same chunks from the
	// packs' indexes: nothing written again.
	e.b.packSets.Clear()
	e.snap(tower.ID)
	if n := len(packFiles(t, target)); n != len(after) {
		t.Fatalf("a fresh start wrote chunks again: %d packs, want %d", n, len(after))
	}
}

// A target of format 2 (loose chunks, as older Plinths left it) is read,
// restores, and takes new snapshots, which write packs beside the loose
// chunks and record format 3; prune sweeps loose chunks no one uses.
func TestOldFormatTargetTakesPacks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tower := e.project("Tower")
	a := random(5 << 20)
	e.put("/Tower/a.bin", a)
	s1 := e.snap(tower.ID)
	target := e.b.snapshotTarget()
	unpack(t, target)
	loose := chunkFiles(t, target)
	if len(loose) != 2 || len(packFiles(t, target)) != 0 {
		t.Fatalf("the old target holds %v", loose)
	}
	e.b.packSets.Clear()
	if _, err := e.b.Verify(ctx, e.master, s1.ID, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.RestoreSnapshot(ctx, e.master, s1.ID, "Old", "", nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.read("/Old/a.bin"), a) {
		t.Fatal("restored bytes differ")
	}
	b := random(64 << 10)
	e.put("/Tower/b.bin", b)
	s2 := e.snap(tower.ID)
	f, err := os.ReadFile(filepath.Join(target, repoFormatName))
	if err != nil || !bytes.Contains(f, []byte(`"format": 3`)) {
		t.Fatalf("format.json after a snapshot into a format-2 target: %s %v", f, err)
	}
	if got := chunkFiles(t, target); len(got) != 3 || !containsAll(got, loose) || len(packFiles(t, target)) != 1 {
		t.Fatalf("after a snapshot into the old target: %v", got)
	}
	if _, err := e.b.RestoreSnapshot(ctx, e.master, s2.ID, "New", "", nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.read("/New/a.bin"), a) || !bytes.Equal(e.read("/New/b.bin"), b) {
		t.Fatal("restored bytes differ")
	}
	// Nothing needs a.bin's loose chunks any more: prune removes them,
	// and keeps b's packed one.
	e.rm("/Tower/a.bin")
	s3 := e.snap(tower.ID)
	retire(t, e, s1, s2)
	if _, err := e.b.Prune(ctx, e.master, false); err != nil {
		t.Fatal(err)
	}
	if got := chunkFiles(t, target); len(got) != 1 || !strings.Contains(got[0], "#") {
		t.Fatalf("after prune: %v", got)
	}
	if _, err := e.b.Verify(ctx, e.master, s3.ID, "", nil); err != nil {
		t.Fatal(err)
	}
}

// A flipped byte in a pack is found by verify and named in one sentence
// with its pack; a snapshot whose chunks lie elsewhere still verifies and
// restores.
func TestDamagedPackIsNamed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tower := e.project("Tower")
	a := random(1 << 20)
	e.put("/Tower/a.bin", a)
	s1 := e.snap(tower.ID)
	target := e.b.snapshotTarget()
	before := packFiles(t, target)
	bdata := random(1 << 20)
	e.put("/Tower/b.bin", bdata)
	s2 := e.snap(tower.ID)
	var fresh string
	for _, p := range packFiles(t, target) {
		if !containsAll(before, []string{p}) {
			fresh = p
		}
	}
	p := flipChunkByte(t, target, chunkID(bdata), "", 100)
	if p != fresh {
		t.Fatalf("b.bin's chunk lies in %s, not in the pack its snapshot wrote %s", p, fresh)
	}
	_, err := e.b.Verify(ctx, e.master, s2.ID, "", nil)
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("verify of a snapshot with a flipped byte in its pack: %v", err)
	}
	oneSentence(t, err)
	id := strings.TrimSuffix(filepath.Base(fresh), packExt)
	if !strings.Contains(err.Error(), "pack "+id) || !strings.Contains(err.Error(), s2.ID) {
		t.Fatalf("the sentence names neither the pack nor the snapshot: %v", err)
	}
	if _, err := e.b.RestoreSnapshot(ctx, e.master, s2.ID, "Broken", "", nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("restore of the damaged snapshot: %v", err)
	}
	if _, err := e.b.Verify(ctx, e.master, s1.ID, "", nil); err != nil {
		t.Fatalf("the snapshot whose chunks lie in the sound pack: %v", err)
	}
	if _, err := e.b.RestoreSnapshot(ctx, e.master, s1.ID, "Sound", "", nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.read("/Sound/a.bin"), a) {
		t.Fatal("restored bytes differ")
	}
}

// testPack writes a sound pack of two chunks into dir and returns its
// path, its bytes and where its trailer starts.
func testPack(t *testing.T, dir string) (string, []byte, int64) {
	t.Helper()
	w, err := newPackWriter(nil, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"one", "two"} {
		raw := []byte(s)
		if err := w.add(sha(raw), plainSealed(t, raw), int64(len(raw))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.commit(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, w.name)
	b, _ := os.ReadFile(p)
	return p, b, w.n
}

func plainSealed(t *testing.T, raw []byte) []byte {
	t.Helper()
	b, err := plain.seal(raw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// resum sets the entries' checksum in a pack's footer to what they hold.
func resum(b []byte, data int64) {
	foot := b[len(b)-packFooterSize:]
	entries := b[data : len(b)-packFooterSize]
	sum := sha256Sum(entries)
	copy(foot[32:], sum[:])
}

// A crafted pack index is refused, whatever it claims, without reading
// or allocating more than a sound index of the most entries would need;
// names that are not a pack's are never read.
func TestCraftedPackIndexRefused(t *testing.T) {
	dir := t.TempDir()
	p, sound, data := testPack(t, dir)
	if _, _, entries, err := readPackIndex(nil, p); err != nil || len(entries) != 2 {
		t.Fatalf("the sound pack: %d entries, %v", len(entries), err)
	}
	foot := func(b []byte) []byte { return b[len(b)-packFooterSize:] }
	entry := func(b []byte, i int) []byte { return b[data+int64(i)*packEntrySize:] }
	cases := map[string]func(b []byte) []byte{
		"huge count": func(b []byte) []byte { binary.BigEndian.PutUint32(foot(b)[8:], 0xffffffff); return b },
		"no entries": func(b []byte) []byte { binary.BigEndian.PutUint32(foot(b)[8:], 0); return b },
		"huge data":  func(b []byte) []byte { binary.BigEndian.PutUint64(foot(b)[24:], 1<<62); return b },
		"offset past the end": func(b []byte) []byte {
			binary.BigEndian.PutUint64(entry(b, 1)[32:], uint64(data)+1000)
			resum(b, data)
			return b
		},
		"overlapping chunks": func(b []byte) []byte {
			binary.BigEndian.PutUint64(entry(b, 1)[32:], 0)
			resum(b, data)
			return b
		},
		"size past the end": func(b []byte) []byte {
			binary.BigEndian.PutUint64(entry(b, 1)[40:], 1<<40)
			resum(b, data)
			return b
		},
		"length over a chunk": func(b []byte) []byte {
			binary.BigEndian.PutUint64(entry(b, 0)[48:], 1<<40)
			resum(b, data)
			return b
		},
		"checksum":      func(b []byte) []byte { entry(b, 0)[0] ^= 1; return b },
		"bad magic":     func(b []byte) []byte { foot(b)[0] = 'X'; return b },
		"cut short":     func(b []byte) []byte { return b[:len(b)-1] },
		"only a footer": func(b []byte) []byte { return b[len(b)-packFooterSize:] },
		"empty":         func(b []byte) []byte { return nil },
		"grown":         func(b []byte) []byte { return append(b, 0) },
	}
	for name, craft := range cases {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(p, craft(bytes.Clone(sound)), 0o600); err != nil {
				t.Fatal(err)
			}
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			_, _, entries, err := readPackIndex(nil, p)
			runtime.ReadMemStats(&m1)
			if !errors.Is(err, errPackIndex) || entries != nil {
				t.Fatalf("crafted index taken: %d entries, %v", len(entries), err)
			}
			if n := m1.TotalAlloc - m0.TotalAlloc; n > maxPackEntries*packEntrySize+1<<20 {
				t.Fatalf("reading a crafted index allocated %d bytes", n)
			}
		})
	}
	for _, name := range []string{"../0123456789abcdef0123456789abcdef.pack", "0123456789ABCDEF0123456789abcdef.pack",
		"0123.pack", "0123456789abcdef0123456789abcdef.pack.plinth-tmp", "0123456789abcdef0123456789abcdeg.pack", "x/0123456789abcdef0123456789abcdef.pack"} {
		if isPackName(name) {
			t.Errorf("%q taken for a pack", name)
		}
	}
	if !isPackName(filepath.Base(p)) {
		t.Error("a pack's own name refused")
	}
}

// A crafted pack in a target that claims to hold a snapshot's chunk, and
// one that is garbage, change nothing: the chunk is read from its sound
// pack, snapshots go on, and verify of a snapshot that needs only the
// garbage pack names it.
func TestCraftedPackInTarget(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tower := e.project("Tower")
	a := random(1 << 20)
	e.put("/Tower/a.bin", a)
	s1 := e.snap(tower.ID)
	target := e.b.snapshotTarget()
	id := chunkID(a)
	// A pack whose index is sound and says it holds a.bin's chunk, where
	// it holds other bytes.
	w, err := newPackWriter(nil, filepath.Join(target, packsDir), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.add(id, plainSealed(t, []byte("not the chunk")), 1<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := w.commit(); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(target, packsDir, "0123456789abcdef0123456789abcdef.pack")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte{0xff}, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Verify(ctx, e.master, s1.ID, "", nil); err != nil {
		t.Fatalf("verify with a crafted pack beside: %v", err)
	}
	if _, err := e.b.RestoreSnapshot(ctx, e.master, s1.ID, "Copy", "", nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.read("/Copy/a.bin"), a) {
		t.Fatal("restored bytes differ")
	}
	e.put("/Tower/b.bin", []byte("b"))
	s2 := e.snap(tower.ID)
	// The sound pack lost: the sentence names the damaged one.
	for _, p := range packFiles(t, target) {
		if p != garbage && !strings.HasSuffix(p, w.name) {
			data, _ := os.ReadFile(p)
			tag, _, entries, _ := readPackIndex(nil, p)
			for _, en := range entries {
				if tagKey(en.id, tag) == chunkName(id, "") {
					_ = data
					_ = os.Remove(p)
				}
			}
		}
	}
	_ = os.Remove(filepath.Join(target, packsDir, w.name))
	_, err = e.b.Verify(ctx, e.master, s2.ID, "", nil)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "0123456789abcdef0123456789abcdef") {
		t.Fatalf("verify without the chunk's pack: %v", err)
	}
	oneSentence(t, err)
}

// Prune rewrites a pack most of which no snapshot needs with just the
// chunks still needed, removes packs no snapshot needs and what cut-off
// snapshots left, and never a chunk a kept snapshot uses.
func TestPruneRepacks(t *testing.T) {
	withPackTarget(t, 16<<20)
	e := newEnv(t)
	ctx := context.Background()
	tower := e.project("Tower")
	e.put("/Tower/a.bin", random(3<<20))
	b := random(200 << 10)
	e.put("/Tower/b.bin", b)
	s1 := e.snap(tower.ID)
	target := e.b.snapshotTarget()
	if n := len(packFiles(t, target)); n != 1 {
		t.Fatalf("%d packs", n)
	}
	e.rm("/Tower/a.bin")
	c := random(1 << 20)
	e.put("/Tower/c.bin", c)
	s2 := e.snap(tower.ID)
	first := packFiles(t, target)
	// What a snapshot cut off leaves: a pack no snapshot uses, a
	// temporary file.
	w, _ := newPackWriter(nil, filepath.Join(target, packsDir), "")
	_ = w.add(strings.Repeat("ab", 32), plainSealed(t, []byte("x")), 1)
	_, _ = w.commit()
	tmp := filepath.Join(target, packsDir, ".0123.pack.1.plinth-tmp")
	_ = os.WriteFile(tmp, []byte("half"), 0o600)
	retire(t, e, s1)
	// A reader that looked at the packs before the prune (a restore
	// running meanwhile) still finds b's chunk after it was repacked.
	stale := newPackSet(nil, target)
	if err := stale.refresh(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Prune(ctx, e.master, false); err != nil {
		t.Fatal(err)
	}
	if got, err := loadChunk(nil, target, stale, plain, chunkID(b), int64(len(b))); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("a chunk read with the packs as they were before the prune: %v", err)
	}
	want := []string{chunkName(chunkID(b), ""), chunkName(chunkID(c), "")}
	got := chunkKeys(t, target)
	if got != strings.Join(sortedIDs(map[string]bool{want[0]: true, want[1]: true}), ",") {
		t.Fatalf("after prune the target holds %s, want %v", got, want)
	}
	after := packFiles(t, target)
	if containsAll(after, first[:1]) && containsAll(after, first[1:]) {
		t.Fatal("the mostly unused pack was not rewritten")
	}
	if _, err := os.Stat(tmp); err == nil {
		t.Fatal("a temporary file survived the prune")
	}
	if _, err := e.b.RestoreSnapshot(ctx, e.master, s2.ID, "Copy", "", nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.read("/Copy/b.bin"), b) || !bytes.Equal(e.read("/Copy/c.bin"), c) {
		t.Fatal("restored bytes differ")
	}
	// Nothing of the old packs needed: they go.
	e.rm("/Tower/b.bin")
	e.rm("/Tower/c.bin")
	e.put("/Tower/d.txt", []byte("d"))
	s3 := e.snap(tower.ID)
	retire(t, e, s2)
	if _, err := e.b.Prune(ctx, e.master, false); err != nil {
		t.Fatal(err)
	}
	if got := chunkKeys(t, target); got != chunkName(chunkID([]byte("d")), "") || len(packFiles(t, target)) != 1 {
		t.Fatalf("after the second prune: %s in %d packs", got, len(packFiles(t, target)))
	}
	if _, err := e.b.Verify(ctx, e.master, s3.ID, "", nil); err != nil {
		t.Fatal(err)
	}
}

// Prune that repacks, under every fault: the snapshot kept verifies
// whatever happens, and a prune that succeeds leaves just its chunks.
func TestRepackUnderFaults(t *testing.T) {
	withPackTarget(t, 16<<20)
	e := newEnv(t)
	ctx := context.Background()
	ffs := faultfs.New(nil)
	e.b.SetFS(ffs)
	tower := e.project("Tower")
	e.put("/Tower/a.bin", random(3<<20))
	e.put("/Tower/b.bin", random(100<<10))
	e.snap(tower.ID)
	e.rm("/Tower/a.bin")
	e.put("/Tower/c.txt", []byte("c"))
	s2 := e.snap(tower.ID)
	target := e.b.snapshotTarget()
	e.now = e.now.Add((ManualKeepDays + 1) * 24 * time.Hour)
	pristine := filepath.Join(t.TempDir(), "pristine")
	copyDir(t, target, pristine)
	calls := countCalls(ffs, func() {
		if gone, err := e.b.Prune(ctx, e.master, false); err != nil || len(gone) != 1 {
			t.Fatalf("prune: %d, %v", len(gone), err)
		}
	})
	want := chunkKeys(t, target)
	for _, f := range faultsFor(calls) {
		t.Run(f.name, func(t *testing.T) {
			copyDir(t, pristine, target)
			f.arm(ffs)
			_, err := e.b.Prune(ctx, e.master, false)
			ffs.Reset()
			all := allSound(t, e)
			if all[0].ID != s2.ID {
				t.Fatal("prune removed the newest snapshot")
			}
			if err != nil {
				oneSentence(t, err)
				return
			}
			if got := chunkKeys(t, target); len(all) != 1 || got != want {
				t.Fatalf("after prune: %d snapshots, chunks %s, want 1 and %s", len(all), got, want)
			}
		})
	}
}

// Repacking keeps encrypted chunks encrypted, for their recipient, and
// the snapshot still opens with the passphrase.
func TestPruneRepacksEncrypted(t *testing.T) {
	withPackTarget(t, 16<<20)
	e := newEnv(t)
	ctx := context.Background()
	setPassphrase(t, e, passphrase)
	tower := e.project("Tower")
	e.put("/Tower/a.bin", random(3<<20))
	b := random(200 << 10)
	e.put("/Tower/b.bin", b)
	s1 := e.snap(tower.ID)
	target := e.b.snapshotTarget()
	before := packFiles(t, target)
	e.rm("/Tower/a.bin")
	s2 := e.snap(tower.ID)
	if !s2.Encrypted() || len(packFiles(t, target)) != 1 {
		t.Fatalf("encrypted %v, %d packs", s2.Encrypted(), len(packFiles(t, target)))
	}
	retire(t, e, s1)
	if _, err := e.b.Prune(ctx, e.master, false); err != nil {
		t.Fatal(err)
	}
	after := packFiles(t, target)
	if len(after) != 1 || after[0] == before[0] {
		t.Fatalf("packs after prune: %v, before %v", after, before)
	}
	if got := chunkKeys(t, target); got != chunkName(chunkID(b), s2.Recipient) {
		t.Fatalf("after prune the target holds %s", got)
	}
	if raw, _ := os.ReadFile(after[0]); readable(raw, b[:64]) {
		t.Fatal("the repacked chunk is readable")
	}
	if _, err := e.b.Verify(ctx, e.master, s2.ID, passphrase, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.RestoreSnapshot(ctx, e.master, s2.ID, "Copy", passphrase, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.read("/Copy/b.bin"), b) {
		t.Fatal("restored bytes differ")
	}
}
