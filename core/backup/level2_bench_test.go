//go:build !windows

package backup

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/storage"
)

// benchService is a Plinth holding mib MiB of incompressible content in
// 16 MiB files, and its backup service: the worst case for checking every
// chunk while copying packs, since compressing such data is cheapest.
func benchService(b *testing.B, mib int) (*Service, account.Actor) {
	b.Helper()
	ctx := context.Background()
	dir, fs, acc, master := benchStores(b)
	folder, err := fs.MkdirAll(ctx, master, "/Bench")
	if err != nil {
		b.Fatal(err)
	}
	for i := range mib / 16 {
		data := random(16 << 20)
		if _, err := fs.Upload(ctx, master, folder.ID, fmt.Sprintf("f%03d.bin", i), bytes.NewReader(data), int64(len(data)), nil); err != nil {
			b.Fatal(err)
		}
	}
	return NewService(fs, acc, nil, dir, nil), master
}

// benchStores opens the two stores of a fresh Plinth in a temporary
// folder (closed when the benchmark ends) and returns the folder, the
// file service, the accounts and the masteradmin.
func benchStores(b *testing.B) (string, *files.Service, *account.Service, account.Actor) {
	b.Helper()
	dir := b.TempDir()
	mgr, err := storage.Open(filepath.Join(dir, "manager"), storage.Manager, storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	fsr, err := storage.Open(filepath.Join(dir, "fileserver"), storage.FileServer, storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = mgr.Close(); _ = fsr.Close() })
	acc := account.NewService(mgr)
	master, _ := acc.Bootstrap(context.Background(), "master password")
	return dir, files.NewService(mgr, fsr, acc, nil), acc, master
}

// cpuTime is the CPU time this process used so far: on a shared machine
// it moves less than the wall-clock time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFullBackup takes full level-2 backups of 256 MiB of content.
func BenchmarkFullBackup(b *testing.B) {
	ctx := context.Background()
	s, master := benchService(b, 256)
	b.SetBytes(256 << 20)
	cpu := cpuTime()
	for b.Loop() {
		m, err := s.Full(ctx, master, nil)
		if err != nil || m.Type != TypeFull {
			b.Fatal(m.Type, err)
		}
		b.StopTimer()
		if err := os.RemoveAll(m.Path); err != nil { // the next one is full again
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkRestore restores a full level-2 backup of 256 MiB of content.
func BenchmarkRestore(b *testing.B) {
	ctx := context.Background()
	s, master := benchService(b, 256)
	m, err := s.Full(ctx, master, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(256 << 20)
	cpu := cpuTime()
	for b.Loop() {
		if _, err := s.Restore(ctx, master, m.ID, ScopeAll, "", nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		copies, _ := s.SafetyCopies()
		for _, c := range copies {
			_ = os.RemoveAll(c)
		}
		b.StartTimer()
	}
	b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/op")
}
