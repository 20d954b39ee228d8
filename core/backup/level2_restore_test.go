package backup

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/storage/fsys/faultfs"
)

// A script restoring a full backup and then its incremental runs two
// restores within one second: both work, each with its own safety copy,
// and the copies sort in the order the restores ran (issue 10, item 15).
func TestTwoRestoresInOneSecond(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/Tower/a.txt", []byte("one"))
	full := e.full()
	e.put("/Tower/b.txt", []byte("two"))
	inc := e.full()
	want := e.state()
	e.put("/Tower/c.txt", []byte("three"))

	second := time.Date(2026, 12, 2, 14, 45, 32, 0, time.UTC)
	e.b.SetClock(func() time.Time { return second })
	var copies []string
	for _, id := range []string{full.ID, inc.ID, inc.ID} {
		res, err := e.b.Restore(ctx, e.master, id, ScopeAll, "", nil)
		if err != nil {
			t.Fatalf("restore of %s in the same second: %v", id, err)
		}
		copies = append(copies, filepath.Base(res.SafetyCopy))
	}
	if got := e.state(); got != want {
		t.Fatalf("after the restores:\n%s\nwant\n%s", got, want)
	}
	wantNames := []string{"20261202-144532", "20261202-144532-01", "20261202-144532-02"}
	for i := range wantNames {
		if copies[i] != wantNames[i] {
			t.Fatalf("safety copies %v, want %v", copies, wantNames)
		}
	}
	if !sort.StringsAreSorted(copies) {
		t.Fatalf("safety copies do not sort in order: %v", copies)
	}
	listed, _ := e.b.SafetyCopies()
	if len(listed) != 3 {
		t.Fatalf("safety copies listed: %v", listed)
	}
	// Each holds the data its restore replaced.
	for _, c := range listed {
		if _, err := os.Stat(filepath.Join(c, "manager")); err != nil {
			t.Fatalf("safety copy %s: %v", c, err)
		}
	}
}

// When the second store cannot be swapped in, the first one goes back:
// after a failed restore the live stores are as they were and agree.
func TestFailedSwapPutsFirstStoreBack(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/Tower/a.txt", []byte("one"))
	m := e.full()
	e.put("/Tower/b.txt", []byte("two"))
	before := e.state()
	gen := e.mgr.Identity().Generation
	// The second move into the safety copy (the File Server's) fails.
	e.b.SetFS(faultfs.New(nil).Add(faultfs.Rule{Op: faultfs.OpRename, Path: "/safety/", Skip: 1, Times: 1}))
	_, err := e.b.Restore(ctx, e.master, m.ID, ScopeAll, "", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "swap in the restored File Server: ") || !strings.HasSuffix(err.Error(), "; the current data was kept") {
		t.Fatalf("restore with a failing swap: %v", err)
	}
	if got := e.state(); got != before {
		t.Fatalf("the Manager stayed restored:\n%s\nwant\n%s", got, before)
	}
	dm, df, err := e.files.Digests()
	if err != nil || dm != df {
		t.Fatalf("stores disagree after a failed restore: %v", err)
	}
	if e.mgr.Identity().Generation != gen {
		t.Fatal("the Manager's generation moved")
	}
	ents, _ := os.ReadDir(e.dir)
	for _, x := range ents {
		if strings.Contains(x.Name(), ".restoring-") || x.Name() == "restore-journal.json" {
			t.Fatalf("the failed restore left %s", x.Name())
		}
	}
	if l, _ := e.b.SafetyCopies(); len(l) != 0 {
		t.Fatalf("an empty safety copy stayed: %v", l)
	}
}
