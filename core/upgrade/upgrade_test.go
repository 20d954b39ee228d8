package upgrade

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
	"codeberg.org/plinth/plinth/storage/fsys/faultfs"
)

// folder1 makes a data folder as Plinth wrote it before formats: two
// stores without a format record, no format.json, and the list of backup
// targets without a format.
func folder1(t *testing.T) (string, map[storage.Kind]*storage.Store) {
	t.Helper()
	dir := t.TempDir()
	stores := map[storage.Kind]*storage.Store{}
	for _, k := range []storage.Kind{storage.Manager, storage.FileServer} {
		st, err := storage.Open(storage.Path(dir, k), k, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		stores[k] = st
	}
	if err := os.WriteFile(filepath.Join(dir, TargetsName), []byte(`{"plinth":"abc","level2":["/backups"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, stores
}

func formats(t *testing.T, stores map[storage.Kind]*storage.Store) map[storage.Kind]int {
	t.Helper()
	out := map[storage.Kind]int{}
	for k, st := range stores {
		f, err := st.Format()
		if err != nil {
			t.Fatal(err)
		}
		out[k] = f
	}
	return out
}

func readState(t *testing.T, dir string) State {
	t.Helper()
	st, err := Read(fsys.OS, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

var backup1 = func(context.Context) (Backup, error) {
	return Backup{ID: "20261202-100000-abcdef", Dir: "/backups", Created: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}, nil
}

func TestFolderWithoutFormatIsFormat1(t *testing.T) {
	dir, stores := folder1(t)
	st := readState(t, dir)
	if st.Folder != 1 || st.Journal != nil {
		t.Fatalf("state %+v", st)
	}
	if f := formats(t, stores); f[storage.Manager] != 1 || f[storage.FileServer] != 1 {
		t.Fatalf("store formats %v", f)
	}
	if st, _ := Read(fsys.OS, t.TempDir(), false); st.Folder != 0 {
		t.Fatalf("an empty folder is of format %d", st.Folder)
	}
	p := NewPlan(st, formats(t, stores))
	if !p.Needed() || p.From != 1 || p.To != Data || len(p.Steps) < 3 {
		t.Fatalf("plan %+v", p)
	}
}

func TestRunUpgradesOnceAndRecords(t *testing.T) {
	dir, stores := folder1(t)
	r := Runner{FS: fsys.OS, Dir: dir, Stores: stores, Version: "0.3"}
	p := NewPlan(readState(t, dir), formats(t, stores))
	var points []string
	r.Hook = func(pt string) { points = append(points, pt) }
	u, err := r.Run(context.Background(), p, backup1)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(points, "|") != strings.Join(p.Points(), "|") {
		t.Fatalf("points %v, want %v", points, p.Points())
	}
	st := readState(t, dir)
	if st.Folder != Data || st.Journal != nil || st.File.WrittenBy != "0.3" || len(st.File.Upgrades) != 1 ||
		st.File.Upgrades[0].Backup.ID != "20261202-100000-abcdef" || u.From != 1 || u.To != Data {
		t.Fatalf("after the upgrade: %+v (%+v)", st, u)
	}
	if f := formats(t, stores); f[storage.Manager] != Data || f[storage.FileServer] != Data {
		t.Fatalf("store formats %v", f)
	}
	if p := NewPlan(st, formats(t, stores)); p.Needed() {
		t.Fatalf("a second plan: %+v", p)
	}
}

// A failed backup stops the upgrade before anything changed.
func TestFailedBackupChangesNothing(t *testing.T) {
	dir, stores := folder1(t)
	r := Runner{FS: fsys.OS, Dir: dir, Stores: stores, Version: "0.3"}
	p := NewPlan(readState(t, dir), formats(t, stores))
	_, err := r.Run(context.Background(), p, func(context.Context) (Backup, error) {
		return Backup{}, errors.New("not enough free space")
	})
	if err == nil || !strings.Contains(err.Error(), "the full backup before the upgrade failed, and nothing was changed: not enough free space") {
		t.Fatalf("run: %v", err)
	}
	st := readState(t, dir)
	if st.Folder != 1 || st.Journal != nil {
		t.Fatalf("state %+v", st)
	}
	if f := formats(t, stores); f[storage.Manager] != 1 || f[storage.FileServer] != 1 {
		t.Fatalf("store formats %v", f)
	}
}

// An upgrade that stops at a step (a failure or a crash) is finished by
// the next plan, without a second backup and without running a finished
// step again.
func TestInterruptedUpgradeIsFinished(t *testing.T) {
	ff := faultfs.New(fsys.OS)
	dir, stores := folder1(t)
	r := Runner{FS: ff, Dir: dir, Stores: stores, Version: "0.3"}
	p := NewPlan(readState(t, dir), formats(t, stores))
	// The folder step's write fails (the only write of backup-targets.json).
	ff.Add(faultfs.Rule{Op: faultfs.OpRename, Path: TargetsName})
	if _, err := r.Run(context.Background(), p, backup1); err == nil {
		t.Fatal("the failing step passed")
	}
	ff.Reset()
	st := readState(t, dir)
	if st.Folder != 1 || st.Journal == nil || len(st.Journal.Done) != 2 {
		t.Fatalf("after the failed step: %+v", st)
	}
	if f := formats(t, stores); f[storage.Manager] != Data {
		t.Fatalf("the Manager step did not commit: %v", f)
	}
	p = NewPlan(st, formats(t, stores))
	if p.Resume == nil || len(p.Steps) != 1 || p.Steps[0].Dir == nil {
		t.Fatalf("resume plan %+v", p)
	}
	if !strings.Contains(p.Describe(dir, true), "finishing the upgrade") {
		t.Fatal(p.Describe(dir, true))
	}
	_, err := r.Run(context.Background(), p, func(context.Context) (Backup, error) {
		t.Fatal("a resumed upgrade took a second backup")
		return Backup{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st = readState(t, dir)
	if st.Folder != Data || st.Journal != nil || len(st.File.Upgrades) != 1 || st.File.Upgrades[0].Backup.ID == "" {
		t.Fatalf("after finishing: %+v", st)
	}
}

// A journal left after format.json was written only needs removing.
func TestJournalAfterFormatIsRemoved(t *testing.T) {
	dir, stores := folder1(t)
	r := Runner{FS: fsys.OS, Dir: dir, Stores: stores, Version: "0.3"}
	if _, err := r.Run(context.Background(), NewPlan(readState(t, dir), formats(t, stores)), backup1); err != nil {
		t.Fatal(err)
	}
	j := Journal{Format: Control, From: 1, To: Data, By: "0.3"}
	if err := writeControl(fsys.OS, filepath.Join(dir, JournalName), j); err != nil {
		t.Fatal(err)
	}
	st := readState(t, dir)
	u, err := r.Run(context.Background(), NewPlan(st, formats(t, stores)), backup1)
	if err != nil || u.To != 0 {
		t.Fatalf("run: %+v %v", u, err)
	}
	if st := readState(t, dir); st.Journal != nil || len(st.File.Upgrades) != 1 {
		t.Fatalf("state %+v", st)
	}
}

// Each store step runs in one transaction with the store's new format
// record; a store restored alone from an old backup is upgraded in place.
func TestUpgradeStores(t *testing.T) {
	_, stores := folder1(t)
	r := Runner{Stores: stores}
	if err := r.UpgradeStores(); err != nil {
		t.Fatal(err)
	}
	if f := formats(t, stores); f[storage.Manager] != Data || f[storage.FileServer] != Data {
		t.Fatalf("formats %v", f)
	}
	// Running again changes nothing.
	if err := r.UpgradeStores(); err != nil {
		t.Fatal(err)
	}
	// A step that fails leaves its store at the format before.
	_, stores = folder1(t)
	saved := steps
	t.Cleanup(func() { steps = saved })
	steps = append([]Step{{Name: "break", To: 2, Store: storage.Manager, Tx: func(tx *storage.Tx) error {
		if err := tx.Set([]byte("half"), []byte("done")); err != nil {
			return err
		}
		return errors.New("broken step")
	}}}, saved...)
	r = Runner{Stores: stores}
	if err := r.UpgradeStores(); err == nil || !strings.Contains(err.Error(), "break: broken step") {
		t.Fatalf("a failing step: %v", err)
	}
	if f := formats(t, stores); f[storage.Manager] != 1 {
		t.Fatalf("formats after a failing step %v", f)
	}
	_ = stores[storage.Manager].View(func(tx *storage.Tx) error {
		if ok, _ := tx.Has([]byte("half")); ok {
			t.Fatal("the failing step's change was kept")
		}
		return nil
	})
}

// The format-2 step on backup-targets.json records its format once and
// keeps what it says; a missing or damaged file is left for the app.
func TestStampTargets(t *testing.T) {
	dir := t.TempDir()
	if err := stampTargets(fsys.OS, dir); err != nil {
		t.Fatalf("no file: %v", err)
	}
	p := filepath.Join(dir, TargetsName)
	_ = os.WriteFile(p, []byte(`{"plinth":"abc","level2":["/b"]}`), 0o600)
	for range 2 {
		if err := stampTargets(fsys.OS, dir); err != nil {
			t.Fatal(err)
		}
	}
	var got struct {
		Format int
		Plinth string
		Level2 []string
	}
	b, _ := os.ReadFile(p)
	if err := json.Unmarshal(b, &got); err != nil || got.Format != 1 || got.Plinth != "abc" || len(got.Level2) != 1 {
		t.Fatalf("stamped: %s", b)
	}
	_ = os.WriteFile(p, []byte("{torn"), 0o600)
	if err := stampTargets(fsys.OS, dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "{torn" {
		t.Fatalf("a damaged file was rewritten: %s", b)
	}
}

// Newer data gets one sentence with both versions and the backup to go
// back to; a damaged format.json is an error, never an old or new folder.
func TestNewerFolderSentence(t *testing.T) {
	dir := t.TempDir()
	f := FolderFile{Format: Data + 1, WrittenBy: "0.9", Upgrades: []Upgrade{
		{From: Data, To: Data + 1, By: "0.9", Backup: Backup{ID: "20261202-100000-abcdef", Created: time.Date(2026, 12, 2, 10, 0, 0, 0, time.Local)}},
	}}
	if err := writeControl(fsys.OS, filepath.Join(dir, FolderFileName), f); err != nil {
		t.Fatal(err)
	}
	err := readState(t, dir).Newer("0.3")
	want := "this data was written by Plinth 0.9 (data format " + itoa(Data+1) + "); this is Plinth 0.3, which reads data formats up to " + itoa(Data) +
		" — install Plinth 0.9 or newer, or restore the backup taken before the upgrade on 2 December 2026 at 10:00 ('plinth restore 20261202-100000-abcdef --scope all')"
	if err == nil || err.Error() != want || !errors.Is(err, ErrNewer) {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	// An upgrade under way to a newer format counts as newer too.
	dir = t.TempDir()
	if err := writeControl(fsys.OS, filepath.Join(dir, JournalName), Journal{From: Data, To: Data + 1, By: "0.9"}); err != nil {
		t.Fatal(err)
	}
	if err := readState(t, dir).Newer("0.3"); !errors.Is(err, ErrNewer) {
		t.Fatalf("journal of a newer upgrade: %v", err)
	}
	_ = os.WriteFile(filepath.Join(dir, FolderFileName), []byte(`{"format":`), 0o600)
	if _, err := Read(fsys.OS, dir, true); err == nil || !strings.Contains(err.Error(), "is damaged") {
		t.Fatalf("damaged format.json: %v", err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// Stores record their format from creation when asked; a store of a
// newer format is refused with its own sentence.
func TestStoreFormatRecords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "manager")
	st, err := storage.Open(dir, storage.Manager, storage.Options{Format: Data})
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := st.Format(); f != Data {
		t.Fatalf("a new store records %d", f)
	}
	if err := st.Update(func(tx *storage.Tx) error { return tx.SetFormat(Data + 1) }); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	_, err = storage.Open(dir, storage.Manager, storage.Options{Format: Data})
	var newer *storage.NewerFormatError
	if !errors.As(err, &newer) || newer.Format != Data+1 {
		t.Fatalf("newer store: %v", err)
	}
}
