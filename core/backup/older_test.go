package backup

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"codeberg.org/plinth/plinth/core/upgrade"
)

// A restore to an older backup cut short after any number of its renames,
// counted or not, is finished by the next start: the backup's stores in
// place, everything of the newer data in the aside folder, format.json as
// the journal says.
func TestFinishRestoreOlderAfterEveryRename(t *testing.T) {
	setup := func(t *testing.T) (string, olderJournal) {
		dir := t.TempDir()
		write := func(rel, content string) {
			p := filepath.Join(dir, rel)
			_ = os.MkdirAll(filepath.Dir(p), 0o700)
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		write("manager/MANIFEST", "newer manager")
		write("fileserver/MANIFEST", "newer fileserver")
		write("format.json", `{"format":3}`)
		write("backup-targets.json", `{"format":1}`)
		write("safety/x/manager/MANIFEST", "newer safety copy")
		write(".manager.restoring-older-1/MANIFEST", "backup manager")
		write(".fileserver.restoring-older-1/MANIFEST", "backup fileserver")
		aside := filepath.Join(dir, "newer-data-1")
		_ = os.MkdirAll(aside, 0o700)
		j := olderJournal{Format: upgrade.Control, Folder: upgrade.FolderFile{Format: 2, WrittenBy: "0.3"}}
		for _, n := range []string{"backup-targets.json", "fileserver", "format.json", "manager", "safety"} {
			j.Renames = append(j.Renames, rename{From: filepath.Join(dir, n), To: filepath.Join(aside, n)})
		}
		for _, k := range []string{"manager", "fileserver"} {
			j.Renames = append(j.Renames, rename{From: filepath.Join(dir, "."+k+".restoring-older-1"), To: filepath.Join(dir, k)})
		}
		return dir, j
	}
	check := func(t *testing.T, dir string) {
		t.Helper()
		for rel, want := range map[string]string{
			"manager/MANIFEST":                       "backup manager",
			"fileserver/MANIFEST":                    "backup fileserver",
			"newer-data-1/manager/MANIFEST":          "newer manager",
			"newer-data-1/fileserver/MANIFEST":       "newer fileserver",
			"newer-data-1/format.json":               `{"format":3}`,
			"newer-data-1/backup-targets.json":       `{"format":1}`,
			"newer-data-1/safety/x/manager/MANIFEST": "newer safety copy",
		} {
			if b, err := os.ReadFile(filepath.Join(dir, rel)); err != nil || string(b) != want {
				t.Errorf("%s = %q, %v; want %q", rel, b, err, want)
			}
		}
		var f upgrade.FolderFile
		b, _ := os.ReadFile(filepath.Join(dir, "format.json"))
		if err := json.Unmarshal(b, &f); err != nil || f.Format != 2 {
			t.Errorf("format.json = %s", b)
		}
		if _, err := os.Stat(filepath.Join(dir, OlderJournalName)); err == nil {
			t.Error("the journal is left")
		}
	}
	_, j0 := setup(t)
	for done := 0; done <= len(j0.Renames); done++ {
		for _, counted := range []bool{true, false} {
			dir, j := setup(t)
			for i := 0; i < done; i++ {
				if err := os.Rename(j.Renames[i].From, j.Renames[i].To); err != nil {
					t.Fatal(err)
				}
			}
			j.Done = done
			if !counted && done > 0 {
				j.Done = done - 1 // killed between the rename and the count
			}
			b, _ := json.Marshal(j)
			_ = os.WriteFile(filepath.Join(dir, OlderJournalName), b, 0o600)
			if ok, err := FinishRestoreOlder(dir); !ok || err != nil {
				t.Fatalf("after %d renames (counted %v): %v", done, counted, err)
			}
			check(t, dir)
		}
	}
}
