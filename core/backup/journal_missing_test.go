package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// A restore journal whose store is gone from every place it could be
// (live, staged, safety copy) is refused with a sentence; an empty store
// is never created in its place.
func TestRecoverRestoreNeverCreatesAnEmptyStore(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "manager")
	j := journal{Safety: filepath.Join(dir, "safety", "x"), Swaps: map[storage.Kind]swap{
		storage.Manager: {Live: live, Staged: filepath.Join(dir, ".manager.restoring-x"), Generation: 3}}}
	if err := j.write(fsys.OS, dir); err != nil {
		t.Fatal(err)
	}
	_, err := RecoverRestore(dir)
	if err == nil || !strings.Contains(err.Error(), "restore the Manager from a backup") {
		t.Fatalf("got %v, want a refusal naming the Manager", err)
	}
	if _, err := os.Stat(live); !os.IsNotExist(err) {
		t.Fatal("an empty Manager store was created")
	}
	if _, err := os.Stat(filepath.Join(dir, journalName)); err != nil {
		t.Fatal("the journal is gone; the next start would not know what happened")
	}
}
