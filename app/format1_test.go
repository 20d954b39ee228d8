package app

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
	"codeberg.org/plinth/plinth/storage/fsys/disktest"
)

// format1 is what testdata/format1/expected.json says the fixture holds.
type format1 struct {
	Passwords map[string]string `json:"passwords"`
	Users     []struct {
		Name, Role, Email string
	} `json:"users"`
	SMTP struct {
		Host, User, From string
		Port             int
	} `json:"smtp"`
	Files  []fixtureFile `json:"files"`
	IModel struct {
		Path                       string
		Elements, Changesets       int
		Connection, Source, Mapped string
	} `json:"imodel"`
	Level2 map[string]struct {
		ID    string        `json:"id"`
		Files []fixtureFile `json:"files"`
	} `json:"level2"`
	Snapshots map[string]struct{ ID, Item string } `json:"snapshots"`
	Archive   struct{ File, ID, Item string }      `json:"archive"`
}

type fixtureFile struct {
	Path     string   `json:"path"`
	Size     int64    `json:"size"`
	SHA256   string   `json:"sha256"`
	Versions []string `json:"versions"`
}

// copyTree copies the folder src into dst, as a checkout gives it.
func copyTree(t *testing.T, src, dst string) {
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

// openFixture copies the format-1 fixture into a temporary folder and
// reads what it holds.
func openFixture(t *testing.T) (root string, exp format1) {
	t.Helper()
	root = t.TempDir()
	copyTree(t, filepath.Join("..", "testdata", "format1"), root)
	b, err := os.ReadFile(filepath.Join(root, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	return root, exp
}

// exportedFiles exports a folder and returns each file's path on the
// Projects page with its SHA-256.
func exportedFiles(t *testing.T, dir string, env map[string]string, folder string) map[string]string {
	t.Helper()
	dest := t.TempDir()
	if r := run(t, dir, env, "", "export", folder, dest); r.code != 0 {
		t.Fatalf("export %s: %+v", folder, r)
	}
	got := map[string]string{}
	_ = filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dest, p)
		sum := sha256.Sum256(b)
		got[path.Join(path.Dir(folder), filepath.ToSlash(rel))] = hex.EncodeToString(sum[:])
		return nil
	})
	return got
}

func wantFiles(t *testing.T, what string, got map[string]string, want []fixtureFile, prefix string) {
	t.Helper()
	w := map[string]string{}
	for _, f := range want {
		if strings.HasPrefix(f.Path, prefix+"/") {
			w[f.Path] = f.SHA256
		}
	}
	if len(got) != len(w) {
		t.Errorf("%s: %d files, want %d", what, len(got), len(w))
	}
	if t.Failed() {
		t.Logf("%s: got %v", what, got)
	}
	for p, sum := range w {
		if got[p] != sum {
			t.Errorf("%s: %s has sha256 %q, want %s", what, p, got[p], sum)
		}
	}
}

// The data folder Plinth wrote before it had format versions opens,
// migrates once, and still holds every user, file, version, iModel,
// backup and snapshot: each verifies and restores, the old backups are
// upgraded on the way in, and the snapshot archive imports.
func TestFormat1FixtureOpensMigratesVerifiesAndRestores(t *testing.T) {
	root, exp := openFixture(t)
	dir := filepath.Join(root, "data")
	as := func(user string) map[string]string {
		return map[string]string{"PLINTH_PASSWORD": exp.Passwords[user]}
	}
	m := as("masteradmin")

	// The first start says what it does, backs up, then upgrades.
	r := run(t, dir, m, "", "status", "--json")
	if r.code != 0 || !strings.Contains(r.err, "upgrading the data folder "+dir+" from format 1 to "+fmt.Sprint(upgrade.Data)) ||
		!strings.Contains(r.err, "takes a full backup first") {
		t.Fatalf("first start: %+v", r)
	}
	var st Status
	if err := json.Unmarshal([]byte(r.out), &st); err != nil {
		t.Fatal(err)
	}
	versions := 0
	for _, f := range exp.Files {
		versions += max(1, len(f.Versions))
	}
	if st.Format != upgrade.Data || st.Manager.Format != upgrade.Data || st.FileServer.Format != upgrade.Data ||
		st.Users != len(exp.Users) || st.Manager.Files != int64(versions) || st.FileServer.Files != int64(versions) {
		t.Fatalf("status after the upgrade: %+v", st)
	}
	fst, err := readFormat(dir)
	if err != nil || len(fst.File.Upgrades) != 1 || fst.File.Upgrades[0].From != 1 || fst.File.Upgrades[0].Backup.ID == "" || fst.Journal != nil {
		t.Fatalf("format.json after the upgrade: %+v, %v", fst, err)
	}
	before := fst.File.Upgrades[0].Backup.ID
	// Once: the next start upgrades nothing.
	if r := run(t, dir, m, "", "status"); r.code != 0 || r.err != "" {
		t.Fatalf("second start: %+v", r)
	}

	// Users, with their roles, addresses and passwords.
	r = run(t, dir, m, "", "user", "list", "--json")
	var users struct {
		Users []struct{ Name, Role, Email string }
	}
	if err := json.Unmarshal([]byte(r.out), &users); err != nil || len(users.Users) != len(exp.Users) {
		t.Fatalf("users: %+v %v", r, err)
	}
	for i, u := range exp.Users {
		if got := users.Users[i]; got != u {
			t.Errorf("user %d: %+v, want %+v", i, got, u)
		}
		if r := run(t, dir, as(u.Name), "", "-user", u.Name, "notifications"); r.code != 0 {
			t.Errorf("%s cannot log in with the password of the fixture: %+v", u.Name, r)
		}
	}

	// Every file with its versions, byte for byte.
	wantFiles(t, "after the upgrade", exportedFiles(t, dir, m, "/Office"), exp.Files, "/Office")
	for _, f := range exp.Files {
		if len(f.Versions) == 0 {
			continue
		}
		r := run(t, dir, m, "", "versions", f.Path, "--json")
		var v struct {
			Versions []struct {
				Hash string
				Size int64
			}
		}
		_ = json.Unmarshal([]byte(r.out), &v)
		// A version's hash is SHA-256 over its chunks' SHA-256 and its
		// size; these are one chunk each.
		var got, want []string
		for i, x := range v.Versions {
			got = append(got, x.Hash)
			if i < len(f.Versions) {
				raw, _ := hex.DecodeString(f.Versions[i])
				h := sha256.Sum256(binary.BigEndian.AppendUint64(raw, uint64(x.Size)))
				want = append(want, hex.EncodeToString(h[:]))
			}
		}
		if len(got) != len(f.Versions) || !slices.Equal(got, want) {
			t.Errorf("versions of %s: %v, want %v (of contents %v)", f.Path, got, want, f.Versions)
		}
	}
	if r := run(t, dir, m, "", "check", "--deep"); r.code != 0 {
		t.Fatalf("check --deep: %+v", r)
	}

	// The iModel and its connection.
	r = run(t, dir, m, "", "imodel", "stats", exp.IModel.Path, "--json")
	var stats struct{ Elements, Changesets int }
	if err := json.Unmarshal([]byte(r.out), &stats); err != nil || stats.Elements != exp.IModel.Elements || stats.Changesets != exp.IModel.Changesets {
		t.Fatalf("imodel stats: %+v %v", r, err)
	}
	r = run(t, dir, m, "", "connection", "ls", exp.IModel.Path)
	if r.code != 0 || !strings.Contains(r.out, exp.IModel.Connection) || !strings.Contains(r.out, exp.IModel.Source) || !strings.Contains(r.out, exp.IModel.Mapped) {
		t.Fatalf("connection ls: %+v", r)
	}

	// The e-mail settings.
	func() {
		a, err := Open(context.Background(), Config{DataDir: dir, MustExist: true})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		c, err := a.Notify.SMTPSettings(context.Background())
		if err != nil || c.Host != exp.SMTP.Host || c.Port != exp.SMTP.Port || c.User != exp.SMTP.User || c.From != exp.SMTP.From {
			t.Fatalf("SMTP settings: %+v, %v", c, err)
		}
		// History keeps the upgrade with the backup taken before it.
		master, _ := a.Accounts.ActAs(context.Background(), "masteradmin")
		hist, err := a.Backups.History(context.Background(), master)
		n := 0
		for _, r := range hist {
			if r.Type == backup.TypeUpgrade && r.OK && strings.Contains(r.Item, "data format 1 → "+fmt.Sprint(upgrade.Data)+", backup "+before) {
				n++
			}
		}
		if err != nil || n != 1 {
			t.Fatalf("History holds %d upgrades (%v): %+v", n, err, hist)
		}
	}()

	// Every backup of the fixture, and the one taken before the upgrade,
	// verifies.
	ids := []string{exp.Level2["full"].ID, exp.Level2["incremental"].ID, before}
	for _, s := range exp.Snapshots {
		ids = append(ids, s.ID)
	}
	for _, id := range ids {
		if r := run(t, dir, m, "", "verify", id); r.code != 0 {
			t.Errorf("verify %s: %+v", id, r)
		}
	}

	// Old full backups restore, and are upgraded on the way in.
	for _, which := range []string{"full", "incremental"} {
		b := exp.Level2[which]
		if r := run(t, dir, m, "", "restore", b.ID, "--scope", "all", "--yes"); r.code != 0 {
			t.Fatalf("restore the %s backup: %+v", which, r)
		}
		wantFiles(t, "restored "+which, exportedFiles(t, dir, m, "/Office"), b.Files, "/Office")
		var st Status
		r := run(t, dir, m, "", "status", "--json")
		if err := json.Unmarshal([]byte(r.out), &st); err != nil || st.Manager.Format != upgrade.Data || st.FileServer.Format != upgrade.Data {
			t.Fatalf("formats after restoring the %s backup: %+v", which, r)
		}
		if r := run(t, dir, m, "", "check"); r.code != 0 {
			t.Fatalf("check after restoring the %s backup: %+v", which, r)
		}
	}

	// A snapshot rolls its project back; another becomes a new library.
	tb := exp.Snapshots["towerBefore"]
	if r := run(t, dir, m, "", "restore", tb.ID, "--yes"); r.code != 0 {
		t.Fatalf("roll back %s: %+v", tb.Item, r)
	}
	wantFiles(t, "rolled back", exportedFiles(t, dir, m, tb.Item), exp.Level2["full"].Files, tb.Item)
	lib := exp.Snapshots["library"]
	if r := run(t, dir, m, "", "restore", lib.ID, "--as-new", "Library again", "--yes"); r.code != 0 {
		t.Fatalf("restore %s as new: %+v", lib.Item, r)
	}
	// The archive imports as a new project with the newest files.
	if r := run(t, dir, m, "", "snapshot-import", filepath.Join(root, exp.Archive.File), "--as", "Tower again"); r.code != 0 {
		t.Fatalf("snapshot-import: %+v", r)
	}
	tower := map[string]string{}
	for p, sum := range exportedFiles(t, dir, m, "/Tower again") {
		tower["/Office/Tower"+strings.TrimPrefix(p, "/Tower again")] = sum
	}
	wantFiles(t, "imported archive", tower, exp.Files, "/Office/Tower")
	library := map[string]string{}
	for p, sum := range exportedFiles(t, dir, m, "/Library again") {
		library["/Office/Library"+strings.TrimPrefix(p, "/Library again")] = sum
	}
	wantFiles(t, "library restored as new", library, exp.Files, "/Office/Library")
}

func readFormat(dir string) (upgrade.State, error) {
	return upgrade.Read(fsys.OS, dir, storage.Exists(storage.Path(dir, storage.Manager)))
}

// An old data folder on a disk without room for the backup an upgrade
// starts with is refused with a sentence, and its stores are left as
// they were.
func TestUpgradeWithoutSpaceIsRefused(t *testing.T) {
	disk := disktest.Sized(t, storage.Reserve+8<<20)
	root, exp := openFixture(t)
	dir := filepath.Join(disk, "data")
	copyTree(t, filepath.Join(root, "data"), dir)
	disktest.Fill(t, disk)
	before, _ := treeSums(t, dir)
	r := run(t, dir, map[string]string{"PLINTH_PASSWORD": exp.Passwords["masteradmin"]}, "", "status")
	if r.code != 1 || !strings.Contains(r.err, "needs an upgrade from format 1 to "+fmt.Sprint(upgrade.Data)+" before Plinth can use it, and nothing was changed") ||
		!strings.Contains(r.err, "free some space and try again") {
		t.Fatalf("status on a full disk: %+v", r)
	}
	after, _ := treeSums(t, dir)
	for p, sum := range before {
		if after[p] != sum && !strings.HasPrefix(p, "logs/") && p != "plinth.lock" {
			t.Errorf("%s changed", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok && !strings.HasPrefix(p, "logs/") && p != "plinth.lock" {
			t.Errorf("%s was written", p)
		}
	}
}

// treeSums hashes every file below dir by its slash-separated path.
func treeSums(t *testing.T, dir string) (map[string]string, error) {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sum := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	return out, err
}
