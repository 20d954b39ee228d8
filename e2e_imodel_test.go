package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The iModels issue's CLI contract through the real binary: ifc stats on
// every sample, imodel create/stats, connection add/sync/ls/report/rename/
// schedule/owner/map/unmap/rm, and the sync outcomes a user notices —
// a changed Name is one update, a broken file fails and changes nothing,
// an unchanged file is skipped.
func TestIModelCommandsEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	src := t.TempDir()
	env := []string{"PLINTH_PASSWORD=master password"}
	run := mustRun(t, dir, env)
	samples := filepath.Join("testdata", "ifc", "samples")
	copyTo := func(sample, name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(samples, sample))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// ifc stats on every sample gives the independent reader's counts.
	var expected map[string]struct {
		Schema              string
		Instances, Products int
	}
	b, err := os.ReadFile(filepath.Join(samples, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &expected); err != nil {
		t.Fatal(err)
	}
	for name, want := range expected {
		var st struct {
			Schema              string
			Instances, Elements int
			Seconds             float64
		}
		jsonOf(t, run("ifc", "stats", filepath.Join(samples, name), "--json"), &st)
		if st.Schema != want.Schema || st.Instances != want.Instances || st.Elements != want.Products || st.Seconds <= 0 {
			t.Fatalf("ifc stats %s = %+v, want %+v", name, st, want)
		}
	}
	broken := filepath.Join(t.TempDir(), "broken.ifc")
	_ = os.WriteFile(broken, []byte("ISO-10303-21;\nHEADER;\nFILE_SCHEMA(('IFC4'));\nENDSEC;\nDATA;\n#1=IFCWALL('x',$,;\nENDSEC;\n"), 0o644)
	if p := plinth(t, env, "", "-data", dir, "ifc", "stats", broken); p.code != 1 || !strings.Contains(p.stderr, "broken.ifc, line 6, column") {
		t.Fatalf("ifc stats on a broken file = %+v", p)
	}

	for arg, want := range map[string]string{
		filepath.Join(src, "none.ifc"): "There is no file " + filepath.Join(src, "none.ifc") + "\n",
		src:                            src + " is a folder, not an IFC file\n",
	} {
		if p := plinth(t, env, "", "-data", dir, "ifc", "stats", arg); p.code != 1 || p.stderr != want {
			t.Fatalf("ifc stats %s = %+v, want %q", arg, p, want)
		}
	}

	run("init")
	run("mkdir", "/Tower", "--kind", "project")
	run("imodel", "create", "/Tower", "Coordination")
	main := copyTo("example.ifc", "structure.ifc")
	copyTo("Sample_entities.ifc", "grid.ifc")
	run("connection", "add", "/Tower/Coordination", "Structure", "--source", src, "--map", "structure.ifc,grid.ifc")

	type syncOut struct {
		Result string
		Files  []struct {
			File                                  string
			State                                 string
			Inserted, Updated, Deleted, Unchanged int
			Warnings                              int
		}
	}
	var s syncOut
	jsonOf(t, run("connection", "sync", "/Tower/Coordination", "Structure", "--json"), &s)
	if s.Result != "Success" || len(s.Files) != 2 || s.Files[0].Inserted != 120 || s.Files[1].Inserted != 10 {
		t.Fatalf("first sync = %+v", s)
	}
	var st struct {
		Elements   int
		ByType     map[string]int
		Changesets int
	}
	jsonOf(t, run("imodel", "stats", "/Tower/Coordination", "--json"), &st)
	if st.Elements != 130 || st.Changesets != 1 || st.ByType["IfcWallStandardCase"] == 0 {
		t.Fatalf("stats after the first sync = %+v", st)
	}

	// Nothing changed: both files are skipped.
	jsonOf(t, run("connection", "sync", "/Tower/Coordination", "Structure", "--json"), &s)
	if s.Result != "Success" || s.Files[0].State != "unchanged" || s.Files[1].State != "unchanged" {
		t.Fatalf("sync of unchanged files = %+v", s)
	}

	// One wall renamed: one update.
	changed := strings.Replace(main, "'Basic Wall:150 Concrete:677248'", "'Basic Wall:150 Concrete:RENAMED'", 1)
	if err := os.WriteFile(filepath.Join(src, "structure.ifc"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	jsonOf(t, run("connection", "sync", "/Tower/Coordination", "Structure", "--json"), &s)
	if f := s.Files[0]; s.Result != "Success" || f.Inserted != 0 || f.Updated != 1 || f.Deleted != 0 || f.Unchanged != 119 {
		t.Fatalf("sync after one rename = %+v", s)
	}
	var found struct {
		Elements []struct{ GlobalID, Name, File string }
	}
	jsonOf(t, run("imodel", "search", "/Tower/Coordination", "RENAMED", "--json"), &found)
	if len(found.Elements) != 1 || found.Elements[0].Name != "Basic Wall:150 Concrete:RENAMED" || found.Elements[0].File != "structure.ifc" {
		t.Fatalf("search after the rename = %+v", found)
	}

	// A broken re-export: Failed, exit 1 with the file and line, nothing changed.
	if err := os.WriteFile(filepath.Join(src, "structure.ifc"), []byte(changed[:len(changed)/2]), 0o644); err != nil {
		t.Fatal(err)
	}
	p := plinth(t, env, "", "-data", dir, "connection", "sync", "/Tower/Coordination", "Structure", "--json")
	if p.code != 1 {
		t.Fatalf("sync of a broken file exited %d: %s", p.code, p.stderr)
	}
	jsonOf(t, p, &s)
	if s.Result != "PartialSuccess" && s.Result != "Failed" || s.Files[0].State != "failed" {
		t.Fatalf("sync of a broken file = %+v", s)
	}
	jsonOf(t, run("imodel", "stats", "/Tower/Coordination", "--json"), &st)
	if st.Elements != 130 || st.Changesets != 2 {
		t.Fatalf("a failed sync changed the iModel: %+v", st)
	}
	// The report, as CSV, names the file and says the user can fix it.
	rep := run("connection", "report", "/Tower/Coordination", "Structure", "--csv")
	rows, err := csv.NewReader(strings.NewReader(rep.out)).ReadAll()
	if err != nil || len(rows) < 2 || !strings.Contains(rep.out, "structure.ifc") || !strings.Contains(rep.out, "InvalidFile") {
		t.Fatalf("report CSV (%v):\n%s", err, rep.out)
	}

	// Management.
	run("connection", "rename", "/Tower/Coordination", "Structure", "Structural")
	run("connection", "schedule", "/Tower/Coordination", "Structural", "weekly", "fri", "18:30")
	if p := plinth(t, env, "", "-data", dir, "connection", "schedule", "/Tower/Coordination", "Structural", "every-1h"); p.code == 0 ||
		!strings.Contains(p.stderr, "every 4 hours") {
		t.Fatalf("every-1h = %+v", p)
	}
	var ls struct {
		Connections []struct {
			Name     string
			Owner    string
			Schedule struct{ Kind string }
			Files    []struct{ File, State, Reason string }
		}
	}
	jsonOf(t, run("connection", "ls", "/Tower/Coordination", "--json"), &ls)
	conns := ls.Connections
	if len(conns) != 1 || conns[0].Name != "Structural" || conns[0].Schedule.Kind != "weekly" || conns[0].Owner != "masteradmin" ||
		len(conns[0].Files) != 2 || conns[0].Files[0].State != "failed" || conns[0].Files[0].Reason == "" {
		t.Fatalf("connection ls = %+v", conns)
	}
	// Ownership only goes to someone who has worked with the iModel.
	if pp := plinth(t, append(env, "PLINTH_NEW_PASSWORD=sam's password"), "", "-data", dir, "user", "add", "sam", "--role", "project-admin"); pp.code != 0 {
		t.Fatalf("user add: %+v", pp)
	}
	if p := plinth(t, env, "", "-data", dir, "connection", "owner", "/Tower/Coordination", "Structural", "sam"); p.code != 1 ||
		!strings.Contains(p.stderr, "a user who has worked with this iModel, and sam has not yet") {
		t.Fatalf("owner → sam = %+v", p)
	}
	// A reference file cannot be unmapped alone.
	if p := plinth(t, env, "", "-data", dir, "connection", "unmap", "/Tower/Coordination", "Structural", "grid.ifc", "--keep-elements"); p.code == 0 {
		t.Fatalf("unmapping a reference alone succeeded: %+v", p)
	}
	copyTo("IfcOpenHouse_IFC4.ifc", "house.ifc")
	run("connection", "map", "/Tower/Coordination", "Structural", "house.ifc")
	copyTo("example.ifc", "structure.ifc")
	jsonOf(t, run("connection", "sync", "/Tower/Coordination", "Structural", "--json"), &s)
	if s.Result != "Success" || len(s.Files) != 3 || s.Files[2].Inserted != 47 || s.Files[0].Updated != 1 {
		t.Fatalf("sync after map = %+v", s)
	}
	// imodel sync runs every connection: nothing changed since.
	var all struct {
		Connections []struct {
			Connection, Result string
			Files              []struct{ State string }
		}
	}
	jsonOf(t, run("imodel", "sync", "/Tower/Coordination", "--json"), &all)
	if len(all.Connections) != 1 || all.Connections[0].Connection != "Structural" || all.Connections[0].Result != "Success" ||
		len(all.Connections[0].Files) != 3 || all.Connections[0].Files[2].State != "unchanged" {
		t.Fatalf("imodel sync = %+v", all)
	}
	run("connection", "unmap", "/Tower/Coordination", "Structural", "house.ifc", "--delete-elements")
	jsonOf(t, run("imodel", "stats", "/Tower/Coordination", "--json"), &st)
	if st.Elements != 130 {
		t.Fatalf("after unmapping house.ifc with its elements: %+v", st)
	}
	run("connection", "rm", "/Tower/Coordination", "Structural", "--delete-elements")
	st.ByType = nil // Unmarshal adds to a map it is given
	jsonOf(t, run("imodel", "stats", "/Tower/Coordination", "--json"), &st)
	jsonOf(t, run("connection", "ls", "/Tower/Coordination", "--json"), &ls)
	if st.Elements != 0 || len(st.ByType) != 0 || len(ls.Connections) != 0 {
		t.Fatalf("after rm --delete-elements: %+v, %d connections", st, len(ls.Connections))
	}
}
