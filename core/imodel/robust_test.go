package imodel

import (
	"context"
	"errors"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/ifc"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/schedule"
	"codeberg.org/plinth/plinth/storage"
)

// noticesOf lists the texts of the master's notifications of kind k.
func (e *env) noticesOf(k notify.Kind) []string {
	e.t.Helper()
	l, err := e.notify.List(context.Background(), e.master, false)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, n := range l {
		if n.Kind == k {
			out = append(out, n.Text)
		}
	}
	return out
}

func (e *env) runs(c Connection) []Run {
	e.t.Helper()
	rs, err := e.s.Runs(context.Background(), e.master, c.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

// dieDuringParse runs a sync that stops, like a process that dies, when it
// is about to parse: the goroutine ends there and nothing after it runs,
// so the store is left as a crash leaves it.
func (e *env) dieDuringParse(c Connection, trigger string) {
	e.t.Helper()
	e.s.parse = func(context.Context, string, io.Reader, int64, hash.Hash) (*ifc.Model, error) {
		runtime.Goexit()
		return nil, nil
	}
	defer func() { e.s.parse = ifc.ReadSum }()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = e.s.Sync(context.Background(), e.master, c.ID, trigger, nil)
	}()
	<-done
}

// A sync during which the process died (a design file that crashes
// Plinth) is found at the next start: the run shows as interrupted, the
// connection's scheduled runs pause (also the catch-up at start, which
// would run the same file again) and the owner is told, once. A manual
// Sync now that fails keeps the pause; one that succeeds lifts it.
func TestInterruptedSyncPausesScheduledRuns(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	house := e.sample("IfcOpenHouse_IFC4.ifc", "house.ifc")
	c, err := e.s.AddConnection(ctx, e.master, e.imodel, NewConnection{Name: "Arch", Source: Source{Kind: SourceDisk, Path: e.src},
		Mapped: []Composite{{Main: "house.ifc"}}, Schedule: schedule.EveryInterval(4 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	e.dieDuringParse(c, TriggerScheduled)
	if cur, _ := e.s.conn(c.ID); cur.Running == "" {
		t.Fatal("the run was not recorded as running before the file was parsed")
	}

	// The next start.
	if err := e.s.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	cur, _ := e.s.conn(c.ID)
	if cur.Running != "" || cur.Paused == nil || cur.Paused.File != "house.ifc" {
		t.Fatalf("after the start: running %q, paused %+v", cur.Running, cur.Paused)
	}
	rs := e.runs(c)
	if len(rs) != 1 || rs[0].State != "interrupted" {
		t.Fatalf("runs %+v", rs)
	}
	want := `Plinth stopped during the last sync of "Arch" (while it read house.ifc); it will not run automatically until you run Sync now.`
	if got := e.noticesOf(notify.ConnectionFailed); len(got) != 1 || got[0] != want {
		t.Fatalf("notifications %q, want %q", got, want)
	}

	// Scheduled runs (the catch-up at start among them) do not start.
	_, err = e.s.Sync(ctx, e.master, c.ID, TriggerScheduled, nil)
	if !errors.Is(err, ErrPaused) || !strings.Contains(err.Error(), `scheduled syncs of "Arch" are paused because Plinth stopped during its sync`) {
		t.Fatalf("a scheduled run while paused: %v", err)
	}
	if len(e.runs(c)) != 1 {
		t.Fatalf("a paused connection ran: %+v", e.runs(c))
	}
	if err := e.s.Recover(ctx); err != nil { // another start
		t.Fatal(err)
	}
	if got := e.noticesOf(notify.ConnectionFailed); len(got) != 1 {
		t.Fatalf("the owner was told %d times", len(got))
	}

	// A manual sync that fails does not lift the pause…
	e.write("house.ifc", "not an IFC file")
	if r := e.sync(c); r.Result != ResultFailed {
		t.Fatalf("manual sync of a broken file: %+v", r)
	}
	if cur, _ := e.s.conn(c.ID); cur.Paused == nil {
		t.Fatal("a failed manual sync lifted the pause")
	}
	// …one that succeeds does, and the schedule runs again.
	e.write("house.ifc", house)
	if r := e.sync(c); r.Result != ResultSuccess {
		t.Fatalf("manual sync: %+v", r)
	}
	if cur, _ := e.s.conn(c.ID); cur.Paused != nil {
		t.Fatalf("still paused after a manual sync succeeded: %+v", cur.Paused)
	}
	if r, err := e.s.Sync(ctx, e.master, c.ID, TriggerScheduled, nil); err != nil || r.Result != ResultSuccess {
		t.Fatalf("a scheduled run after the pause: %+v, %v", r, err)
	}
}

// A panic while a file is read fails that file with a sentence; the other
// files sync, the connection is free again and the process lives on.
func TestPanicWhileParsingFailsOnlyThatFile(t *testing.T) {
	e := newEnv(t)
	e.sample("IfcOpenHouse_IFC4.ifc", "a.ifc")
	e.sample("Sample_entities.ifc", "b.ifc")
	c := e.connect("Two", Composite{Main: "a.ifc"}, Composite{Main: "b.ifc"})
	e.s.parse = func(ctx context.Context, name string, r io.Reader, size int64, sum hash.Hash) (*ifc.Model, error) {
		if name == "a.ifc" {
			panic("a bug in the reader")
		}
		return ifc.ReadSum(ctx, name, r, size, sum)
	}
	r := e.sync(c)
	if r.Result != ResultPartialSuccess || r.Files[0].State != StateFailed || r.Files[1].State != StateSucceeded {
		t.Fatalf("run %+v", r)
	}
	msg := r.Files[0].Errors[0]
	if msg.Category != CategoryInternal || !strings.HasPrefix(msg.Message, "Plinth failed while syncing this file (a bug in the reader)") {
		t.Fatalf("error %+v", msg)
	}
	if cur, _ := e.s.conn(c.ID); cur.Running != "" || cur.Paused != nil {
		t.Fatalf("after the panic: %+v", cur)
	}
	if st, _ := e.s.FileStatuses(context.Background(), e.master, c.ID); st[0].State != StateFailed || st[1].State != StateSucceeded {
		t.Fatalf("statuses %+v", st)
	}
	e.s.parse = ifc.ReadSum
	if r := e.sync(c); r.Files[0].State != StateSucceeded {
		t.Fatalf("the next sync: %+v", r.Files[0])
	}
}

// Mapped files are names from outside: typed by users, or read back from
// a Manager store that was restored. None of them can read a file outside
// the connection's source folder.
func TestMappingsStayInsideTheSource(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.sample("IfcOpenHouse_IFC4.ifc", "sub/house.ifc")
	// A design file next to the source folder, which no mapping may reach.
	outside := filepath.Join(filepath.Dir(e.src), "secret.ifc")
	b, _ := os.ReadFile(filepath.Join(samples, "Sample_entities.ifc"))
	if err := os.WriteFile(outside, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(outside) })
	for _, c := range []struct{ mapped, want string }{
		{"../secret.ifc", "../secret.ifc leads outside the source folder"},
		{"sub/../../secret.ifc", "sub/../../secret.ifc leads outside the source folder"},
		{`..\secret.ifc`, "../secret.ifc leads outside the source folder"},
		{outside, outside + " is not inside the source folder"},
		{"C:/secret.ifc", "C:/secret.ifc is not inside the source folder"},
		{"sub/ho\u202euse.ifc", "contains an invisible or text-direction character"},
		{"sub/con.ifc", "is a reserved name on Windows"},
		{"/", "/ is not inside the source folder"},
		{"./", "a mapped file has no name"},
	} {
		_, err := e.s.AddConnection(ctx, e.master, e.imodel, NewConnection{Name: "X", Source: Source{Kind: SourceDisk, Path: e.src}, Mapped: []Composite{{Main: c.mapped}}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("mapping %q: %v, want %q", c.mapped, err, c.want)
		}
	}
	// Dots and doubled slashes a user may type are evened out.
	conn, err := e.s.AddConnection(ctx, e.master, e.imodel, NewConnection{Name: "Arch", Source: Source{Kind: SourceDisk, Path: e.src}, Mapped: []Composite{{Main: "./sub//house.ifc"}}})
	if err != nil || conn.Mapped[0].Main != "sub/house.ifc" {
		t.Fatalf("./sub//house.ifc: %+v, %v", conn.Mapped, err)
	}
	if _, err := e.s.Map(ctx, e.master, conn.ID, Composite{Main: "sub/house2.ifc", Refs: []string{"../secret.ifc"}}); err == nil || !strings.Contains(err.Error(), "leads outside") {
		t.Fatalf("Map with a reference outside: %v", err)
	}

	// A mapping stored before these checks (or in a restored store) is
	// checked again where the sync joins it onto the folder.
	_ = e.mgr.Update(func(tx *storage.Tx) error {
		cur, _ := connections.Get(tx, conn.ID)
		cur.Mapped = append(cur.Mapped, Composite{Main: "../secret.ifc"}, Composite{Main: outside})
		return connections.Put(tx, conn.ID, cur)
	})
	r := e.sync(conn)
	if len(r.Files) != 3 || r.Files[0].State != StateSucceeded {
		t.Fatalf("run %+v", r)
	}
	for _, f := range r.Files[1:] {
		if f.State != StateFailed || f.Errors[0].Category != CategorySource || !strings.HasPrefix(f.Errors[0].Message, "the path ") {
			t.Errorf("%s: %+v", f.File, f)
		}
	}
	if st := e.stats(); st.Elements != 47 {
		t.Fatalf("the iModel has %d elements; the file outside was read", st.Elements)
	}
	// So is a link inside the folder that leads out of it.
	if runtime.GOOS != "windows" {
		if err := os.Symlink(outside, filepath.Join(e.src, "link.ifc")); err != nil {
			t.Fatal(err)
		}
		_, err := e.s.AddConnection(ctx, e.master, e.imodel, NewConnection{Name: "Link", Source: Source{Kind: SourceDisk, Path: e.src}, Mapped: []Composite{{Main: "link.ifc"}}})
		if err == nil || !strings.Contains(err.Error(), "link.ifc leads outside the source folder "+e.src+" through a link") {
			t.Fatalf("a link out of the folder: %v", err)
		}
		if err := os.Symlink(filepath.Join(e.src, "sub", "house.ifc"), filepath.Join(e.src, "inside.ifc")); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.AddConnection(ctx, e.master, e.imodel, NewConnection{Name: "Inside", Source: Source{Kind: SourceDisk, Path: e.src}, Mapped: []Composite{{Main: "inside.ifc"}}}); err != nil {
			t.Fatalf("a link inside the folder: %v", err)
		}
	}
	// A file-server source folder is checked like any path.
	_, err = e.s.AddConnection(ctx, e.master, e.imodel, NewConnection{Name: "FS", Source: Source{Kind: SourceFileServer, Path: "/Tower/../Tower"}, Mapped: []Composite{{Main: "house.ifc"}}})
	if err == nil || !strings.Contains(err.Error(), "the source folder /Tower/../Tower cannot be used") {
		t.Fatalf("a file-server folder with ..: %v", err)
	}
	// Unmapping still finds a mapping as it was stored.
	if _, err := e.s.Unmap(ctx, e.master, conn.ID, "../secret.ifc", false); err != nil {
		t.Fatalf("unmap a stored bad mapping: %v", err)
	}
}

// A design file above ifc.MaxFileSize fails with the sentence that names
// the limit, before memory is set aside for it or a byte is read; garbage
// is refused from its first bytes.
func TestLargeOrGarbageFileFailsWithASentence(t *testing.T) {
	e := newEnv(t)
	var reserved []int64
	e.s.Reserve = func(n int64) func() { reserved = append(reserved, n); return func() {} }
	p := filepath.Join(e.src, "huge.ifc")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(40 << 30); err != nil { // sparse: no disk space
		t.Skipf("no sparse files here: %v", err)
	}
	_ = f.Close()
	c := e.connect("Huge", Composite{Main: "huge.ifc"})
	r := e.sync(c)
	fe := r.Files[0].Errors[0]
	if r.Result != ResultFailed || fe.Category != CategoryFile || !fe.UserFixable ||
		fe.Message != "huge.ifc is 40 GiB; Plinth reads IFC files of up to 1.0 GiB (export the model in parts, e.g. by storey or discipline, and map each part); the iModel keeps what this file gave before" {
		t.Fatalf("run %+v", r.Files[0])
	}
	if len(reserved) != 0 {
		t.Fatalf("memory was set aside for a file that is refused: %v", reserved)
	}
	// Under the limit but not IFC: refused by its first bytes.
	if err := os.Truncate(p, 2<<30); err != nil {
		t.Fatal(err)
	}
	old := ifc.MaxFileSize
	ifc.MaxFileSize = 3 << 30
	defer func() { ifc.MaxFileSize = old }()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r = e.sync(c)
	runtime.ReadMemStats(&after)
	if fe := r.Files[0].Errors[0]; fe.Category != CategoryFile || !strings.Contains(fe.Message, "huge.ifc, line 1, column 1: this is not an IFC file") {
		t.Fatalf("garbage: %+v", r.Files[0])
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
		t.Fatalf("refusing 2 GiB of garbage allocated %d bytes", n)
	}
}
