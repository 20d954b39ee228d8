package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/storage"
)

// The layout of a content pack (storage/blobs.go): an 8-byte magic, then
// entries of a 4-byte length and a 32-byte SHA-256 before the data.
const packHead, chunkHead = 8, 36

// flipAt flips one bit of a file at offset off.
func flipAt(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 1
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// targetLeftovers lists what a failed backup left in the target.
func targetLeftovers(t *testing.T, e *env) []string {
	t.Helper()
	c, _ := e.b.Level2()
	ents, _ := os.ReadDir(c.Target)
	var out []string
	for _, x := range ents {
		if strings.HasPrefix(x.Name(), ".incomplete-") || strings.HasPrefix(x.Name(), ".removing-") || strings.HasPrefix(x.Name(), ".tmp") {
			out = append(out, x.Name())
		}
	}
	return out
}

// A content pack with a damaged chunk is never copied into a backup: the
// backup fails with a sentence naming the pack and what to run, nothing is
// committed, and the earlier backups stay as they were.
func TestBackupOfDamagedPackFails(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/Tower/a.bin", random(300_000))
	first := e.full()
	// Damage a chunk appended after the first backup: the incremental
	// copies only those bytes, and must check them.
	e.put("/Tower/b.bin", random(200_000))
	packs, _ := e.fs.Blobs().SortedPacks()
	last := packs[len(packs)-1]
	pf, _ := first.Payload(storage.FileServer)
	had := pf.Committed[storage.PackName(last)]
	flipAt(t, e.fs.Blobs().Path(last), had+chunkHead+1000)

	for _, kind := range []string{"incremental", "full"} {
		t.Run(kind, func(t *testing.T) {
			_, err := e.b.Full(ctx, e.master, nil)
			want := "content pack " + storage.PackName(last) + " is damaged: the chunk at byte "
			if !errors.Is(err, files.ErrDamaged) || !strings.HasPrefix(err.Error(), want) ||
				!strings.HasSuffix(err.Error(), "; run plinth check --deep to list the affected files") {
				t.Fatalf("backup of a damaged pack: %v", err)
			}
			if all, _ := e.b.List(); len(all) != 1 || all[0].ID != first.ID {
				t.Fatalf("backups after the failure: %v", all)
			}
			if err := e.b.Check(ctx, first); err != nil {
				t.Fatalf("the earlier backup: %v", err)
			}
			if l := targetLeftovers(t, e); len(l) > 0 {
				t.Fatalf("left in the target: %v", l)
			}
		})
		// The next attempt is a full backup: one that copies every pack.
		c, _ := e.b.Level2()
		c.FullEvery = 1
		_ = e.b.SetLevel2(ctx, e.master, c)
		e.now = e.now.AddDate(0, 0, 2)
	}
	l, _ := e.notify.List(ctx, e.master, false)
	told := false
	for _, x := range l {
		told = told || x.Kind == notify.BackupFailed && strings.Contains(x.Text, "plinth check --deep")
	}
	if !told {
		t.Fatalf("notifications: %+v", l)
	}
}

// A damaged length in a pack's entry header is damage too.
func TestBackupOfPackWithBadHeaderFails(t *testing.T) {
	e := newEnv(t)
	e.put("/a.bin", random(100_000))
	path := e.fs.Blobs().Path(1)
	flipAt(t, path, packHead) // the top byte of the first length
	_, err := e.b.Full(context.Background(), e.master, nil)
	if !errors.Is(err, files.ErrDamaged) || !strings.Contains(err.Error(), "the chunk at byte 8 runs past the end of the pack") {
		t.Fatalf("backup: %v", err)
	}
}

// reseal rewrites a stored segment of backup m with edit applied to its
// plain bytes and fixes the manifest's size and checksum, as a backup
// taken of an already damaged pack (before backups checked chunks) looks.
func reseal(t *testing.T, m Manifest, edit func([]byte)) {
	t.Helper()
	raw, _ := os.ReadFile(filepath.Join(m.Path, manifestName))
	var doc map[string]any
	_ = json.Unmarshal(raw, &doc)
	seg := firstSegment(doc)
	path := filepath.Join(m.Path, filepath.FromSlash(seg["file"].(string)))
	stored, _ := os.ReadFile(path)
	dec, _ := zstd.NewReader(nil)
	plain, err := dec.DecodeAll(stored, nil)
	if err != nil {
		t.Fatal(err)
	}
	edit(plain)
	enc, _ := zstd.NewWriter(nil)
	stored = enc.EncodeAll(plain, nil)
	if err := os.WriteFile(path, stored, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(stored)
	seg["bytes"], seg["sha256"] = len(stored), hex.EncodeToString(sum[:])
	raw, _ = json.Marshal(doc)
	if err := os.WriteFile(filepath.Join(m.Path, manifestName), raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A backup holding a damaged chunk (taken before backups checked chunks)
// is never swapped in: the restore fails naming it and the live data stays.
func TestRestoreRefusesDamagedChunk(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/Tower/a.bin", random(300_000))
	m := e.full()
	reseal(t, m, func(b []byte) { b[packHead+chunkHead+5000] ^= 1 })
	m, _ = e.b.Get(m.ID)
	if err := e.b.Check(ctx, m); err != nil {
		t.Fatalf("the resealed backup's checksums: %v", err)
	}
	e.put("/Tower/b.txt", []byte("after"))
	before := e.state()
	_, err := e.b.Restore(ctx, e.master, m.ID, ScopeAll, "", nil)
	want := "backup " + m.ID + " is damaged: in content pack 00000001.pack the chunk at byte 8 does not match its checksum"
	if !errors.Is(err, ErrDamaged) || err.Error() != want {
		t.Fatalf("restore: %v\nwant %s", err, want)
	}
	e.untouchedBy(t, before)
	if _, err := e.b.Verify(ctx, e.master, m.ID, "", nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("verify: %v", err)
	}
}

// untouchedBy checks what a refused restore leaves: the live data as it
// was before (e.state()) and no staged store or safety copy.
func (e *env) untouchedBy(t *testing.T, before string) {
	t.Helper()
	if e.state() != before {
		t.Fatal("a refused restore changed the live data")
	}
	ents, _ := os.ReadDir(e.dir)
	for _, x := range ents {
		if strings.Contains(x.Name(), ".restoring-") || x.Name() == "safety" {
			t.Fatalf("the refused restore left %s", x.Name())
		}
	}
}
