package backup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// keepOnly sets retention to the newest backup of one day and no weeks.
func keepOnly(t *testing.T, e *env) {
	t.Helper()
	c, _ := e.b.Level2()
	c.KeepDaily, c.KeepWeekly = 1, 0
	if err := e.b.SetLevel2(context.Background(), e.master, c); err != nil {
		t.Fatal(err)
	}
}

func nextDay(e *env) { e.now = e.now.AddDate(0, 0, 1) }

// A backup that failed its verification never pushes out the last sound
// one, whatever the retention rule says.
func TestPruneKeepsLastSoundBackup(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	c, _ := e.b.Level2()
	c.FullEvery = 1 // every backup a full one
	_ = e.b.SetLevel2(ctx, e.master, c)
	e.put("/a.bin", random(50_000))
	good := e.full()
	nextDay(e)
	nextDay(e)
	e.put("/b.bin", random(50_000))
	bad := e.full()
	if bad.Type != TypeFull {
		t.Fatalf("second backup is %s", bad.Type)
	}
	flipAt(t, filepath.Join(bad.Path, "manager.badger.zst"), 10)
	if _, err := e.b.Verify(ctx, e.master, bad.ID, "", nil); err == nil {
		t.Fatal("a damaged backup verified")
	}
	keepOnly(t, e)
	if _, err := e.b.Prune(ctx, e.master, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Verify(ctx, e.master, good.ID, "", nil); err != nil {
		t.Fatalf("the last sound backup after prune: %v", err)
	}
}

// A link of a chain that cannot be read while prune runs is not taken as
// gone: the full backup it continues stays.
func TestPruneKeepsChainWithUnreadableLink(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/a.bin", random(50_000))
	full := e.full()
	nextDay(e)
	e.put("/b.bin", random(1000))
	mid := e.full()
	nextDay(e)
	e.put("/c.bin", random(1000))
	last := e.full()
	if last.Type != TypeIncremental || last.Parent != mid.ID || mid.Parent != full.ID {
		t.Fatalf("chain: %s ← %s ← %s", full.ID, mid.ID, last.ID)
	}
	mf := filepath.Join(mid.Path, manifestName)
	raw, _ := os.ReadFile(mf)
	if err := os.WriteFile(mf, raw[:len(raw)/2], 0o600); err != nil { // torn, or a read error
		t.Fatal(err)
	}
	keepOnly(t, e)
	if _, err := e.b.Prune(ctx, e.master, false); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mf, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Verify(ctx, e.master, last.ID, "", nil); err != nil {
		t.Fatalf("the newest backup once its link reads again: %v", err)
	}
}

// Backups taken within one second (a script, a safety backup before a
// restore) are ordered by when they were taken, not by the random end of
// their ids: the backup just made is never the one its own prune removes,
// and the list shows it first.
func TestBackupsOfOneSecondKeepTheNewest(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.b.SetClock(func() time.Time { e.now = e.now.Add(10 * time.Millisecond); return e.now })
	e.put("/a.bin", random(20_000))
	for i := range 8 {
		e.put(fmt.Sprintf("/n%d.bin", i), random(1000))
		m := e.full()
		if _, err := os.Stat(filepath.Join(m.Path, manifestName)); err != nil {
			t.Fatalf("backup %d (%s %s) was pruned as soon as it was made: %v", i, m.Type, m.ID, err)
		}
		all, err := e.b.All()
		if err != nil || len(all) == 0 || all[0].ID != m.ID {
			t.Fatalf("backup %d: the list does not show %s first (%v)", i, m.ID, err)
		}
		if _, err := e.b.Verify(ctx, e.master, m.ID, "", nil); err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
	}
}
