package backup

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"codeberg.org/plinth/plinth/storage"
)

// ifcText is compressible content of n bytes.
func ifcText(n int) []byte {
	return bytes.Repeat([]byte("IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,$);\n"), n/39+1)[:n]
}

// packSegments checks that the content packs of m are stored in files of
// at most cut bytes each, joining up, and returns them.
func packSegments(t *testing.T, m Manifest, cut int64) []Segment {
	t.Helper()
	p, _ := m.Payload(storage.FileServer)
	ends := map[string]int64{}
	for _, s := range p.Segments {
		if s.To-s.From > cut {
			t.Errorf("backup %s stores %d bytes of pack %s in one file, want at most %d", m.ID, s.To-s.From, s.Name, cut)
		}
		if at, ok := ends[s.Name]; ok && s.From != at {
			t.Errorf("pack %s: a segment from %d follows one ending at %d", s.Name, s.From, at)
		}
		ends[s.Name] = s.To
		if _, err := os.Stat(filepath.Join(m.Path, filepath.FromSlash(s.File))); err != nil {
			t.Errorf("segment file: %v", err)
		}
	}
	return p.Segments
}

// A backup in the backup folder stores each content pack in files of
// the segment size; full and incremental restore byte for byte, also as
// the links of a chain whose full backup was written before (a whole
// pack in one file), and encrypted.
func TestSegmentedLocalBackupsRestoreExactly(t *testing.T) {
	for _, tc := range []struct {
		name      string
		oldFull   bool // the full backup stores whole packs, as before segments
		encrypted bool
	}{
		{"segmented", false, false},
		{"full backup from before segments", true, false},
		{"encrypted", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			const cut = 64 << 10
			passphrase := ""
			if tc.encrypted {
				passphrase = "correct horse battery"
				if err := e.b.SetPassphrase(ctx, e.master, passphrase); err != nil {
					t.Fatal(err)
				}
			}
			e.put("/Tower/a.bin", random(1<<20))
			e.put("/Tower/b.ifc", ifcText(700_000))
			e.put("/Tower/small.txt", []byte("small"))
			e.b.segment = cut
			if tc.oldFull {
				e.b.segment = 1 << 40
			}
			full := e.full()
			if segs := packSegments(t, full, e.b.segment); tc.oldFull && len(segs) != 1 || !tc.oldFull && len(segs) < 20 {
				t.Fatalf("full backup in %d stored files", len(segs))
			}
			e.b.segment = cut
			e.put("/Tower/c.bin", random(300_000))
			e.rm("/Tower/small.txt")
			inc := e.full()
			if inc.Type != TypeIncremental {
				t.Fatalf("second backup is %s", inc.Type)
			}
			if segs := packSegments(t, inc, cut); len(segs) < 4 {
				t.Fatalf("incremental in %d stored files, want 300 KB in 64 KiB files", len(segs))
			}
			want := e.state()
			wantA, wantB, wantC := e.read("/Tower/a.bin"), e.read("/Tower/b.ifc"), e.read("/Tower/c.bin")

			e.rm("/Tower")
			e.put("/Other/x.bin", random(1000))
			for _, m := range []Manifest{inc, full} {
				if _, err := e.b.Restore(ctx, e.master, m.ID, ScopeAll, passphrase, nil); err != nil {
					t.Fatalf("restore %s: %v", m.Type, err)
				}
			}
			if !bytes.Equal(e.read("/Tower/small.txt"), []byte("small")) || !bytes.Equal(e.read("/Tower/a.bin"), wantA) {
				t.Fatal("the full backup restored other content")
			}
			if _, err := e.b.Restore(ctx, e.master, inc.ID, ScopeAll, passphrase, nil); err != nil {
				t.Fatal(err)
			}
			if got := e.state(); got != want {
				t.Fatalf("after restore:\n%s\nwant:\n%s", got, want)
			}
			if !bytes.Equal(e.read("/Tower/a.bin"), wantA) || !bytes.Equal(e.read("/Tower/b.ifc"), wantB) || !bytes.Equal(e.read("/Tower/c.bin"), wantC) {
				t.Fatal("restored content differs")
			}
			v, err := e.b.Verify(ctx, e.master, inc.ID, passphrase, nil)
			if err != nil || !v.Restored || v.Chunks == 0 {
				t.Fatalf("verify = %+v, %v", v, err)
			}
		})
	}
}

// A stored segment of a pack that does not match its checksum: one
// flipped byte, or the same plain bytes stored otherwise (a valid zstd
// file the decoder reads without complaint: only the checksum, checked
// at the segment's end before any of it is written, tells). Restore and
// verify refuse with one sentence naming the pack and the backup; the
// live data stays as it was and nothing is left behind.
func TestFlippedSegmentRefused(t *testing.T) {
	for _, damage := range []string{"flipped", "recompressed"} {
		t.Run(damage, func(t *testing.T) { testDamagedSegment(t, damage) })
	}
}

func testDamagedSegment(t *testing.T, damage string) {
	ctx := context.Background()
	e := newEnv(t)
	e.b.segment = 64 << 10
	e.put("/Tower/a.bin", random(1<<20))
	e.put("/Tower/b.ifc", ifcText(500_000))
	m := e.full()
	segs := packSegments(t, m, 64<<10)
	if len(segs) < 10 {
		t.Fatalf("%d segments", len(segs))
	}
	bad := segs[len(segs)-3]
	path := filepath.Join(m.Path, filepath.FromSlash(bad.File))
	if damage == "flipped" {
		flipAt(t, path, bad.Bytes/2)
	} else {
		stored, _ := os.ReadFile(path)
		dec, _ := zstd.NewReader(nil)
		plain, err := dec.DecodeAll(stored, nil)
		if err != nil {
			t.Fatal(err)
		}
		enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
		other := enc.EncodeAll(plain, nil)
		if bytes.Equal(other, stored) {
			t.Fatal("recompressed to the same bytes")
		}
		if err := os.WriteFile(path, other, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.put("/Tower/c.txt", []byte("after"))
	before := e.state()

	want := "content pack " + bad.Name + " of backup " + m.ID + " does not match its checksum"
	_, err := e.b.Restore(ctx, e.master, m.ID, ScopeAll, "", nil)
	if !errors.Is(err, ErrDamaged) || !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), ":") > 1 {
		t.Fatalf("restore: %v\nwant one sentence beginning %s", err, want)
	}
	e.untouchedBy(t, before)
	if _, err := e.b.Verify(ctx, e.master, m.ID, "", nil); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), bad.Name) {
		t.Fatalf("verify: %v", err)
	}
	// A restore of the Manager alone decodes no pack: it checks every
	// stored file first, as before segments.
	if _, err := e.b.Restore(ctx, e.master, m.ID, ScopeManager, "", nil); !errors.Is(err, ErrDamaged) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("restore of the Manager: %v", err)
	}
	if e.state() != before {
		t.Fatal("a refused restore of the Manager changed the live data")
	}
}
