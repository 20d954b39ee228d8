package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/storage"
)

// keepOnly sets retention to the newest backup of one day, no weeks and
// the newest backup.
func keepOnly(t *testing.T, e *env) {
	t.Helper()
	c, _ := e.b.Level2()
	c.KeepDaily, c.KeepWeekly, c.KeepNewest = 1, 0, 1
	if err := e.b.SetLevel2(context.Background(), e.master, c); err != nil {
		t.Fatal(err)
	}
}

func nextDay(e *env) { e.now = e.now.AddDate(0, 0, 1) }

// A backup that failed its verification never pushes out the last sound
// one, whatever the retention rule says.
func TestPruneKeepsLastSoundBackup(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	c, _ := e.b.Level2()
	c.FullEvery = 1 // every backup a full one
	_ = e.b.SetLevel2(ctx, e.master, c)
	e.put("/a.bin", random(50_000))
	good := e.full()
	nextDay(e)
	nextDay(e)
	e.put("/b.bin", random(50_000))
	bad := e.full()
	if bad.Type != TypeFull {
		t.Fatalf("second backup is %s", bad.Type)
	}
	flipAt(t, filepath.Join(bad.Path, "manager.badger.zst"), 10)
	if _, err := e.b.Verify(ctx, e.master, bad.ID, "", nil); err == nil {
		t.Fatal("a damaged backup verified")
	}
	keepOnly(t, e)
	if _, err := e.b.Prune(ctx, e.master, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Verify(ctx, e.master, good.ID, "", nil); err != nil {
		t.Fatalf("the last sound backup after prune: %v", err)
	}
}

// A link of a chain that cannot be read while prune runs is not taken as
// gone: the full backup it continues stays.
func TestPruneKeepsChainWithUnreadableLink(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/a.bin", random(50_000))
	full := e.full()
	nextDay(e)
	e.put("/b.bin", random(1000))
	mid := e.full()
	nextDay(e)
	e.put("/c.bin", random(1000))
	last := e.full()
	if last.Type != TypeIncremental || last.Parent != mid.ID || mid.Parent != full.ID {
		t.Fatalf("chain: %s ← %s ← %s", full.ID, mid.ID, last.ID)
	}
	mf := filepath.Join(mid.Path, manifestName)
	raw, _ := os.ReadFile(mf)
	if err := os.WriteFile(mf, raw[:len(raw)/2], 0o600); err != nil { // torn, or a read error
		t.Fatal(err)
	}
	keepOnly(t, e)
	if _, err := e.b.Prune(ctx, e.master, false); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mf, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Verify(ctx, e.master, last.ID, "", nil); err != nil {
		t.Fatalf("the newest backup once its link reads again: %v", err)
	}
}

// Backups taken within one second (a script, a safety backup before a
// restore) are ordered by when they were taken, not by the random end of
// their ids: the backup just made is never the one its own prune removes,
// and the list shows it first.
func TestBackupsOfOneSecondKeepTheNewest(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.b.SetClock(func() time.Time { e.now = e.now.Add(10 * time.Millisecond); return e.now })
	e.put("/a.bin", random(20_000))
	for i := range 8 {
		e.put(fmt.Sprintf("/n%d.bin", i), random(1000))
		m := e.full()
		if _, err := os.Stat(filepath.Join(m.Path, manifestName)); err != nil {
			t.Fatalf("backup %d (%s %s) was pruned as soon as it was made: %v", i, m.Type, m.ID, err)
		}
		all, err := e.b.All()
		if err != nil || len(all) == 0 || all[0].ID != m.ID {
			t.Fatalf("backup %d: the list does not show %s first (%v)", i, m.ID, err)
		}
		if _, err := e.b.Verify(ctx, e.master, m.ID, "", nil); err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
	}
}

// The retention rule, case by case: what is kept, and the reasons given.
func TestRetentionRules(t *testing.T) {
	at := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.Local) }
	now := at(25, 12)
	full := func(id string, d, h int) Manifest {
		return Manifest{ID: id, Level: 2, Type: TypeFull, Plinth: "p", Created: at(d, h)}
	}
	inc := func(id string, d, h int, parent, base string) Manifest {
		return Manifest{ID: id, Level: 2, Type: TypeIncremental, Parent: parent, Base: base, Plinth: "p", Created: at(d, h)}
	}
	rule := Level2Settings{KeepDaily: 7, KeepWeekly: 4, KeepNewest: 3}
	tight := Level2Settings{KeepDaily: 1, KeepWeekly: 0, KeepNewest: 1}
	cases := []struct {
		name string
		all  []Manifest // any order
		c    Level2Settings
		f    facts
		want map[string]string // id → reasons joined by "; "; absent: removed
	}{
		{
			name: "five on one day: the newest 3 stay",
			all:  []Manifest{full("a", 25, 8), full("b", 25, 9), full("c", 25, 10), full("d", 25, 11), full("e", 25, 12)},
			c:    rule,
			want: map[string]string{"e": "newest 3; daily; weekly", "d": "newest 3", "c": "newest 3"},
		},
		{
			name: "restore from the first of two same-day backups, back up again: both are still there",
			all:  []Manifest{full("first", 25, 9), inc("second", 25, 10, "first", "first"), full("again", 25, 11)},
			c:    rule,
			f:    facts{restored: map[string]time.Time{"first": at(25, 10)}},
			want: map[string]string{"again": "newest 3; daily; weekly", "second": "newest 3", "first": "newest 3; restored from on 2026-11-25; incremental chain of second"},
		},
		{
			name: "the backup restored from stays under the tightest rule; the one after it goes",
			all:  []Manifest{full("first", 25, 9), inc("second", 25, 10, "first", "first"), full("again", 25, 11)},
			c:    tight,
			f:    facts{restored: map[string]time.Time{"first": at(25, 10)}},
			want: map[string]string{"again": "newest 1; daily", "first": "restored from on 2026-11-25"},
		},
		{
			name: "restored from within 30 days: kept; an older restore source goes",
			all:  []Manifest{full("a", 1, 2), full("c", 3, 2), full("d", 25, 2)},
			c:    tight,
			f: facts{restored: map[string]time.Time{
				"a": now.AddDate(0, 0, -35),
				"c": now.AddDate(0, 0, -29).Add(-time.Hour),
			}},
			want: map[string]string{"d": "newest 1; daily", "c": "restored from on 2026-10-27"},
		},
		{
			name: "the latest restore source stays however long ago",
			all:  []Manifest{full("a", 1, 2), full("b", 2, 2), full("d", 25, 2)},
			c:    tight,
			f: facts{restored: map[string]time.Time{
				"a": now.AddDate(0, 0, -40),
				"b": now.AddDate(0, 0, -35), // a's restore came first
			}},
			want: map[string]string{"d": "newest 1; daily", "b": "restored from on 2026-10-21, the latest restore"},
		},
		{
			name: "a restored incremental keeps its chain",
			all:  []Manifest{full("f", 20, 2), inc("i1", 21, 2, "f", "f"), inc("i2", 22, 2, "i1", "f"), full("g", 25, 2)},
			c:    tight,
			f:    facts{restored: map[string]time.Time{"i1": at(24, 2)}},
			want: map[string]string{"g": "newest 1; daily", "i1": "restored from on 2026-11-24", "f": "incremental chain of i1"},
		},
		{
			name: "pre-upgrade and held backups stay",
			all:  []Manifest{full("a", 20, 2), full("b", 21, 2), full("c", 22, 2), full("d", 25, 2)},
			c:    tight,
			f:    facts{pinned: []string{"a", "nosuch"}, held: map[string]bool{"c": true, "": true}},
			want: map[string]string{"d": "newest 1; daily", "a": WhyPinned, "c": WhyHeld},
		},
		{
			name: "a chain with an unreadable link keeps everything older of it",
			all:  []Manifest{full("f", 20, 2), inc("i1", 21, 2, "f", "f"), inc("i3", 23, 2, "i2", "f")}, // i2 cannot be read
			c:    tight,
			want: map[string]string{"i3": "newest 1; daily", "i1": WhySound + "; incremental chain of i3", "f": "incremental chain of i3"},
		},
		{
			name: "a newer backup that failed its verification keeps the newest sound one",
			all:  []Manifest{full("a", 20, 2), full("b", 21, 2), full("c", 25, 2)},
			c:    tight,
			f:    facts{bad: map[string]bool{"c": true}},
			want: map[string]string{"c": "newest 1; daily", "b": WhySound},
		},
		{
			name: "weekly: the newest of each of the last weeks",
			all:  []Manifest{full("w1", 3, 2), full("w2", 10, 2), full("w3a", 16, 2), full("w3b", 17, 2), full("w4", 25, 2)},
			c:    Level2Settings{KeepDaily: 1, KeepWeekly: 3, KeepNewest: 1},
			want: map[string]string{"w4": "newest 1; daily; weekly", "w3b": WhyWeekly, "w2": WhyWeekly},
		},
		{
			name: "another Plinth's backups are not looked at",
			all:  []Manifest{{ID: "x", Level: 2, Type: TypeFull, Plinth: "q", Created: at(25, 12)}, full("a", 20, 2)},
			c:    tight,
			want: map[string]string{"a": "newest 1; daily"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			all := append([]Manifest(nil), tc.all...)
			sortNewestFirst(all)
			f := tc.f
			f.plinth, f.now = "p", now
			why := keep(all, tc.c, f)
			got := map[string]string{}
			for id, r := range why {
				got[id] = strings.Join(r, "; ")
			}
			for id, w := range tc.want {
				if got[id] != w {
					t.Errorf("%s: kept for %q, want %q", id, got[id], w)
				}
			}
			for id, g := range got {
				if _, ok := tc.want[id]; !ok {
					t.Errorf("%s: kept for %q, want it removed", id, g)
				}
			}
		})
	}
}

// pruned counts the notifications of removals by retention.
func pruned(t *testing.T, e *env) []string {
	t.Helper()
	l, err := e.notify.List(context.Background(), e.master, false)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range l {
		if x.Kind == notify.BackupPruned {
			out = append(out, x.Text)
		}
	}
	return out
}

// Retention with real backups and restores: the backup restored from
// stays, every removal is in History (and the removed backup's record
// says so), and one notification tells of each run that removed any.
func TestRetentionNeverSurprises(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name       string
		newest     int // KeepNewest; KeepDaily 1, KeepWeekly 0 when set, the defaults when 0
		wantSecond bool
	}{
		{"restore from the first of two same-day backups, back up again: both are still there", 0, true},
		{"the same under the tightest rule: the backup restored from stays, the other goes", 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.newest > 0 {
				keepOnly(t, e)
			}
			e.put("/a.bin", random(30_000))
			first := e.full()
			e.put("/b.bin", random(1000))
			second := e.full()
			if _, err := e.b.Restore(ctx, e.master, first.ID, ScopeAll, "", nil); err != nil {
				t.Fatal(err)
			}
			again := e.full()
			all, _ := e.b.List()
			got := map[string]bool{}
			for _, m := range all {
				got[m.ID] = true
			}
			if !got[first.ID] || !got[again.ID] || got[second.ID] != tc.wantSecond {
				t.Fatalf("after backing up again: %s; want %s, %s and (%v) %s", ids(all), again.ID, first.ID, tc.wantSecond, second.ID)
			}
			if _, err := e.b.Verify(ctx, e.master, first.ID, "", nil); err != nil {
				t.Fatalf("the backup restored from: %v", err)
			}
			hist, _ := e.b.History(ctx, e.master)
			byID := map[string]Record{}
			restores := 0
			for _, r := range hist {
				byID[r.ID] = r
				if r.Type == TypeRestore && r.From == first.ID && r.OK {
					restores++
				}
			}
			if restores != 1 {
				t.Errorf("History holds %d records of the restore from %s, want 1", restores, first.ID)
			}
			removal, removed := byID["removed-"+second.ID], byID[second.ID]
			n := pruned(t, e)
			if tc.wantSecond {
				if removal.ID != "" || !removed.Removed.IsZero() || len(n) != 0 {
					t.Fatalf("nothing was removed, yet History says %+v / %+v, notifications %q", removal, removed, n)
				}
				return
			}
			want := "Incremental backup " + second.ID + " removed by retention: kept 1 daily, 0 weekly, 1 newest"
			if removal.Type != TypeRemoval || removal.Item != want || removal.From != second.ID || !removal.OK {
				t.Errorf("removal record: %+v\nwant %q", removal, want)
			}
			if removed.Removed.IsZero() {
				t.Errorf("the removed backup's own record does not say it was removed: %+v", removed)
			}
			if len(n) != 1 || !strings.Contains(n[0], "Retention removed 1 full backup (kept 1 daily, 0 weekly, 1 newest): "+second.ID) {
				t.Errorf("notifications of the removal: %q, want one", n)
			}
			// A run that removes nothing says nothing.
			if gone, err := e.b.Prune(ctx, e.master, false); err != nil || len(gone) != 0 {
				t.Fatalf("second prune: %v %v", ids(gone), err)
			}
			if n := pruned(t, e); len(n) != 1 {
				t.Errorf("%d notifications after a prune that removed nothing, want 1", len(n))
			}
		})
	}
}

// One prune run that removes several backups writes a record for each
// and tells once; a restore keeps History (the restore of an older backup
// does not forget what happened since), and 30 days after a restore only
// the latest restore source is still kept for it.
func TestRetentionRunsAndRestoreExpiry(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	c, _ := e.b.Level2()
	c.FullEvery = 1
	c.KeepNewest = 10 // nothing goes until the rule is tightened
	if err := e.b.SetLevel2(ctx, e.master, c); err != nil {
		t.Fatal(err)
	}
	var ms []Manifest
	for i := range 5 {
		e.put(fmt.Sprintf("/%d.bin", i), random(2000))
		ms = append(ms, e.full())
		nextDay(e)
	}
	// Restore the second newest, then the oldest: History keeps both.
	for _, m := range []Manifest{ms[3], ms[0]} {
		if _, err := e.b.Restore(ctx, e.master, m.ID, ScopeAll, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	keepOnly(t, e) // the restore brought back the settings of ms[0]'s day
	rep, err := e.b.Retention(ctx, e.master, false)
	if err != nil {
		t.Fatal(err)
	}
	kept := func() string {
		all, _ := e.b.List()
		return ids(all)
	}
	if want := ids([]Manifest{ms[4], ms[3], ms[0]}); kept() != want {
		t.Fatalf("kept %s, want %s (the newest and the two restored from)", kept(), want)
	}
	if ids(rep.Removed) != ids([]Manifest{ms[2], ms[1]}) {
		t.Fatalf("removed %s", ids(rep.Removed))
	}
	hist, _ := e.b.History(ctx, e.master)
	removals := 0
	for _, r := range hist {
		if r.Type == TypeRemoval {
			removals++
		}
	}
	if n := pruned(t, e); removals != 2 || len(n) != 1 || !strings.Contains(n[0], "Retention removed 2 full backups") {
		t.Fatalf("%d removal records, notifications %q; want 2 and one", removals, n)
	}
	// 31 days on, with a backup a day: ms[3]'s restore is over 30 days
	// old and not the latest; ms[0] is still the latest restore source.
	e.now = e.now.AddDate(0, 0, 31)
	e.put("/later.bin", random(2000))
	later := e.full()
	if want := ids([]Manifest{later, ms[0]}); kept() != want {
		t.Fatalf("a month on: kept %s, want %s", kept(), want)
	}
}

// A dry run says for every full backup whether it is kept and why, as one
// JSON object, and removes, records and tells nothing.
func TestPruneDryRunSaysWhy(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	keepOnly(t, e)
	c, _ := e.b.Level2()
	c.FullEvery = 1
	_ = e.b.SetLevel2(ctx, e.master, c)
	var ms []Manifest
	e.b.Pinned = func() []string {
		if len(ms) == 0 {
			return nil
		}
		return []string{ms[0].ID}
	}
	for i := range 3 {
		e.put(fmt.Sprintf("/%d.bin", i), random(2000))
		ms = append(ms, e.full())
		nextDay(e)
	}
	// ms[1] went with the backup after it; a dry run shows the rest.
	rep, err := e.b.Retention(ctx, e.master, true)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(rep)
	var doc struct {
		DryRun  bool   `json:"dryRun"`
		Rule    string `json:"rule"`
		Backups []struct {
			ID      string    `json:"id"`
			Created time.Time `json:"created"`
			Kept    *bool     `json:"kept"`
			Why     []string  `json:"why"`
		} `json:"backups"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.DryRun || doc.Rule != "kept 1 daily, 0 weekly, 1 newest" || len(doc.Backups) != 2 {
		t.Fatalf("dry run: %s", raw)
	}
	for i, want := range []struct {
		id  string
		why string
	}{{ms[2].ID, "newest 1, daily"}, {ms[0].ID, WhyPinned}} {
		b := doc.Backups[i]
		if b.ID != want.id || b.Kept == nil || !*b.Kept || strings.Join(b.Why, ", ") != want.why || b.Created.IsZero() {
			t.Errorf("backup %d: %+v, want %s kept for %q", i, b, want.id, want.why)
		}
	}
	// Unpinned, ms[0] would go: kept false, why [] (not null).
	e.b.Pinned = nil
	rep, _ = e.b.Retention(ctx, e.master, true)
	raw, _ = json.Marshal(rep.Backups[1])
	if want := `"kept":false,"why":[]`; !strings.Contains(string(raw), want) || ids(rep.Removed) != ms[0].ID {
		t.Fatalf("a backup that would go: %s, removed %s; want %s", raw, ids(rep.Removed), want)
	}
	if _, err := os.Stat(ms[0].Path); err != nil {
		t.Fatalf("a dry run removed %s: %v", ms[0].ID, err)
	}
	hist, _ := e.b.History(ctx, e.master)
	for _, r := range hist {
		if r.ID == "removed-"+ms[0].ID || r.ID == ms[0].ID && !r.Removed.IsZero() {
			t.Fatalf("a dry run wrote a removal to History: %+v", r)
		}
	}
	if n := pruned(t, e); len(n) != 1 { // the removal of ms[1] with the third backup
		t.Fatalf("notifications: %q, want the one of the third backup's prune", n)
	}
}

// Settings stored before KeepNewest existed read as the default; less
// than 1 is refused.
func TestKeepNewestSetting(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if c, _ := e.b.Level2(); c.KeepNewest != DefaultKeepNewest {
		t.Fatalf("default KeepNewest %d", c.KeepNewest)
	}
	// As stored by an earlier Plinth: no keepNewest.
	old, _ := e.b.Level2()
	old.KeepNewest = 0
	if raw, _ := json.Marshal(old); strings.Contains(string(raw), "keepNewest") {
		t.Fatalf("stored as %s", raw)
	}
	if err := e.mgr.Update(func(tx *storage.Tx) error { return settings2.Put(tx, "backup2", old) }); err != nil {
		t.Fatal(err)
	}
	c, err := e.b.Level2()
	if err != nil || c.KeepNewest != DefaultKeepNewest {
		t.Fatalf("earlier settings: KeepNewest %d, %v", c.KeepNewest, err)
	}
	c.KeepNewest = 0
	if err := e.b.SetLevel2(ctx, e.master, c); err == nil || !strings.Contains(err.Error(), "keep at least the newest backup") {
		t.Fatalf("KeepNewest 0: %v", err)
	}
	c.KeepNewest = 5
	if err := e.b.SetLevel2(ctx, e.master, c); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.b.Level2(); c.KeepNewest != 5 || c.Rule() != "kept 7 daily, 4 weekly, 5 newest" {
		t.Fatalf("saved: %d, %q", c.KeepNewest, c.Rule())
	}
}
