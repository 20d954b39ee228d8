package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/storage/fsys/disktest"
)

// An import that would fill the disk of the File Server is refused before
// anything is written, in one sentence; before, Badger died with SIGBUS in
// its memory-mapped table builder on a 20–30 MB disk. The disk has room
// for the stores and their reserve, not for the import. Needs root for the
// small tmpfs (CI runs as root).
func TestImportRefusedOnSmallDisk(t *testing.T) {
	disk := disktest.Mount(t, "size=320m")
	dir := filepath.Join(disk, "data")
	env := []string{"PLINTH_PASSWORD=master password"}
	run := mustRun(t, dir, env)
	run("init")
	src := filepath.Join(t.TempDir(), "big")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10<<20)
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} { // 80 MiB
		_, _ = rand.Read(buf)
		if err := os.WriteFile(filepath.Join(src, n+".bin"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := plinth(t, env, "", "-data", dir, "import", src)
	want := regexp.MustCompile(`^The disk holding ` + regexp.QuoteMeta(filepath.Join(dir, "fileserver", "packs")) +
		` has \d+(\.\d)? MiB free; importing needs about 80 MiB \(with 256 MiB kept free for Plinth's stores\)\n$`)
	if p.code != 1 || p.out != "" || !want.MatchString(p.stderr) {
		t.Fatalf("import onto a small disk: exit %d\nstdout %q\nstderr %q", p.code, p.out, p.stderr)
	}
	// Nothing half-imported: no entry, no pack, the stores agree, and
	// the read-only commands work.
	if ls := run("ls", "/"); strings.TrimSpace(ls.out) != "" {
		t.Fatalf("ls / after the refused import:\n%s", ls.out)
	}
	if packs, _ := filepath.Glob(filepath.Join(dir, "fileserver", "packs", "*.pack")); len(packs) != 0 {
		t.Fatalf("packs written by a refused import: %v", packs)
	}
	if c := run("check"); c.out != "The Manager and the File Server agree.\n" {
		t.Fatalf("check = %q", c.out)
	}
	run("status")
}
