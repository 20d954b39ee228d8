package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/storage"
)

// sameAsLive fails unless snapshot m's tree lists what the item holds
// now: every path, kind, size, content hash, version and chunk list.
func sameAsLive(t *testing.T, e *env, m Manifest) {
	t.Helper()
	doc, _, err := e.b.readTree(m, plain)
	if err != nil {
		t.Fatal(err)
	}
	item, live, err := e.files.TreeOf(context.Background(), e.master, m.Item)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Name != item.Name || doc.Kind != item.Kind.String() {
		t.Fatalf("snapshot %s's tree names %s %q, the item is %s %q", m.ID, doc.Kind, doc.Name, item.Kind, item.Name)
	}
	line := func(x files.TreeEntry) string {
		return fmt.Sprintf("%s %s %d %s %s %v", x.Path, x.Kind, x.Size, x.Hash, x.Version, x.Chunks)
	}
	var got, want []string
	for _, x := range doc.Entries {
		got = append(got, line(x))
	}
	for _, x := range live {
		want = append(want, line(x))
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Fatalf("snapshot %s lists\n%s\nthe item holds\n%s", m.ID, g, w)
	}
}

// Each snapshot of a project lists what it holds at that moment, whether
// the project changed since the last one or not; and every one restores.
func TestUnchangedSnapshotRecordsEveryChange(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tower := e.project("Tower")
	e.put("/Tower/plans/ground.pdf", random(5<<20))
	e.put("/Tower/model.ifc", []byte("ISO-10303-21; v1"))
	e.put("/Tower/notes.txt", []byte("notes"))
	lookup := func(p string) files.Node {
		n, err := e.files.Lookup(ctx, e.master, p)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	changes := []struct {
		name   string
		change func()
	}{
		{"nothing", func() {}},
		{"content of one file", func() { e.put("/Tower/model.ifc", []byte("ISO-10303-21; v2")) }},
		{"nothing again", func() {}},
		{"same content uploaded again", func() { e.put("/Tower/model.ifc", []byte("ISO-10303-21; v2")) }},
		{"a file renamed", func() {
			if _, err := e.files.Rename(ctx, e.master, lookup("/Tower/notes.txt").ID, "notes-old.txt"); err != nil {
				t.Fatal(err)
			}
		}},
		{"a file moved", func() {
			if _, err := e.files.Move(ctx, e.master, lookup("/Tower/notes-old.txt").ID, lookup("/Tower/plans").ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"a file added", func() { e.put("/Tower/plans/first.pdf", random(1<<20)) }},
		{"a file deleted", func() { e.rm("/Tower/plans/ground.pdf") }},
		{"the project renamed", func() {
			if _, err := e.files.Rename(ctx, e.master, tower.ID, "Tower 2"); err != nil {
				t.Fatal(err)
			}
		}},
		{"nothing at the end", func() {}},
	}
	prev := e.snap(tower.ID)
	sameAsLive(t, e, prev)
	for _, c := range changes {
		c.change()
		m := e.snap(tower.ID)
		sameAsLive(t, e, m)
		if c.name == "the project renamed" && m.ItemName != "Tower 2" {
			t.Fatalf("after the rename the snapshot names %q", m.ItemName)
		}
		if strings.HasPrefix(c.name, "nothing") && m.Tree.Hash != prev.Tree.Hash {
			t.Fatalf("%s: tree hash %s, the last snapshot's %s", c.name, m.Tree.Hash, prev.Tree.Hash)
		}
		if _, err := e.b.Verify(ctx, e.master, m.ID, "", nil); err != nil {
			t.Fatalf("after %s: verify: %v", c.name, err)
		}
		prev = m
	}
}

// The tree an unchanged project's snapshot takes over is the one this
// Plinth wrote: a tree changed in the target (its manifest's checksums
// changed to match) is not carried into the next snapshot, and chunks
// gone from the target are written again.
func TestUnchangedSnapshotTrustsNothingInTheTarget(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tower := e.project("Tower")
	e.put("/Tower/plans/ground.pdf", random(5<<20))
	e.put("/Tower/model.ifc", []byte("ISO-10303-21; v1"))
	e.snap(tower.ID)
	m := e.snap(tower.ID)
	rewriteTree(t, m, func(d *treeDoc) {
		d.Entries = append(d.Entries, files.TreeEntry{Path: "planted.exe", Kind: files.KindFile, Size: 5,
			Chunks: []string{d.Entries[0].Chunks[0]}})
	})
	m2 := e.snap(tower.ID)
	sameAsLive(t, e, m2)

	// Every pack gone: the next snapshot has to write the chunks again.
	if err := os.RemoveAll(filepath.Join(e.b.snapshotTarget(), packsDir)); err != nil {
		t.Fatal(err)
	}
	m3 := e.snap(tower.ID)
	sameAsLive(t, e, m3)
	if _, err := e.b.Verify(ctx, e.master, m3.ID, "", nil); err != nil {
		t.Fatalf("verify after the packs were removed: %v", err)
	}
	if m3.Bytes() < 5<<20 {
		t.Fatalf("the snapshot after the packs were removed added %d bytes", m3.Bytes())
	}
}

// After the file server was restored (its generation moves on), an
// unchanged project's snapshot reads the file server's records again: a
// record the restored file server lacks makes it fail, as it does for a
// changed project, instead of taking the last snapshot's word for it.
func TestUnchangedSnapshotAfterFileServerRestore(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tower := e.project("Tower")
	e.put("/Tower/model.ifc", []byte("ISO-10303-21; v1"))
	e.snap(tower.ID)
	n, err := e.files.Lookup(ctx, e.master, "/Tower/model.ifc")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Update(func(tx *storage.Tx) error { return tx.Delete([]byte("file/" + n.Version)) }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.BumpGeneration(); err != nil {
		t.Fatal(err)
	}
	_, err = e.b.Snapshot(ctx, e.master, tower.ID, nil)
	if !errors.Is(err, files.ErrDamaged) || !strings.Contains(err.Error(), "missing from the file server") {
		t.Fatalf("snapshot after a restore that lost a record: %v", err)
	}
}
