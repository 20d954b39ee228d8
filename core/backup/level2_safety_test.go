package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys/faultfs"
)

// millionPacks, as a value in a crafted manifest, becomes a map of 10^6
// committed packs.
const millionPacks = "a million packs"

// craft copies backup m into a new folder id of the same target and lets
// edit change its manifest, as someone who can write the target could.
func craft(t *testing.T, m Manifest, id string, edit func(doc map[string]any)) string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(m.Path), id)
	if err := os.CopyFS(dir, os.DirFS(m.Path)); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc["id"] = id
	edit(doc)
	raw, _ = json.Marshal(doc)
	if i := bytes.Index(raw, []byte(`"`+millionPacks+`"`)); i >= 0 {
		// A committed map of 10^6 packs, written out without encoding/json.
		big := make([]byte, 0, 20<<20)
		big = append(big, raw[:i]...)
		big = append(big, '{')
		for n := range 1_000_000 {
			big = append(big, '"')
			big = append(big, storage.PackName(uint32(n+1))...)
			big = append(big, `":44,`...)
		}
		big = append(big, `"99999999.pack":44}`...)
		raw = append(big, raw[i+len(millionPacks)+2:]...)
	} else if strings.Contains(string(raw), millionPacks) {
		t.Fatal("the placeholder for a million packs was escaped")
	}
	if err := os.WriteFile(filepath.Join(dir, manifestName), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// payloadDoc returns the manifest's part of store kind, as JSON.
func payloadDoc(doc map[string]any, kind storage.Kind) map[string]any {
	for _, p := range doc["payloads"].([]any) {
		if p := p.(map[string]any); p["kind"] == string(kind) {
			return p
		}
	}
	panic("no payload " + kind)
}

func firstSegment(doc map[string]any) map[string]any {
	return payloadDoc(doc, storage.FileServer)["segments"].([]any)[0].(map[string]any)
}

// emptyDir fails the test when dir holds anything.
func emptyDir(t *testing.T, dir, when string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("%s wrote %v into %s", when, names, dir)
	}
}

// A backup folder whose manifest names files outside it is damaged: verify,
// restore, the weekly verify and prune write nothing, anywhere, and say so
// in one sentence naming the backup.
func TestCraftedManifestWritesNothing(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	escape := strings.Repeat("../", 40) + strings.TrimPrefix(filepath.ToSlash(outside), "/") + "/pwned"
	const crafted = "20991231-235959-c0ffee" // newer than any real backup
	cases := []struct {
		name string
		edit func(doc map[string]any)
	}{
		{"committed ..", func(doc map[string]any) {
			payloadDoc(doc, storage.FileServer)["committed"].(map[string]any)[escape] = 44
		}},
		{"committed absolute", func(doc map[string]any) {
			payloadDoc(doc, storage.FileServer)["committed"].(map[string]any)[filepath.Join(outside, "pwned")] = 44
		}},
		{"committed backslashes", func(doc map[string]any) {
			payloadDoc(doc, storage.FileServer)["committed"].(map[string]any)[strings.ReplaceAll(escape, "/", `\`)] = 44
		}},
		{"segment name", func(doc map[string]any) {
			seg := firstSegment(doc)
			c := payloadDoc(doc, storage.FileServer)["committed"].(map[string]any)
			c[escape] = c[seg["name"].(string)]
			delete(c, seg["name"].(string))
			seg["name"] = escape
		}},
		{"segment file", func(doc map[string]any) { firstSegment(doc)["file"] = escape }},
		{"segment file absolute", func(doc map[string]any) { firstSegment(doc)["file"] = filepath.Join(outside, "pwned") }},
		{"segment file backslashes", func(doc map[string]any) {
			firstSegment(doc)["file"] = strings.ReplaceAll(escape, "/", `\`)
		}},
		{"payload file", func(doc map[string]any) { payloadDoc(doc, storage.Manager)["file"] = escape }},
		{"payload file absolute", func(doc map[string]any) {
			payloadDoc(doc, storage.FileServer)["file"] = filepath.Join(outside, "pwned")
		}},
		{"parent", func(doc map[string]any) { doc["type"], doc["parent"] = TypeIncremental, escape }},
		{"tree file", func(doc map[string]any) { doc["tree"] = map[string]any{"file": escape} }},
		{"a million packs", func(doc map[string]any) {
			payloadDoc(doc, storage.FileServer)["committed"] = millionPacks
		}},
	}
	e := newEnv(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // verify's scratch folder
	e.put("/Tower/plans.pdf", random(200_000))
	real := e.full()
	e.put("/Tower/later.txt", []byte("after the backup"))
	before := e.state()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			dir := craft(t, real, crafted, tt.edit)
			defer os.RemoveAll(dir)
			counting := faultfs.New(nil)
			e.b.SetFS(counting)
			defer e.b.SetFS(nil)

			damaged := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), crafted) || !strings.Contains(err.Error(), "manifest") ||
					strings.Contains(err.Error(), "\n") {
					t.Fatalf("%s of the crafted backup: %v\nwant one sentence saying backup %s is damaged", what, err, crafted)
				}
				emptyDir(t, outside, what)
				emptyDir(t, tmp, what)
			}
			_, err := e.b.Verify(ctx, e.master, crafted, "", nil)
			damaged("verify", err)
			_, err = e.b.Restore(ctx, e.master, crafted, ScopeAll, "", nil)
			damaged("restore", err)
			if n := counting.Calls(faultfs.OpCreate) + counting.Calls(faultfs.OpMkdir) + counting.Calls(faultfs.OpWrite); n != 0 {
				t.Fatalf("verify and restore of a damaged backup made %d writes", n)
			}
			if got := e.state(); got != before {
				t.Fatalf("restore of a damaged backup changed the live data:\n%s", got)
			}
			// The weekly verify still verifies the newest sound backup, and
			// fails naming the damaged one.
			_, err = e.b.VerifyNewest(ctx, e.master)
			damaged("the weekly verify", err)
			if _, err := e.b.Prune(ctx, e.master, false); err != nil {
				t.Fatal(err)
			}
			emptyDir(t, outside, "prune")
			if _, err := os.Stat(filepath.Join(filepath.Dir(real.Path), crafted)); err != nil {
				t.Fatalf("prune removed the damaged folder (a person decides): %v", err)
			}
			// The crafted folder never pushes the real backup out.
			if _, err := e.b.Verify(ctx, e.master, real.ID, "", nil); err != nil {
				t.Fatalf("the real backup after prune: %v", err)
			}
		})
	}
}

// A manifest too large to be real is damaged without being read whole.
func TestHugeManifestIsDamaged(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/a.txt", []byte("a"))
	real := e.full()
	const crafted = "20991231-235959-b16b16"
	dir := craft(t, real, crafted, func(map[string]any) {})
	if err := os.Truncate(filepath.Join(dir, manifestName), maxManifest+1); err != nil {
		t.Fatal(err)
	}
	_, err := e.b.Verify(ctx, e.master, crafted, "", nil)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "backup "+crafted+" is damaged") {
		t.Fatalf("verify of a %d MiB manifest: %v", maxManifest>>20, err)
	}
	if all, _ := e.b.List(); len(all) != 1 || all[0].ID != real.ID {
		t.Fatalf("listed: %v", all)
	}
	// A manifest with a list longer than any real one is refused before
	// it is decoded.
	deep := craft(t, real, "20991231-235959-d33d33", func(map[string]any) {})
	raw := `{"format":2,"id":"20991231-235959-d33d33","level":2,"payloads":[` + strings.Repeat(`{},`, 10) + `{}]}`
	if err := os.WriteFile(filepath.Join(deep, manifestName), []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Verify(ctx, e.master, "20991231-235959-d33d33", "", nil); !errors.Is(err, ErrDamaged) ||
		!strings.Contains(err.Error(), `more than 2 entries under "payloads"`) {
		t.Fatalf("11 payloads: %v", err)
	}
}

// Names written by an earlier Plinth on Windows ("packs\…") still read.
func TestWindowsSeparatorsInManifest(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("/a.bin", random(100_000))
	real := e.full()
	id := "20991231-235959-00000b"
	craft(t, real, id, func(doc map[string]any) {
		seg := firstSegment(doc)
		seg["file"] = strings.ReplaceAll(seg["file"].(string), "/", `\`)
	})
	if _, err := e.b.Verify(ctx, e.master, id, "", nil); err != nil {
		t.Fatal(err)
	}
}
