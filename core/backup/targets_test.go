package backup

import (
	"context"
	"path/filepath"
	"testing"
)

// The default targets follow the data folder: a folder moved to another
// place (Plinth moved it to where the OS keeps application data) backs up
// inside its new place, also when the settings were saved before.
func TestTargetsFollowAMovedDataFolder(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	l2, err := e.b.Level2()
	if err != nil {
		t.Fatal(err)
	}
	// Saved with the default target: it is stored as "the default".
	if err := e.b.SetLevel2(ctx, e.master, l2); err != nil {
		t.Fatal(err)
	}
	moved := NewService(e.files, e.acc, e.notify, filepath.Join(t.TempDir(), "new place"), nil)
	if got, _ := moved.Level2(); got.Target != filepath.Join(moved.dataDir, "backups", "full") {
		t.Fatalf("default full backup target after a move = %s", got.Target)
	}
	// Saved by an older Plinth as an absolute path inside the old place:
	// RebaseTargets points it into the new place; a target elsewhere stays.
	old := t.TempDir()
	l2.Target = filepath.Join(old, "backups", "full")
	if err := e.b.SetLevel2(ctx, e.master, l2); err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(t.TempDir(), "NAS", "snapshots")
	if err := e.b.SetLevel1(ctx, e.master, Level1Settings{Target: elsewhere}); err != nil {
		t.Fatal(err)
	}
	if err := moved.RebaseTargets(old); err != nil {
		t.Fatal(err)
	}
	got2, _ := moved.Level2()
	got1, _ := moved.Level1()
	if got2.Target != filepath.Join(moved.dataDir, "backups", "full") || got1.Target != elsewhere {
		t.Fatalf("after the move: full backups to %s, snapshots to %s", got2.Target, got1.Target)
	}
	if got2.Schedule != l2.Schedule || got2.KeepDaily != l2.KeepDaily {
		t.Fatalf("rebasing changed the other settings: %+v, was %+v", got2, l2)
	}
}

// The default target, inside the data folder, is on the data folder's
// disk, made yet or not.
func TestDefaultTargetIsOnDataDisk(t *testing.T) {
	e := newEnv(t)
	c, _ := e.b.Level2()
	if !e.b.OnDataDisk(c.Target) {
		t.Fatalf("%s is not on the disk of %s", c.Target, e.dir)
	}
	e.put("/a.bin", random(1000))
	e.full()
	if !e.b.OnDataDisk(c.Target) || !e.b.OnDataDisk(filepath.Join(e.dir, "not", "made", "yet")) {
		t.Fatal("a folder in the data folder is not on its disk")
	}
}
