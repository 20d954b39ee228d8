package backup

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// chunkFiles lists the chunks stored in a snapshot target: loose chunk
// files by path, chunks in packs as <pack path>#<chunk file name>.
func chunkFiles(t *testing.T, target string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(filepath.Join(target, "chunks"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	for _, p := range packFiles(t, target) {
		tag, _, entries, err := readPackIndex(nil, p)
		if err != nil {
			t.Fatalf("pack %s: %v", p, err)
		}
		for _, e := range entries {
			out = append(out, p+"#"+tagKey(e.id, tag))
		}
	}
	sort.Strings(out)
	return out
}

// packFiles lists the pack files of a snapshot target.
func packFiles(t *testing.T, target string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(target, packsDir))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if isPackName(e.Name()) {
			out = append(out, filepath.Join(target, packsDir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

// locateChunk finds chunk id for recipient in a target: the file it lies
// in, where in it, and how many bytes it has as stored.
func locateChunk(t *testing.T, target, id, recipient string) (path string, off, n int64) {
	t.Helper()
	if fi, err := os.Stat(chunkPath(target, id, recipient)); err == nil {
		return chunkPath(target, id, recipient), 0, fi.Size()
	}
	key := chunkName(id, recipient)
	for _, p := range packFiles(t, target) {
		tag, _, entries, err := readPackIndex(nil, p)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if tagKey(e.id, tag) == key {
				return p, e.off, e.stored
			}
		}
	}
	t.Fatalf("chunk %.12s is not in %s", id, target)
	return "", 0, 0
}

// readChunkStored reads chunk id for recipient as stored in a target.
func readChunkStored(t *testing.T, target, id, recipient string) []byte {
	t.Helper()
	p, off, n := locateChunk(t, target, id, recipient)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b[off : off+n]
}

// flipChunkByte flips one bit of byte at (from the chunk's start; < 0:
// from its end) of chunk id as stored in a target.
func flipChunkByte(t *testing.T, target, id, recipient string, at int64) string {
	t.Helper()
	p, off, n := locateChunk(t, target, id, recipient)
	if at < 0 {
		at += n
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[off+at] ^= 1
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// unpack turns a target's packs into loose chunk files, the layout of
// snapshot repository formats 1 and 2, and records format 2: a target as
// an older Plinth left it.
func unpack(t *testing.T, target string) {
	t.Helper()
	for _, p := range packFiles(t, target) {
		tag, _, entries, err := readPackIndex(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := tagKey(e.id, tag)
			dst := filepath.Join(target, "chunks", name[:2], name)
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b[e.off:e.off+e.stored], 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	f := []byte(`{"format": 2, "kind": "` + repoKind + `", "writtenBy": "0.8"}`)
	if err := os.WriteFile(filepath.Join(target, repoFormatName), f, 0o600); err != nil {
		t.Fatal(err)
	}
}

// contains reports whether list holds every one of want.
func containsAll(list, want []string) bool {
	in := map[string]bool{}
	for _, x := range list {
		in[x] = true
	}
	for _, x := range want {
		if !in[x] {
			return false
		}
	}
	return true
}
