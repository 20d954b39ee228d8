package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The synthetic next format (build tag plinth_next): data format 3, with
// a trivial migration, built as Plinth 0.4-next. The binary of this
// package (binary, Plinth "dev") is the older Plinth.
const nextVersion = "0.4-next"

var (
	nextOnce   sync.Once
	nextBinary string
	nextErr    error
)

func buildNext(t *testing.T) string {
	t.Helper()
	nextOnce.Do(func() {
		nextBinary = filepath.Join(filepath.Dir(binary), "plinth-next")
		cmd := exec.Command("go", "build", "-tags", "migrated_fynedo,plinth_next",
			"-ldflags", "-X codeberg.org/plinth/plinth/app.Version="+nextVersion, "-o", nextBinary, ".")
		out, err := cmd.CombinedOutput()
		if err != nil {
			nextErr = fmt.Errorf("build the next format's Plinth: %v\n%s", err, out)
		}
	})
	if nextErr != nil {
		t.Fatal(nextErr)
	}
	return nextBinary
}

// runWith runs a Plinth binary like plinth does.
func runWith(t *testing.T, bin string, env []string, args ...string) proc {
	t.Helper()
	saved := binary
	binary = bin
	defer func() { binary = saved }()
	return plinth(t, env, "", args...)
}

// folderSum hashes every file and folder below dir: names, modes, sizes
// and contents.
func folderSum(t *testing.T, dir string) (string, []string) {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		line := fmt.Sprintf("%s %v %d", rel, fi.Mode(), fi.Size())
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			line += " " + hex.EncodeToString(sum[:])
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(h[:]), lines
}

// officeData sets up a data folder with the older Plinth: users, files in
// a project, and a full backup.
func officeData(t *testing.T) (dir string, env []string, src string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "data")
	src = t.TempDir()
	env = []string{"PLINTH_PASSWORD=master password", "PLINTH_NEW_PASSWORD=master password", "PLINTH_SMTP_PASSWORD=smtp password"}
	for i := range 6 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("sheet-%d.pdf", i)), []byte(strings.Repeat(fmt.Sprintf("sheet %d\n", i), 500*(i+1))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"init"},
		{"mkdir", "/Tower", "--kind", "project"},
		{"import", "--to", "/Tower", src},
		{"smtp", "set", "--host", "127.0.0.1", "--port", "2525", "--security", "starttls", "--user", "plinth", "--from", "plinth@example.test"},
		{"backup", "--level", "2"},
	} {
		if p := plinth(t, env, "", append([]string{"-data", dir, "-user", "masteradmin"}, args...)...); p.code != 0 {
			t.Fatalf("%v: %+v", args, p)
		}
	}
	return dir, env, src
}

type formatStatus struct {
	Format     int
	FormatBy   string
	Manager    struct{ Format int }
	Fileserver struct{ Format int }
}

func statusOf(t *testing.T, bin, dir string, env []string) (formatStatus, proc) {
	t.Helper()
	p := runWith(t, bin, env, "-data", dir, "-user", "masteradmin", "status", "--json")
	var st formatStatus
	if p.code == 0 {
		if err := json.Unmarshal([]byte(p.out), &st); err != nil {
			t.Fatalf("status --json: %v\n%s", err, p.out)
		}
	}
	return st, p
}

// An older Plinth refuses data a newer one upgraded, with one sentence
// that names both versions and the backup to go back to, and changes not a
// byte of the folder, whatever it was asked to do.
func TestOlderPlinthRefusesNewerData(t *testing.T) {
	next := buildNext(t)
	dir, env, src := officeData(t)
	st, p := statusOf(t, next, dir, env)
	if p.code != 0 || st.Format != 3 || st.Manager.Format != 3 || st.Fileserver.Format != 3 || st.FormatBy != nextVersion {
		t.Fatalf("the next Plinth's upgrade: %+v %+v", st, p)
	}
	var ff struct {
		Upgrades []struct {
			Backup struct{ ID string }
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "format.json"))
	if err := json.Unmarshal(b, &ff); err != nil || len(ff.Upgrades) != 1 || ff.Upgrades[0].Backup.ID == "" {
		t.Fatalf("format.json: %s", b)
	}
	sum, _ := folderSum(t, dir)
	want := "This data was written by Plinth " + nextVersion + " (data format 3); this is Plinth dev, which reads data formats up to 2 — install Plinth " + nextVersion +
		" or newer, or restore the backup taken before the upgrade on "
	for _, args := range [][]string{
		{"status"},
		{"status", "--json"},
		{"ls", "/Tower"},
		{"import", "--to", "/Tower", src},
		{"backup", "--level", "2"},
		{"prune"},
		{"check"},
		{"sync-files", "--yes"},
		{"init"},
	} {
		p := plinth(t, env, "", append([]string{"-data", dir, "-user", "masteradmin"}, args...)...)
		if p.code != 1 || p.out != "" || !strings.HasPrefix(p.stderr, want) || !strings.Contains(p.stderr, "'plinth restore "+ff.Upgrades[0].Backup.ID+" --scope all'") ||
			strings.Count(p.stderr, "\n") != 1 {
			t.Errorf("older Plinth, %v = %+v\nwant exit 1 and %s…", args, p, want)
		}
	}
	if after, _ := folderSum(t, dir); after != sum {
		t.Fatal("the older Plinth changed the newer data folder")
	}

	// A full backup the newer Plinth took holds newer data: the older
	// Plinth will not restore it over a data folder of its own.
	p = runWith(t, next, env, "-data", dir, "-user", "masteradmin", "backup", "--level", "2", "--json")
	var nb struct{ ID string }
	if err := json.Unmarshal([]byte(p.out), &nb); p.code != 0 || err != nil {
		t.Fatalf("the next Plinth's backup: %+v", p)
	}
	newest := nb.ID
	mine, _, _ := officeData(t)
	entries, _ := os.ReadDir(filepath.Join(dir, "backups", "full"))
	for _, e := range entries { // with the chain it continues
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			copyDir(t, filepath.Join(dir, "backups", "full", e.Name()), filepath.Join(mine, "backups", "full", e.Name()))
		}
	}
	gens := func() string {
		p := plinth(t, env, "", "-data", mine, "-user", "masteradmin", "status", "--json")
		var st struct {
			Manager, Fileserver struct{ Identity, Generation any }
		}
		_ = json.Unmarshal([]byte(p.out), &st)
		return fmt.Sprint(st)
	}
	before := gens()
	p = plinth(t, env, "", "-data", mine, "-user", "masteradmin", "restore", newest, "--scope", "all", "--yes")
	if p.code != 1 || !strings.Contains(p.stderr, "holds data that was written by Plinth "+nextVersion+" (data format 3); this Plinth reads data formats up to 2") {
		t.Fatalf("older Plinth restoring a newer backup = %+v", p)
	}
	if after := gens(); after != before {
		t.Fatalf("the refused restore replaced a store: %s, was %s", after, before)
	}

	// The way back: the older Plinth restores the backup taken before the
	// upgrade in place of the newer data, which it moves aside whole.
	back := ff.Upgrades[0].Backup.ID
	p = plinth(t, env, "", "-data", dir, "-user", "masteradmin", "restore", back, "--scope", "all")
	if p.code != 2 || !strings.Contains(p.out, "moved, whole, into a folder newer-data-") {
		t.Fatalf("restore without --yes = %+v", p)
	}
	p = plinth(t, []string{"PLINTH_PASSWORD=wrong password"}, "", "-data", dir, "-user", "masteradmin", "restore", back, "--scope", "all", "--yes")
	if p.code != 1 || !strings.Contains(p.stderr, "does not let masteradmin in") {
		t.Fatalf("restore with a wrong password = %+v", p)
	}
	p = plinth(t, env, "", "-data", dir, "-user", "masteradmin", "restore", back, "--scope", "all", "--yes", "--json")
	var res struct {
		Aside  string
		Format int
	}
	if err := json.Unmarshal([]byte(p.out), &res); p.code != 0 || err != nil || res.Format != 2 || !strings.HasPrefix(res.Aside, filepath.Join(dir, "newer-data-")) {
		t.Fatalf("the way back = %+v", p)
	}
	st, p = statusOf(t, binary, dir, env)
	if p.code != 0 || st.Format != 2 || st.Manager.Format != 2 || st.Fileserver.Format != 2 {
		t.Fatalf("the older Plinth after going back: %+v %+v", st, p)
	}
	out := t.TempDir()
	if p := plinth(t, env, "", "-data", dir, "-user", "masteradmin", "export", "/Tower", out); p.code != 0 {
		t.Fatalf("export after going back: %+v", p)
	}
	wantSameFiles(t, src, filepath.Join(out, "Tower", filepath.Base(src)))
	// The older Plinth's backups from here on stand on their own: the
	// first is a full one, it verifies, and its prune leaves the newer
	// Plinth's backups (the only ones of the newer data) where they are.
	p = plinth(t, env, "", "-data", dir, "-user", "masteradmin", "backup", "--level", "2", "--json")
	var ob struct{ ID, Type string }
	if err := json.Unmarshal([]byte(p.out), &ob); p.code != 0 || err != nil || ob.Type != "full" {
		t.Fatalf("the older Plinth's first backup after going back: %+v", p)
	}
	if p := plinth(t, env, "", "-data", dir, "-user", "masteradmin", "verify", ob.ID); p.code != 0 {
		t.Fatalf("verify %s: %+v", ob.ID, p)
	}
	if p := plinth(t, env, "", "-data", dir, "-user", "masteradmin", "prune"); p.code != 0 {
		t.Fatalf("prune: %+v", p)
	}
	if _, err := os.Stat(filepath.Join(dir, "backups", "full", newest, "manifest.json")); err != nil {
		t.Fatalf("the older Plinth pruned the newer Plinth's backup: %v", err)
	}
	// The newer data is whole where it was put: the newer Plinth opens it.
	for _, f := range []string{"secret.key", "backup-targets.json", "format.json"} {
		if !exists(filepath.Join(res.Aside, f)) {
			t.Errorf("%s is not beside the newer data", f)
		}
	}
	st, p = statusOf(t, next, res.Aside, env)
	if p.code != 0 || st.Format != 3 {
		t.Fatalf("the newer data put aside: %+v %+v", st, p)
	}
}

// wantSameFiles compares the files of two folders by name and content.
func wantSameFiles(t *testing.T, want, got string) {
	t.Helper()
	entries, _ := os.ReadDir(want)
	for _, e := range entries {
		w, _ := os.ReadFile(filepath.Join(want, e.Name()))
		g, err := os.ReadFile(filepath.Join(got, e.Name()))
		if err != nil || string(g) != string(w) {
			t.Fatalf("%s: %v", e.Name(), err)
		}
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An upgrade killed at any of its steps leaves a folder that an older
// Plinth either opens as it was (untouched) or refuses without changing a
// byte; the next start of the newer Plinth finishes it, once.
func TestUpgradeKilledAtEveryStep(t *testing.T) {
	next := buildNext(t)
	base, env, src := officeData(t)
	p := runWith(t, next, nil, "version", "--json")
	var v struct {
		Migrations []struct {
			Name string
			To   int
		}
	}
	if err := json.Unmarshal([]byte(p.out), &v); err != nil {
		t.Fatal(err)
	}
	points := []string{"backup", "journal"}
	for _, m := range v.Migrations {
		if m.To == 3 {
			points = append(points, m.Name)
		}
	}
	points = append(points, "stores", "format")
	if len(points) != 7 {
		t.Fatalf("points %v", points)
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			copyDir(t, base, dir)
			p := runWith(t, next, append(env, "PLINTH_UPGRADE_KILL="+point), "-data", dir, "-user", "masteradmin", "status")
			if p.code != -1 {
				t.Fatalf("the upgrade was not killed at %q: %+v", point, p)
			}
			// The older Plinth: untouched data opens, anything else is
			// refused and left as it is.
			sum, _ := folderSum(t, dir)
			st, p := statusOf(t, binary, dir, env)
			switch {
			case p.code == 0:
				if st.Format != 2 || st.Manager.Format != 2 || st.Fileserver.Format != 2 || exists(filepath.Join(dir, "next-format.txt")) {
					t.Fatalf("the older Plinth opened a half-upgraded folder: %+v", st)
				}
			case strings.HasPrefix(p.stderr, "This data was written by Plinth "+nextVersion+" (data format 3)"):
				if after, _ := folderSum(t, dir); after != sum {
					t.Fatal("the older Plinth changed the folder it refused")
				}
			default:
				t.Fatalf("the older Plinth after a kill at %q: %+v", point, p)
			}
			// The newer Plinth finishes the upgrade.
			st, p = statusOf(t, next, dir, env)
			if p.code != 0 || st.Format != 3 || st.Manager.Format != 3 || st.Fileserver.Format != 3 {
				t.Fatalf("after a kill at %q, the next start: %+v %+v", point, st, p)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "next-format.txt")); err != nil || !strings.Contains(string(b), "migrated") {
				t.Fatalf("the folder step did not run: %v", err)
			}
			if exists(filepath.Join(dir, "upgrade-journal.json")) {
				t.Fatal("the journal is left")
			}
			var ff struct{ Upgrades []struct{ From, To int } }
			b, _ := os.ReadFile(filepath.Join(dir, "format.json"))
			if err := json.Unmarshal(b, &ff); err != nil || len(ff.Upgrades) != 1 || ff.Upgrades[0].From != 2 || ff.Upgrades[0].To != 3 {
				t.Fatalf("format.json after a kill at %q: %s", point, b)
			}
			if p := runWith(t, next, env, "-data", dir, "-user", "masteradmin", "check"); p.code != 0 {
				t.Fatalf("check: %+v", p)
			}
			out := t.TempDir()
			if p := runWith(t, next, env, "-data", dir, "-user", "masteradmin", "export", "/Tower", out); p.code != 0 {
				t.Fatalf("export: %+v", p)
			}
			wantSameFiles(t, src, filepath.Join(out, "Tower", filepath.Base(src)))
		})
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
