package app

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/storage"
)

func writeFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b := make([]byte, 100+len(n))
		_, _ = rand.Read(b)
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The folder: 13 files, two pairs of which are one name on the
// Projects page. The command says 11 were imported and why 2 were not.
func TestImportCommandCountsClashes(t *testing.T) {
	dir := initialised(t)
	src := filepath.Join(t.TempDir(), "src")
	writeFiles(t, src, "Case.txt", "case.txt", "caf\u00e9.txt", "cafe\u0301.txt",
		"a.txt", "b.txt", "c.txt", "d.txt", "e.txt", "f.txt", "g.txt", "h.txt", "i.txt")
	r := run(t, dir, master, "", "import", src)
	if r.code != 1 || !strings.HasPrefix(r.out, "Imported 11 files (") || !strings.HasSuffix(r.out, " in 1 folder into /.\n") {
		t.Fatalf("import = %+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.err), "\n")
	if len(lines) != 3 ||
		lines[0] != "Skipped "+filepath.Join(src, "caf\u00e9.txt")+": its name clashes with "+filepath.Join(src, "cafe\u0301.txt")+
			", which was imported: the two names have the same letters, with accents encoded differently (composed and decomposed Unicode); rename one of them and import it again" ||
		lines[1] != "Skipped "+filepath.Join(src, "case.txt")+": its name clashes with "+filepath.Join(src, "Case.txt")+
			", which was imported: the Projects page does not tell upper and lower case apart; rename one of them and import it again" ||
		lines[2] != "2 items not imported; see the reasons above" {
		t.Fatalf("stderr:\n%s", r.err)
	}
	r = run(t, dir, master, "", "ls", "/src", "--json")
	var ls struct{ Entries []struct{ Name string } }
	if err := json.Unmarshal([]byte(r.out), &ls); err != nil || len(ls.Entries) != 11 {
		t.Fatalf("ls /src: %d entries, %v\n%s", len(ls.Entries), err, r.out)
	}
	// On purpose, a second time: new versions, counted as such.
	r = run(t, dir, master, "", "import", "--json", src)
	var st files.ImportStats
	if err := json.Unmarshal([]byte(r.out), &st); err != nil {
		t.Fatalf("import --json: %v\n%s", err, r.out)
	}
	if r.code != 1 || st.Files != 11 || st.Versions != 11 || len(st.Skipped) != 2 {
		t.Fatalf("second import: code %d, %+v", r.code, st)
	}
	r = run(t, dir, master, "", "import", "--to", "/src", filepath.Join(src, "a.txt"))
	if r.code != 0 || !strings.HasSuffix(r.out, "into /src; it is a new version of a file that was there before.\n") {
		t.Fatalf("re-import of one file = %+v", r)
	}
}

// Names with terminal escapes and text-direction characters are printed
// escaped: from disk (a skipped file) and from an old store (ls, check).
func TestFileCommandsEscapeNames(t *testing.T) {
	dir := initialised(t)
	src := filepath.Join(t.TempDir(), "src")
	writeFiles(t, src, "\x1b[2J\x1b[31mred.txt", "invoice\u202efdp.exe", "plain1.txt")
	r := run(t, dir, master, "", "import", src)
	if r.code != 1 || strings.ContainsAny(r.err+r.out, "\x1b\u202e") ||
		!strings.Contains(r.err, "Skipped "+src+`/\x1b[2J\x1b[31mred.txt: the name "\x1b[2J\x1b[31mred.txt" contains a control character`) ||
		!strings.Contains(r.err, "Skipped "+src+`/invoice\u202efdp.exe: the name "invoice\u202efdp.exe" contains an invisible or text-direction character (U+202E)`) {
		t.Fatalf("import = %+v", r)
	}
	// A store written before names were checked holds such a name: make
	// plain1.txt's entry say "\x1b]0;pwn\a" (same length) behind Plinth's back.
	evil := "\x1b]0;pwn\a.t"
	st, err := storage.Open(filepath.Join(dir, "manager"), storage.Manager, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(func(tx *storage.Tx) error {
		var key, val []byte
		_ = tx.Scan([]byte("n/"), func(k, v []byte) error {
			if bytes.Contains(v, []byte("plain1.txt")) {
				key, val = bytes.Clone(k), bytes.ReplaceAll(v, []byte("plain1.txt"), []byte(evil))
			}
			return nil
		})
		if key == nil {
			t.Fatal("no entry for plain1.txt")
		}
		return tx.Set(key, val)
	})
	_ = st.Close()
	if err != nil {
		t.Fatal(err)
	}
	r = run(t, dir, master, "", "ls", "/src")
	if r.code != 0 || strings.Contains(r.out, "\x1b") || !strings.Contains(r.out, `\x1b]0;pwn\x07.t`) {
		t.Fatalf("ls = %+v", r)
	}
	// Damage it: check --deep names it, escaped.
	flipLastPack(t, dir)
	r = run(t, dir, master, "", "check", "--deep")
	if r.code != 1 || strings.Contains(r.out+r.err, "\x1b") || !strings.Contains(r.out, `  /src/\x1b]0;pwn\x07.t (current version `) {
		t.Fatalf("check --deep = %+v", r)
	}
}

// flipLastPack flips a byte of the first chunk in the newest pack (every
// command writes into a pack of its own).
func flipLastPack(t *testing.T, dir string) {
	t.Helper()
	packs, _ := filepath.Glob(filepath.Join(dir, "fileserver", "packs", "*.pack"))
	if len(packs) == 0 {
		t.Fatal("no pack")
	}
	p := packs[len(packs)-1]
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[8+36+10] ^= 0xff // magic, entry head, then the data
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// check --deep reads everything back: exit 0 and a line when sound; the
// damaged file, the version and the part, and exit 1, when not.
func TestCheckDeepCommand(t *testing.T) {
	dir := initialised(t)
	src := t.TempDir()
	writeFiles(t, filepath.Join(src, "Tower"), "a.pdf", "b.pdf")
	writeFiles(t, src, "model.ifc")
	if r := run(t, dir, master, "", "import", filepath.Join(src, "Tower")); r.code != 0 {
		t.Fatalf("import = %+v", r)
	}
	if r := run(t, dir, master, "", "import", "--to", "/Tower", filepath.Join(src, "model.ifc")); r.code != 0 {
		t.Fatalf("import = %+v", r)
	}
	r := run(t, dir, master, "", "check", "--deep")
	if r.code != 0 || !strings.Contains(r.out, "The Manager and the File Server agree.\nRead 3 chunks (") ||
		!strings.HasSuffix(r.out, ") back; every one matches its SHA-256.\n") {
		t.Fatalf("check --deep on a sound store = %+v", r)
	}
	flipLastPack(t, dir) // model.ifc
	r = run(t, dir, master, "", "check", "--deep")
	if r.code != 1 || !strings.Contains(r.out, "Read 3 chunks (") ||
		!strings.Contains(r.out, ") back; 1 chunk damaged, in 1 file version:\n  /Tower/model.ifc (current version ") ||
		!strings.HasSuffix(r.out, "): part 1 of 1: does not match its SHA-256\n") ||
		r.err != "The File Server holds 1 file version with damaged content; restore them from a backup (plinth restore) or upload them again\n" {
		t.Fatalf("check --deep on a damaged store = %+v", r)
	}
	r = run(t, dir, master, "", "check", "--deep", "--json")
	var out struct {
		Consistent bool
		Contents   files.ContentReport
	}
	if err := json.Unmarshal([]byte(r.out), &out); err != nil {
		t.Fatalf("check --deep --json: %v\n%s", err, r.out)
	}
	if r.code != 1 || !out.Consistent || out.Contents.Chunks != 3 || out.Contents.DamagedChunks != 1 ||
		len(out.Contents.Damaged) != 1 || out.Contents.Damaged[0].Path != "/Tower/model.ifc" || out.Contents.Damaged[0].Parts[0] != 1 {
		t.Fatalf("check --deep --json = %d %+v", r.code, out)
	}
}
