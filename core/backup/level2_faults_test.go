package backup

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/storage/fsys"
	"codeberg.org/plinth/plinth/storage/fsys/faultfs"
)

// Fault injection on the level-2 write paths (issue 10, hardening): Full,
// Restore, Verify and Prune run with a fault-injecting file system
// failing each kind of call in turn, writes that stop short, and a disk
// that fills part-way. Each run either succeeds completely or fails with
// one sentence, leaves no debris, and leaves what was there before as it
// was. `go test` fails one call of each kind; PLINTH_FAULTS=all (make
// stress) fails every call in turn.

type faultCase struct {
	name string
	set  func(f *faultfs.FS)
}

// faultsAll is set by make stress: every call of every kind fails in turn.
var faultsAll = os.Getenv("PLINTH_FAULTS") == "all"

// picks is which of the n calls of op to fail: all of them with
// PLINTH_FAULTS=all, otherwise one: the last for the calls that finish
// work (sync, close, rename, folder sync), the middle one for the others.
func picks(op faultfs.Op, n int) []int {
	switch {
	case n == 0:
		return nil
	case faultsAll:
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	case op == faultfs.OpSync || op == faultfs.OpClose || op == faultfs.OpRename || op == faultfs.OpSyncDir:
		return []int{n - 1}
	}
	return []int{n / 2}
}

// faultCases lists the faults to put on a run whose calls clean counted.
func faultCases(t *testing.T, clean *faultfs.FS) (out []faultCase) {
	t.Helper()
	defer func() { t.Logf("%d runs under faults", len(out)) }()
	for _, op := range faultfs.Ops {
		for _, i := range picks(op, clean.Calls(op)) {
			out = append(out, faultCase{fmt.Sprintf("%s %d of %d", op, i+1, clean.Calls(op)), func(f *faultfs.FS) {
				f.Add(faultfs.Rule{Op: op, Skip: i, Times: 1})
			}})
		}
	}
	for _, i := range picks(faultfs.OpWrite, clean.Calls(faultfs.OpWrite)) {
		out = append(out, faultCase{fmt.Sprintf("short write %d", i+1), func(f *faultfs.FS) {
			f.Add(faultfs.Rule{Op: faultfs.OpWrite, Skip: i, Times: 1, Short: true, Err: faultfs.ENOSPC})
		}})
	}
	w := clean.Written()
	fills := []int64{w / 2}
	if faultsAll {
		fills = []int64{0, 100, w / 4, w / 2, w - 1}
	}
	for _, n := range fills {
		if n < 0 || n >= w {
			continue
		}
		out = append(out, faultCase{fmt.Sprintf("disk full after %d of %d bytes", n, w), func(f *faultfs.FS) { f.FillAfter(n) }})
	}
	return out
}

// oneSentence fails the test unless err is one sentence.
// debris lists what failed work left in dir: temporary folders and files.
func leftIn(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".incomplete-") || strings.HasPrefix(n, ".removing-") || strings.Contains(n, ".restoring-") ||
			n == journalName || fsys.IsTemp(n) {
			out = append(out, n)
		}
	}
	return out
}

func ids(ms []Manifest) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return strings.Join(out, " ")
}

func TestFaultsFullBackup(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	target, _ := e.b.Level2()
	e.put("/Tower/a.bin", random(150_000))
	e.put("/Tower/b.txt", []byte("text"))
	earlier := e.full()
	nextDay(e)
	e.put("/Tower/c.bin", random(100_000)) // an incremental copies new pack bytes
	run := func(f *faultfs.FS) (Manifest, error) {
		e.b.SetFS(f)
		defer e.b.SetFS(nil)
		return e.b.Full(ctx, e.master, nil)
	}
	clean := faultfs.New(nil)
	m, err := run(clean)
	if err != nil || m.Type != TypeIncremental {
		t.Fatalf("clean run: %v %v", m.Type, err)
	}
	if err := os.RemoveAll(m.Path); err != nil {
		t.Fatal(err)
	}
	for _, c := range faultCases(t, clean) {
		f := faultfs.New(nil)
		c.set(f)
		m, err := run(f)
		if err == nil {
			if _, err := e.b.Verify(ctx, e.master, m.ID, "", nil); err != nil {
				t.Fatalf("%s: the backup taken does not verify: %v", c.name, err)
			}
			if err := os.RemoveAll(m.Path); err != nil {
				t.Fatal(err)
			}
		} else {
			oneSentence(t, err)
		}
		if d := leftIn(target.Target); len(d) > 0 {
			t.Fatalf("%s (%v): left %v in the target", c.name, err, d)
		}
		if all, _ := e.b.List(); ids(all) != earlier.ID {
			t.Fatalf("%s (%v): backups %s, want only %s", c.name, err, ids(all), earlier.ID)
		}
		if err := e.b.Check(ctx, earlier); err != nil {
			t.Fatalf("%s: the earlier backup: %v", c.name, err)
		}
	}
	if _, err := e.b.Verify(ctx, e.master, earlier.ID, "", nil); err != nil {
		t.Fatalf("the earlier backup after every fault: %v", err)
	}
}

func TestFaultsRestore(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/Tower/a.bin", random(150_000))
	full := e.full()
	nextDay(e)
	e.put("/Tower/b.bin", random(50_000))
	m := e.full() // restore a chain: full + incremental
	want := e.state()
	change := func() {
		e.put(fmt.Sprintf("/Tower/new-%d.txt", e.now.Unix()), []byte("after the backup"))
	}
	run := func(f *faultfs.FS) (Result, error) {
		e.b.SetFS(f)
		defer e.b.SetFS(nil)
		return e.b.Restore(ctx, e.master, m.ID, ScopeAll, "", nil)
	}
	change()
	clean := faultfs.New(nil)
	if _, err := run(clean); err != nil {
		t.Fatalf("clean run: %v", err)
	}
	_ = full
	for _, c := range faultCases(t, clean) {
		change()
		before := e.state()
		copies, _ := e.b.SafetyCopies()
		f := faultfs.New(nil)
		c.set(f)
		_, err := run(f)
		if err == nil {
			if got := e.state(); got != want {
				t.Fatalf("%s: restored\n%s\nwant\n%s", c.name, got, want)
			}
		} else {
			oneSentence(t, err)
			if got := e.state(); got != before {
				t.Fatalf("%s (%v): the failed restore changed the live data", c.name, err)
			}
			if now, _ := e.b.SafetyCopies(); len(now) != len(copies) {
				t.Fatalf("%s (%v): the failed restore left a safety copy", c.name, err)
			}
		}
		if dm, df, err := e.files.Digests(); err != nil || dm != df {
			t.Fatalf("%s: the stores disagree (%v)", c.name, err)
		}
		if d := leftIn(e.dir); len(d) > 0 {
			t.Fatalf("%s (%v): left %v in the data folder", c.name, err, d)
		}
	}
}

func TestFaultsVerify(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	scratch := t.TempDir()
	t.Setenv("TMPDIR", scratch)
	e.put("/Tower/a.bin", random(150_000))
	e.full()
	nextDay(e)
	e.put("/Tower/b.bin", random(50_000))
	m := e.full()
	run := func(f *faultfs.FS) (Verification, error) {
		e.b.SetFS(f)
		defer e.b.SetFS(nil)
		return e.b.Verify(ctx, e.master, m.ID, "", nil)
	}
	clean := faultfs.New(nil)
	if v, err := run(clean); err != nil || !v.Restored {
		t.Fatalf("clean run: %+v %v", v, err)
	}
	for _, c := range faultCases(t, clean) {
		f := faultfs.New(nil)
		c.set(f)
		v, err := run(f)
		if err == nil && !v.Restored {
			t.Fatalf("%s: verified without restoring: %+v", c.name, v)
		}
		if err != nil {
			oneSentence(t, err)
		}
		emptyDir(t, scratch, c.name)
	}
	if v, err := run(faultfs.New(nil)); err != nil || !v.Restored {
		t.Fatalf("after the faults: %+v %v", v, err)
	}
}

func TestFaultsPrune(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	c, _ := e.b.Level2()
	c.FullEvery = 1
	_ = e.b.SetLevel2(ctx, e.master, c)
	var made []Manifest
	for i := range 3 {
		e.put(fmt.Sprintf("/f%d.bin", i), random(20_000))
		made = append(made, e.full())
		nextDay(e)
		nextDay(e)
	}
	newest := made[2]
	keepOnly(t, e)
	saved := t.TempDir()
	if err := os.CopyFS(saved, os.DirFS(c.Target)); err != nil {
		t.Fatal(err)
	}
	reset := func() {
		if err := os.RemoveAll(c.Target); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(c.Target, os.DirFS(saved)); err != nil {
			t.Fatal(err)
		}
	}
	run := func(f *faultfs.FS) ([]Manifest, error) {
		e.b.SetFS(f)
		defer e.b.SetFS(nil)
		return e.b.Prune(ctx, e.master, false)
	}
	clean := faultfs.New(nil)
	if gone, err := run(clean); err != nil || len(gone) != 2 {
		t.Fatalf("clean run: %v %v", ids(gone), err)
	}
	for _, fc := range faultCases(t, clean) {
		reset()
		f := faultfs.New(nil)
		fc.set(f)
		_, err := run(f)
		if err != nil {
			oneSentence(t, err)
		}
		// A backup whose manifest could not be read is not removed, and
		// what a failed removal left under ".removing-" waits for the next
		// prune; nothing else is left.
		for _, d := range leftIn(c.Target) {
			if !strings.HasPrefix(d, ".removing-") {
				t.Fatalf("%s (%v): left %s in the target", fc.name, err, d)
			}
		}
		if all, _ := e.b.List(); len(all) == 0 || all[0].ID != newest.ID {
			t.Fatalf("%s (%v): backups %s; the newest is gone", fc.name, err, ids(all))
		}
		if err := e.b.Check(ctx, newest); err != nil {
			t.Fatalf("%s: the newest backup: %v", fc.name, err)
		}
		if _, err := run(faultfs.New(nil)); err != nil {
			t.Fatalf("%s: the next prune: %v", fc.name, err)
		}
		if d := leftIn(c.Target); len(d) > 0 {
			t.Fatalf("%s: the next prune left %v in the target", fc.name, d)
		}
		if all, _ := e.b.List(); ids(all) != newest.ID {
			t.Fatalf("%s: after the next prune: backups %s, want %s", fc.name, ids(all), newest.ID)
		}
	}
}
