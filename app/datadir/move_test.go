package datadir

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys/faultfs"
)

// folders is an old and a new data folder under a fresh temporary folder,
// in parents of their own, as ~/.config and ~/.local/share are.
func folders(t *testing.T) (from, to string) {
	t.Helper()
	root := t.TempDir()
	return filepath.Join(root, "config", "Plinth"), filepath.Join(root, "data", "plinth")
}

// plainMover is a mover on the OS's file system.
func plainMover() *mover { return &mover{fs: osFS, where: "Linux"} }

// writeFile writes a file, making its folder, with a time of its own so
// that a copy that loses times shows.
func writeFile(t *testing.T, path, data string, perm fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // past the umask
		t.Fatal(err)
	}
	old := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

// fakeData fills dir with what makes it a data folder to storage.Exists
// (a store's MANIFEST and value log), beside a log, a backup and a lock
// file, without Badger: quick enough to build for every fault.
func fakeData(t *testing.T, dir, tag string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "manager", "MANIFEST"), "manifest "+tag, 0o600)
	writeFile(t, filepath.Join(dir, "manager", "000001.vlog"), strings.Repeat("manager value "+tag+"\n", 5000), 0o600)
	writeFile(t, filepath.Join(dir, "fileserver", "MANIFEST"), "manifest "+tag, 0o600)
	writeFile(t, filepath.Join(dir, "fileserver", "packs", "00", "pack-1"), "content "+tag, 0o640)
	writeFile(t, filepath.Join(dir, "format.json"), `{"format":3,"writtenBy":"test"}`, 0o600)
	writeFile(t, filepath.Join(dir, "logs", "plinth.log"), "started "+tag+"\n", 0o644)
	writeFile(t, filepath.Join(dir, "backups", "full", "empty"), "", 0o600)
	writeFile(t, filepath.Join(dir, lockName), "4242\n", 0o600)
	if err := os.Chmod(filepath.Join(dir, "fileserver", "packs"), 0o750); err != nil {
		t.Fatal(err)
	}
}

// realStores sets up both stores in dir with Badger, a key in each.
func realStores(t *testing.T, dir string) {
	t.Helper()
	for _, k := range []storage.Kind{storage.Manager, storage.FileServer} {
		st, err := storage.Open(storage.Path(dir, k), k, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = st.Update(func(tx *storage.Tx) error { return tx.Set([]byte("key"), []byte("value of "+string(k))) })
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "format.json"), `{"format":3,"writtenBy":"test"}`, 0o600)
	writeFile(t, filepath.Join(dir, "logs", "plinth.log"), "started\n", 0o644)
	writeFile(t, filepath.Join(dir, lockName), "4242\n", 0o600)
}

// checkStores opens both stores in dir and reads their key.
func checkStores(t *testing.T, dir string) {
	t.Helper()
	for _, k := range []storage.Kind{storage.Manager, storage.FileServer} {
		st, err := storage.Open(storage.Path(dir, k), k, storage.Options{})
		if err != nil {
			t.Fatalf("the moved %s store does not open: %v", k, err)
		}
		var got []byte
		err = st.View(func(tx *storage.Tx) error {
			var err error
			got, err = tx.Get([]byte("key"))
			return err
		})
		_ = st.Close()
		if want := "value of " + string(k); err != nil || string(got) != want {
			t.Fatalf("the moved %s store has key = %q, %v; want %q", k, got, err, want)
		}
	}
}

// tree describes everything under dir: each entry's kind, permission,
// time and contents (the lock file aside: a copy leaves it behind, and a
// Plinth writes its own). The folder's own time is left out: a rename
// into another folder may change it.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == lockName {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case rel == ".":
			out[rel] = fmt.Sprintf("dir %v", fi.Mode())
		case fi.IsDir():
			out[rel] = fmt.Sprintf("dir %v %v", fi.Mode(), fi.ModTime().UnixNano())
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "link " + target
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("file %v %v %x", fi.Mode(), fi.ModTime().UnixNano(), sha256.Sum256(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameTree fails when two descriptions differ, naming the entries.
func sameTree(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s: %s is missing", what, k)
		} else if g != w {
			t.Errorf("%s: %s is %q, want %q", what, k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s should not be there", what, k)
		}
	}
}

func absent(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s is there (%v), want nothing", path, err)
	}
}

// noLeftovers fails when a move left a hidden folder beside from or to.
func noLeftovers(t *testing.T, from, to string) {
	t.Helper()
	for _, d := range []string{filepath.Dir(from), filepath.Dir(to)} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), tempPrefix) || strings.HasPrefix(e.Name(), asidePrefix) {
				t.Errorf("left behind: %s", filepath.Join(d, e.Name()))
			}
		}
	}
}

// The move through the real entry point: HOME and the XDG folders in a
// temporary folder, both stores real, on one disk (a rename).
func TestMoveOld(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		t.Skip("uses the XDG folders of Linux and the BSDs")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_DATA_HOME", "")
	from, to := filepath.Join(home, ".config", "Plinth"), filepath.Join(home, ".local", "share", "plinth")
	realStores(t, from)
	writeFile(t, filepath.Join(from, "backups", "full", "b1"), "a backup", 0o640)
	before := tree(t, from)

	msg, err := MoveOld(context.Background(), func(msg string) { t.Errorf("announced %q for a rename", msg) })
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Plinth moved its data folder from %s to %s, where %s keeps application data.", from, to, osName(runtime.GOOS)); msg != want {
		t.Errorf("MoveOld = %q, want %q", msg, want)
	}
	absent(t, from)
	sameTree(t, "moved folder", tree(t, to), before)
	if _, err := os.Stat(filepath.Join(to, lockName)); err != nil {
		t.Errorf("a rename moves the lock file too: %v", err)
	}
	// The parent XDG asks for.
	if fi, err := os.Stat(filepath.Dir(to)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the new parent %s = %v, %v; want a folder with 0700", filepath.Dir(to), fi, err)
	}

	// Once moved, nothing more happens.
	msg, err = MoveOld(context.Background(), nil)
	if msg != "" || err != nil {
		t.Errorf("MoveOld again = %q, %v; want nothing", msg, err)
	}
	sameTree(t, "moved folder after a second start", tree(t, to), before)
	checkStores(t, to)
}

func TestMoveNothing(t *testing.T) {
	t.Run("no old folder", func(t *testing.T) {
		from, to := folders(t)
		msg, err := plainMover().move(context.Background(), from, to)
		if msg != "" || err != nil {
			t.Errorf("move = %q, %v; want nothing", msg, err)
		}
		absent(t, to)
		absent(t, filepath.Dir(to))
	})
	t.Run("old folder without stores", func(t *testing.T) {
		from, to := folders(t)
		writeFile(t, filepath.Join(from, "logs", "plinth.log"), "started\n", 0o644)
		writeFile(t, filepath.Join(from, "backups", "full", "b1"), "a backup", 0o600)
		writeFile(t, filepath.Join(from, "manager", "notes.txt"), "not Badger's", 0o600)
		before := tree(t, from)
		msg, err := plainMover().move(context.Background(), from, to)
		if msg != "" || err != nil {
			t.Errorf("move = %q, %v; want nothing", msg, err)
		}
		sameTree(t, "old folder", tree(t, from), before)
		absent(t, to)
	})
	t.Run("old is a file", func(t *testing.T) {
		from, to := folders(t)
		writeFile(t, from, "a file named Plinth", 0o600)
		msg, err := plainMover().move(context.Background(), from, to)
		if msg != "" || err != nil {
			t.Errorf("move = %q, %v; want nothing", msg, err)
		}
		absent(t, to)
	})
	t.Run("the new folder is the old one", func(t *testing.T) {
		from, to := folders(t)
		fakeData(t, from, "old")
		before := tree(t, from)
		if runtime.GOOS != "windows" {
			if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(from, to); err != nil {
				t.Fatal(err)
			}
			msg, err := plainMover().move(context.Background(), from, to)
			if msg != "" || err != nil {
				t.Errorf("move onto a link to itself = %q, %v; want nothing", msg, err)
			}
		}
		msg, err := plainMover().move(context.Background(), from, from)
		if msg != "" || err != nil {
			t.Errorf("move onto itself = %q, %v; want nothing", msg, err)
		}
		sameTree(t, "old folder", tree(t, from), before)
	})
}

// A format.json alone, or the journal of a restore cut short, is data.
func TestMoveControlFileAlone(t *testing.T) {
	for _, name := range []string{"format.json", "upgrade-journal.json", "restore-older.json"} {
		t.Run(name, func(t *testing.T) {
			from, to := folders(t)
			writeFile(t, filepath.Join(from, name), "{}", 0o600)
			msg, err := plainMover().move(context.Background(), from, to)
			if err != nil || msg == "" {
				t.Fatalf("move = %q, %v; want moved", msg, err)
			}
			if _, err := os.Stat(filepath.Join(to, name)); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestMoveRefusesWhenBothHaveData(t *testing.T) {
	from, to := folders(t)
	fakeData(t, from, "old")
	fakeData(t, to, "new")
	oldBefore, newBefore := tree(t, from), tree(t, to)
	msg, err := plainMover().move(context.Background(), from, to)
	if !errors.Is(err, ErrBothHaveData) || msg != "" {
		t.Fatalf("move = %q, %v; want ErrBothHaveData", msg, err)
	}
	want := fmt.Sprintf("Plinth found data in both its old data folder %s and its new one %s, and left both untouched: "+
		"move away or remove the one you no longer need (Plinth uses %s from now on), or start Plinth with -data %s to keep using the old one",
		from, to, to, from)
	if err.Error() != want {
		t.Errorf("refusal = %q, want %q", err, want)
	}
	sameTree(t, "old folder", tree(t, from), oldBefore)
	sameTree(t, "new folder", tree(t, to), newBefore)

	// A new folder holding one store alone is data too.
	if err := os.RemoveAll(storage.Path(to, storage.Manager)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(to, "format.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := plainMover().move(context.Background(), from, to); !errors.Is(err, ErrBothHaveData) {
		t.Errorf("move onto a File Server store = %v; want ErrBothHaveData", err)
	}
	sameTree(t, "old folder", tree(t, from), oldBefore)
}

func TestMoveRefusesOtherFiles(t *testing.T) {
	from, to := folders(t)
	fakeData(t, from, "old")
	writeFile(t, filepath.Join(to, "notes.txt"), "mine", 0o600)
	oldBefore, newBefore := tree(t, from), tree(t, to)
	msg, err := plainMover().move(context.Background(), from, to)
	if !errors.Is(err, ErrNewNotEmpty) || msg != "" {
		t.Fatalf("move = %q, %v; want ErrNewNotEmpty", msg, err)
	}
	for _, s := range []string{from, to, "-data " + from} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("refusal %q does not say %q", err, s)
		}
	}
	sameTree(t, "old folder", tree(t, from), oldBefore)
	sameTree(t, "new folder", tree(t, to), newBefore)
}

func TestMoveRefusesNewInsideOld(t *testing.T) {
	from, _ := folders(t)
	fakeData(t, from, "old")
	before := tree(t, from)
	to := filepath.Join(from, "data", "plinth")
	msg, err := plainMover().move(context.Background(), from, to)
	if err == nil || msg != "" || !strings.Contains(err.Error(), "lies inside the old one") {
		t.Fatalf("move = %q, %v; want a refusal", msg, err)
	}
	sameTree(t, "old folder", tree(t, from), before)
}

// An empty folder at the new place (made by hand, or left by an
// installer) is no reason to refuse.
func TestMoveIntoEmptyFolder(t *testing.T) {
	from, to := folders(t)
	fakeData(t, from, "old")
	before := tree(t, from)
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	msg, err := plainMover().move(context.Background(), from, to)
	if err != nil || msg == "" {
		t.Fatalf("move = %q, %v; want moved", msg, err)
	}
	absent(t, from)
	sameTree(t, "moved folder", tree(t, to), before)
}

// A Plinth of today and an older one (plinth.lock alone) both keep the
// folder where it is. flock locks belong to an open file, so the test
// itself can be the other Plinth.
func TestMoveRefusesLockFile(t *testing.T) {
	from, to := folders(t)
	fakeData(t, from, "old")
	before := tree(t, from)
	other := flock.New(filepath.Join(from, lockName))
	if ok, err := other.TryLock(); err != nil || !ok {
		t.Fatalf("lock = %v, %v", ok, err)
	}
	defer other.Close()
	msg, err := plainMover().move(context.Background(), from, to)
	if !errors.Is(err, ErrOldInUse) || msg != "" {
		t.Fatalf("move = %q, %v; want ErrOldInUse", msg, err)
	}
	want := fmt.Sprintf("another Plinth is running with the data folder %s, which this Plinth would move to %s: quit that Plinth and start this one again", from, to)
	if err.Error() != want {
		t.Errorf("refusal = %q, want %q", err, want)
	}
	sameTree(t, "old folder", tree(t, from), before)
	absent(t, to)

	// Once that Plinth is gone, the move happens.
	_ = other.Close()
	if msg, err := plainMover().move(context.Background(), from, to); err != nil || msg == "" {
		t.Fatalf("move after the other Plinth quit = %q, %v", msg, err)
	}
	sameTree(t, "moved folder", tree(t, to), before)
}

// crossDisk is a mover whose first rename of the old folder onto the new
// one fails as a rename across disks does.
func crossDisk(to string) (*mover, *faultfs.FS) {
	ffs := faultfs.New(nil).Add(faultfs.Rule{Op: faultfs.OpRename, Path: filepath.ToSlash(to), Times: 1, Err: errCrossDevice})
	return &mover{fs: ffs, where: "Linux"}, ffs
}

func TestMoveAcrossDisks(t *testing.T) {
	from, to := folders(t)
	realStores(t, from)
	writeFile(t, filepath.Join(from, "backups", "full", "b1"), strings.Repeat("backup ", 100000), 0o640)
	writeFile(t, filepath.Join(from, "secret.key"), "key", 0o400)
	if err := os.MkdirAll(filepath.Join(from, "backups", "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if err := os.Symlink("/mnt/backups", filepath.Join(from, "backups", "offsite")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(from, 0o750); err != nil {
		t.Fatal(err)
	}
	before := tree(t, from)

	m, ffs := crossDisk(to)
	var said []string
	m.announce = func(msg string) { said = append(said, msg) }
	msg, err := m.move(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	if ffs.Injected() != 1 {
		t.Fatalf("%d faults injected, want the one rename across disks", ffs.Injected())
	}
	if want := fmt.Sprintf("Plinth moved its data folder from %s to %s, where Linux keeps application data.", from, to); msg != want {
		t.Errorf("move = %q, want %q", msg, want)
	}
	if len(said) != 1 || !strings.HasPrefix(said[0], "Plinth is copying its data folder (") || !strings.Contains(said[0], from) || !strings.Contains(said[0], to) {
		t.Errorf("announced %q, want one sentence saying the copy", said)
	}
	absent(t, from)
	noLeftovers(t, from, to)
	sameTree(t, "copied folder", tree(t, to), before)
	absent(t, filepath.Join(to, lockName))
	checkStores(t, to)
}

// A failure anywhere in a copy across disks, in the spirit of Kopia's
// robustness tests: each call of each kind fails in turn. Until the copy
// is in place the old folder stays whole and no copy is left; after, the
// new folder is whole. Never is the data in neither.
func TestMoveAcrossDisksFailures(t *testing.T) {
	// A clean run counts the calls.
	from, to := folders(t)
	fakeData(t, from, "old")
	m, ffs := crossDisk(to)
	if _, err := m.move(context.Background(), from, to); err != nil {
		t.Fatal(err)
	}
	calls := map[faultfs.Op]int{}
	for _, op := range faultfs.Ops {
		calls[op] = ffs.Calls(op)
	}
	t.Logf("calls in a clean run: %v", calls)
	if calls[faultfs.OpWrite] == 0 || calls[faultfs.OpSync] == 0 || calls[faultfs.OpSyncDir] == 0 {
		t.Fatalf("the clean run made no writes or fsyncs: %v", calls)
	}

	cleanFailures := 0
	for _, op := range faultfs.Ops {
		for i := range calls[op] {
			t.Run(fmt.Sprintf("%s %d", op, i), func(t *testing.T) {
				from, to := folders(t)
				fakeData(t, from, "old")
				before := tree(t, from)
				m, ffs := crossDisk(to)
				ffs.Add(faultfs.Rule{Op: op, Skip: i, Times: 1})
				msg, err := m.move(context.Background(), from, to)
				_, fromErr := os.Lstat(from)
				_, toErr := os.Lstat(to)
				switch {
				case err == nil:
					if msg == "" {
						t.Fatal("no error and no move")
					}
					sameTree(t, "new folder", tree(t, to), before)
				case toErr != nil:
					// Failed before the copy was in place.
					if !faultfs.IsInjected(err) {
						t.Errorf("error %v does not carry the fault", err)
					}
					sameTree(t, "old folder", tree(t, from), before)
					if _, err := os.Stat(filepath.Join(from, lockName)); err != nil {
						t.Errorf("the old folder lost its lock file: %v", err)
					}
					cleanFailures++
				default:
					// Failed after: the copy is whole, the old folder whole
					// or gone.
					sameTree(t, "new folder", tree(t, to), before)
					if fromErr == nil {
						sameTree(t, "old folder", tree(t, from), before)
					}
				}
				if fromErr != nil && toErr != nil {
					t.Fatal("the data is in neither folder")
				}
				// A hidden copy is never left beside the new folder; the
				// old folder renamed aside may be, when its removal failed,
				// and the next start removes it.
				ents, _ := os.ReadDir(filepath.Dir(to))
				for _, e := range ents {
					if strings.HasPrefix(e.Name(), tempPrefix) {
						t.Errorf("partial copy left behind: %s", e.Name())
					}
				}
				if strings.Contains(msg, asidePrefix) {
					if _, err := plainMover().move(context.Background(), from, to); err != nil {
						t.Fatal(err)
					}
					noLeftovers(t, from, to)
				}
			})
		}
	}
	if cleanFailures < calls[faultfs.OpWrite] {
		t.Errorf("%d failures left the old folder alone and no copy, want at least one per write (%d)", cleanFailures, calls[faultfs.OpWrite])
	}
}

// Stopping Plinth during a copy leaves the old folder and no copy.
func TestMoveAcrossDisksCanceled(t *testing.T) {
	from, to := folders(t)
	fakeData(t, from, "old")
	before := tree(t, from)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, _ := crossDisk(to)
	m.announce = func(string) { cancel() }
	msg, err := m.move(ctx, from, to)
	if !errors.Is(err, context.Canceled) || msg != "" {
		t.Fatalf("move = %q, %v; want context.Canceled", msg, err)
	}
	sameTree(t, "old folder", tree(t, from), before)
	absent(t, to)
	noLeftovers(t, from, to)
}

// What a crash left of a move (a partial copy, an old folder renamed
// aside) goes at the next start.
func TestMoveSweepsLeftovers(t *testing.T) {
	from, to := folders(t)
	fakeData(t, from, "old")
	before := tree(t, from)
	partial := filepath.Join(filepath.Dir(to), tempPrefix+"123")
	aside := filepath.Join(filepath.Dir(from), asidePrefix+"456")
	mine := filepath.Join(filepath.Dir(to), "other-app")
	writeFile(t, filepath.Join(partial, "manager", "MANIFEST"), "partial", 0o600)
	writeFile(t, filepath.Join(aside, "manager", "MANIFEST"), "half removed", 0o600)
	writeFile(t, filepath.Join(mine, "file"), "not Plinth's", 0o600)
	if _, err := plainMover().move(context.Background(), from, to); err != nil {
		t.Fatal(err)
	}
	absent(t, partial)
	absent(t, aside)
	if _, err := os.Stat(filepath.Join(mine, "file")); err != nil {
		t.Errorf("another application's folder went: %v", err)
	}
	sameTree(t, "moved folder", tree(t, to), before)

	// The aside folder goes even when there is nothing left to move.
	writeFile(t, filepath.Join(aside, "x"), "x", 0o600)
	if msg, err := plainMover().move(context.Background(), from, to); msg != "" || err != nil {
		t.Fatalf("move = %q, %v; want nothing", msg, err)
	}
	absent(t, aside)
}

func TestTreeSize(t *testing.T) {
	from, _ := folders(t)
	writeFile(t, filepath.Join(from, "a"), "12345", 0o600)
	writeFile(t, filepath.Join(from, "b", "c"), "123", 0o600)
	n, err := plainMover().treeSize(from)
	if err != nil || n != 8 {
		t.Errorf("treeSize = %d, %v; want 8", n, err)
	}
}

// Two Plinths started at once: one moves the folder, the other finds it
// held (and is told so) or already moved (and moves nothing).
func TestMoveTwoAtOnce(t *testing.T) {
	for _, across := range []bool{false, true} {
		from, to := folders(t)
		fakeData(t, from, "old")
		before := tree(t, from)
		type result struct {
			msg string
			err error
		}
		results := make(chan result, 4)
		for range 4 {
			m := plainMover()
			if across {
				m, _ = crossDisk(to)
			}
			go func() {
				msg, err := m.move(context.Background(), from, to)
				results <- result{msg, err}
			}()
		}
		moved := 0
		for range 4 {
			r := <-results
			switch {
			case r.err == nil && r.msg != "":
				moved++
			case r.err == nil, errors.Is(r.err, ErrOldInUse):
			default:
				t.Errorf("across disks %v: move = %q, %v", across, r.msg, r.err)
			}
		}
		if moved != 1 {
			t.Errorf("across disks %v: %d moves, want 1", across, moved)
		}
		absent(t, from)
		noLeftovers(t, from, to)
		sameTree(t, "moved folder", tree(t, to), before)
	}
}
