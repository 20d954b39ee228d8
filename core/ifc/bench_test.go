package ifc

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"codeberg.org/plinth/plinth/core/ifc/ifcgen"
)

// Reading a file and finding its elements, as a sync does: the sample
// and a 20 MiB file generated from it (plinth bench ifc compares the
// 200 MiB one with web-ifc).
func BenchmarkParseAndElements(b *testing.B) {
	sample, err := os.ReadFile(filepath.Join(samplesDir, "example.ifc"))
	if err != nil {
		b.Fatal(err)
	}
	var big bytes.Buffer
	if _, err := ifcgen.Generate(&big, sample, 20<<20, 1); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
	}{{"example.ifc", sample}, {"generated-20MiB", big.Bytes()}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			for b.Loop() {
				f, err := Parse(context.Background(), c.name, c.data)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := f.Elements(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
