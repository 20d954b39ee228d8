package app

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// The large shape of bench backup: 512 MiB in about 490 files of 4 KiB
// to 4 MiB, the same every run.
func TestBenchLargeShapeSizes(t *testing.T) {
	sizes := largeSizes(largeShapeBytes)
	if n := len(sizes); n < 450 || n > 530 {
		t.Errorf("%d files, want about 490", n)
	}
	var sum int64
	for i, s := range sizes {
		if s < largeMin || s > largeMax {
			t.Errorf("file %d has %d bytes, want 4 KiB to 4 MiB", i, s)
		}
		sum += s
	}
	if sum != largeShapeBytes {
		t.Errorf("%d bytes in all, want %d", sum, largeShapeBytes)
	}
	if !slices.Equal(sizes, largeSizes(largeShapeBytes)) {
		t.Error("two calls gave different sizes, want the same")
	}
	for _, total := range []int64{largeMin, largeMin + 1, largeMax + 1, 2*largeMax + largeMin - 1} {
		var sum int64
		for _, s := range largeSizes(total) {
			if s < largeMin || s > largeMax {
				t.Errorf("total %d: a file of %d bytes, want 4 KiB to 4 MiB", total, s)
			}
			sum += s
		}
		if sum != total {
			t.Errorf("total %d: %d bytes in all", total, sum)
		}
	}
}

// Each shape at a small scale, written: the file count, the sizes and
// the total, half compressible text and half not.
func TestBenchShapesWritten(t *testing.T) {
	const total = 12 << 20
	for _, tc := range []struct {
		name     string
		gen      func(dir string) error
		files    int
		min, max int64
	}{
		{ShapeOffice, func(dir string) error { return genOffice(dir, total, 200) }, 200, 1, total},
		{ShapeLarge, func(dir string) error { return genLarge(dir, largeSizes(total)) }, len(largeSizes(total)), largeMin, largeMax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "office")
			if err := tc.gen(dir); err != nil {
				t.Fatal(err)
			}
			var n, ifc int
			var sum int64
			var text, random []byte
			err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
				if err != nil || info.IsDir() {
					return err
				}
				n++
				sum += info.Size()
				if info.Size() < tc.min || info.Size() > tc.max {
					t.Errorf("%s has %d bytes, want %d to %d", p, info.Size(), tc.min, tc.max)
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				if strings.HasSuffix(p, ".ifc") {
					ifc++
					text = append(text, b...)
				} else {
					random = append(random, b...)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.files || sum < total*99/100 || sum > total {
				t.Errorf("%d files, %d bytes, want %d files of about %d bytes", n, sum, tc.files, total)
			}
			if ifc != (n+1)/2 {
				t.Errorf("%d of %d files are text, want half", ifc, n)
			}
			enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
			if z := enc.EncodeAll(text, nil); len(z)*3 > len(text) {
				t.Errorf("the text compresses to %d of %d bytes, want less than a third", len(z), len(text))
			}
			if z := enc.EncodeAll(random, nil); len(z) < len(random)*99/100 {
				t.Errorf("the random files compress to %d of %d bytes, want no gain", len(z), len(random))
			}
			if !bytes.Contains(text, []byte("IFC")) {
				t.Error("no IFC words in the text files")
			}
		})
	}
}
