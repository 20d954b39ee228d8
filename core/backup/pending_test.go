package backup

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/filesync"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/storage"
)

// told returns masteradmin's notifications that hold phrase.
func (e *env) told(phrase string) []string {
	e.t.Helper()
	all, err := e.notify.List(context.Background(), e.master, false)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, n := range all {
		if strings.Contains(n.Text, phrase) {
			out = append(out, n.Text)
		}
	}
	return out
}

// consistent fails unless the two stores agree.
func (e *env) consistent() {
	e.t.Helper()
	c, _, err := filesync.NewService(e.files, e.acc, e.notify, nil).Detect(context.Background(), false)
	if err != nil {
		e.t.Fatal(err)
	}
	if !c.Consistent {
		e.t.Fatalf("the stores disagree: %s", c)
	}
}

// pending lists the pending records.
func (e *env) pending() []Pending {
	e.t.Helper()
	var out []Pending
	if err := e.mgr.View(func(tx *storage.Tx) (err error) { out, err = pendings.List(tx, ""); return err }); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) recover() {
	e.t.Helper()
	if err := e.b.Recover(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// What a killed import leaves — the new project with its pending record
// (written with the node) and part of its files — is removed at the next
// start, the administrators are told, and the rest is untouched.
func TestRecoverRemovesHalfCreatedItem(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.put("/Keep/k.txt", []byte("keep"))
	before := e.state()
	_, err := e.files.CreateWith(ctx, e.master, files.RootID, "Copy", files.KindProject, func(tx *storage.Tx, n files.Node) error {
		return pendings.Put(tx, n.ID, Pending{Node: n.ID, Op: opImport, Name: n.Name, Kind: "project", From: "copy.plinth-snapshot"})
	})
	if err != nil {
		t.Fatal(err)
	}
	e.put("/Copy/plans/a.bin", random(files.ChunkSize+10))
	e.put("/Copy/b.txt", []byte("b"))
	e.recover()
	if got := e.state(); got != before {
		t.Fatalf("after Recover the Projects hold\n%s\nwant\n%s", got, before)
	}
	e.consistent()
	if p := e.pending(); len(p) != 0 {
		t.Fatalf("records left: %+v", p)
	}
	want := `The import of "Copy" from copy.plinth-snapshot was interrupted when Plinth stopped; nothing of it was kept. Import it again.`
	if got := e.told("was interrupted"); len(got) != 1 || got[0] != want {
		t.Fatalf("told %q, want %q", got, want)
	}
	e.recover()
	if got := e.told("was interrupted"); len(got) != 1 {
		t.Fatalf("a second start told again: %q", got)
	}
}

// A record whose node is gone (a removal that a crash cut off, finished
// by the file service's journal) is cleared, and nothing else changes.
func TestRecoverClearsRecordWithoutNode(t *testing.T) {
	e := newEnv(t)
	e.put("/Keep/k.txt", []byte("keep"))
	before := e.state()
	if err := e.b.putPending(Pending{Node: "0123456789abcdef0123456789abcdef", Op: opRestoreNew, Name: "Copy", Kind: "project", From: "20261125-090000-abcdef"}); err != nil {
		t.Fatal(err)
	}
	e.recover()
	if p := e.pending(); len(p) != 0 {
		t.Fatalf("records left: %+v", p)
	}
	if got := e.state(); got != before {
		t.Fatalf("Recover changed the Projects:\n%s", got)
	}
	if got := e.told("nothing of it was kept"); len(got) != 1 {
		t.Fatalf("told %q", got)
	}
}

// Every operation that fills an item from backup data holds a pending
// record while it writes, and none when it is done.
func TestRestoresRecordTheirWorkWhileFilling(t *testing.T) {
	src := newEnv(t)
	ctx := context.Background()
	tower := src.project("Tower")
	src.put("/Tower/plans/a.bin", random(files.ChunkSize+100))
	src.put("/Tower/b.txt", []byte("b"))
	archive := filepath.Join(t.TempDir(), "tower.plinth-snapshot")
	if err := src.b.ExportSnapshot(ctx, src.master, src.snap(tower.ID).ID, archive, false); err != nil {
		t.Fatal(err)
	}

	e := newEnv(t)
	live := e.project("Tower")
	e.put("/Tower/plans/a.bin", random(files.ChunkSize+100))
	e.put("/Tower/b.txt", []byte("b"))
	s0 := e.snap(live.ID)
	full := e.full()
	change := func() {
		e.put("/Tower/plans/a.bin", random(1000))
		e.put("/Tower/b.txt", []byte("b changed"))
	}
	// watch returns a progress func that notes the records it sees.
	var mu sync.Mutex
	var seen []Pending
	watch := func() progress.Func {
		seen = nil
		return func(progress.Report) {
			p := e.pending()
			mu.Lock()
			seen = append(seen, p...)
			mu.Unlock()
		}
	}
	for _, c := range []struct {
		name, op, item string
		run            func(progress.Func) error
	}{
		{"import", opImport, "/Imported", func(p progress.Func) error {
			_, err := e.b.ImportSnapshot(ctx, e.master, archive, "Imported", "", p)
			return err
		}},
		{"snapshot as new", opRestoreNew, "/From snapshot", func(p progress.Func) error {
			_, err := e.b.RestoreSnapshot(ctx, e.master, s0.ID, "From snapshot", "", p)
			return err
		}},
		{"item as new", opItemNew, "/From backup", func(p progress.Func) error {
			_, err := e.b.RestoreItem(ctx, e.master, full.ID, "/Tower", "From backup", "", p)
			return err
		}},
		{"rollback", opRollback, "/Tower", func(p progress.Func) error {
			change()
			_, err := e.b.RestoreSnapshot(ctx, e.master, s0.ID, "", "", p)
			return err
		}},
		{"item in place", opItemRollback, "/Tower", func(p progress.Func) error {
			change()
			_, err := e.b.RestoreItem(ctx, e.master, full.ID, "/Tower", "", "", p)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(watch()); err != nil {
				t.Fatal(err)
			}
			n, err := e.files.Lookup(ctx, e.master, c.item)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) == 0 {
				t.Fatal("no pending record while the item was filled")
			}
			for _, p := range seen {
				if p.Op != c.op || p.Node != n.ID {
					t.Fatalf("pending record %+v, want op %s on %s", p, c.op, c.item)
				}
				if !p.creates() && p.Safety == "" {
					t.Fatalf("a rollback's record names no safety snapshot: %+v", p)
				}
			}
			if p := e.pending(); len(p) != 0 {
				t.Fatalf("records left after success: %+v", p)
			}
		})
	}
}

// rollbackCut sets up what a rollback of /Tower to its first snapshot
// that was killed part-way leaves: the safety snapshot, the pending
// record, and one of three changes made. It returns the states the
// snapshot and the safety snapshot hold.
func rollbackCut(t *testing.T, e *env, op string, undo bool) (s0, safety Manifest, want, before string) {
	t.Helper()
	ctx := context.Background()
	tower := e.project("Tower")
	e.put("/Tower/a.bin", random(files.ChunkSize+100))
	e.put("/Tower/plans/p.txt", []byte("plans"))
	e.put("/Tower/z.txt", []byte("z"))
	s0 = e.snap(tower.ID)
	want = e.state()
	e.put("/Tower/a.bin", []byte("a changed"))
	e.put("/Tower/new.txt", []byte("new"))
	e.rm("/Tower/z.txt")
	before = e.state()
	var err error
	if safety, err = e.b.snapshot(ctx, e.master, tower.ID, TriggerSafety, nil); err != nil {
		t.Fatal(err)
	}
	p := Pending{Node: tower.ID, Op: op, Name: "Tower", Kind: "project", From: s0.ID, Safety: safety.ID, Undo: undo}
	if op == opItemRollback {
		p.From, p.ItemPath = "20261125-090000-abcdef", "/Tower"
	}
	if err := e.b.putPending(p); err != nil {
		t.Fatal(err)
	}
	e.put("/Tower/z.txt", []byte("z")) // the first change of the rollback
	if mixed := e.state(); mixed == want || mixed == before {
		t.Fatal("the cut-off rollback should leave a mix")
	}
	return s0, safety, want, before
}

// A rollback cut off by a kill, at the next start: one to a plain
// snapshot is finished; one that had failed and was being undone, and an
// item restore out of a full backup (which needs the backup to finish),
// are put back from the safety snapshot. Either way the item is whole and
// the administrators are told which.
func TestRecoverRollback(t *testing.T) {
	for _, c := range []struct {
		name   string
		op     string
		undo   bool
		finish bool
		told   string
	}{
		{"finished", opRollback, false, true, "it was finished when Plinth started again."},
		{"undone", opRollback, true, false, "/Tower was put back as it was before (from safety snapshot "},
		{"item restore", opItemRollback, false, false, "/Tower was put back as it was before (from safety snapshot "},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			_, _, want, before := rollbackCut(t, e, c.op, c.undo)
			if !c.finish {
				want = before
			}
			e.recover()
			if got := e.state(); got != want {
				t.Fatalf("after Recover /Tower holds\n%s\nwant\n%s", got, want)
			}
			e.consistent()
			if p := e.pending(); len(p) != 0 {
				t.Fatalf("records left: %+v", p)
			}
			if got := e.told(c.told); len(got) != 1 {
				t.Fatalf("told %q, want one notification saying %q", e.told("interrupted"), c.told)
			}
		})
	}
}

// A rollback to an encrypted snapshot cannot be finished nor undone
// without the passphrase: the start tells the administrators once which
// item needs attention and which snapshots to roll it back to, prune keeps
// those snapshots, and rolling back again clears the matter.
func TestRecoverEncryptedRollbackNeedsAttention(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	setPassphrase(t, e, passphrase)
	s0, safety, want, _ := rollbackCut(t, e, opRollback, false)
	if !s0.Encrypted() || !safety.Encrypted() {
		t.Fatal("the snapshots should be encrypted")
	}
	mixed := e.state()
	e.recover()
	if e.state() != mixed {
		t.Fatal("Recover changed an item it could not finish")
	}
	got := e.told("needs attention")
	if len(got) != 1 {
		t.Fatalf("told %q", e.told(""))
	}
	for _, part := range []string{"/Tower", s0.ID, safety.ID, "backup passphrase"} {
		if !strings.Contains(got[0], part) {
			t.Fatalf("%q does not name %s", got[0], part)
		}
	}
	if p := e.pending(); len(p) != 1 || !p[0].Told {
		t.Fatalf("the record should stay, marked as told: %+v", p)
	}
	e.recover()
	if got := e.told("needs attention"); len(got) != 1 {
		t.Fatalf("a second start told again: %q", got)
	}
	// Long after, prune still keeps both snapshots.
	e.now = e.now.AddDate(0, 0, 2*ManualKeepDays)
	e.snap(e.pending()[0].Node)
	if _, err := e.b.Prune(ctx, e.master, false); err != nil {
		t.Fatal(err)
	}
	for _, m := range []Manifest{s0, safety} {
		if _, err := e.b.Get(m.ID); err != nil {
			t.Fatalf("prune removed snapshot %s that the interrupted rollback needs: %v", m.ID, err)
		}
	}
	if _, err := e.b.RestoreSnapshot(ctx, e.master, s0.ID, "", passphrase, nil); err != nil {
		t.Fatal(err)
	}
	if e.state() != want {
		t.Fatal("rolling back again did not give the snapshot's state")
	}
	if p := e.pending(); len(p) != 0 {
		t.Fatalf("records left: %+v", p)
	}
}

// An item restore out of a full backup that fails part-way leaves
// nothing: as new, the half-filled item is removed; in place, the item is
// put back as it was.
func TestRestoreItemFailingPartWayLeavesNothing(t *testing.T) {
	e := newEnv(t)
	e.project("Tower")
	for i := range 4 {
		e.put(fmt.Sprintf("/Tower/f%d.bin", i), random(200<<10))
	}
	full := e.full()
	for i := range 4 {
		e.put(fmt.Sprintf("/Tower/f%d.bin", i), random(1000))
	}
	e.put("/Tower/new.txt", []byte("new"))
	before := e.state()
	for _, asNew := range []string{"Copy", ""} {
		ctx, cancel := context.WithCancel(context.Background())
		// Stop once the first file is being written.
		stop := func(r progress.Report) {
			if r.Phase == "Restoring files" {
				cancel()
			}
		}
		_, err := e.b.RestoreItem(ctx, e.master, full.ID, "/Tower", asNew, "", stop)
		cancel()
		if err == nil {
			t.Fatalf("as new %q: a cancelled restore succeeded", asNew)
		}
		if got := e.state(); got != before {
			t.Fatalf("as new %q: a failed restore left\n%s\nwant\n%s", asNew, got, before)
		}
		e.consistent()
		if p := e.pending(); len(p) != 0 {
			t.Fatalf("records left: %+v", p)
		}
	}
}
