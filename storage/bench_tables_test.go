package storage

import (
	"fmt"
	"testing"
)

// tablesStore makes a manager store of n records that lie in tables on
// disk (it is closed and opened again), as a store does after a restart.
func tablesStore(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	s, err := Open(dir, Manager, Options{})
	if err != nil {
		b.Fatal(err)
	}
	bt := s.NewBatch()
	for i := range n {
		_ = benchFiles.PutBatch(bt, fmt.Sprintf("%08d", i), benchRec{Name: "plan.pdf", Size: int64(i), Hash: "ab12", Owner: "anna"})
	}
	if err := bt.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	return dir
}

// Opening a store of 300,000 records in tables, as every command does:
// with checksum verification every table is read once at open.
func BenchmarkOpenTables300k(b *testing.B) {
	dir := tablesStore(b, 300_000)
	b.ResetTimer()
	for range b.N {
		s, err := Open(dir, Manager, Options{})
		if err != nil {
			b.Fatal(err)
		}
		_ = s.Close()
	}
}

// Reading 300,000 records back from tables (not the memtable), where
// block checksums are verified as blocks are read.
func BenchmarkScanTables300k(b *testing.B) {
	dir := tablesStore(b, 300_000)
	s, err := Open(dir, Manager, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for range b.N {
		n := 0
		err := s.View(func(tx *Tx) error {
			return benchFiles.Scan(tx, "", func(string, benchRec) error { n++; return nil })
		})
		if err != nil || n != 300_000 {
			b.Fatalf("scanned %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(300_000*b.N)/b.Elapsed().Seconds(), "records/s")
}
