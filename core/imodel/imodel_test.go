package imodel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/schedule"
	"codeberg.org/plinth/plinth/storage"
)

const samples = "../../testdata/ifc/samples"

type env struct {
	t       *testing.T
	mgr, fs *storage.Store
	acc     *account.Service
	files   *files.Service
	notify  *notify.Service
	s       *Service
	clock   *clockwork.FakeClock
	master  account.Actor
	src     string // the disk source folder
	imodel  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, src: t.TempDir(), clock: clockwork.NewFakeClockAt(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))}
	dir := t.TempDir()
	var err error
	if e.mgr, err = storage.Open(filepath.Join(dir, "manager"), storage.Manager, storage.Options{}); err != nil {
		t.Fatal(err)
	}
	if e.fs, err = storage.Open(filepath.Join(dir, "fileserver"), storage.FileServer, storage.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.mgr.Close(); _ = e.fs.Close() })
	e.acc = account.NewService(e.mgr)
	e.master, _ = e.acc.Bootstrap(context.Background(), "master password")
	e.notify = notify.NewService(e.mgr, e.acc, nil)
	e.files = files.NewService(e.mgr, e.fs, e.acc, nil)
	e.s = NewService(e.files, e.acc, e.notify, nil)
	e.s.SetClock(e.clock)
	ctx := context.Background()
	if _, err := e.files.Create(ctx, e.master, files.RootID, "Tower", files.KindProject); err != nil {
		t.Fatal(err)
	}
	m, err := e.s.Create(ctx, e.master, "/Tower", "Coordination")
	if err != nil {
		t.Fatal(err)
	}
	e.imodel = m.ID
	return e
}

// sample copies a sample file into the source folder as name.
func (e *env) sample(sample, name string) string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(samples, sample))
	if err != nil {
		e.t.Fatalf("IFC samples missing: %v", err)
	}
	e.write(name, string(b))
	return string(b)
}

// write puts a file into the source with a new modification time.
func (e *env) write(name, content string) {
	e.t.Helper()
	p := filepath.Join(e.src, filepath.FromSlash(name))
	_ = os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	mt := e.clock.Now()
	_ = os.Chtimes(p, mt, mt)
}

func (e *env) connect(name string, mapped ...Composite) Connection {
	e.t.Helper()
	c, err := e.s.AddConnection(context.Background(), e.master, e.imodel, NewConnection{Name: name, Source: Source{Kind: SourceDisk, Path: e.src}, Mapped: mapped})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) sync(c Connection) Run {
	e.t.Helper()
	r, err := e.s.Sync(context.Background(), e.master, c.ID, TriggerManual, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) stats() Stats {
	st, err := e.s.Stats(e.imodel)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// counts is "inserted/updated/deleted/unchanged" of a run's only file.
func counts(r Run) string {
	f := r.Files[0]
	return fmt.Sprintf("%s %d/%d/%d/%d", f.State, f.Inserted, f.Updated, f.Deleted, f.Unchanged)
}

// renumber adds n to every #id outside strings and reverses the order of
// the DATA lines, like a re-export that numbers differently.
func renumber(src string, n int) string {
	var b strings.Builder
	in := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\'':
			in = !in
			b.WriteByte(c)
		case c == '#' && !in:
			j := i + 1
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			id, _ := strconv.Atoi(src[i+1 : j])
			b.WriteString("#" + strconv.Itoa(id+n))
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func TestSyncComparesByGlobalIDAndChecksum(t *testing.T) {
	e := newEnv(t)
	house := e.sample("IfcOpenHouse_IFC4.ifc", "arch/house.ifc")
	c := e.connect("Architecture", Composite{Main: "arch/house.ifc"})

	r := e.sync(c)
	if r.Result != ResultSuccess || counts(r) != "succeeded 47/0/0/0" || r.Changeset != 1 {
		t.Fatalf("first sync: %s %s cs %d %+v", r.Result, counts(r), r.Changeset, r.Files[0].Errors)
	}
	st := e.stats()
	if st.Elements != 47 || st.Changesets != 1 || st.ByType["IfcWallStandardCase"] != 4 {
		t.Fatalf("stats %+v", st)
	}

	// Nothing changed: skipped without reading.
	r = e.sync(c)
	if counts(r) != "unchanged 0/0/0/47" || r.Changeset != 0 {
		t.Fatalf("unchanged: %s", counts(r))
	}
	// Renumbered re-export: read, but nothing changes.
	e.write("arch/house.ifc", renumber(house, 100000))
	r = e.sync(c)
	if counts(r) != "succeeded 0/0/0/47" || r.Changeset != 0 || e.stats().Changesets != 1 {
		t.Fatalf("renumbered: %s, changeset %d", counts(r), r.Changeset)
	}
	// One name changed: one update.
	wall := firstLine(t, house, "IFCWALLSTANDARDCASE(")
	renamed := strings.Replace(house, wall, replaceName(wall, "Renamed wall"), 1)
	e.write("arch/house.ifc", renamed)
	r = e.sync(c)
	if counts(r) != "succeeded 0/1/0/46" || r.Changeset != 2 {
		t.Fatalf("renamed: %s", counts(r))
	}
	found, _ := e.s.Search(context.Background(), e.master, e.imodel, "Renamed wall", 10)
	if len(found) != 1 || found[0].Type != "IfcWallStandardCase" || found[0].File != "arch/house.ifc" || found[0].Changeset != 2 {
		t.Fatalf("search: %+v", found)
	}
	// One element removed: one delete.
	removed := strings.Replace(renamed, replaceName(wall, "Renamed wall")+"\n", "", 1)
	e.write("arch/house.ifc", removed)
	r = e.sync(c)
	if counts(r) != "succeeded 0/0/1/46" || e.stats().Elements != 46 {
		t.Fatalf("removed: %s, %d elements", counts(r), e.stats().Elements)
	}
	// A broken file fails and changes nothing.
	before := e.stats()
	e.write("arch/house.ifc", strings.Replace(removed, "DATA;", "DATA;\n#1=IFCWALL('x',", 1))
	r = e.sync(c)
	if r.Result != ResultFailed || r.Files[0].State != StateFailed || r.Files[0].Errors[0].Category != CategoryFile || !r.Files[0].Errors[0].UserFixable {
		t.Fatalf("broken: %+v", r)
	}
	if after := e.stats(); after.Elements != before.Elements || after.Changesets != before.Changesets {
		t.Fatalf("a broken file changed the iModel: %+v → %+v", before, after)
	}
	sts, _ := e.s.FileStatuses(context.Background(), e.master, c.ID)
	if sts[0].State != StateFailed || !strings.Contains(sts[0].Reason, "line 1") && !strings.Contains(sts[0].Reason, "house.ifc, line") {
		t.Fatalf("status: %+v", sts)
	}
	l, _ := e.notify.List(context.Background(), e.master, true)
	if len(l) == 0 || l[0].Kind != notify.ConnectionFailed {
		t.Fatalf("no failure notification: %+v", l)
	}
	cs, _ := e.s.Changesets(context.Background(), e.master, e.imodel)
	if len(cs) != 3 || cs[0].Deleted != 1 || cs[1].Updated != 1 || cs[2].Inserted != 47 || cs[0].ConnName != "Architecture" {
		t.Fatalf("changesets %+v", cs)
	}
}

func firstLine(t *testing.T, src, marker string) string {
	for _, l := range strings.Split(src, "\n") {
		if strings.Contains(l, marker) {
			return strings.TrimRight(l, "\r")
		}
	}
	t.Fatalf("no %s line", marker)
	return ""
}

// replaceName sets the third parameter (Name) of an IfcRoot instance line.
func replaceName(line, name string) string {
	open := strings.Index(line, "(")
	parts := strings.SplitN(line[open+1:], ",", 4)
	parts[2] = "'" + name + "'"
	return line[:open+1] + strings.Join(parts, ",")
}

func TestPartialSuccessAndDuplicates(t *testing.T) {
	e := newEnv(t)
	e.sample("IfcOpenHouse_IFC4.ifc", "house.ifc")
	e.sample("IfcOpenHouse_IFC4.ifc", "copy.ifc")
	e.write("broken.ifc", "ISO-10303-21;\nHEADER;FILE_SCHEMA(('IFC4'));ENDSEC;\nDATA;\n#1=IFCWALL(;\nENDSEC;")
	c := e.connect("Both", Composite{Main: "house.ifc", Refs: []string{"copy.ifc"}}, Composite{Main: "broken.ifc"})
	r := e.sync(c)
	if r.Result != ResultPartialSuccess {
		t.Fatalf("result %s", r.Result)
	}
	if r.Files[0].State != StateSucceeded || r.Files[1].State != StateWarnings || r.Files[2].State != StateFailed {
		t.Fatalf("states %s %s %s", r.Files[0].State, r.Files[1].State, r.Files[2].State)
	}
	if len(r.Files[1].Warnings) != 47 || !strings.Contains(r.Files[1].Warnings[0].Msg, "another file of this connection also has") {
		t.Fatalf("duplicate warnings: %d %v", len(r.Files[1].Warnings), r.Files[1].Warnings[:1])
	}
	l, _ := e.notify.List(context.Background(), e.master, true)
	if len(l) == 0 || l[0].Kind != notify.ConnectionPartial || !strings.Contains(l[0].Text, "1 of 3 files failed") {
		t.Fatalf("notification %+v", l)
	}
	js, _ := ReportJSON(r)
	csv, _ := ReportCSV(r)
	if !strings.Contains(string(js), `"result": "PartialSuccess"`) || !strings.Contains(string(js), `"category": "InvalidFile"`) ||
		!strings.Contains(string(csv), "broken.ifc,failed,0,0,0,0,error,InvalidFile,true,") {
		t.Fatalf("reports:\n%s\n%s", js, csv)
	}
}

// A crash between staging and commit leaves the iModel untouched; after
// the commit, Recover finishes the merge.
func TestRecoverInterruptedApply(t *testing.T) {
	e := newEnv(t)
	e.sample("IfcOpenHouse_IFC4.ifc", "house.ifc")
	c := e.connect("Arch", Composite{Main: "house.ifc"})
	e.sync(c)
	sid := scopeID(e.imodel, c.ID, "house.ifc")
	countEls := func() int {
		n := 0
		_ = e.fs.View(func(tx *storage.Tx) (err error) { n, err = elements.Count(tx, sid+"/"); return err })
		return n
	}
	stage := func(committed bool) {
		_ = e.fs.Update(func(tx *storage.Tx) error {
			sc, _ := scopes.Get(tx, sid)
			sc.Pending = &Pending{Stage: sid + "/99", Committed: committed}
			if err := scopes.Put(tx, sid, sc); err != nil {
				return err
			}
			return staged.Put(tx, sid+"/99/NEWGLOBALID0000000000", stagedEl{El: &Element{GlobalID: "NEWGLOBALID0000000000", Type: "IfcWall", Checksum: "x"}})
		})
	}
	stage(false)
	if err := e.s.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if countEls() != 47 {
		t.Fatalf("an uncommitted change was applied: %d elements", countEls())
	}
	stage(true)
	if err := e.s.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if countEls() != 48 {
		t.Fatalf("a committed change was not finished: %d elements", countEls())
	}
	var left int
	_ = e.fs.View(func(tx *storage.Tx) (err error) { left, err = staged.Count(tx, ""); return err })
	if left != 0 {
		t.Fatalf("%d staged rows left", left)
	}
	// A run left running is marked interrupted, the connection freed.
	_ = e.mgr.Update(func(tx *storage.Tx) error {
		cur, _ := connections.Get(tx, c.ID)
		cur.Running = "r1"
		_ = runs.Put(tx, c.ID+"/r1", Run{ID: "r1", Connection: c.ID, State: "running", Started: e.clock.Now()})
		return connections.Put(tx, c.ID, cur)
	})
	if err := e.s.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	rs, _ := e.s.Runs(context.Background(), e.master, c.ID)
	cur, _ := e.s.conn(c.ID)
	if cur.Running != "" || rs[len(rs)-1].State != "interrupted" && rs[0].State != "interrupted" {
		t.Fatalf("after recovery: running %q, runs %+v", cur.Running, rs)
	}
}

// A file's first sync writes its elements in place, not staged: a crash
// before its commit leaves elements that Find does not show and that
// Recover deletes, so the iModel is as it was; the next sync inserts them.
func TestFirstSyncInPlaceIsUndoneAfterACrash(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.sample("IfcOpenHouse_IFC4.ifc", "house.ifc")
	c := e.connect("Arch", Composite{Main: "house.ifc"})
	sid := scopeID(e.imodel, c.ID, "house.ifc")
	// What a crash in the middle of the first sync leaves.
	err := e.fs.Update(func(tx *storage.Tx) error {
		if err := scopes.Put(tx, sid, Scope{IModel: e.imodel, Connection: c.ID, File: "house.ifc", Pending: &Pending{Stage: sid + "/1", Direct: true}}); err != nil {
			return err
		}
		for _, g := range []string{"0O2Fr$t4X7Zf8NOew3FLOH", "1O2Fr$t4X7Zf8NOew3FLOH"} {
			if err := elements.Put(tx, sid+"/"+g, Element{GlobalID: g, Type: "IfcWall", Name: "half-written", Checksum: "x"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if els, err := e.s.Find(ctx, e.master, e.imodel, Filter{}, 0); err != nil || len(els) != 0 {
		t.Fatalf("elements of an uncommitted first sync are shown: %d, %v", len(els), err)
	}
	if err := e.s.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	_ = e.fs.View(func(tx *storage.Tx) (err error) { n, err = elements.Count(tx, sid+"/"); return err })
	scope := func() (sc Scope) {
		_ = e.fs.View(func(tx *storage.Tx) (err error) { sc, err = scopes.Get(tx, sid); return err })
		return sc
	}
	sc := scope()
	if n != 0 || sc.Pending != nil {
		t.Fatalf("after Recover: %d elements, pending %+v", n, sc.Pending)
	}
	r := e.sync(c)
	if r.Files[0].Inserted != 47 {
		t.Fatalf("the sync after: %+v", r.Files[0])
	}
	if els, err := e.s.Find(ctx, e.master, e.imodel, Filter{}, 0); err != nil || len(els) != 47 {
		t.Fatalf("after the sync Find lists %d elements, %v", len(els), err)
	}
	sc = scope()
	var left int
	_ = e.fs.View(func(tx *storage.Tx) (err error) { left, err = staged.Count(tx, ""); return err })
	if sc.Pending != nil || left != 0 {
		t.Fatalf("after the first sync: pending %+v, %d staged rows", sc.Pending, left)
	}
}

func TestMappingDeleteAndGeo(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.sample("ISSUE_044_test_IFCCOMPOSITEPROFILEDEF.ifc", "site.ifc") // has IfcSite latitude/longitude
	e.sample("IfcOpenHouse_IFC4.ifc", "house.ifc")
	e.sample("Sample_entities.ifc", "ref.ifc")
	geo := e.connect("Civil", Composite{Main: "site.ifc"})
	e.sync(geo)
	g, ok, _ := e.s.GeoOf(e.imodel)
	if !ok || g.Connection != geo.ID || g.Reference.Source != "IfcSite" || g.Reference.Latitude < 42 {
		t.Fatalf("geo %+v %v", g, ok)
	}
	arch := e.connect("Architecture", Composite{Main: "house.ifc", Refs: []string{"ref.ifc"}})
	e.sync(arch)
	total := e.stats().Elements
	if total != 11+47+10 {
		t.Fatalf("%d elements", total)
	}
	// The geo connection cannot go while Architecture exists.
	if err := e.s.Delete(ctx, e.master, geo.ID, false); err == nil || !strings.Contains(err.Error(), "geographic coordinate system") {
		t.Fatalf("deleting the geo connection: %v", err)
	}
	// A reference alone cannot be unmapped.
	if _, err := e.s.Unmap(ctx, e.master, arch.ID, "ref.ifc", true); err == nil || !strings.Contains(err.Error(), "is a reference file of house.ifc") {
		t.Fatalf("unmap a reference: %v", err)
	}
	// Map another composite, then unmap it keeping its elements.
	e.sample("example.ifc", "more.ifc")
	if _, err := e.s.Map(ctx, e.master, arch.ID, Composite{Main: "more.ifc"}); err != nil {
		t.Fatal(err)
	}
	e.sync(arch)
	if e.stats().Elements != total+120 {
		t.Fatalf("after mapping more.ifc: %d", e.stats().Elements)
	}
	c, err := e.s.Unmap(ctx, e.master, arch.ID, "more.ifc", false)
	if err != nil || len(c.Mapped) != 1 || e.stats().Elements != total+120 {
		t.Fatalf("unmap keep: %v %+v %d", err, c.Mapped, e.stats().Elements)
	}
	// Unmapping the last composite with its elements deletes the connection and them.
	if _, err := e.s.Unmap(ctx, e.master, arch.ID, "house.ifc", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.conn(arch.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the connection is still there: %v", err)
	}
	if e.stats().Elements != 11+120 {
		t.Fatalf("after unmapping house.ifc with its elements: %d", e.stats().Elements)
	}
	cs, _ := e.s.Changesets(ctx, e.master, e.imodel)
	if cs[0].Deleted != 57 || !strings.Contains(cs[0].Note, "unmapped house.ifc with its elements") {
		t.Fatalf("delete changeset %+v", cs[0])
	}
	// Now the geo connection is the last one and may go, with its elements.
	if err := e.s.Delete(ctx, e.master, geo.ID, true); err != nil {
		t.Fatal(err)
	}
	if e.stats().Elements != 120 { // more.ifc's, kept
		t.Fatalf("after deleting Civil: %d", e.stats().Elements)
	}
}

func TestLimits(t *testing.T) {
	e := newEnv(t)
	e.write("a.ifc", "x")
	for i := 1; i < MaxConnections; i++ {
		e.write(fmt.Sprintf("f%d.ifc", i), "x")
	}
	e.connect("c0", Composite{Main: "a.ifc"})
	for i := 1; i < MaxConnections; i++ {
		e.connect(fmt.Sprintf("c%d", i), Composite{Main: fmt.Sprintf("f%d.ifc", i)})
	}
	e.write("extra.ifc", "x")
	_, err := e.s.AddConnection(context.Background(), e.master, e.imodel, NewConnection{Name: "one too many", Source: Source{Kind: SourceDisk, Path: e.src}, Mapped: []Composite{{Main: "extra.ifc"}}})
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "at most 100 connections") {
		t.Fatalf("101st connection: %v", err)
	}
	// 250 mapped files across them: 100 now; a composite of 151 more is refused.
	var refs []string
	for i := 0; i < 150; i++ {
		name := fmt.Sprintf("refs/r%d.ifc", i)
		e.write(name, "x")
		refs = append(refs, name)
	}
	all, _ := e.s.Connections(context.Background(), e.master, e.imodel)
	if _, err := e.s.Map(context.Background(), e.master, all[0].ID, Composite{Main: "extra.ifc", Refs: refs}); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "at most 250 mapped files") {
		t.Fatalf("251 files: %v", err)
	}
	if _, err := e.s.Map(context.Background(), e.master, all[0].ID, Composite{Main: "extra.ifc", Refs: refs[:149]}); err != nil {
		t.Fatalf("250 files: %v", err)
	}
	// Every 4 hours is the shortest schedule.
	if _, err := e.s.SetSchedule(context.Background(), e.master, all[0].ID, schedule.EveryInterval(time.Hour)); err == nil {
		t.Fatal("an hourly schedule was accepted")
	}
}

func TestTokensAndOwners(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.sample("IfcOpenHouse_IFC4.ifc", "house.ifc")
	c := e.connect("Arch", Composite{Main: "house.ifc"})
	if _, err := e.s.SetSchedule(ctx, e.master, c.ID, schedule.DailyAt(3, 0)); err != nil {
		t.Fatal(err)
	}
	if !c.Token.Expires.Equal(c.Token.Issued.Add(30 * 24 * time.Hour)) {
		t.Fatalf("token %+v", c.Token)
	}
	// Day 19: opening the page does not refresh (more than 10 days left).
	e.clock.Advance(19 * 24 * time.Hour)
	if n, _ := e.s.TouchTokens(ctx, e.master); n != 0 {
		t.Fatal("refreshed with 11 days left")
	}
	// Day 21: inside the last 10 days; the daily check warns once, opening refreshes.
	e.clock.Advance(2 * 24 * time.Hour)
	_ = e.s.CheckTokens(ctx)
	_ = e.s.CheckTokens(ctx)
	if l := kinds(e, notify.TokenExpiring); l != 1 {
		t.Fatalf("%d expiring notices", l)
	}
	if n, _ := e.s.TouchTokens(ctx, e.master); n != 1 {
		t.Fatal("not refreshed with 9 days left")
	}
	cur, _ := e.s.conn(c.ID)
	if !cur.Token.Expires.Equal(e.clock.Now().UTC().Add(30 * 24 * time.Hour)) {
		t.Fatalf("refreshed token %+v", cur.Token)
	}
	// 30 days on without the owner: a scheduled run fails with an authentication error.
	e.clock.Advance(30*24*time.Hour + time.Minute)
	r, err := e.s.Sync(ctx, e.master, c.ID, TriggerScheduled, nil)
	if !errors.Is(err, ErrTokenExpire) || r.Result != ResultFailed || r.Errors[0].Category != CategoryAuthentication {
		t.Fatalf("expired token: %v %+v", err, r)
	}
	_ = e.s.CheckTokens(ctx)
	if l := kinds(e, notify.TokenExpired); l != 1 {
		t.Fatalf("%d expired notices", l)
	}
	// A manual sync by the owner renews it.
	e.sync(c)
	if r, err := e.s.Sync(ctx, e.master, c.ID, TriggerScheduled, nil); err != nil || r.Result != ResultSuccess {
		t.Fatalf("scheduled run after renewal: %v %s", err, r.Result)
	}

	// Ownership: only to a user who has worked with the iModel, not while running.
	if err := e.acc.AddUser(ctx, e.master, account.NewUser{Name: "sam", Role: account.RoleServerAdmin, Password: "sam's password"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.s.SetOwner(ctx, e.master, c.ID, "sam"); err == nil || !strings.Contains(err.Error(), "who has worked with this iModel, and sam has not yet") {
		t.Fatalf("owner to a stranger: %v", err)
	}
	sam, _ := e.acc.ActAs(ctx, "sam")
	if err := e.s.Touch(ctx, sam, e.imodel); err != nil {
		t.Fatal(err)
	}
	_ = e.mgr.Update(func(tx *storage.Tx) error {
		cur, _ := connections.Get(tx, c.ID)
		cur.Running = "r"
		return connections.Put(tx, c.ID, cur)
	})
	if _, _, err := e.s.SetOwner(ctx, sam, c.ID, "sam"); !errors.Is(err, ErrRunning) {
		t.Fatalf("owner change while running: %v", err)
	}
	_ = e.mgr.Update(func(tx *storage.Tx) error {
		cur, _ := connections.Get(tx, c.ID)
		cur.Running = ""
		return connections.Put(tx, c.ID, cur)
	})
	c2, msg, err := e.s.SetOwner(ctx, sam, c.ID, "sam")
	if err != nil || c2.Owner != "sam" || !strings.Contains(msg, "Run Sync now as sam to renew the sync token") {
		t.Fatalf("take ownership: %v %q", err, msg)
	}
	// Scheduled runs now need sam's token: none until sam syncs.
	if _, err := e.s.Sync(ctx, e.master, c.ID, TriggerScheduled, nil); !errors.Is(err, ErrTokenExpire) {
		t.Fatalf("scheduled run right after the owner change: %v", err)
	}
	if r, err := e.s.Sync(ctx, sam, c.ID, TriggerManual, nil); err != nil || r.By != "sam" {
		t.Fatalf("sam's manual sync: %v", err)
	}
	if r, err := e.s.Sync(ctx, e.master, c.ID, TriggerScheduled, nil); err != nil || r.By != "sam" {
		t.Fatalf("scheduled run as sam: %v %+v", err, r)
	}
}

func kinds(e *env, k notify.Kind) int {
	l, _ := e.notify.List(context.Background(), e.master, false)
	n := 0
	for _, x := range l {
		if x.Kind == k {
			n++
		}
	}
	return n
}

// A connection whose design files live on Plinth's own file server: a new
// version of the file is a change, the same version is skipped without
// reading, and a missing file names the folder.
func TestFileServerSource(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b, err := os.ReadFile(filepath.Join(samples, "IfcOpenHouse_IFC4.ifc"))
	if err != nil {
		t.Fatal(err)
	}
	folder, err := e.files.MkdirAll(ctx, e.master, "/Tower/IFC")
	if err != nil {
		t.Fatal(err)
	}
	upload := func(content []byte) {
		if _, err := e.files.Upload(ctx, e.master, folder.ID, "house.ifc", bytes.NewReader(content), int64(len(content)), nil); err != nil {
			t.Fatal(err)
		}
	}
	upload(b)
	c, err := e.s.AddConnection(ctx, e.master, e.imodel, NewConnection{Name: "Arch",
		Source: Source{Kind: SourceFileServer, Path: "/Tower/IFC"}, Mapped: []Composite{{Main: "house.ifc"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := counts(e.sync(c)); got != "succeeded 47/0/0/0" {
		t.Fatalf("first sync: %s", got)
	}
	if got := counts(e.sync(c)); got != "unchanged 0/0/0/47" {
		t.Fatalf("same version: %s", got)
	}
	// A new version with one element fewer.
	i := bytes.Index(b, []byte("IFCFURNISHINGELEMENT("))
	if i < 0 {
		i = bytes.Index(b, []byte("IFCDOOR("))
	}
	start := bytes.LastIndexByte(b[:i], '\n') + 1
	end := i + bytes.IndexByte(b[i:], '\n') + 1
	upload(append(append([]byte{}, b[:start]...), b[end:]...))
	if got := counts(e.sync(c)); got != "succeeded 0/0/1/46" {
		t.Fatalf("new version without one element: %s", got)
	}
	if err := e.files.Delete(ctx, e.master, mustLookup(t, e, "/Tower/IFC/house.ifc"), nil); err != nil {
		t.Fatal(err)
	}
	r := e.sync(c)
	if r.Result != ResultFailed || r.Files[0].Errors[0].Category != CategorySource ||
		!strings.Contains(r.Files[0].Errors[0].Message, "there is no house.ifc in /Tower/IFC") {
		t.Fatalf("missing file: %+v", r.Files[0])
	}
	if e.stats().Elements != 46 {
		t.Fatalf("a missing file changed the iModel: %+v", e.stats())
	}
}

func mustLookup(t *testing.T, e *env, path string) string {
	t.Helper()
	n, err := e.files.Lookup(context.Background(), e.master, path)
	if err != nil {
		t.Fatal(err)
	}
	return n.ID
}

// Cancel during a run: the files finished before stay applied, the rest
// are left as they were, and the run says it was cancelled.
func TestCancelKeepsFinishedFiles(t *testing.T) {
	e := newEnv(t)
	e.sample("Sample_entities.ifc", "a.ifc")
	e.sample("IfcOpenHouse_IFC4.ifc", "b.ifc")
	e.sample("example.ifc", "c.ifc")
	c := e.connect("Three", Composite{Main: "a.ifc"}, Composite{Main: "b.ifc"}, Composite{Main: "c.ifc"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := e.s.Sync(ctx, e.master, c.ID, TriggerManual, func(p progress.Report) {
		if p.Item == "b.ifc" {
			cancel() // as the Cancel button does while b.ifc starts
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.State != "cancelled" || r.Files[0].State != StateSucceeded || r.Files[1].State != StateCancelled || r.Files[2].State != StateCancelled {
		t.Fatalf("cancelled run: %s, files %s %s %s", r.State, r.Files[0].State, r.Files[1].State, r.Files[2].State)
	}
	if st := e.stats(); st.Elements != 10 {
		t.Fatalf("after cancel the iModel holds %d elements, want a.ifc's 10", st.Elements)
	}
	sts, _ := e.s.FileStatuses(context.Background(), e.master, c.ID)
	for _, s := range sts {
		if s.File != "a.ifc" && s.State != StateCancelled {
			t.Fatalf("status of %s after cancel: %+v", s.File, s)
		}
	}
	// The next run finishes the job.
	if r := e.sync(c); r.Result != ResultSuccess || r.Files[0].State != StateUnchanged || r.Files[2].Inserted != 120 {
		t.Fatalf("run after cancel: %+v", r)
	}
}

// Deleting an iModel on the Projects page: refused while it has
// connections; once they are gone (their elements kept), deleting the
// iModel takes its elements, changesets and counts with it. A crash
// between the two is cleaned up by Recover.
func TestDeleteIModelNode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.sample("Sample_entities.ifc", "a.ifc")
	c := e.connect("A", Composite{Main: "a.ifc"})
	e.sync(c)
	err := e.files.Delete(ctx, e.master, e.imodel, nil)
	if err == nil || !strings.Contains(err.Error(), `still has 1 connection ("A"); delete them on the iModels page first`) {
		t.Fatalf("delete an iModel with a connection: %v", err)
	}
	if e.stats().Elements != 10 {
		t.Fatal("a refused delete changed the iModel")
	}
	if err := e.s.Delete(ctx, e.master, c.ID, false); err != nil { // keep its elements
		t.Fatal(err)
	}
	if err := e.files.Delete(ctx, e.master, e.imodel, nil); err != nil {
		t.Fatal(err)
	}
	left := 0
	_ = e.fs.View(func(tx *storage.Tx) error {
		for _, p := range []string{elements.Prefix(), scopes.Prefix(), changesets.Prefix(), stats.Prefix()} {
			_ = tx.ScanKeys([]byte(p+e.imodel), func([]byte) error { left++; return nil })
		}
		return nil
	})
	if left != 0 {
		t.Fatalf("%d records of the deleted iModel are left", left)
	}

	// A second iModel, deleted as if Plinth died before the purge.
	m2, err := e.s.Create(ctx, e.master, "/Tower", "Second")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := e.s.AddConnection(ctx, e.master, m2.ID, NewConnection{Name: "B", Source: Source{Kind: SourceDisk, Path: e.src}, Mapped: []Composite{{Main: "a.ifc"}}})
	if err != nil {
		t.Fatal(err)
	}
	e.sync(c2)
	_ = e.s.Delete(ctx, e.master, c2.ID, false)
	gone := e.files.IModelGone
	e.files.IModelGone = nil
	if err := e.files.Delete(ctx, e.master, m2.ID, nil); err != nil {
		t.Fatal(err)
	}
	e.files.IModelGone = gone
	if st, _ := e.s.Stats(m2.ID); st.Elements != 10 {
		t.Fatalf("test setup: the purge ran anyway (%d elements)", st.Elements)
	}
	if err := e.s.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.s.Stats(m2.ID); st.Elements != 0 {
		t.Fatalf("after Recover the deleted iModel still counts %d elements", st.Elements)
	}
}

// An iModel typed by its name alone (as in 'plinth connection ls
// Coordination') is found when the name is unique; otherwise the sentence
// says what to give instead, never that an item was removed.
func TestIModelByName(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	m, err := e.s.Get(ctx, e.master, "coordination")
	if err != nil || m.ID != e.imodel || m.Path != "/Tower/Coordination" {
		t.Fatalf("by name: %+v, %v", m, err)
	}
	if _, err := e.s.Get(ctx, e.master, "Nope"); err == nil || !strings.Contains(err.Error(), `there is no iModel named "Nope"`) {
		t.Fatalf("unknown name: %v", err)
	}
	if _, err := e.files.Create(ctx, e.master, files.RootID, "Bridge", files.KindProject); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Create(ctx, e.master, "/Bridge", "Coordination"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Get(ctx, e.master, "Coordination"); err == nil || !strings.Contains(err.Error(), "/Bridge/Coordination, /Tower/Coordination") && !strings.Contains(err.Error(), "/Tower/Coordination, /Bridge/Coordination") {
		t.Fatalf("two of one name: %v", err)
	}
}
