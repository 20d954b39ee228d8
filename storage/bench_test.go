package storage

import (
	"fmt"
	"testing"
)

type benchRec struct {
	Name  string `json:"name"`
	Size  int64  `json:"size"`
	Hash  string `json:"hash"`
	Owner string `json:"owner"`
}

var benchFiles = NewCollection[benchRec]("bench")

// One small atomic change, as a rename or a setting makes it: the manager
// store syncs it to disk (SyncWrites), the fileserver store does not.
func BenchmarkUpdateOneRecord(b *testing.B) {
	for _, kind := range []Kind{Manager, FileServer} {
		b.Run(string(kind), func(b *testing.B) {
			s, err := Open(b.TempDir(), kind, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ResetTimer()
			for i := range b.N {
				err := s.Update(func(tx *Tx) error {
					return benchFiles.Put(tx, fmt.Sprintf("%08d", i), benchRec{Name: "plan.pdf", Size: int64(i), Hash: "ab12", Owner: "anna"})
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Bulk writes through a Batch, as an import or a synchronization makes them.
func BenchmarkBatch100k(b *testing.B) {
	for range b.N {
		s, err := Open(b.TempDir(), Manager, Options{})
		if err != nil {
			b.Fatal(err)
		}
		bt := s.NewBatch()
		for i := range 100_000 {
			if err := benchFiles.PutBatch(bt, fmt.Sprintf("%08d", i), benchRec{Name: "plan.pdf", Size: int64(i), Hash: "ab12", Owner: "anna"}); err != nil {
				b.Fatal(err)
			}
		}
		if err := bt.Flush(); err != nil {
			b.Fatal(err)
		}
		_ = s.Close()
	}
	b.ReportMetric(float64(100_000*b.N)/b.Elapsed().Seconds(), "records/s")
}

// Reading a whole collection back, as listing a big folder does.
func BenchmarkScan100k(b *testing.B) {
	s, err := Open(b.TempDir(), Manager, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	bt := s.NewBatch()
	for i := range 100_000 {
		_ = benchFiles.PutBatch(bt, fmt.Sprintf("%08d", i), benchRec{Name: "plan.pdf", Size: int64(i), Hash: "ab12", Owner: "anna"})
	}
	if err := bt.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		n := 0
		err := s.View(func(tx *Tx) error {
			return benchFiles.Scan(tx, "", func(string, benchRec) error { n++; return nil })
		})
		if err != nil || n != 100_000 {
			b.Fatalf("scanned %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(100_000*b.N)/b.Elapsed().Seconds(), "records/s")
}

// Opening a store, as every CLI command does twice.
func BenchmarkOpenClose(b *testing.B) {
	dir := b.TempDir()
	for range b.N {
		s, err := Open(dir, Manager, Options{})
		if err != nil {
			b.Fatal(err)
		}
		_ = s.Close()
	}
}
