package imodel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/core/account"
)

// The .ifc files directly in a disk folder are offered, sorted by name:
// not other files, not folders or what is inside them, not names that
// mapping would refuse; a folder larger than MaxListed entries is read
// only that far and says it holds more.
func TestSourceFilesOnDisk(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, name := range []string{"b.ifc", "A.IFC", "notes.txt", "house.ifc.bak", "sub/inner.ifc", "folder.ifc/x.ifc", "bell\a.ifc"} {
		e.write(name, "x")
	}
	got, more, err := e.s.SourceFiles(ctx, e.master, e.imodel, Source{Kind: SourceDisk, Path: e.src})
	if want := []string{"A.IFC", "b.ifc"}; err != nil || more || !slices.Equal(got, want) {
		t.Fatalf("SourceFiles = %q, %v, %v; want %q", got, more, err, want)
	}

	_, _, err = e.s.SourceFiles(ctx, e.master, e.imodel, Source{Kind: SourceDisk, Path: filepath.Join(e.src, "nope")})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing folder: %v", err)
	}

	big := t.TempDir()
	for i := range MaxListed + 2 {
		if err := os.WriteFile(filepath.Join(big, fmt.Sprintf("f%05d.ifc", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, more, err = e.s.SourceFiles(ctx, e.master, e.imodel, Source{Kind: SourceDisk, Path: big})
	if err != nil || !more || len(got) != MaxListed {
		t.Fatalf("a folder of %d files: %d listed, more %v, %v", MaxListed+2, len(got), more, err)
	}
}

// A file server folder is listed through core/files, with the actor's
// rights; listing needs Modify content on the iModel, as mapping does.
func TestSourceFilesOnFileServer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	folder, err := e.files.MkdirAll(ctx, e.master, "/Tower/IFC")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.files.MkdirAll(ctx, e.master, "/Tower/IFC/old.ifc"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tower.ifc", "site.IFC", "readme.pdf"} {
		if _, err := e.files.Upload(ctx, e.master, folder.ID, name, bytes.NewReader([]byte("x")), 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	src := Source{Kind: SourceFileServer, Path: "/Tower/IFC"}
	got, more, err := e.s.SourceFiles(ctx, e.master, e.imodel, src)
	if want := []string{"site.IFC", "tower.ifc"}; err != nil || more || !slices.Equal(got, want) {
		t.Fatalf("SourceFiles = %q, %v, %v; want %q", got, more, err, want)
	}
	if _, _, err := e.s.SourceFiles(ctx, e.master, e.imodel, Source{Kind: SourceFileServer, Path: "/Tower/Nope"}); err == nil ||
		!strings.Contains(err.Error(), `there is no "/Tower/Nope"`) {
		t.Fatalf("a missing folder: %v", err)
	}

	if err := e.acc.AddUser(ctx, e.master, account.NewUser{Name: "vera", Password: "vera password", Role: account.RoleNone}); err != nil {
		t.Fatal(err)
	}
	vera, _ := e.acc.ActAs(ctx, "vera")
	if _, _, err := e.s.SourceFiles(ctx, vera, e.imodel, src); err == nil {
		t.Fatal("a user without Modify content listed the source folder")
	}
}

// Find lists the elements of one type, alone or with a search text.
func TestFindByType(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.sample("IfcOpenHouse_IFC4.ifc", "house.ifc")
	e.sync(e.connect("Arch", Composite{Main: "house.ifc"}))
	st := e.stats()
	for typ, n := range st.ByType {
		got, err := e.s.Find(ctx, e.master, e.imodel, Filter{Type: strings.ToLower(typ)}, 0)
		if err != nil || len(got) != n {
			t.Fatalf("Find type %s: %d elements, %v; want %d", typ, len(got), err, n)
		}
		for _, el := range got {
			if el.Type != typ || el.File != "house.ifc" {
				t.Fatalf("Find type %s gave %+v", typ, el)
			}
		}
	}
	all, err := e.s.Find(ctx, e.master, e.imodel, Filter{}, 0)
	if err != nil || len(all) != st.Elements {
		t.Fatalf("Find all: %d, %v; want %d", len(all), err, st.Elements)
	}
	// Text and type together: the elements of one type whose name has
	// the text, though elements of other types have it too.
	var one Element
	for _, el := range all {
		if el.Name != "" && st.ByType[el.Type] > 1 {
			one = el
			break
		}
	}
	if one.Name == "" {
		t.Fatal("the sample has no named element of a type with more than one")
	}
	got, err := e.s.Find(ctx, e.master, e.imodel, Filter{Type: one.Type, Text: one.Name}, 0)
	if err != nil || !slices.ContainsFunc(got, func(el Element) bool { return el.GlobalID == one.GlobalID }) {
		t.Fatalf("Find %s %q: %v, %v", one.Type, one.Name, got, err)
	}
	for _, el := range got {
		if el.Type != one.Type {
			t.Fatalf("Find %s %q gave a %s", one.Type, one.Name, el.Type)
		}
	}
}
