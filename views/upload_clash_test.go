package views

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two items dropped together whose names are one on the Projects page are
// not stored over each other: the second is reported (issue 10, item 10).
func TestDroppedItemsWithOneNameAreReported(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	p := h.projects()
	a, b := t.TempDir(), t.TempDir()
	_ = os.WriteFile(filepath.Join(a, "Case.txt"), []byte("upper"), 0o644)
	_ = os.WriteFile(filepath.Join(b, "case.txt"), []byte("lower"), 0o644)
	p.importPaths([]string{filepath.Join(a, "Case.txt"), filepath.Join(b, "case.txt")})
	h.ui.Wait()
	got := h.ui.Banner().Text()
	if !strings.HasPrefix(got, "Uploaded 1 file (5 B) into Projects. Skipped 1 item") || !strings.Contains(got, "case.txt") {
		t.Fatalf("banner: %q", got)
	}
	if len(p.entries) != 1 || p.entries[0].Versions != 1 {
		t.Fatalf("listed %+v, want one file with one version", p.entries)
	}
}
