package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Hostile design files and mappings are refused by the CLI with one
// sentence on stderr and exit 1: `ifc stats` on a file nested a million
// deep (it once died of a stack overflow), on a 40 GiB file (it once ran
// out of memory) and on a file that is not IFC; `connection add` and
// `connection map` with mappings that leave the source folder; and
// `connection sync` / `imodel sync` of a file above the size limit.
func TestIFCAndMappingRefusalsAreOneSentence(t *testing.T) {
	dir, src := initialised(t), t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	deep := write("deep.ifc", "ISO-10303-21;\nHEADER;\nFILE_SCHEMA(('IFC4'));\nENDSEC;\nDATA;\n#1=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',"+strings.Repeat("(", 1_000_000)+strings.Repeat(")", 1_000_001)+";\nENDSEC;\n")
	text := write("notes.ifc", "hello")
	huge := filepath.Join(src, "huge.ifc")
	if err := os.WriteFile(huge, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, 40<<30); err != nil { // sparse
		t.Skipf("no sparse files here: %v", err)
	}
	const hugeSays = " is 40 GiB; Plinth reads IFC files of up to 1.0 GiB (export the model in parts, e.g. by storey or discipline, and map each part)"
	oneSentence := func(r result, want string) {
		t.Helper()
		if r.code != 1 || strings.Count(r.err, "\n") != 1 || !strings.Contains(r.err, want) {
			t.Fatalf("got exit %d, stderr %q; want exit 1 and one line with %q", r.code, r.err, want)
		}
	}
	oneSentence(run(t, dir, master, "", "ifc", "stats", deep), deep+", line 6, column 100: parameter lists are nested more than 64 deep here")
	oneSentence(run(t, dir, master, "", "ifc", "stats", huge, "--json"), huge+hugeSays+"\n")
	oneSentence(run(t, dir, master, "", "ifc", "stats", text), text+", line 1, column 1: this is not an IFC file: it does not start with ISO-10303-21;\n")

	for _, args := range [][]string{{"mkdir", "/P", "--kind", "project"}, {"imodel", "create", "/P", "M"}} {
		if r := run(t, dir, master, "", args...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	add := func(args ...string) result {
		return run(t, dir, master, "", append([]string{"connection", "add", "/P/M", "C"}, args...)...)
	}
	oneSentence(add("--source", src, "--map", "../../etc/passwd"), "../../etc/passwd leads outside the source folder\n")
	oneSentence(add("--source", src, "--map", "/etc/passwd.ifc"), "/etc/passwd.ifc is not inside the source folder: give the file's path relative to the source folder\n")
	oneSentence(add("--source-plinth", "/P/../P", "--map", "x.ifc"), `The source folder /P/../P cannot be used: the path "P/../P" cannot be used`)
	if r := add("--source", src, "--map", "huge.ifc"); r.code != 0 {
		t.Fatalf("connection add: %+v", r)
	}
	oneSentence(run(t, dir, master, "", "connection", "map", "/P/M", "C", "sub/../../x.ifc"), "sub/../../x.ifc leads outside the source folder\n")
	r := run(t, dir, master, "", "connection", "sync", "/P/M", "C")
	oneSentence(r, `1 of 1 file of "C" did not sync (huge.ifc`+hugeSays+"; the iModel keeps what this file gave before); see 'plinth connection report /P/M \"C\"'\n")
	if !strings.Contains(r.out, "huge.ifc: failed") {
		t.Fatalf("connection sync printed %q", r.out)
	}
	oneSentence(run(t, dir, master, "", "imodel", "sync", "/P/M", "--json"), "huge.ifc"+hugeSays)
}
