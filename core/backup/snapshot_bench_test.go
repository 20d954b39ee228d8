//go:build !windows

package backup

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
)

// snapBenchProject is a Plinth holding one project of mib MiB in n files,
// half compressible text and half incompressible, like the project of
// `plinth bench backup`, and its backup service.
func snapBenchProject(b *testing.B, mib, n int) (*Service, account.Actor, files.Node) {
	b.Helper()
	ctx := context.Background()
	dir, fs, acc, master := benchStores(b)
	p, err := fs.Create(ctx, master, files.RootID, "Office", files.KindProject)
	if err != nil {
		b.Fatal(err)
	}
	src := filepath.Join(dir, "office")
	genOffice(b, src, int64(mib)<<20, n)
	if _, err := fs.Import(ctx, master, p.ID, src, nil); err != nil {
		b.Fatal(err)
	}
	_ = os.RemoveAll(src)
	return NewService(fs, acc, nil, dir, nil), master, p
}

// genOffice writes the files of `plinth bench backup` (app/bench_backup.go):
// 1% of them hold 60% of the bytes, half are IFC-like text, half
// incompressible.
func genOffice(b *testing.B, dir string, size int64, n int) {
	rng := rand.New(rand.NewPCG(7, 11))
	large := max(n/100, 1)
	largeBytes := size * 6 / 10
	smallBytes := size - largeBytes
	words := []string{"IFCWALL", "IFCSLAB", "IFCBEAM", "IFCCOLUMN", "#12=", "IFCCARTESIANPOINT((0.,0.,0.));", "'2O2Fr$t4X7Zf8NOew3FLOH'", "$,$,", "IFCPROPERTYSINGLEVALUE"}
	for i := range n {
		sz := smallBytes / int64(n-large)
		if i < large {
			sz = largeBytes / int64(large)
		}
		sub := filepath.Join(dir, fmt.Sprintf("project-%02d", i%20), fmt.Sprintf("folder-%02d", (i/20)%25))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, sz)
		if i%2 == 0 {
			pos := 0
			for pos < len(buf) {
				pos += copy(buf[pos:], words[rng.IntN(len(words))])
				if pos < len(buf) {
					buf[pos] = '\n'
					pos++
				}
			}
		} else {
			for j := 0; j+8 <= len(buf); j += 8 {
				binary.LittleEndian.PutUint64(buf[j:], rng.Uint64())
			}
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("file-%05d.bin", i)), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFirstSnapshot takes the first level-1 snapshot of a 1 GiB,
// 10,000-file project, then one of it unchanged: PLINTH_SNAPBENCH_MIB
// (and _FILES, else ten a MiB) make it smaller.
func BenchmarkFirstSnapshot(b *testing.B) {
	mib, n := 1024, 10000
	if v := os.Getenv("PLINTH_SNAPBENCH_MIB"); v != "" {
		_, _ = fmt.Sscan(v, &mib)
		n = mib * 10
	}
	if v := os.Getenv("PLINTH_SNAPBENCH_FILES"); v != "" {
		_, _ = fmt.Sscan(v, &n)
	}
	ctx := context.Background()
	s, master, p := snapBenchProject(b, mib, n)
	var first, second, cpu, sys time.Duration
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		if err := os.RemoveAll(s.snapshotTarget()); err != nil {
			b.Fatal(err)
		}
		s.packSets.Clear()
		b.StartTimer()
		c0, s0, t0 := cpuTime(), sysTime(), time.Now()
		if _, err := s.Snapshot(ctx, master, p.ID, nil); err != nil {
			b.Fatal(err)
		}
		first += time.Since(t0)
		cpu += cpuTime() - c0
		sys += sysTime() - s0
		t1 := time.Now()
		if _, err := s.Snapshot(ctx, master, p.ID, nil); err != nil {
			b.Fatal(err)
		}
		second += time.Since(t1)
	}
	b.ReportMetric(first.Seconds()/float64(b.N), "first-s/op")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "first-cpu-s/op")
	b.ReportMetric(sys.Seconds()/float64(b.N), "first-sys-s/op")
	b.ReportMetric(float64(second.Milliseconds())/float64(b.N), "unchanged-ms/op")
}

// sysTime is the system CPU time this process used so far.
func sysTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Stime.Nano())
}

// BenchmarkUnchangedSnapshot takes snapshots of an unchanged project of
// 10,000 files (PLINTH_SNAPBENCH_FILES) of 4 KiB: what it costs is the
// number of files, not their bytes.
func BenchmarkUnchangedSnapshot(b *testing.B) {
	n := 10000
	if v := os.Getenv("PLINTH_SNAPBENCH_FILES"); v != "" {
		_, _ = fmt.Sscan(v, &n)
	}
	ctx := context.Background()
	s, master, p := snapBenchProject(b, max(n*4>>10, 1), n)
	if _, err := s.Snapshot(ctx, master, p.ID, nil); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Snapshot(ctx, master, p.ID, nil); err != nil {
			b.Fatal(err)
		}
	}
}
