package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/storage"
)

// withData sets up a data folder holding a project with three files and a
// full backup of it, and returns the folder and the backup's id.
func withData(t *testing.T) (dir, backupID string) {
	t.Helper()
	dir = initialised(t)
	src := filepath.Join(t.TempDir(), "Data")
	if err := os.MkdirAll(src, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%d.txt", i)), []byte(fmt.Sprint("file ", i)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"mkdir", "/Tower", "--kind", "project"}, {"import", "--to", "/Tower", src}} {
		if r := run(t, dir, master, "", args...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	r := run(t, dir, master, "", "backup", "--level", "2")
	id := regexp.MustCompile(`\d{8}-\d{6}-[0-9a-f]{6}`).FindString(r.out)
	if r.code != 0 || id == "" {
		t.Fatalf("backup: %+v", r)
	}
	return dir, id
}

// folderSums is every file under dir with the SHA-256 of its content, one
// line each.
func folderSums(t *testing.T, dir string) string {
	t.Helper()
	sums, err := treeSums(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rel, sum := range sums {
		out = append(out, filepath.FromSlash(rel)+" "+sum)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func firstTable(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(m) == 0 {
		t.Fatalf("no table in %s", dir)
	}
	sort.Strings(m)
	return m[len(m)-1]
}

// A damaged Manager store is never opened as empty or set up anew: status,
// init, a command and the window's open path all refuse with the sentence
// that names the store and the newest backup, and the store's files stay
// exactly as they were (Badger would have deleted the tables).
func TestDamagedManagerIsNeverSetUpAnew(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, mgr string)
		reason string
	}{
		{"MANIFEST cut to 20 bytes", func(t *testing.T, mgr string) {
			if err := os.Truncate(filepath.Join(mgr, "MANIFEST"), 20); err != nil {
				t.Fatal(err)
			}
		}, "its MANIFEST file is cut short and lists no tables, but "},
		{"MANIFEST deleted", func(t *testing.T, mgr string) {
			if err := os.Remove(filepath.Join(mgr, "MANIFEST")); err != nil {
				t.Fatal(err)
			}
		}, "its MANIFEST file is missing"},
		{"a table deleted", func(t *testing.T, mgr string) {
			if err := os.Remove(firstTable(t, mgr)); err != nil {
				t.Fatal(err)
			}
		}, ".sst listed in its MANIFEST is missing"},
		{"8 bytes flipped in a table", func(t *testing.T, mgr string) {
			f, err := os.OpenFile(firstTable(t, mgr), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := f.Stat()
			_, _ = f.WriteAt([]byte{0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef}, fi.Size()/3)
			_ = f.Close()
		}, ".sst does not match its checksums"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, id := withData(t)
			mgr := filepath.Join(dir, "manager")
			tt.damage(t, mgr)
			before := folderSums(t, mgr)
			want := "The Manager store in " + mgr + " is damaged: "
			for _, args := range [][]string{{"status"}, {"init"}, {"ls", "/Tower"}, {"check"}} {
				r := run(t, dir, master, "", args...)
				if r.code != 1 || !strings.HasPrefix(r.err, want) || !strings.Contains(r.err, tt.reason) ||
					!strings.Contains(r.err, "; restore it from a backup: the newest is "+id+", taken ") ||
					strings.Count(r.err, "\n") != 1 || r.out != "" {
					t.Fatalf("%v = %+v\nwant exit 1 and one line: %s…%s…; restore it from a backup: the newest is %s…", args, r, want, tt.reason, id)
				}
			}
			_, err := Open(context.Background(), Config{DataDir: dir, LogToStderr: true})
			if !errors.Is(err, storage.ErrDamaged) {
				t.Fatalf("the window's Open = %v, want ErrDamaged", err)
			}
			if after := folderSums(t, mgr); after != before {
				t.Fatalf("the Manager store's files changed:\nbefore\n%s\nafter\n%s", before, after)
			}
		})
	}
}

// A store whose folder is gone while the other holds data is refused, not
// created empty beside it; init refuses a data folder whose stores hold
// files but no masteradmin.
func TestMissingOrEmptiedManagerIsRefused(t *testing.T) {
	dir, id := withData(t)
	mgr := filepath.Join(dir, "manager")
	if err := os.Rename(mgr, mgr+".away"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"status"}, {"init"}} {
		r := run(t, dir, master, "", args...)
		want := "The Manager store in " + mgr + " is damaged: its files are missing, while the File Server store is there; restore it from a backup: the newest is " + id
		if r.code != 1 || !strings.HasPrefix(r.err, want) {
			t.Fatalf("%v with the Manager gone = %+v\nwant %s", args, r, want)
		}
	}
	if _, err := os.Stat(mgr); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the missing Manager store was created: %v", err)
	}
	// An empty Manager store beside a File Server with files.
	st, err := storage.Open(mgr, storage.Manager, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	r := run(t, dir, master, "", "init")
	want := "Data folder " + dir + " already holds 3 files and 0 users but no masteradmin account, so Plinth does not set it up anew; restore it from a backup: the newest is " + id
	if r.code != 1 || !strings.HasPrefix(r.err, want) {
		t.Fatalf("init over data = %+v\nwant %s", r, want)
	}
	if ok, _ := func() (bool, error) {
		a, err := Open(context.Background(), Config{DataDir: dir})
		if err != nil {
			return false, err
		}
		defer a.Close()
		return a.Accounts.Initialised(context.Background())
	}(); ok {
		t.Fatal("init made a masteradmin over the data")
	}
}

// Every failure to open the data folder is one sentence and leaves the
// folder free for the next try; none of them panics (Open used to close a
// nil App after the lock was taken).
func TestOpenFailuresAreSentences(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string
	}{
		{"value-log header garbled", func(t *testing.T, dir string) {
			m, _ := filepath.Glob(filepath.Join(dir, "manager", "*.vlog"))
			if err := os.WriteFile(m[0], []byte("garbage garbage garb"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "the Manager store in DIR/manager is damaged: its file "},
		{"MANIFEST garbled", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "fileserver", "MANIFEST"), []byte("Bdgr\x00\x00\x00\x08garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "the File Server store in DIR/fileserver is damaged: its MANIFEST file"},
		{"restore journal half-written", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "restore-journal.json"), []byte(`{"safety": "`), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "the journal of an interrupted restore cannot be read"},
		{"stores of the wrong kind", func(t *testing.T, dir string) {
			m, f := filepath.Join(dir, "manager"), filepath.Join(dir, "fileserver")
			_ = os.Rename(m, m+".x")
			_ = os.Rename(f, m)
			_ = os.Rename(m+".x", f)
		}, "folder DIR/manager holds a fileserver store where the manager store belongs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := initialised(t)
			tt.damage(t, dir)
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			for range 2 { // the failed first try left nothing locked
				a, err := Open(context.Background(), Config{DataDir: dir, MustExist: true})
				if err == nil {
					_ = a.Close()
					t.Fatal("Open succeeded")
				}
				if errors.Is(err, ErrAlreadyRunning) || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("Open = %v\nwant one line starting %q", err, want)
				}
			}
		})
	}
}

// The data folder is held by something that cannot be deleted while
// held: with plinth.lock deleted, a second Plinth is still refused, and
// its start-up cleanup does not remove a running restore's staging folder.
func TestDeletedLockFileKeepsSecondPlinthOut(t *testing.T) {
	dir := initialised(t)
	ctx := context.Background()
	a, err := Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	staged := filepath.Join(dir, ".manager.restoring-20261202-144532")
	if err := os.MkdirAll(staged, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(staged, "MANIFEST"), []byte("being restored"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "plinth.lock")); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, Config{DataDir: dir})
	if !errors.Is(err, ErrAlreadyRunning) || err.Error() != "Plinth is already running with data folder "+dir {
		t.Fatalf("second Open with the lock file deleted = %v, want ErrAlreadyRunning", err)
	}
	shortPatience(t)
	if r := run(t, dir, master, "", "status"); r.code != 1 || !strings.HasPrefix(r.err, "Plinth is already running with data folder "+dir+",") {
		t.Fatalf("status while held = %+v", r)
	}
	if _, err := os.Stat(filepath.Join(staged, "MANIFEST")); err != nil {
		t.Fatalf("the running restore's staging folder was cleaned up by the second Plinth: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// Once the first lets go, the next start cleans up.
	b, err := Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	if _, err := os.Stat(staged); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a staging folder nobody holds was left: %v", err)
	}
}
