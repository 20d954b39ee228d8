package files

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/storage"
)

// powerCutScenario is every kind of two-store change: a new file, a new
// version, a file of two chunks, a rename (paths on the File Server), a
// deletion, a version prune and a compaction that moves a chunk into a new
// pack and removes the old one.
func powerCutScenario(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	a := e.upload(RootID, "a.bin", random(5000))
	if st, err := e.s.Import(ctx, e.master, RootID, importDir(t), nil); err != nil || st.Files != 5 {
		t.Fatalf("import = %+v, %v", st, err)
	}
	keep, err := e.s.Lookup(ctx, e.master, "/keep")
	must("lookup", err)
	e.upload(keep.ID, "old.bin", random(3000))
	e.upload(keep.ID, "big.bin", random(ChunkSize+100))
	_, err = e.s.Rename(ctx, e.master, keep.ID, "kept")
	must("rename", err)
	must("delete", e.s.Delete(ctx, e.master, a.ID, nil))
	must("versioning", e.s.SetVersioning(ctx, e.master, Versioning{Rule: KeepNone}))
	_, err = e.s.PruneVersions(ctx)
	must("prune", err)
	_, err = e.s.Compact(ctx)
	must("compact", err)
}

// importDir is a folder of five small files, which an import commits as
// one group.
func importDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "drawings")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("sheet %d.pdf", i)), random(1000+i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// powerCutSetup leaves a folder with a file of two versions and a pack
// that is mostly garbage, so that the scenario's compaction rewrites it.
func powerCutSetup(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, mgrDir: memDir(t), fsDir: memDir(t)}
	e.open()
	quickMaster(e)
	ctx := context.Background()
	keep, err := e.s.MkdirAll(ctx, e.master, "/keep")
	if err != nil {
		t.Fatal(err)
	}
	e.upload(keep.ID, "old.bin", random(2000))
	e.upload(RootID, "stay.bin", random(3000)) // compaction moves it
	junk := e.upload(RootID, "junk.bin", random(200_000))
	if err := e.s.Delete(ctx, e.master, junk.ID, nil); err != nil {
		t.Fatal(err)
	}
	e.restart() // the scenario starts on a fresh current pack
	if err := e.s.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

// afterPowerCut opens the stores as the power cut left them, recovers, and
// checks that the Manager lists nothing whose content is missing: the
// stores agree file by file and every version of every file reads back.
func afterPowerCut(t *testing.T, e *env, pc *storage.PowerCut) {
	t.Helper()
	e.close()
	if err := pc.Apply(); err != nil {
		t.Fatal(err)
	}
	e.open()
	ctx := context.Background()
	if m, err := e.acc.ActAs(ctx, "masteradmin"); err == nil {
		e.master = m
	}
	if err := e.s.Recover(ctx); err != nil {
		t.Fatalf("recover after the power cut: %v", err)
	}
	e.consistent()
	var all []Node
	err := e.mgr.View(func(tx *storage.Tx) error {
		return walk(tx, root, func(n Node) error {
			if n.Kind == KindFile {
				all = append(all, n)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range all {
		vs, err := e.s.Versions(ctx, e.master, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			r, _, err := e.s.Open(ctx, e.master, n.ID, v.ID)
			if err != nil {
				t.Fatalf("%s version %s: %v", n.Name, v.ID, err)
			}
			got, err := io.Copy(io.Discard, r)
			if err != nil || got != v.Size {
				t.Fatalf("%s version %s reads %d of %d bytes: %v", n.Name, v.ID, got, v.Size, err)
			}
		}
	}
}

// A power cut after any durable point, dropping every write that was not
// made durable, never leaves the Manager listing a file whose content the
// File Server lost (which the advised sync-files would then delete).
func TestPowerCutNeverLosesListedFiles(t *testing.T) {
	start := time.Now()
	// Count the durable points of the scenario; the power going at the
	// very end is a case too.
	e := powerCutSetup(t)
	pc, err := storage.WatchPowerCut(0, e.mgr, e.fs)
	if err != nil {
		t.Fatal(err)
	}
	powerCutScenario(t, e)
	events := pc.Events()
	afterPowerCut(t, e, pc)
	if events < 10 {
		t.Fatalf("the scenario has only %d durable points", events)
	}
	for at := 1; at <= events; at++ {
		t.Run(fmt.Sprint("after point ", at), func(t *testing.T) {
			e := powerCutSetup(t)
			pc, err := storage.WatchPowerCut(at, e.mgr, e.fs)
			if err != nil {
				t.Fatal(err)
			}
			powerCutScenario(t, e)
			if !pc.Happened() {
				t.Fatalf("the power did not go at point %d of %d", at, events)
			}
			afterPowerCut(t, e, pc)
		})
	}
	t.Logf("%d power cuts in %s", events+1, time.Since(start).Round(time.Millisecond))
}

// memDir is a scratch folder in memory (/dev/shm) where there is one: the
// power-cut hook decides what is durable, so the disk's real fsyncs only
// cost time there. Elsewhere it is t.TempDir().
func memDir(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "plinth-test-")
		if err == nil {
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// newEnvIn is newEnv with the stores in the given folders.
func newEnvIn(t *testing.T, mgrDir, fsDir string) *env {
	t.Helper()
	e := &env{t: t, mgrDir: mgrDir, fsDir: fsDir}
	e.open()
	m, err := e.acc.Bootstrap(context.Background(), "master password")
	if err != nil {
		t.Fatal(err)
	}
	e.master = m
	return e
}
