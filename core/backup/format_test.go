package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/core/upgrade"
)

// rewriteManifest changes a backup's manifest.json as a newer Plinth
// would have written it.
func rewriteManifest(t *testing.T, path string, change func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	b, _ = json.Marshal(m)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Backups record the data format of what they hold and the Plinth that
// wrote them.
func TestBackupsRecordTheirFormats(t *testing.T) {
	e := newEnv(t)
	e.b.Version = "0.3"
	e.put("/a.bin", random(1000))
	m := e.full()
	if m.Format != upgrade.Manifest || m.Writer != "0.3" {
		t.Fatalf("manifest format %d writer %q", m.Format, m.Writer)
	}
	for _, p := range m.Payloads {
		if p.Format != 1 { // these test stores record no format: 1
			t.Fatalf("payload %s format %d", p.Kind, p.Format)
		}
	}
}

// A backup of a newer format is not damaged: it gets its own sentence,
// and this Plinth neither restores nor prunes it, nor any target that
// holds one.
func TestNewerBackupIsLeftAlone(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	old, newer := threeDays(t, e)
	rewriteManifest(t, filepath.Join(newer.Path, manifestName), func(m map[string]any) {
		m["format"] = upgrade.Manifest + 1
		m["writer"] = "0.9"
		m["somethingNew"] = true
	})
	// Retention down to one backup: the oldest would go, but a newer
	// Plinth's chain may continue it.
	keepOnly(t, e)
	_, err := e.b.Get(newer.ID)
	want := "backup " + newer.ID + " was written by Plinth 0.9 (backup format 3); this Plinth reads backup formats up to 2: install Plinth 0.9 or newer to use it"
	if !errors.Is(err, ErrNewerBackup) || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if _, err := e.b.Restore(ctx, e.master, newer.ID, ScopeAll, "", nil); !errors.Is(err, ErrNewerBackup) {
		t.Fatalf("restore: %v", err)
	}
	if gone, err := e.b.Prune(ctx, e.master, false); err != nil || len(gone) != 0 {
		t.Fatalf("prune: %v %v", gone, err)
	}
	if _, err := os.Stat(old.Path); err != nil {
		t.Fatalf("prune removed a backup beside a newer Plinth's: %v", err)
	}
}

// A backup that holds stores of a newer data format is refused before
// anything is restored.
func TestBackupOfNewerDataIsNotRestored(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/a.bin", random(1000))
	m := e.full()
	rewriteManifest(t, filepath.Join(m.Path, manifestName), func(mm map[string]any) {
		for _, p := range mm["payloads"].([]any) {
			p.(map[string]any)["format"] = upgrade.Data + 1
		}
	})
	before := e.state()
	_, err := e.b.Restore(ctx, e.master, m.ID, ScopeAll, "", nil)
	if !errors.Is(err, ErrNewerBackup) || !strings.Contains(err.Error(), "holds data that was written by a newer Plinth (data format 3)") {
		t.Fatalf("restore: %v", err)
	}
	if e.state() != before {
		t.Fatal("a refused restore changed the data")
	}
}

// A snapshot target records its format with the first snapshot; one of a
// newer format is refused for snapshots, lists and prunes.
func TestSnapshotRepositoryFormat(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.project("Tower")
	e.put("/Tower/a.bin", random(5000))
	target := e.b.snapshotTarget()
	e.snap(p.ID)
	var f repoFormat
	b, err := os.ReadFile(filepath.Join(target, repoFormatName))
	if err != nil || json.Unmarshal(b, &f) != nil || f.Format != upgrade.SnapshotRepo || f.Kind != repoKind {
		t.Fatalf("format.json of the target: %s %v", b, err)
	}
	// A target of format 1 (no format.json) is read, and stamped by the
	// next snapshot.
	_ = os.Remove(filepath.Join(target, repoFormatName))
	if l, err := e.b.Snapshots(p.ID); err != nil || len(l) != 1 {
		t.Fatalf("snapshots of a format-1 target: %v %v", l, err)
	}
	e.snap(p.ID)
	if _, err := os.Stat(filepath.Join(target, repoFormatName)); err != nil {
		t.Fatal("the format-1 target was not stamped")
	}
	// Format 3 is the one with packs: a Plinth that reads up to 2 refuses
	// it, as this one refuses 4, below.
	if upgrade.SnapshotRepo != 3 || len(packFiles(t, target)) == 0 {
		t.Fatalf("snapshot repository format %d, %d packs", upgrade.SnapshotRepo, len(packFiles(t, target)))
	}
	packs := packFiles(t, target)
	// Newer: refused everywhere, and nothing is removed.
	b, _ = json.Marshal(repoFormat{Format: upgrade.SnapshotRepo + 1, Kind: repoKind, WrittenBy: "0.9"})
	_ = os.WriteFile(filepath.Join(target, repoFormatName), b, 0o600)
	want := fmt.Sprintf("the snapshot folder %s was written by Plinth 0.9 (snapshot repository format %d)", target, upgrade.SnapshotRepo+1)
	if _, err := e.b.Snapshots(""); !errors.Is(err, ErrNewerBackup) {
		t.Fatalf("list: %v", err)
	}
	if _, err := e.b.Snapshot(ctx, e.master, p.ID, nil); !errors.Is(err, ErrNewerBackup) {
		t.Fatalf("snapshot: %v", err)
	}
	if _, err := e.b.Prune(ctx, e.master, false); !errors.Is(err, ErrNewerBackup) || !strings.Contains(err.Error(), want) {
		t.Fatalf("prune: %v", err)
	}
	if got := packFiles(t, target); strings.Join(got, ",") != strings.Join(packs, ",") {
		t.Fatal("a refused target's packs changed")
	}
}

// A snapshot archive of a newer format is refused by import with its own
// sentence, not as a file that is not Plinth's.
func TestNewerArchiveIsRefused(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.project("Tower")
	e.put("/Tower/a.bin", random(5000))
	m := e.snap(p.ID)
	src := filepath.Join(t.TempDir(), "tower.tar")
	if err := e.b.ExportSnapshot(ctx, e.master, m.ID, src, false); err != nil {
		t.Fatal(err)
	}
	in, _ := os.Open(src)
	defer in.Close()
	var out bytes.Buffer
	tr, tw := tar.NewReader(in), tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if h.Name == manifestName {
			var mm map[string]any
			_ = json.Unmarshal(body, &mm)
			mm["format"] = upgrade.Manifest + 1
			body, _ = json.Marshal(mm)
			h.Size = int64(len(body))
		}
		_ = tw.WriteHeader(h)
		_, _ = tw.Write(body)
	}
	_ = tw.Close()
	dst := filepath.Join(t.TempDir(), "newer.tar")
	_ = os.WriteFile(dst, out.Bytes(), 0o600)
	_, err := e.b.ImportSnapshot(ctx, e.master, dst, "Tower again", "", nil)
	if !errors.Is(err, ErrNewerBackup) || !strings.Contains(err.Error(), "the snapshot file "+dst+" was written by") {
		t.Fatalf("import: %v", err)
	}
}

// The backup the app pins (the one taken before the last upgrade) stays,
// whatever retention says; the others go as the rule says.
func TestPinnedBackupIsKept(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	c, _ := e.b.Level2()
	c.FullEvery = 1
	_ = e.b.SetLevel2(ctx, e.master, c)
	var ms []Manifest
	for i := range 3 {
		e.put(fmt.Sprintf("/%d.bin", i), random(1000))
		ms = append(ms, e.full())
		nextDay(e)
	}
	e.b.Pinned = func() []string { return []string{ms[0].ID} }
	keepOnly(t, e)
	if _, err := e.b.Prune(ctx, e.master, false); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false, true} {
		if _, err := os.Stat(ms[i].Path); (err == nil) != want {
			t.Errorf("backup %d kept = %v, want %v", i, err == nil, want)
		}
	}
}

// A newer Plinth that kept the manifest format but holds newer data in
// its backups (the usual case) is left alone the same way: its backups
// are not pruned, not continued by an incremental, not verified as ours.
func TestBackupOfNewerPayloadIsLeftAlone(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	old, newer := threeDays(t, e)
	c, _ := e.b.Level2()
	rewriteManifest(t, filepath.Join(newer.Path, manifestName), func(mm map[string]any) {
		for _, p := range mm["payloads"].([]any) {
			p.(map[string]any)["format"] = upgrade.Data + 1
		}
	})
	keepOnly(t, e)
	if gone, err := e.b.Prune(ctx, e.master, false); err != nil || len(gone) != 0 {
		t.Fatalf("prune: %v %v", gone, err)
	}
	if _, err := os.Stat(old.Path); err != nil {
		t.Fatalf("prune removed a backup beside a newer Plinth's: %v", err)
	}
	c.FullEvery = 30
	_ = e.b.SetLevel2(ctx, e.master, c)
	e.put("/d.bin", random(1000))
	if m := e.full(); m.Type != TypeFull {
		t.Fatalf("the next backup continues the newer Plinth's: %s of %s", m.Type, m.Parent)
	}
}

// threeDays takes a full backup on each of three days (every backup a
// full one: retention alone decides) and returns the first and the last.
func threeDays(t *testing.T, e *env) (first, last Manifest) {
	t.Helper()
	c, _ := e.b.Level2()
	c.FullEvery = 1
	if err := e.b.SetLevel2(context.Background(), e.master, c); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if i > 0 {
			nextDay(e)
		}
		e.put(fmt.Sprintf("/day%d.bin", i), random(20_000))
		m := e.full()
		if i == 0 {
			first = m
		}
		last = m
	}
	return first, last
}
