package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys/disktest"
	"codeberg.org/plinth/plinth/storage/fsys/faultfs"
)

// fault is one way of failing: a rule, or a disk that fills.
type fault struct {
	name string
	rule *faultfs.Rule
	fill int64
}

// faultsFor lists every fault point of a clean run: each call of each op
// failed in turn, each write cut short by a full disk, and a disk that
// fills after a few amounts.
func faultsFor(calls map[faultfs.Op]int) []fault {
	var out []fault
	for _, op := range faultfs.Ops {
		for i := range calls[op] {
			out = append(out, fault{name: fmt.Sprintf("%s %d", op, i+1), rule: &faultfs.Rule{Op: op, Skip: i, Times: 1}})
		}
	}
	for i := range calls[faultfs.OpWrite] {
		out = append(out, fault{name: fmt.Sprintf("short write %d", i+1), rule: &faultfs.Rule{Op: faultfs.OpWrite, Skip: i, Times: 1, Short: true, Err: faultfs.ENOSPC}})
	}
	for _, n := range []int64{0, 512, 64 << 10, 1 << 20, 3 << 20} {
		out = append(out, fault{name: fmt.Sprintf("disk full after %d bytes", n), fill: n})
	}
	return out
}

func countCalls(ffs *faultfs.FS, run func()) map[faultfs.Op]int {
	ffs.Reset()
	run()
	calls := map[faultfs.Op]int{}
	for _, op := range faultfs.Ops {
		calls[op] = ffs.Calls(op)
	}
	return calls
}

func (f fault) arm(ffs *faultfs.FS) {
	ffs.Reset()
	if f.rule != nil {
		ffs.Add(*f.rule)
	} else {
		ffs.FillAfter(f.fill)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.RemoveAll(to); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// allSound verifies every snapshot in the target.
func allSound(t *testing.T, e *env) []Manifest {
	t.Helper()
	all := mustSnapshots(t, e, "")
	for _, m := range all {
		if _, err := e.b.Verify(context.Background(), e.master, m.ID, "", nil); err != nil {
			t.Fatalf("snapshot %s no longer verifies: %v", m.ID, err)
		}
	}
	return all
}

// noDebris fails when failed work left temporary files, unfinished
// folders or staging behind (a fault on remove may leave them: prune
// sweeps those).
func noDebris(t *testing.T, e *env, f fault) {
	t.Helper()
	if f.rule != nil && f.rule.Op == faultfs.OpRemove {
		return
	}
	if d := debris(t, e.dir); len(d) != 0 {
		t.Fatalf("left behind: %v", d)
	}
}

// Snapshot under every fault: it succeeds and verifies, or fails with a
// sentence, and the snapshots before still verify, with nothing left
// behind (not even the chunks it had written).
func TestSnapshotUnderFaults(t *testing.T) { snapshotUnderFaults(t) }

// The same with packs that close after every chunk, so that a fault
// meets packs committed before it and the one being filled.
func TestSnapshotUnderFaultsManyPacks(t *testing.T) {
	withPackTarget(t, 1)
	snapshotUnderFaults(t)
}

func snapshotUnderFaults(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ffs := faultfs.New(nil)
	e.b.SetFS(ffs)
	tower := e.project("Tower")
	e.put("/Tower/a.bin", random(files.ChunkSize+100))
	s0 := e.snap(tower.ID)
	e.put("/Tower/b.bin", random(64<<10))
	e.put("/Tower/c.txt", []byte("c"))
	target := e.b.snapshotTarget()
	pristine := filepath.Join(t.TempDir(), "pristine")
	copyDir(t, target, pristine)
	before := chunkFiles(t, target)
	calls := countCalls(ffs, func() { e.snap(tower.ID) })
	for _, f := range faultsFor(calls) {
		t.Run(f.name, func(t *testing.T) {
			copyDir(t, pristine, target)
			f.arm(ffs)
			m, err := e.b.Snapshot(ctx, e.master, tower.ID, nil)
			ffs.Reset()
			all := allSound(t, e)
			if err == nil {
				if len(all) != 2 || all[0].ID != m.ID {
					t.Fatalf("%d snapshots after a snapshot", len(all))
				}
				return
			}
			oneSentence(t, err)
			noDebris(t, e, f)
			if len(all) == 1 && all[0].ID == s0.ID && (f.rule == nil || f.rule.Op != faultfs.OpRemove) {
				if got := chunkFiles(t, target); len(got) != len(before) {
					t.Fatalf("a failed snapshot left %d chunks behind", len(got)-len(before))
				}
			}
		})
	}
}

// Rolling back, and restoring as new, under every fault: done completely,
// or the item is as it was and nothing new exists.
func TestRestoreSnapshotUnderFaults(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ffs := faultfs.New(nil)
	e.b.SetFS(ffs)
	tower := e.project("Tower")
	a := random(64 << 10)
	e.put("/Tower/a.bin", a)
	e.put("/Tower/plans/p.txt", []byte("plans"))
	e.put("/Tower/z.txt", []byte("z"))
	s0 := e.snap(tower.ID)
	b := random(32 << 10)
	// Two files to roll back: a fault on the second one comes after the
	// first one was changed.
	change := func() {
		e.put("/Tower/a.bin", []byte("a changed"))
		e.put("/Tower/z.txt", []byte("z changed"))
		e.put("/Tower/b.bin", b)
	}
	change()
	target := e.b.snapshotTarget()
	pristine := filepath.Join(t.TempDir(), "pristine")
	copyDir(t, target, pristine)
	changed := e.state()
	calls := countCalls(ffs, func() {
		if _, err := e.b.RestoreSnapshot(ctx, e.master, s0.ID, "", "", nil); err != nil {
			t.Fatal(err)
		}
	})
	for _, asNew := range []string{"", "Tower copy"} {
		for _, f := range faultsFor(calls) {
			t.Run(fmt.Sprintf("as new %q, %s", asNew, f.name), func(t *testing.T) {
				copyDir(t, pristine, target)
				change()
				f.arm(ffs)
				_, err := e.b.RestoreSnapshot(ctx, e.master, s0.ID, asNew, "", nil)
				ffs.Reset()
				allSound(t, e)
				if err == nil {
					if asNew == "" {
						if !bytes.Equal(e.read("/Tower/a.bin"), a) {
							t.Fatal("rolled back to other bytes")
						}
						return
					}
					if !bytes.Equal(e.read("/Tower copy/a.bin"), a) {
						t.Fatal("restored other bytes")
					}
					e.rm("/Tower copy")
					return
				}
				oneSentence(t, err)
				noDebris(t, e, f)
				if e.state() != changed {
					t.Fatal("a failed restore changed the Projects")
				}
			})
		}
	}
}

// Export under every fault: the exact archive, or no file at all.
func TestExportSnapshotUnderFaults(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ffs := faultfs.New(nil)
	e.b.SetFS(ffs)
	tower := e.project("Tower")
	e.put("/Tower/a.bin", random(files.ChunkSize+100))
	e.put("/Tower/b.txt", []byte("b"))
	s0 := e.snap(tower.ID)
	out := t.TempDir()
	clean := filepath.Join(out, "clean.plinth-snapshot")
	calls := countCalls(ffs, func() {
		if err := e.b.ExportSnapshot(ctx, e.master, s0.ID, clean, false); err != nil {
			t.Fatal(err)
		}
	})
	want, _ := os.ReadFile(clean)
	for _, f := range faultsFor(calls) {
		t.Run(f.name, func(t *testing.T) {
			dest := filepath.Join(out, "x.plinth-snapshot")
			_ = os.Remove(dest)
			f.arm(ffs)
			err := e.b.ExportSnapshot(ctx, e.master, s0.ID, dest, false)
			ffs.Reset()
			if err == nil {
				if got, _ := os.ReadFile(dest); !bytes.Equal(got, want) {
					t.Fatal("the archive differs from a clean export")
				}
				return
			}
			oneSentence(t, err)
			if _, serr := os.Stat(dest); serr == nil {
				t.Fatal("a failed export left a file")
			}
			noDebris(t, e, f)
			if d := debris(t, out); len(d) != 0 && (f.rule == nil || f.rule.Op != faultfs.OpRemove) {
				t.Fatalf("left behind: %v", d)
			}
		})
	}
}

// Import under every fault: the project with its exact bytes, or no
// project and no staging left.
func TestImportSnapshotUnderFaults(t *testing.T) {
	src := newEnv(t)
	ctx := context.Background()
	tower := src.project("Tower")
	a := random(files.ChunkSize + 100)
	src.put("/Tower/plans/a.bin", a)
	src.put("/Tower/b.txt", []byte("b"))
	archive := filepath.Join(t.TempDir(), "tower.plinth-snapshot")
	if err := src.b.ExportSnapshot(ctx, src.master, src.snap(tower.ID).ID, archive, false); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	ffs := faultfs.New(nil)
	e.b.SetFS(ffs)
	empty := e.state()
	calls := countCalls(ffs, func() {
		if _, err := e.b.ImportSnapshot(ctx, e.master, archive, "", "", nil); err != nil {
			t.Fatal(err)
		}
	})
	e.rm("/Tower")
	for _, f := range faultsFor(calls) {
		t.Run(f.name, func(t *testing.T) {
			f.arm(ffs)
			_, err := e.b.ImportSnapshot(ctx, e.master, archive, "", "", nil)
			ffs.Reset()
			if err == nil {
				if !bytes.Equal(e.read("/Tower/plans/a.bin"), a) || string(e.read("/Tower/b.txt")) != "b" {
					t.Fatal("imported other bytes")
				}
				e.rm("/Tower")
				return
			}
			oneSentence(t, err)
			if e.state() != empty {
				t.Fatal("a failed import left a project")
			}
			noDebris(t, e, f)
		})
	}
}

// Prune under every fault: what it keeps verifies, and what it removed
// is gone entirely.
func TestPruneSnapshotsUnderFaults(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ffs := faultfs.New(nil)
	e.b.SetFS(ffs)
	tower := e.project("Tower")
	e.put("/Tower/a.bin", random(1<<20))
	e.snap(tower.ID)
	e.put("/Tower/a.bin", random(1<<20))
	s1 := e.snap(tower.ID)
	target := e.b.snapshotTarget()
	orphan := chunkPath(target, strings.Repeat("cd", 32), "")
	_ = os.MkdirAll(filepath.Dir(orphan), 0o700)
	_ = os.WriteFile(orphan, []byte("orphan"), 0o600)
	e.now = e.now.Add((ManualKeepDays + 1) * 24 * time.Hour)
	pristine := filepath.Join(t.TempDir(), "pristine")
	copyDir(t, target, pristine)
	calls := countCalls(ffs, func() {
		if gone, err := e.b.Prune(ctx, e.master, false); err != nil || len(gone) != 1 {
			t.Fatalf("prune: %d, %v", len(gone), err)
		}
	})
	want := chunkFiles(t, target)
	for _, f := range faultsFor(calls) {
		t.Run(f.name, func(t *testing.T) {
			copyDir(t, pristine, target)
			f.arm(ffs)
			_, err := e.b.Prune(ctx, e.master, false)
			ffs.Reset()
			all := allSound(t, e)
			if all[0].ID != s1.ID {
				t.Fatal("prune removed the newest snapshot")
			}
			if err == nil {
				if got := chunkFiles(t, target); len(all) != 1 || strings.Join(got, ",") != strings.Join(want, ",") {
					t.Fatalf("after prune: %d snapshots, %d chunks, want 1 and %d", len(all), len(got), len(want))
				}
				return
			}
			oneSentence(t, err)
		})
	}
}

// On a small disk a snapshot that needs more than there is, and an
// import, are refused before they write, in one sentence; a small one
// still goes through.
func TestSnapshotAndImportCheckFreeSpace(t *testing.T) {
	disk := disktest.Mount(t, "size=300m")
	e := newEnv(t)
	ctx := context.Background()
	if err := e.b.SetLevel1(ctx, e.master, Level1Settings{Target: filepath.Join(disk, "snapshots")}); err != nil {
		t.Fatal(err)
	}
	small := e.project("Small")
	e.put("/Small/a.txt", random(1<<20))
	s := e.snap(small.ID)
	big := e.project("Big")
	e.put("/Big/a.bin", random(48<<20))
	_, err := e.b.Snapshot(ctx, e.master, big.ID, nil)
	if !errors.Is(err, storage.ErrNoSpace) || !strings.Contains(err.Error(), "the snapshot of Big needs about") {
		t.Fatalf("snapshot onto a small disk: %v", err)
	}
	oneSentence(t, err)
	if l := mustSnapshots(t, e, ""); len(l) != 1 || len(chunkFiles(t, filepath.Join(disk, "snapshots"))) != 1 {
		t.Fatal("a refused snapshot wrote something")
	}
	if _, err := e.b.Verify(ctx, e.master, s.ID, "", nil); err != nil {
		t.Fatal(err)
	}
	// An import into a data folder on the small disk.
	archive := filepath.Join(t.TempDir(), "big.plinth-snapshot")
	e2 := newEnv(t)
	bigger := e2.project("Big")
	e2.put("/Big/a.bin", random(48<<20))
	if err := e2.b.ExportSnapshot(ctx, e2.master, e2.snap(bigger.ID).ID, archive, false); err != nil {
		t.Fatal(err)
	}
	onDisk := NewService(e.files, e.acc, e.notify, disk, nil)
	before := e.state()
	_, err = onDisk.ImportSnapshot(ctx, e.master, archive, "Imported", "", nil)
	if !errors.Is(err, storage.ErrNoSpace) || !strings.Contains(err.Error(), "importing big.plinth-snapshot needs about") {
		t.Fatalf("import onto a small disk: %v", err)
	}
	oneSentence(t, err)
	if e.state() != before {
		t.Fatal("a refused import created something")
	}
	if d := debris(t, disk); len(d) != 0 {
		t.Fatalf("left behind: %v", d)
	}
}
