package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/storage"
)

// flipChunk flips bytes of the i-th chunk (from 0) of a version in its
// pack on disk.
func (e *env) flipChunk(version string, i int) string {
	e.t.Helper()
	var rec Record
	var loc storage.Loc
	err := e.fs.View(func(tx *storage.Tx) (err error) {
		if rec, err = records.Get(tx, version); err != nil {
			return err
		}
		loc, err = chunks.Get(tx, rec.Chunks[i])
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(e.fsDir, "packs", storage.PackName(loc.Pack)), os.O_RDWR, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 8)
	if _, err := f.ReadAt(b, loc.Off+loc.Len/2); err != nil {
		e.t.Fatal(err)
	}
	for j := range b {
		b[j] ^= 0xa5
	}
	if _, err := f.WriteAt(b, loc.Off+loc.Len/2); err != nil {
		e.t.Fatal(err)
	}
	return rec.Chunks[i]
}

// Flipped bytes in a pack: the deep check reads every chunk back and names
// exactly the file versions that use the damaged chunk, with the part.
func TestCheckContentsListsDamagedFiles(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir, _ := e.s.MkdirAll(ctx, e.master, "/Tower/plans")
	shared := random(ChunkSize)
	a := e.upload(dir.ID, "a.pdf", append(append([]byte{}, shared...), random(1000)...)) // 2 parts
	b := e.upload(dir.ID, "b.pdf", shared)                                               // shares a's first part
	e.upload(dir.ID, "c.pdf", random(5000))
	old := e.upload(RootID, "x.txt", random(300))
	e.upload(RootID, "x.txt", random(400)) // x.txt's current version is sound

	r, err := e.s.CheckContentsReport(ctx, e.master, nil)
	if err != nil || !r.Sound() || r.Chunks != 5 || r.Bytes != ChunkSize+1000+5000+300+400 {
		t.Fatalf("sound store: %+v, %v", r, err)
	}

	e.flipChunk(a.Version, 1)   // only a.pdf
	e.flipChunk(b.Version, 0)   // a.pdf part 1 and b.pdf
	e.flipChunk(old.Version, 0) // an older version
	var last progress.Report
	r, err = e.s.CheckContentsReport(ctx, e.master, func(p progress.Report) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	want := []DamagedFile{
		{Path: "/Tower/plans/a.pdf", Version: a.Version, Current: true, Listed: true, Parts: []int{1, 2}, Of: 2, Reason: "does not match its SHA-256"},
		{Path: "/Tower/plans/b.pdf", Version: b.Version, Current: true, Listed: true, Parts: []int{1}, Of: 1, Reason: "does not match its SHA-256"},
		{Path: "/x.txt", Version: old.Version, Current: false, Listed: true, Parts: []int{1}, Of: 1, Reason: "does not match its SHA-256"},
	}
	if r.Chunks != 5 || r.DamagedChunks != 3 || !reflect.DeepEqual(r.Damaged, want) {
		t.Fatalf("report = %+v\nwant damaged %+v", r, want)
	}
	if !last.Bytes || last.Done != last.Total || last.Total != r.Bytes {
		t.Fatalf("last progress = %+v", last)
	}
	if got := r.Damaged[0].String(); got != fmt.Sprintf("/Tower/plans/a.pdf (current version %.8s): parts 1, 2 of 2: does not match its SHA-256", a.Version) {
		t.Fatalf("line = %q", got)
	}

	// A verify of a restored copy gets the same as one error.
	n, err := e.s.CheckContents(ctx)
	if n != 5 || !errors.Is(err, ErrDamaged) ||
		err.Error() != "3 file versions on the File Server have damaged content: /Tower/plans/a.pdf, /Tower/plans/b.pdf, /x.txt; restore them from a backup or upload them again" {
		t.Fatalf("CheckContents = %d, %v", n, err)
	}

	// FilesUsing, for the backup: which files use a chunk, as which part.
	uses, err := e.s.FilesUsing(ctx, []string{e.chunkOf(a.Version, 1)})
	if err != nil || len(uses) != 1 || uses[0].Path != "/Tower/plans/a.pdf" || uses[0].Part != 2 || uses[0].Of != 2 || !uses[0].Current {
		t.Fatalf("FilesUsing = %+v, %v", uses, err)
	}
}

func (e *env) chunkOf(version string, i int) string {
	var rec Record
	_ = e.fs.View(func(tx *storage.Tx) (err error) { rec, err = records.Get(tx, version); return })
	return rec.Chunks[i]
}

// A pack that is gone and a chunk missing from the index are damage too.
func TestCheckContentsMissingPack(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	f := e.upload(RootID, "gone.bin", random(2000))
	ps, _ := e.fs.Blobs().Packs()
	for id := range ps {
		if err := os.Remove(filepath.Join(e.fsDir, "packs", storage.PackName(id))); err != nil {
			t.Fatal(err)
		}
	}
	e.restart() // no open handle keeps the pack readable
	r, err := e.s.CheckContentsReport(ctx, e.master, nil)
	if err != nil || r.DamagedChunks != 1 || len(r.Damaged) != 1 || r.Damaged[0].Path != "/gone.bin" ||
		r.Damaged[0].Reason != "cannot be read: pack 1 is missing: not found" {
		t.Fatalf("report = %+v, %v", r, err)
	}
	// The index entry itself lost: the record still names the chunk.
	_ = e.fs.Update(func(tx *storage.Tx) error { return chunks.Delete(tx, e.chunkOf(f.Version, 0)) })
	r, err = e.s.CheckContentsReport(ctx, e.master, nil)
	if err != nil || r.Chunks != 0 || r.DamagedChunks != 1 || len(r.Damaged) != 1 || r.Damaged[0].Reason != "is missing from the File Server" {
		t.Fatalf("report = %+v, %v", r, err)
	}
}

// Only those who may see the Servers page read the list of damaged files.
func TestCheckContentsNeedsServersPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.acc.AddUser(ctx, e.master, account.NewUser{Name: "nora", Role: account.RoleNone, Password: "nora's password"}); err != nil {
		t.Fatal(err)
	}
	nora, _ := e.acc.ActAs(ctx, "nora")
	if _, err := e.s.CheckContentsReport(ctx, nora, nil); !errors.Is(err, account.ErrPermission) {
		t.Fatalf("nora: %v", err)
	}
}

// readChunk cuts a content into chunks at the same places whatever the
// size the caller expected: a small guess reads into a small buffer and
// moves on to a full one when the content is bigger.
func TestReadChunkCutsTheSameWhateverTheGuess(t *testing.T) {
	for _, size := range []int{0, 1, 100, 64<<10 - 1, 64 << 10, 64<<10 + 1, 1 << 20, ChunkSize, ChunkSize + 5} {
		data := random(size)
		for _, guess := range []int64{0, 1, int64(size), int64(size) / 2, 70 << 10, 2 * int64(size), ChunkSize} {
			r := bytes.NewReader(data)
			var got [][]byte
			var read int64
			for {
				buf, n, err := readChunk(r, guess-read)
				if n > 0 {
					got = append(got, bytes.Clone((*buf)[:n]))
					read += int64(n)
				}
				putBuf(buf)
				if err != nil {
					break
				}
			}
			var want [][]byte
			for off := 0; off < size; off += ChunkSize {
				want = append(want, data[off:min(off+ChunkSize, size)])
			}
			if len(got) != len(want) {
				t.Fatalf("size %d, guess %d: %d chunks, want %d", size, guess, len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("size %d, guess %d: chunk %d is %d bytes, want %d", size, guess, i, len(got[i]), len(want[i]))
				}
			}
		}
	}
}
