package storage

import (
	"os"
	"path/filepath"
	"testing"
)

// A process killed just after Badger created a memtable or value-log file
// leaves it empty; the next start must open the store with its data, not
// fail ("… Create a new file", badger issue #2207). The kill loop found
// both.
func TestOpenAfterKillLeftAnEmptyMemtable(t *testing.T) {
	for _, c := range []struct {
		kind Kind
		file string
	}{{Manager, "00099.mem"}, {FileServer, "00099.mem"}, {Manager, "000099.vlog"}, {FileServer, "000099.vlog"}} {
		kind := c.kind
		t.Run(string(kind)+" "+c.file, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, kind, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Update(func(tx *Tx) error { return tx.Set([]byte("k"), []byte("v")) }); err != nil {
				t.Fatal(err)
			}
			id := s.Identity()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, c.file), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err = Open(dir, kind, Options{})
			if err != nil {
				t.Fatalf("open after a kill left an empty %s: %v", c.file, err)
			}
			defer s.Close()
			var got []byte
			if err := s.View(func(tx *Tx) (err error) { got, err = tx.Get([]byte("k")); return err }); err != nil || string(got) != "v" {
				t.Fatalf("after reopening k = %q, %v", got, err)
			}
			if s.Identity() != id {
				t.Fatal("the store lost its identity")
			}
		})
	}
}

// Badger deletes a log by emptying it and then removing it; a kill in
// between leaves an empty log older than the newest (the snapshot-import
// kill loop: 000264.vlog empty beside 000265.vlog). The store opens with
// its data.
func TestOpenAfterKillLeftAnOlderEmptyLog(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Manager, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(func(tx *Tx) error { return tx.Set([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "000000.vlog"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Manager, Options{})
	if err != nil {
		t.Fatalf("open with an older empty value log: %v", err)
	}
	defer s.Close()
	var got []byte
	if err := s.View(func(tx *Tx) (err error) { got, err = tx.Get([]byte("k")); return err }); err != nil || string(got) != "v" {
		t.Fatalf("k = %q, %v", got, err)
	}
}
