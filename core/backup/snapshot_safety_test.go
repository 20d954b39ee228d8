package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage/fsys/faultfs"
)

// user adds a user with a role and returns them as an actor.
func (e *env) user(name string, role account.Role) account.Actor {
	e.t.Helper()
	ctx := context.Background()
	if err := e.acc.AddUser(ctx, e.master, account.NewUser{Name: name, Role: role, Password: name + " password"}); err != nil {
		e.t.Fatal(err)
	}
	a, err := e.acc.ActAs(ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) project(name string) files.Node {
	e.t.Helper()
	n, err := e.files.Create(context.Background(), e.master, files.RootID, name, files.KindProject)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) snap(id string) Manifest {
	e.t.Helper()
	m, err := e.b.Snapshot(context.Background(), e.master, id, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// oneSentence fails unless err is one line of text.
func oneSentence(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if msg := err.Error(); msg == "" || strings.ContainsAny(msg, "\n\r") || strings.HasSuffix(msg, ".") {
		t.Fatalf("not one sentence: %q", msg)
	}
}

// debris lists what interrupted or failed work left in a folder: temporary
// files, .incomplete- and .removing- folders, import staging folders.
func debris(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		n := d.Name()
		if strings.HasSuffix(n, ".plinth-tmp") || strings.HasPrefix(n, ".incomplete-") || strings.HasPrefix(n, ".removing-") || strings.HasPrefix(n, importStaging) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// encodeTree seals a tree as a plain snapshot stores it and notes it in m.
func encodeTree(t *testing.T, m *Manifest, doc treeDoc) []byte {
	t.Helper()
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	stored := chunkEncoder().EncodeAll(raw, nil)
	sum := sha256.Sum256(stored)
	t2 := *m.Tree
	t2.Bytes, t2.SHA256, t2.Entries = int64(len(stored)), hex.EncodeToString(sum[:]), len(doc.Entries)
	m.Tree = &t2
	return stored
}

func decodePlainTree(t *testing.T, stored []byte) treeDoc {
	t.Helper()
	raw, err := chunkDecoder().DecodeAll(stored, nil)
	if err != nil {
		raw, err = treeDecoder().DecodeAll(stored, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	var doc treeDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// rewriteTree changes the stored tree of a plain snapshot in its target,
// with checksums that match, as someone who can write the target could.
func rewriteTree(t *testing.T, m Manifest, change func(*treeDoc)) {
	t.Helper()
	stored, err := os.ReadFile(filepath.Join(m.Path, m.Tree.File))
	if err != nil {
		t.Fatal(err)
	}
	doc := decodePlainTree(t, stored)
	change(&doc)
	stored = encodeTree(t, &m, doc)
	if err := os.WriteFile(filepath.Join(m.Path, m.Tree.File), stored, 0o600); err != nil {
		t.Fatal(err)
	}
	path := m.Path
	m.Path = ""
	mb, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(path, manifestName), mb, 0o600); err != nil {
		t.Fatal(err)
	}
}

// badPaths are tree paths that must never be used.
var badPaths = []struct{ name, path, says string }{
	{"parent", "../x", `"../x" cannot be used`},
	{"parent inside", "plans/../../x", `cannot be used`},
	{"absolute", "/etc/x", "is not relative"},
	{"backslash", `plans\..\..\x`, "is not relative"},
	{"NUL", "plans/a\x00b", "control character"},
	{"RTL override", "plans/invoice\u202Efdp.exe", "text-direction character"},
	{"2000 deep", strings.Repeat("d/", 1999) + "f", "is 2000 folders deep; at most 256 are allowed"},
}

// A snapshot whose tree holds a bad path is damaged: restoring it (in
// place or as new), verifying or exporting it says so in one sentence
// and writes nothing.
func TestSnapshotTreePathsAreChecked(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tower := e.project("Tower")
	e.put("/Tower/plans/ground.pdf", []byte("ground floor"))
	for _, tc := range badPaths {
		t.Run(tc.name, func(t *testing.T) {
			m := e.snap(tower.ID)
			rewriteTree(t, m, func(d *treeDoc) {
				d.Entries = append(d.Entries, files.TreeEntry{Path: tc.path, Kind: files.KindFile, Size: 5,
					Chunks: []string{d.Entries[1].Chunks[0]}, Modified: time.Now()})
			})
			before, snaps := e.state(), len(mustSnapshots(t, e, tower.ID))
			_, err := e.b.RestoreSnapshot(ctx, e.master, m.ID, "", "", nil)
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("roll back: %v, want damaged saying %q", err, tc.says)
			}
			oneSentence(t, err)
			if _, err := e.b.RestoreSnapshot(ctx, e.master, m.ID, "Evil", "", nil); !errors.Is(err, ErrDamaged) {
				t.Fatalf("as new: %v", err)
			}
			if _, err := e.b.Verify(ctx, e.master, m.ID, "", nil); !errors.Is(err, ErrDamaged) {
				t.Fatalf("verify: %v", err)
			}
			if err := e.b.ExportSnapshot(ctx, e.master, m.ID, filepath.Join(t.TempDir(), "x.tar"), false); !errors.Is(err, ErrDamaged) {
				t.Fatalf("export: %v", err)
			}
			if e.state() != before || len(mustSnapshots(t, e, tower.ID)) != snaps {
				t.Fatal("a damaged snapshot changed something")
			}
			if _, err := os.Stat(filepath.Join(e.dir, "x")); err == nil {
				t.Fatal("a file was written outside")
			}
		})
	}
	// A chunk id that is a path is refused the same way.
	m := e.snap(tower.ID)
	rewriteTree(t, m, func(d *treeDoc) { d.Entries[1].Chunks[0] = "../../../../escaped" })
	if _, err := e.b.RestoreSnapshot(ctx, e.master, m.ID, "Evil", "", nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("bad chunk id: %v", err)
	}
	if _, err := e.files.Lookup(ctx, e.master, "/Evil"); !errors.Is(err, files.ErrNotFound) {
		t.Fatal("a damaged snapshot created a project")
	}
}

func mustSnapshots(t *testing.T, e *env, item string) []Manifest {
	t.Helper()
	l, err := e.b.Snapshots(item)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// member is one entry of a crafted archive.
type member struct {
	name string
	data []byte
	typ  byte
}

func readMembers(t *testing.T, path string) []member {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []member
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, member{name: h.Name, data: b, typ: h.Typeflag})
	}
}

func writeMembers(t *testing.T, path string, ms []member) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		typ := m.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: m.name, Typeflag: typ, Mode: 0o600, Size: int64(len(m.data))}
		if typ == tar.TypeSymlink {
			h.Size, h.Linkname = 0, "/etc/passwd"
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			_, _ = tw.Write(m.data)
		}
	}
	_ = tw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// withTree returns the members of an archive with its tree changed (and
// the manifest's checksums to match).
func withTree(t *testing.T, ms []member, change func(*treeDoc)) []member {
	t.Helper()
	var m Manifest
	if err := json.Unmarshal(ms[0].data, &m); err != nil {
		t.Fatal(err)
	}
	doc := decodePlainTree(t, ms[1].data)
	change(&doc)
	tree := encodeTree(t, &m, doc)
	mb, _ := json.Marshal(m)
	out := append([]member{{name: manifestName, data: mb}, {name: m.Tree.File, data: tree}}, ms[2:]...)
	return out
}

func withManifest(t *testing.T, ms []member, change func(*Manifest)) []member {
	t.Helper()
	var m Manifest
	if err := json.Unmarshal(ms[0].data, &m); err != nil {
		t.Fatal(err)
	}
	change(&m)
	mb, _ := json.Marshal(m)
	return append([]member{{name: manifestName, data: mb}}, ms[1:]...)
}

// rleBomb is a zstd frame of RLE blocks that decodes to n zero bytes
// (n a multiple of 128 KiB) in about n/32768 bytes, with no content size
// in its header: only a decoder that stops at its limit while it decodes
// is safe from it.
func rleBomb(n int64) []byte {
	out := []byte{0x28, 0xB5, 0x2F, 0xFD, 0x00, 10 << 3} // magic, no content size, 1 MiB window
	const block = 128 << 10
	for left := n; left > 0; left -= block {
		h := uint32(1<<1) | uint32(block)<<3 // RLE
		if left == block {
			h |= 1 // last
		}
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], h)
		out = append(out, b[0], b[1], b[2], 0)
	}
	return out
}

// Crafted archives: each is refused as damaged, in one sentence, and
// leaves no project, no staging folder and no chunk behind.
func TestImportRefusesCraftedArchives(t *testing.T) {
	src := newEnv(t)
	ctx := context.Background()
	tower := src.project("Tower")
	src.put("/Tower/plans/ground.pdf", random(5<<20))
	src.put("/Tower/model.ifc", []byte("ISO-10303-21; v1"))
	good := filepath.Join(t.TempDir(), "good.plinth-snapshot")
	if err := src.b.ExportSnapshot(ctx, src.master, src.snap(tower.ID).ID, good, false); err != nil {
		t.Fatal(err)
	}
	ms := readMembers(t, good)
	if len(ms) != 5 || ms[0].name != manifestName || ms[1].name != treePlain {
		t.Fatalf("archive members: %d, %s, %s", len(ms), ms[0].name, ms[1].name)
	}
	chunk := ms[2]
	id := strings.TrimSuffix(strings.TrimPrefix(chunk.name, "chunks/"), ".zst")
	flip := func(b []byte) []byte { c := bytes.Clone(b); c[len(c)/2] ^= 0xff; return c }
	addPath := func(p string) func(*treeDoc) {
		return func(d *treeDoc) {
			d.Entries = append(d.Entries, files.TreeEntry{Path: p, Kind: files.KindFolder, Modified: time.Now()})
		}
	}
	zeros := make([]byte, files.ChunkSize)
	zsum := sha256.Sum256(zeros)
	zid := hex.EncodeToString(zsum[:])
	cases := []struct {
		name    string
		raw     []byte   // the whole file, or
		members []member // its members
	}{
		{name: "not a tar", raw: random(10 << 10)},
		{name: "empty file", raw: []byte{}},
		{name: "tree before manifest", members: append([]member{ms[1], ms[0]}, ms[2:]...)},
		{name: "manifest not JSON", members: append([]member{{name: manifestName, data: []byte("{not json")}}, ms[1:]...)},
		{name: "manifest of a full backup", members: withManifest(t, ms, func(m *Manifest) { m.Level = 2 })},
		{name: "manifest names a tree outside", members: func() []member {
			x := withManifest(t, ms, func(m *Manifest) { m.Tree.File = "../../tree.json.zst" })
			x[1].name = "../../tree.json.zst"
			return x
		}()},
		{name: "manifest id with an escape", members: withManifest(t, ms, func(m *Manifest) { m.ID = "x\x1b[2J" })},
		{name: "tree does not match its checksum", members: append([]member{ms[0], {name: ms[1].name, data: flip(ms[1].data)}}, ms[2:]...)},
		{name: "tree path ../x", members: withTree(t, ms, addPath("../x"))},
		{name: "tree path absolute", members: withTree(t, ms, addPath("/etc"))},
		{name: "tree path backslash", members: withTree(t, ms, addPath(`a\..\..\b`))},
		{name: "tree path NUL", members: withTree(t, ms, addPath("a\x00b"))},
		{name: "tree path RTL override", members: withTree(t, ms, addPath("invoice\u202Efdp.exe"))},
		{name: "tree 2000 deep", members: withTree(t, ms, func(d *treeDoc) {
			p := "d"
			for range 1999 {
				d.Entries = append(d.Entries, files.TreeEntry{Path: p, Kind: files.KindFolder})
				p += "/d"
			}
			d.Entries = append(d.Entries, files.TreeEntry{Path: p, Kind: files.KindFolder})
		})},
		{name: "tree chunk id is a path", members: withTree(t, ms, func(d *treeDoc) { d.Entries[0].Chunks[0] = "../../../escaped" })},
		{name: "tree size does not fit the chunks", members: withTree(t, ms, func(d *treeDoc) { d.Entries[0].Size++ })},
		{name: "chunk the tree does not list", members: append(clone(ms), member{name: "chunks/" + zid + ".zst", data: chunkEncoder().EncodeAll(zeros, nil)})},
		{name: "chunk missing", members: ms[:len(ms)-1]},
		{name: "chunk twice", members: append(clone(ms), chunk)},
		{name: "chunk damaged", members: append(append(clone(ms[:2]), member{name: chunk.name, data: flip(chunk.data)}), ms[3:]...)},
		{name: "chunk name escapes", members: append(clone(ms[:2]), member{name: "chunks/../../../" + id + ".zst", data: chunk.data})},
		{name: "chunk is a link", members: append(clone(ms[:2]), member{name: chunk.name, typ: tar.TypeSymlink})},
		{name: "chunk decodes without end", members: append(clone(ms[:2]), member{name: chunk.name, data: rleBomb(2 << 30)})},
		{name: "member after the chunks", members: append(clone(ms), ms[0])},
		{name: "archive cut short", raw: func() []byte { b, _ := os.ReadFile(good); return b[:len(b)*2/3] }()},
	}
	dst := newEnv(t)
	target := dst.b.snapshotTarget()
	chunksBefore := chunkFiles(t, target)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "crafted.plinth-snapshot")
			if tc.members != nil {
				writeMembers(t, path, tc.members)
			} else if err := os.WriteFile(path, tc.raw, 0o600); err != nil {
				t.Fatal(err)
			}
			before := dst.state()
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			_, err := dst.b.ImportSnapshot(ctx, dst.master, path, "Crafted", "", nil)
			runtime.ReadMemStats(&ms1)
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("import: %v, want damaged", err)
			}
			oneSentence(t, err)
			if strings.ContainsAny(err.Error(), "\x00\x1b\u202E") {
				t.Fatalf("the sentence repeats a raw name: %q", err)
			}
			if got := ms1.TotalAlloc - ms0.TotalAlloc; got > 256<<20 {
				t.Fatalf("the import allocated %d MiB", got>>20)
			}
			if dst.state() != before {
				t.Fatal("a refused import changed the Projects")
			}
			if d := debris(t, dst.dir); len(d) != 0 {
				t.Fatalf("left behind: %v", d)
			}
			if got := chunkFiles(t, target); strings.Join(got, ",") != strings.Join(chunksBefore, ",") {
				t.Fatalf("chunks in the target: %d, were %d", len(got), len(chunksBefore))
			}
		})
	}
	// The good one imports, with its exact bytes.
	if _, err := dst.b.ImportSnapshot(ctx, dst.master, good, "", "", nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst.read("/Tower/plans/ground.pdf"), src.read("/Tower/plans/ground.pdf")) {
		t.Fatal("imported bytes differ")
	}
}

// An 80 KB archive that decodes to 2 GiB of zeros: refused before any
// decoding for a user who may not create projects, and within a chunk's
// worth of memory for one who may.
func TestImportZipBomb(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	zeros := make([]byte, files.ChunkSize)
	sum := sha256.Sum256(zeros)
	id := hex.EncodeToString(sum[:])
	m := Manifest{Format: upgrade.Manifest, ID: "20261125-090000-abcdef", Level: 1, Type: TypeSnapshot, Tree: &TreeFile{File: treePlain}}
	doc := treeDoc{Kind: "project", Name: "Bomb", Entries: []files.TreeEntry{{Path: "zeros.bin", Kind: files.KindFile, Size: files.ChunkSize, Chunks: []string{id}}}}
	tree := encodeTree(t, &m, doc)
	mb, _ := json.Marshal(m)
	bomb := rleBomb(2 << 30)
	path := filepath.Join(t.TempDir(), "bomb.plinth-snapshot")
	writeMembers(t, path, []member{{name: manifestName, data: mb}, {name: treePlain, data: tree}, {name: "chunks/" + id + ".zst", data: bomb}})
	if fi, _ := os.Stat(path); fi.Size() > 100<<10 {
		t.Fatalf("the bomb is %d bytes", fi.Size())
	}
	for _, tc := range []struct {
		role    account.Role
		want    error
		maxTime time.Duration
		maxMem  uint64
	}{
		{account.RoleNone, account.ErrPermission, time.Second, 4 << 20},
		{account.RoleProjectAdmin, ErrDamaged, 5 * time.Second, 64 << 20},
	} {
		t.Run(string(tc.role), func(t *testing.T) {
			who := e.user("u-"+string(tc.role), tc.role)
			ffs := faultfs.New(nil)
			e.b.SetFS(ffs)
			var ms0, ms1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			start := time.Now()
			_, err := e.b.ImportSnapshot(ctx, who, path, "", "", nil)
			took := time.Since(start)
			runtime.ReadMemStats(&ms1)
			if !errors.Is(err, tc.want) {
				t.Fatalf("import: %v, want %v", err, tc.want)
			}
			if tc.role == account.RoleNone && ffs.Calls(faultfs.OpOpen)+ffs.Calls(faultfs.OpRead) != 0 {
				t.Fatal("the archive was read for a user who may not import")
			}
			if took > tc.maxTime {
				t.Fatalf("refused after %v", took)
			}
			if got := ms1.TotalAlloc - ms0.TotalAlloc; got > tc.maxMem {
				t.Fatalf("allocated %d KiB, want at most %d", got>>10, tc.maxMem>>10)
			}
			if _, err := e.files.Lookup(ctx, e.master, "/Bomb"); !errors.Is(err, files.ErrNotFound) {
				t.Fatal("the bomb created a project")
			}
			if d := debris(t, e.dir); len(d) != 0 {
				t.Fatalf("left behind: %v", d)
			}
		})
	}
}

// Prune removes chunks no snapshot needs even when it removes no
// snapshot, and none at all when a snapshot's chunk list cannot be read.
func TestPruneSweepsUnusedChunks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tower := e.project("Tower")
	e.put("/Tower/a.bin", random(1<<20))
	s1 := e.snap(tower.ID)
	target := e.b.snapshotTarget()
	kept := chunkFiles(t, target)
	orphan := chunkPath(target, strings.Repeat("ab", 32), "")
	_ = os.MkdirAll(filepath.Dir(orphan), 0o700)
	_ = os.WriteFile(orphan, []byte("left by a failed import"), 0o600)
	tmp := filepath.Join(filepath.Dir(kept[0]), ".x.zst.123.plinth-tmp")
	_ = os.WriteFile(tmp, []byte("half"), 0o600)
	incomplete := filepath.Join(target, "items", tower.ID, ".incomplete-123")
	_ = os.MkdirAll(incomplete, 0o700)
	foreign := filepath.Join(filepath.Dir(kept[0]), "README")
	_ = os.WriteFile(foreign, []byte("not ours"), 0o600)
	gone, err := e.b.Prune(ctx, e.master, false)
	if err != nil || len(gone) != 0 {
		t.Fatalf("prune: %v, removed %d", err, len(gone))
	}
	for _, p := range []string{orphan, tmp, incomplete} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s survived the prune", filepath.Base(p))
		}
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Error("prune removed a file that is not a chunk")
	}
	if got := chunkFiles(t, target); !containsAll(got, kept) {
		t.Fatalf("prune removed a chunk in use: %v, had %v", got, kept)
	}
	if _, err := e.b.Verify(ctx, e.master, s1.ID, "", nil); err != nil {
		t.Fatal(err)
	}
	// A snapshot whose chunk list is damaged: nothing is swept.
	_ = os.WriteFile(orphan, []byte("again"), 0o600)
	_ = os.WriteFile(filepath.Join(s1.Path, indexName), []byte("damaged"), 0o600)
	_, err = e.b.Prune(ctx, e.master, false)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "no unused chunk was removed") {
		t.Fatalf("prune with a damaged chunk list: %v", err)
	}
	if _, err := os.Stat(orphan); err != nil {
		t.Fatal("prune swept with a chunk list it could not read")
	}
	// Nor when a snapshot's manifest cannot be read.
	_ = os.Remove(filepath.Join(s1.Path, indexName))
	_ = os.WriteFile(filepath.Join(s1.Path, manifestName), []byte("{"), 0o600)
	if _, err = e.b.Prune(ctx, e.master, false); !errors.Is(err, ErrDamaged) {
		t.Fatalf("prune with a damaged manifest: %v", err)
	}
	if got := chunkFiles(t, target); !containsAll(got, kept) {
		t.Fatal("prune removed the chunks of a snapshot it could not read")
	}
}

// A chunk cut short (a full disk, before writes were checked) is not
// trusted by the next snapshot: it is written again, and that snapshot
// restores the exact bytes. Check finds the short chunk by its size. In
// a target of format 3, a pack cut short has lost its index: Check says
// so, and the next snapshot writes its chunks again into a new pack.
func TestTruncatedChunkIsWrittenAgain(t *testing.T) {
	for _, loose := range []bool{true, false} {
		for _, changed := range []bool{false, true} {
			name := "unchanged project"
			if changed {
				name = "changed project"
			}
			if loose {
				name += " loose"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t)
				ctx := context.Background()
				tower := e.project("Tower")
				data := random(6 << 20)
				e.put("/Tower/a.bin", data)
				s1 := e.snap(tower.ID)
				target := e.b.snapshotTarget()
				if loose {
					unpack(t, target)
				}
				cs := chunkFiles(t, target)
				if len(cs) != 2 {
					t.Fatalf("%d chunks", len(cs))
				}
				want := "not the"
				if !loose {
					cs, want = packFiles(t, target), "is damaged"
				}
				for _, c := range cs {
					if err := os.Truncate(c, 100); err != nil {
						t.Fatal(err)
					}
				}
				if err := e.b.Check(ctx, s1); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), want) {
					t.Fatalf("check of a snapshot with a short chunk: %v", err)
				}
				if changed {
					e.put("/Tower/b.txt", []byte("more"))
				}
				s2 := e.snap(tower.ID)
				if _, err := e.b.Verify(ctx, e.master, s2.ID, "", nil); err != nil {
					t.Fatalf("verify of the next snapshot: %v", err)
				}
				if _, err := e.b.RestoreSnapshot(ctx, e.master, s2.ID, "Tower again", "", nil); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(e.read("/Tower again/a.bin"), data) {
					t.Fatal("restored bytes differ")
				}
			})
		}
	}
}

// A chunk of a snapshot taken before chunk sizes were recorded is reused
// only when it decodes to its hash.
func TestUnrecordedChunkIsCheckedBeforeReuse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tower := e.project("Tower")
	data := random(1 << 20)
	e.put("/Tower/a.bin", data)
	s1 := e.snap(tower.ID)
	// Make it look old: no index.
	_ = os.Remove(filepath.Join(s1.Path, indexName))
	t1 := *s1.Tree
	t1.Index, t1.IndexBytes, t1.IndexSHA256 = "", 0, ""
	m := s1
	m.Tree, m.Path = &t1, ""
	mb, _ := json.Marshal(m)
	_ = os.WriteFile(filepath.Join(s1.Path, manifestName), mb, 0o600)
	unpack(t, e.b.snapshotTarget())
	c := chunkFiles(t, e.b.snapshotTarget())[0]
	stored, _ := os.ReadFile(c)
	_ = os.WriteFile(c, stored[:len(stored)-7], 0o600)
	s2 := e.snap(tower.ID)
	if _, err := e.b.RestoreSnapshot(ctx, e.master, s2.ID, "Copy", "", nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.read("/Copy/a.bin"), data) {
		t.Fatal("restored bytes differ")
	}
}

// Taking a snapshot needs Modify content on the item; snapshots taken by
// hand are marked so and do not push scheduled ones out.
func TestManualSnapshotsDoNotPushHistoryOut(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tower := e.project("Tower")
	if err := e.b.SetSnapshotSchedule(ctx, e.master, tower.ID, &SnapSchedule{Mode: "hourly", Keep: 2}); err != nil {
		t.Fatal(err)
	}
	e.put("/Tower/deleted.txt", []byte("only in the first snapshot"))
	e.now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.Local)
	if n, err := e.b.DueSnapshots(ctx); n != 1 || err != nil {
		t.Fatalf("due: %d %v", n, err)
	}
	first := mustSnapshots(t, e, tower.ID)[0]
	if first.Trigger != TriggerSchedule {
		t.Fatalf("scheduled snapshot marked %q", first.Trigger)
	}
	e.rm("/Tower/deleted.txt")
	nobody := e.user("nobody", account.RoleNone)
	pa := e.user("pat", account.RoleProjectAdmin)
	for range 24 {
		if _, err := e.b.Snapshot(ctx, nobody, tower.ID, nil); !errors.Is(err, account.ErrPermission) {
			t.Fatalf("role none took a snapshot: %v", err)
		}
	}
	if hist, _ := e.b.History(ctx, e.master); len(hist) != 1 {
		t.Fatalf("refused snapshots went into the history: %d records", len(hist))
	}
	for range 24 {
		m, err := e.b.Snapshot(ctx, pa, tower.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.Trigger != TriggerManual {
			t.Fatalf("manual snapshot marked %q", m.Trigger)
		}
	}
	// A manual snapshot does not put the schedule off.
	e.now = e.now.Add(time.Hour)
	if n, _ := e.b.DueSnapshots(ctx); n != 1 {
		t.Fatal("the schedule was put off by snapshots taken by hand")
	}
	if _, err := e.b.Prune(ctx, e.master, false); err != nil {
		t.Fatal(err)
	}
	l := mustSnapshots(t, e, tower.ID)
	if len(l) != 26 || l[len(l)-1].ID != first.ID {
		t.Fatalf("%d snapshots after prune; the first scheduled one kept: %v", len(l), l[len(l)-1].ID == first.ID)
	}
	// After ManualKeepDays, snapshots taken by hand go (the newest stays
	// while it is the newest); scheduled ones stay by Keep last N.
	e.now = e.now.Add(ManualKeepDays*24*time.Hour + time.Hour)
	if _, err := e.b.Prune(ctx, e.master, false); err != nil {
		t.Fatal(err)
	}
	l = mustSnapshots(t, e, tower.ID)
	for _, m := range l {
		if !scheduled(m) {
			t.Fatalf("a snapshot taken by hand outlived %d days", ManualKeepDays)
		}
	}
	if len(l) != 2 || l[1].ID != first.ID {
		t.Fatalf("%d snapshots after %d days", len(l), ManualKeepDays)
	}
	if _, err := e.b.RestoreSnapshot(ctx, e.master, first.ID, "Tower before", "", nil); err != nil {
		t.Fatal(err)
	}
	if string(e.read("/Tower before/deleted.txt")) != "only in the first snapshot" {
		t.Fatal("the deleted file is lost")
	}
}

// A rollback saves the state it replaces as a safety snapshot, marked so.
func TestRollbackSafetySnapshotIsMarked(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tower := e.project("Tower")
	e.put("/Tower/a.txt", []byte("v1"))
	s1 := e.snap(tower.ID)
	e.put("/Tower/a.txt", []byte("v2"))
	if _, err := e.b.RestoreSnapshot(ctx, e.master, s1.ID, "", "", nil); err != nil {
		t.Fatal(err)
	}
	l := mustSnapshots(t, e, tower.ID)
	if len(l) != 2 || l[0].Trigger != TriggerSafety {
		t.Fatalf("after a rollback: %d snapshots, newest %q", len(l), l[0].Trigger)
	}
	// Someone who may not change the item may not roll it back, and
	// nothing is read or saved for them.
	nobody := e.user("nobody", account.RoleNone)
	if _, err := e.b.RestoreSnapshot(ctx, nobody, s1.ID, "", "", nil); !errors.Is(err, account.ErrPermission) {
		t.Fatalf("role none rolled back: %v", err)
	}
	if _, err := e.b.RestoreSnapshot(ctx, nobody, s1.ID, "Mine", "", nil); !errors.Is(err, account.ErrPermission) {
		t.Fatalf("role none restored as new: %v", err)
	}
	if len(mustSnapshots(t, e, tower.ID)) != 2 {
		t.Fatal("a refused rollback took a snapshot")
	}
}

func clone(ms []member) []member { return append([]member(nil), ms...) }
