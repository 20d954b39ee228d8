package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/core/account"
)

// On the first start of this Plinth, a data folder at the old default
// (the OS's configuration folder) moves to where the OS keeps application
// data, with one sentence saying where; the backup targets inside it move
// along. A second folder with data at the new place stops Plinth instead.
func TestDataFolderMovesOnFirstStart(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
	t.Setenv("PLINTH_DATA", "")
	old := filepath.Join(home, ".config", "Plinth")
	if r := run(t, old, master, "", "init"); r.code != 0 {
		t.Fatalf("init at the old place: %+v", r)
	}
	// A target inside the folder, saved as an absolute path.
	a, err := Open(context.Background(), Config{DataDir: old, MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := a.Accounts.ActAs(context.Background(), account.MasterAdmin)
	l2, _ := a.Backups.Level2()
	l2.Target = filepath.Join(old, "backups", "to-usb")
	if err := a.Backups.SetLevel2(context.Background(), m, l2); err != nil {
		t.Fatal(err)
	}
	_ = a.Close()

	r := run(t, "", master, "", "user", "list")
	now := filepath.Join(home, ".local", "share", "plinth")
	if r.code != 0 || r.err != "Plinth moved its data folder from "+old+" to "+now+", where Linux keeps application data.\n" {
		t.Fatalf("first start after the update = %+v", r)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("the old folder is still there: %v", err)
	}
	if r := run(t, "", master, "", "user", "list"); r.code != 0 || r.err != "" {
		t.Fatalf("second start = %+v", r)
	}
	a, err = Open(context.Background(), Config{DataDir: now, MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	l2, _ = a.Backups.Level2()
	_ = a.Close()
	if l2.Target != filepath.Join(now, "backups", "to-usb") {
		t.Fatalf("full backups still go to %s", l2.Target)
	}

	// Data in both places: Plinth refuses, and touches neither.
	if r := run(t, old, master, "", "init"); r.code != 0 {
		t.Fatalf("init at the old place again: %+v", r)
	}
	r = run(t, "", master, "", "status")
	if r.code != 1 || !strings.Contains(r.err, old) || !strings.Contains(r.err, now) || strings.Count(r.err, "\n") != 1 {
		t.Fatalf("start with data in both places = %+v", r)
	}
	for _, d := range []string{old, now} {
		if _, err := os.Stat(filepath.Join(d, "manager")); err != nil {
			t.Fatalf("%s lost its store: %v", d, err)
		}
	}
	// -data and help do not move anything.
	if r := run(t, old, master, "", "user", "list"); r.code != 0 {
		t.Fatalf("-data on the old folder = %+v", r)
	}
}
