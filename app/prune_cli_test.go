package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// plinth backup retention shows and sets the rule; prune --dry-run
// --json says for each full backup whether it is kept and why, and prune
// says what it removed and why the rest stayed: the backup restored from
// stays under the tightest rule.
func TestPruneSaysWhyAndBackupRetention(t *testing.T) {
	dir := initialised(t)
	src := t.TempDir()
	_ = os.WriteFile(filepath.Join(src, "a.txt"), []byte("first"), 0o644)
	_ = os.WriteFile(filepath.Join(src, "b.txt"), []byte("second"), 0o644)
	must := func(args ...string) string {
		t.Helper()
		r := run(t, dir, master, "", args...)
		if r.code != 0 {
			t.Fatalf("plinth %s: %+v", strings.Join(args, " "), r)
		}
		return r.out
	}
	idOf := func(out string) string {
		var v struct{ ID string }
		_ = json.Unmarshal([]byte(out), &v)
		return v.ID
	}
	if out := must("backup", "retention"); !strings.Contains(out, "the newest of each of the last 7 days, of each of the last 4 weeks, and the newest 3") {
		t.Fatalf("the default rule: %q", out)
	}
	if r := run(t, dir, master, "", "backup", "retention", "--newest", "0"); r.code != 1 || !strings.Contains(r.err, "Keep at least the newest backup") {
		t.Fatalf("--newest 0: %+v", r)
	}
	must("import", "--to", "/Tower", filepath.Join(src, "a.txt"))
	first := idOf(must("backup", "--level", "2", "--json"))
	must("import", "--to", "/Tower", filepath.Join(src, "b.txt"))
	second := idOf(must("backup", "--level", "2", "--json")) // continues first
	must("restore", first, "--yes")
	again := idOf(must("backup", "--level", "2", "--json")) // the newest 3 keep all three
	if out := must("backup", "retention", "--daily", "1", "--weekly", "0", "--newest", "1"); !strings.Contains(out, "the last 1 day, of each of the last 0 weeks, and the newest 1;") {
		t.Fatalf("the rule set: %q", out)
	}
	var doc struct {
		DryRun  bool   `json:"dryRun"`
		Rule    string `json:"rule"`
		Backups []struct {
			ID      string   `json:"id"`
			Created string   `json:"created"`
			Kept    bool     `json:"kept"`
			Why     []string `json:"why"`
		} `json:"backups"`
		Removed []string `json:"removed"`
	}
	if err := json.Unmarshal([]byte(must("prune", "--dry-run", "--json")), &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, b := range doc.Backups {
		if b.Created == "" {
			t.Errorf("%s: no created time", b.ID)
		}
		got[b.ID] = strings.Join(b.Why, ", ")
		if !b.Kept {
			got[b.ID] = "removed"
		}
	}
	if !doc.DryRun || doc.Rule != "kept 1 daily, 0 weekly, 1 newest" || len(doc.Backups) != 3 ||
		got[again] != "newest 1, daily" || !strings.HasPrefix(got[first], "restored from on ") || got[second] != "removed" ||
		len(doc.Removed) != 1 || doc.Removed[0] != second {
		t.Fatalf("dry run: %+v", doc)
	}
	out := must("prune")
	if !strings.HasPrefix(out, "Removed "+second+" (level 2, incremental,") || !strings.Contains(out, "restored from on ") ||
		!strings.Contains(out, "by the retention rule (kept 1 daily, 0 weekly, 1 newest)") || !strings.Contains(out, "removed  no rule keeps it") {
		t.Fatalf("prune said:\n%s", out)
	}
	var list cliBackups
	_ = json.Unmarshal([]byte(must("backups", "--json")), &list)
	if len(list.Backups) != 2 {
		t.Fatalf("after prune: %+v", list)
	}
	if out := must("prune", "--dry-run"); !strings.HasPrefix(out, "Nothing to remove") || !strings.Contains(out, first) {
		t.Fatalf("a second dry run said:\n%s", out)
	}
}
