package app

import (
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "codeberg.org/plinth/plinth"

// layer names the layer a package directory (relative to the module root,
// slash-separated) belongs to.
func layer(dir string) string {
	top, _, _ := strings.Cut(dir, "/")
	switch top {
	case ".":
		return "main"
	case "app", "views", "core", "storage":
		return top
	}
	return ""
}

// forbidden says why a package in layer may not import path, or "".
// Arrows point one way: main → app → views → core → storage, plus
// app → core and app → storage.
func forbidden(from, path string) string {
	inModule := func(l string) bool { return path == module+"/"+l || strings.HasPrefix(path, module+"/"+l+"/") }
	isFyne := path == "fyne.io/fyne/v2" || strings.HasPrefix(path, "fyne.io/")
	switch from {
	case "views":
		if inModule("storage") {
			return "views never touches storage; go through a core service"
		}
		if inModule("app") {
			return "views may not import app (app composes views)"
		}
	case "core":
		if isFyne {
			return "core never imports fyne"
		}
		if inModule("views") || inModule("app") {
			return "core may not import " + path + " (arrows point from app and views to core)"
		}
	case "storage":
		if isFyne {
			return "storage never imports fyne"
		}
		if inModule("core") || inModule("views") || inModule("app") {
			return "storage is the bottom layer and may not import " + path
		}
	}
	if path == module {
		return "nothing imports the main package"
	}
	return ""
}

// checkImports parses every non-test Go file under root (a module laid out
// like Plinth) and lists the forbidden import arrows as "file:line: why".
// Test files may build real fixtures from lower layers and are not checked.
func checkImports(root string) ([]string, error) {
	var bad []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (name == "testdata" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		from := layer(filepath.ToSlash(rel))
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if why := forbidden(from, p); why != "" {
				relFile, _ := filepath.Rel(root, path)
				bad = append(bad, fmt.Sprintf("%s:%d: imports %s: %s", filepath.ToSlash(relFile), fset.Position(imp.Pos()).Line, p, why))
			}
		}
		return nil
	})
	sort.Strings(bad)
	return bad, err
}

func TestImportArrows(t *testing.T) {
	bad, err := checkImports("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Error(b)
	}
}

// The checker itself must catch each kind of wrong arrow.
func TestImportCheckerCatchesViolations(t *testing.T) {
	bad, err := checkImports("testdata/arch")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"core/files/files.go:5: imports codeberg.org/plinth/plinth/views: core may not import codeberg.org/plinth/plinth/views (arrows point from app and views to core)",
		"core/files/files.go:6: imports fyne.io/fyne/v2/widget: core never imports fyne",
		"storage/store.go:3: imports codeberg.org/plinth/plinth/core/account: storage is the bottom layer and may not import codeberg.org/plinth/plinth/core/account",
		"views/page.go:5: imports codeberg.org/plinth/plinth/storage: views never touches storage; go through a core service",
	}
	if strings.Join(bad, "\n") != strings.Join(want, "\n") {
		t.Fatalf("checker found:\n%s\nwant:\n%s", strings.Join(bad, "\n"), strings.Join(want, "\n"))
	}
}

// No package under core or storage depends on Fyne even indirectly.
func TestCoreDoesNotReachFyne(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found")
	}
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath", "../core/...", "../storage/...")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct{ ImportPath string }
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(p.ImportPath, "fyne.io/") {
			t.Errorf("core or storage depends on %s", p.ImportPath)
		}
	}
}
