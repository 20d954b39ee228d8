package files

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
	"codeberg.org/plinth/plinth/storage/fsys/faultfs"
)

// faultOp is one write path of the File Server run under faults.
type faultOp struct {
	name  string
	setup func(f *faultRun)       // before faults are armed
	run   func(f *faultRun) error // with faults
	// may says which files the run may add (path → content); a run
	// that fails must leave each absent or complete.
	may map[string][]byte
	// long: only with PLINTH_FAULTS=all (another op covers its path)
	long bool
}

// faultRun is one run of an operation against fresh stores whose packs
// and exports go through a faultfs.
type faultRun struct {
	t    *testing.T
	e    *env
	ff   *faultfs.FS
	want map[string][]byte // path → content that must be there
	out  string            // export destination
}

var (
	faultNew    = random(ChunkSize + 700) // two chunks
	faultSmall  = random(3000)
	faultImport = map[string][]byte{"/in/x.bin": random(ChunkSize + 10), "/in/y.txt": random(900)}
)

func newFaultRun(t *testing.T, ff *faultfs.FS) *faultRun {
	t.Helper()
	e := &env{t: t, mgrDir: memDir(t), fsDir: memDir(t), fsOpt: storage.Options{FS: ff}, disk: ff}
	e.open()
	quickMaster(e)
	f := &faultRun{t: t, e: e, ff: ff, out: memDir(t), want: map[string][]byte{}}
	base, _ := e.s.MkdirAll(context.Background(), e.master, "/base")
	for name, b := range map[string][]byte{"a.bin": faultSmall, "b.txt": []byte("plans")} {
		e.upload(base.ID, name, b)
		f.want["/base/"+name] = b
	}
	return f
}

// masterRecord is masteradmin's user record, hashed once: Argon2id costs
// more than the rest of a fault run.
var masterRecord struct {
	once sync.Once
	k, v []byte
}

// quickMaster puts masteradmin into e's fresh Manager and acts as it.
func quickMaster(e *env) {
	e.t.Helper()
	masterRecord.once.Do(func() {
		t := newEnvIn(e.t, memDir(e.t), memDir(e.t))
		_ = t.mgr.View(func(tx *storage.Tx) error {
			return tx.Scan([]byte("user/"), func(k, v []byte) error {
				masterRecord.k, masterRecord.v = bytes.Clone(k), bytes.Clone(v)
				return nil
			})
		})
	})
	if err := e.mgr.Update(func(tx *storage.Tx) error { return tx.Set(masterRecord.k, masterRecord.v) }); err != nil {
		e.t.Fatal(err)
	}
	m, err := e.acc.ActAs(context.Background(), "masteradmin")
	if err != nil {
		e.t.Fatal(err)
	}
	e.master = m
}

var faultOps = []faultOp{
	{name: "upload", may: map[string][]byte{"/new.bin": faultNew}, long: true,
		run: func(f *faultRun) error {
			_, err := f.e.s.Upload(context.Background(), f.e.master, RootID, "new.bin", bytes.NewReader(faultNew), int64(len(faultNew)), nil)
			return err
		}},
	{name: "upload into a new pack", may: map[string][]byte{"/new.bin": faultNew},
		setup: func(f *faultRun) { f.e.restart() },
		run: func(f *faultRun) error {
			_, err := f.e.s.Upload(context.Background(), f.e.master, RootID, "new.bin", bytes.NewReader(faultNew), int64(len(faultNew)), nil)
			return err
		}},
	{name: "new version", may: map[string][]byte{"/base/a.bin": faultNew}, long: true,
		run: func(f *faultRun) error {
			n, _ := f.e.s.Lookup(context.Background(), f.e.master, "/base")
			_, err := f.e.s.Upload(context.Background(), f.e.master, n.ID, "a.bin", bytes.NewReader(faultNew), int64(len(faultNew)), nil)
			return err
		}},
	{name: "import", may: faultImport,
		setup: func(f *faultRun) {
			dir := filepath.Join(f.t.TempDir(), "in")
			_ = os.Mkdir(dir, 0o755)
			for p, b := range faultImport {
				if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644); err != nil {
					f.t.Fatal(err)
				}
			}
			f.out = dir
		},
		run: func(f *faultRun) error {
			_, err := f.e.s.Import(context.Background(), f.e.master, RootID, f.out, nil)
			return err
		}},
	{name: "compact",
		setup: func(f *faultRun) {
			junk := f.e.upload(RootID, "junk.bin", random(200_000))
			f.e.upload(RootID, "stay.bin", faultSmall)
			f.want["/stay.bin"] = faultSmall
			if err := f.e.s.Delete(context.Background(), f.e.master, junk.ID, nil); err != nil {
				f.t.Fatal(err)
			}
			f.e.restart() // a fresh pack for what compaction moves
		},
		run: func(f *faultRun) error { _, err := f.e.s.Compact(context.Background()); return err }},
	{name: "prune versions",
		setup: func(f *faultRun) {
			n, _ := f.e.s.Lookup(context.Background(), f.e.master, "/base")
			f.e.upload(n.ID, "b.txt", []byte("plans, revised"))
			f.want["/base/b.txt"] = []byte("plans, revised")
			if err := f.e.s.SetVersioning(context.Background(), f.e.master, Versioning{Rule: KeepNone}); err != nil {
				f.t.Fatal(err)
			}
		},
		run: func(f *faultRun) error { _, err := f.e.s.PruneVersions(context.Background()); return err }},
	{name: "export folder",
		run: func(f *faultRun) error {
			n, _ := f.e.s.Lookup(context.Background(), f.e.master, "/base")
			_, err := f.e.s.Export(context.Background(), f.e.master, n.ID, f.out, nil)
			return err
		}},
	{name: "export version",
		run: func(f *faultRun) error {
			n, _ := f.e.s.Lookup(context.Background(), f.e.master, "/base/a.bin")
			_, err := f.e.s.ExportVersion(context.Background(), f.e.master, n.ID, "", f.out)
			return err
		}},
}

// Every write path of the File Server — upload, import, compaction,
// version pruning, export — run with each write, sync, rename, truncate,
// read, create, close, remove and folder sync failing in turn, with short
// writes, and on a disk that fills: each run succeeds completely or fails
// with a sentence; afterwards the stores agree, every file reads back
// with its exact bytes, nothing half-written is visible, and a restart
// (Recover) keeps it so.
//
// By default each kind of call fails at its first and its last occurrence;
// PLINTH_FAULTS=all fails every call in turn (make stress).
func TestFaultsLeaveFilesWhole(t *testing.T) {
	start := time.Now()
	all := os.Getenv("PLINTH_FAULTS") == "all"
	ops := []faultfs.Op{faultfs.OpWrite, faultfs.OpSync, faultfs.OpRename, faultfs.OpTruncate, faultfs.OpRead,
		faultfs.OpCreate, faultfs.OpClose, faultfs.OpRemove, faultfs.OpSyncDir, faultfs.OpMkdir}
	runs := 0
	for _, op := range faultOps {
		if op.long && !all {
			continue
		}
		// A run without faults says how many calls of each kind it makes.
		ff := faultfs.New(nil)
		f := newFaultRun(t, ff)
		if op.setup != nil {
			op.setup(f)
		}
		ff.Reset()
		if err := op.run(f); err != nil {
			t.Fatalf("%s without faults: %v", op.name, err)
		}
		calls := map[faultfs.Op]int{}
		for _, o := range ops {
			calls[o] = ff.Calls(o)
		}
		written := ff.Written()
		f.e.close()

		var rules []string
		var arm []func(ff *faultfs.FS)
		for _, o := range ops {
			for i := range calls[o] {
				if !all && i != 0 && i != calls[o]-1 {
					continue // the first and the last of each kind
				}
				rules = append(rules, fmt.Sprintf("%s %d of %d", o, i+1, calls[o]))
				arm = append(arm, func(ff *faultfs.FS) { ff.Add(faultfs.Rule{Op: o, Skip: i, Times: 1}) })
				if o == faultfs.OpWrite && (all || i == 0) {
					rules = append(rules, fmt.Sprintf("short write %d of %d", i+1, calls[o]))
					arm = append(arm, func(ff *faultfs.FS) { ff.Add(faultfs.Rule{Op: o, Skip: i, Times: 1, Short: true, Err: faultfs.ENOSPC}) })
				}
			}
		}
		fills := []int64{written / 2}
		if all {
			fills = []int64{0, 10, written / 2, written - 1}
		}
		for _, n := range fills {
			if n < 0 || n >= written {
				continue
			}
			rules = append(rules, fmt.Sprintf("disk full after %d of %d bytes", n, written))
			arm = append(arm, func(ff *faultfs.FS) { ff.FillAfter(n) })
		}
		for k, rule := range rules {
			runs++
			t.Run(op.name+"/"+rule, func(t *testing.T) {
				ff := faultfs.New(nil)
				f := newFaultRun(t, ff)
				if op.setup != nil {
					op.setup(f)
				}
				ff.Reset()
				arm[k](ff)
				err := op.run(f)
				injected := ff.Injected() > 0 || strings.HasPrefix(rule, "disk full")
				ff.Reset()
				if err != nil {
					oneSentence(t, err)
				}
				f.whole(op, err, injected)
				f.e.restart()
				if err := f.e.s.Recover(context.Background()); err != nil {
					t.Fatalf("recover after %s: %v", rule, err)
				}
				f.whole(op, err, injected)
			})
		}
	}
	t.Logf("%d runs under faults in %s", runs, time.Since(start).Round(time.Millisecond))
}

// oneSentence fails unless err reads as one sentence for a user.
func oneSentence(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if msg == "" || strings.ContainsAny(msg, "\n\r") || strings.Contains(msg, "%!") || strings.Contains(msg, "goroutine") ||
		strings.HasSuffix(msg, ".") || len(msg) > 400 {
		t.Fatalf("not one sentence: %q", msg)
	}
}

// whole checks what the run left: the stores agree; every file that was
// there reads back as it was; a file the run may add is absent or
// complete (and present when the run succeeded); an export is absent or
// complete, with no temporary file showing.
func (f *faultRun) whole(op faultOp, runErr error, injected bool) {
	t := f.t
	t.Helper()
	ctx := context.Background()
	f.e.consistent()
	got := map[string][]byte{}
	var all []Node
	err := f.e.mgr.View(func(tx *storage.Tx) error {
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
		p, _ := f.e.s.Path(ctx, n.ID)
		got["/"+p] = f.e.read(n.ID, "")
	}
	for p, b := range f.want {
		if op.may[p] != nil && runErr == nil {
			b = op.may[p]
		}
		if g, ok := got[p]; !ok || (!bytes.Equal(g, b) && !bytes.Equal(g, op.may[p])) {
			t.Fatalf("%s: has %d bytes (listed %v), want %d", p, len(g), ok, len(b))
		}
	}
	for p, b := range op.may {
		g, ok := got[p]
		if runErr == nil && !ok {
			t.Fatalf("%s is missing after a run that succeeded", p)
		}
		if ok && !bytes.Equal(g, b) && !bytes.Equal(g, f.want[p]) {
			t.Fatalf("%s is half-written: %d bytes", p, len(g))
		}
	}
	if !strings.HasPrefix(op.name, "export") {
		return
	}
	var temps []string
	_ = filepath.WalkDir(f.out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fsys.IsTemp(d.Name()) {
			temps = append(temps, p)
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, _ := os.ReadFile(p)
		name := "/base/" + filepath.Base(p)
		if want, ok := f.want[name]; !ok || !bytes.Equal(b, want) {
			t.Fatalf("exported %s has %d bytes, want %d", p, len(b), len(want))
		}
		return nil
	})
	if len(temps) > 0 && !injected {
		t.Fatalf("temporary files left: %v", temps)
	}
	target := filepath.Join(f.out, "base")
	if op.name == "export version" {
		target = filepath.Join(f.out, "a.bin")
	}
	_, err = os.Stat(target)
	switch {
	case runErr == nil && err != nil:
		t.Fatalf("a successful export left nothing: %v", err)
	case runErr != nil && err == nil:
		t.Fatalf("a failed export left %s behind (%v)", target, runErr)
	}
}
