package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"path/filepath"
	"sort"
	"strings"

	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/names"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// A snapshot's folder holds, besides its manifest:
//
//	tree.json.zst (or .age)  the item's folders and files with the chunks
//	                         of each file, sealed like the chunks
//	chunks.json.zst          every chunk the snapshot needs with its size as
//	                         stored, always plain: the next snapshot checks
//	                         chunks it reuses against it, prune knows which
//	                         chunks are in use, and Check finds a truncated
//	                         chunk, all without the passphrase
//
// Everything read from a tree is checked before it is used: paths with
// names.CheckPath, chunk ids with isChunkID, and each file's chunk list
// against its size. A tree that fails is damaged, and nothing is written.

// TreeFile is a snapshot's stored tree (and chunk index).
type TreeFile struct {
	File    string `json:"file"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256"`
	Entries int    `json:"entries"`
	Files   int    `json:"files"`
	Content int64  `json:"content"`
	Hash    string `json:"hash"` // of the tree's content: equal hashes, unchanged item
	// The chunk index (snapshots taken before it existed have none).
	Index       string `json:"index,omitempty"`
	IndexBytes  int64  `json:"indexBytes,omitempty"`
	IndexSHA256 string `json:"indexSHA256,omitempty"`
}

type treeDoc struct {
	Item    string            `json:"item"`
	Kind    string            `json:"kind"`
	Name    string            `json:"name"`
	Entries []files.TreeEntry `json:"entries"`
}

// chunkIndex is a snapshot's chunk index: chunk id → size as stored.
type chunkIndex struct {
	Recipient string           `json:"recipient,omitempty"`
	Chunks    map[string]int64 `json:"chunks"`
}

// chunkLengths checks the files of a tree and returns the length each
// chunk must have: every chunk of a file holds files.ChunkSize bytes but
// the last, which holds the rest. A chunk id listed with two lengths, a
// chunk list that does not fit the size, or an id that is not a SHA-256
// makes the tree damaged.
func chunkLengths(entries []files.TreeEntry) (map[string]int64, error) {
	want := map[string]int64{}
	for _, e := range entries {
		if e.Kind != files.KindFile {
			if len(e.Chunks) > 0 {
				return nil, fmt.Errorf("%s %q lists content", e.Kind, cut(e.Path))
			}
			continue
		}
		if e.Size < 0 || int64(len(e.Chunks)) != (e.Size+files.ChunkSize-1)/files.ChunkSize {
			return nil, fmt.Errorf("the chunks of %q do not add up to its size", cut(e.Path))
		}
		for i, c := range e.Chunks {
			if !isChunkID(c) {
				return nil, fmt.Errorf("%q lists a chunk that is not one", cut(e.Path))
			}
			n := int64(files.ChunkSize)
			if i == len(e.Chunks)-1 {
				n = e.Size - int64(i)*files.ChunkSize
			}
			if old, ok := want[c]; ok && old != n {
				return nil, fmt.Errorf("a chunk of %q is listed with two sizes", cut(e.Path))
			}
			want[c] = n
		}
	}
	return want, nil
}

// checkEntries checks every path of a tree: each passes names.CheckPath
// (relative, no "..", no bad characters, at most names.MaxDepth deep),
// none is listed twice (as Plinth compares names), each one's folder is
// in the tree, and no entry is of an unknown kind.
func checkEntries(entries []files.TreeEntry) error {
	seen := make(map[string]files.Kind, len(entries))
	for _, e := range entries {
		if err := names.CheckPath(e.Path); err != nil {
			return err
		}
		if _, err := files.ParseKind(e.Kind.String()); err != nil {
			return fmt.Errorf("%q is of no known kind", cut(e.Path))
		}
		key := pathKey(e.Path)
		if _, dup := seen[key]; dup {
			return fmt.Errorf("%q is listed twice", cut(e.Path))
		}
		seen[key] = e.Kind
	}
	for _, e := range entries {
		i := strings.LastIndexByte(e.Path, '/')
		if i < 0 {
			continue
		}
		if k, ok := seen[pathKey(e.Path[:i])]; !ok || k == files.KindFile {
			return fmt.Errorf("the folder of %q is not in the tree", cut(e.Path))
		}
	}
	return nil
}

// pathKey is how two paths are compared: name by name as Plinth compares
// names (files.NameKey).
func pathKey(p string) string {
	parts := strings.Split(p, "/")
	for i, x := range parts {
		parts[i] = files.NameKey(x)
	}
	return strings.Join(parts, "/")
}

// checkDoc checks a tree read from outside against its manifest and
// returns the length each of its chunks must have. The sentence it
// returns names the snapshot and what is wrong, in the words of
// names.CheckPath when a path is bad.
func checkDoc(m Manifest, doc treeDoc) (map[string]int64, error) {
	bad := func(err error) error {
		return refusal(ErrDamaged, "snapshot %s is damaged: %s", m.ID, strings.TrimSuffix(err.Error(), "."))
	}
	if doc.Name != "" {
		if err := names.Check(doc.Name); err != nil {
			return nil, bad(err)
		}
	}
	if len(doc.Entries) != m.Tree.Entries {
		return nil, bad(fmt.Errorf("its tree lists %d entries, its manifest %d", len(doc.Entries), m.Tree.Entries))
	}
	if err := checkEntries(doc.Entries); err != nil {
		return nil, bad(err)
	}
	want, err := chunkLengths(doc.Entries)
	if err != nil {
		return nil, bad(err)
	}
	return want, nil
}

// treeFileName is the name a snapshot's tree must have.
func treeFileName(encrypted bool) string {
	if encrypted {
		return treeSealed
	}
	return treePlain
}

// checkTreeFile makes sure the manifest names the tree (and index) files
// a snapshot has, so that no name read from it leads elsewhere.
func checkTreeFile(m Manifest) error {
	if m.Tree == nil {
		return refusal(ErrDamaged, "snapshot %s has no tree", m.ID)
	}
	if m.Tree.File != treeFileName(m.Encrypted()) || (m.Tree.Index != "" && m.Tree.Index != indexName) ||
		m.Tree.Bytes <= 0 || m.Tree.Bytes > maxTree || m.Tree.Entries < 0 {
		return refusal(ErrDamaged, "the manifest of snapshot %s is damaged", m.ID)
	}
	return checkRecipient(m)
}

func writeTree(fs fsys.FS, cd *codec, dir string, doc treeDoc) (*TreeFile, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	tf := &TreeFile{File: treeFileName(cd.encrypted()), Entries: len(doc.Entries), Hash: treeHash(doc.Entries)}
	for _, e := range doc.Entries {
		if e.Kind == files.KindFile {
			tf.Files++
			tf.Content += e.Size
		}
	}
	stored, err := cd.seal(raw)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(stored)
	tf.Bytes, tf.SHA256 = int64(len(stored)), hex.EncodeToString(sum[:])
	return tf, fsys.WriteFile(fs, filepath.Join(dir, tf.File), stored, fsys.Options{NoDirSync: true})
}

// writeIndex writes the chunk index into dir and notes it in tf.
func writeIndex(fs fsys.FS, dir string, idx chunkIndex, tf *TreeFile) error {
	raw, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	stored := chunkEncoder().EncodeAll(raw, nil)
	sum := sha256.Sum256(stored)
	tf.Index, tf.IndexBytes, tf.IndexSHA256 = indexName, int64(len(stored)), hex.EncodeToString(sum[:])
	return fsys.WriteFile(fs, filepath.Join(dir, indexName), stored, fsys.Options{NoDirSync: true})
}

// treeHash identifies a tree's content: paths, kinds and content hashes.
func treeHash(entries []files.TreeEntry) string {
	h := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(h, "%s\x00%s\x00%s\n", e.Path, e.Kind, e.Hash)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkTree checks a stored tree against its checksum.
func checkTree(m Manifest, stored []byte) error {
	sum := sha256.Sum256(stored)
	if int64(len(stored)) != m.Tree.Bytes || hex.EncodeToString(sum[:]) != m.Tree.SHA256 {
		return refusal(ErrDamaged, "the tree of snapshot %s does not match its checksum", m.ID)
	}
	return nil
}

// readTree reads, opens and checks a snapshot's tree; it returns the
// tree and the length each of its chunks must have.
func (s *Service) readTree(m Manifest, cd *codec) (treeDoc, map[string]int64, error) {
	if err := checkTreeFile(m); err != nil {
		return treeDoc{}, nil, err
	}
	stored, err := fsys.ReadFileLimit(s.fs, filepath.Join(m.Path, m.Tree.File), maxTree)
	if err != nil {
		return treeDoc{}, nil, refusal(ErrDamaged, "the tree of snapshot %s is missing", m.ID)
	}
	return decodeTree(m, cd, stored)
}

func decodeTree(m Manifest, cd *codec, stored []byte) (treeDoc, map[string]int64, error) {
	var doc treeDoc
	if err := checkTree(m, stored); err != nil {
		return doc, nil, err
	}
	raw, err := cd.open(stored, treeDecoder(), treeLimit(len(stored)))
	if err != nil {
		return doc, nil, refusal(ErrDamaged, "the tree of snapshot %s cannot be read", m.ID)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return doc, nil, refusal(ErrDamaged, "the tree of snapshot %s cannot be read", m.ID)
	}
	want, err := checkDoc(m, doc)
	return doc, want, err
}

// readIndex reads a snapshot's chunk index; ok is false when the snapshot
// has none (taken before indexes existed).
func (s *Service) readIndex(m Manifest) (idx chunkIndex, ok bool, err error) {
	if err := checkTreeFile(m); err != nil {
		return idx, false, err
	}
	if m.Tree.Index == "" {
		return idx, false, nil
	}
	stored, err := fsys.ReadFileLimit(s.fs, filepath.Join(m.Path, m.Tree.Index), maxTree)
	if err != nil {
		return idx, false, refusal(ErrDamaged, "the chunk list of snapshot %s is missing", m.ID)
	}
	idx, err = decodeIndex(m, stored)
	return idx, err == nil, err
}

// decodeIndex checks a stored chunk index against its manifest (checksum,
// recipient, every id a SHA-256, every size within a stored chunk's) and
// decodes it.
func decodeIndex(m Manifest, stored []byte) (idx chunkIndex, err error) {
	bad := refusal(ErrDamaged, "the chunk list of snapshot %s is damaged", m.ID)
	sum := sha256.Sum256(stored)
	if int64(len(stored)) != m.Tree.IndexBytes || hex.EncodeToString(sum[:]) != m.Tree.IndexSHA256 {
		return idx, bad
	}
	raw, err := plain.open(stored, treeDecoder(), treeLimit(len(stored)))
	if err != nil {
		return idx, bad
	}
	idx, ok := parseIndex(raw)
	if !ok {
		// Another spelling: read it whole, with nothing of what parseIndex
		// got through before it gave up.
		idx = chunkIndex{}
		if json.Unmarshal(raw, &idx) != nil {
			return idx, bad
		}
	}
	if idx.Recipient != m.Recipient {
		return idx, bad
	}
	for id, n := range idx.Chunks {
		if !isChunkID(id) || n <= 0 || n > maxStoredChunk {
			return idx, bad
		}
	}
	return idx, nil
}

// parseIndex decodes a chunk index as writeIndex writes it (json.Marshal
// of a chunkIndex: {"recipient":"…","chunks":{"<id>":<size>,…}}) without
// reflection, five times faster; ok is false for any other spelling, which
// json.Unmarshal then reads. It checks the syntax only: decodeIndex
// checks the ids and sizes.
func parseIndex(raw []byte) (idx chunkIndex, ok bool) {
	b := raw
	eat := func(s string) bool {
		if len(b) < len(s) || string(b[:len(s)]) != s {
			return false
		}
		b = b[len(s):]
		return true
	}
	if eat(`{"recipient":"`) {
		i := bytes.IndexByte(b, '"')
		if i < 0 || bytes.IndexByte(b[:i], '\\') >= 0 {
			return idx, false
		}
		idx.Recipient, b = string(b[:i]), b[i+1:]
		if !eat(`,`) {
			return idx, false
		}
	} else if !eat(`{`) {
		return idx, false
	}
	if !eat(`"chunks":{`) {
		return idx, false
	}
	idx.Chunks = make(map[string]int64, len(b)/75)
	for !eat(`}}`) {
		if len(idx.Chunks) > 0 && !eat(`,`) || !eat(`"`) {
			return idx, false
		}
		i := bytes.IndexByte(b, '"')
		if i < 0 || bytes.IndexByte(b[:i], '\\') >= 0 {
			return idx, false
		}
		id := string(b[:i])
		b = b[i+1:]
		if !eat(`:`) {
			return idx, false
		}
		var n int64
		d := 0
		for d < len(b) && b[d] >= '0' && b[d] <= '9' && d < 18 {
			n = n*10 + int64(b[d]-'0')
			d++
		}
		if d == 0 || d < len(b) && b[d] >= '0' && b[d] <= '9' {
			return idx, false
		}
		if _, dup := idx.Chunks[id]; dup {
			return idx, false
		}
		idx.Chunks[id], b = n, b[d:]
	}
	return idx, len(b) == 0
}

// chunksOf returns the chunk ids a snapshot needs with their stored sizes
// (-1 where none was recorded): from its index, or, for a snapshot taken
// before indexes existed, from its plain tree. It needs no passphrase.
func (s *Service) chunksOf(m Manifest) (map[string]int64, error) {
	idx, ok, err := s.readIndex(m)
	if err != nil {
		return nil, err
	}
	if ok {
		return idx.Chunks, nil
	}
	if m.Encrypted() {
		return nil, refusal(ErrDamaged, "snapshot %s has no chunk list", m.ID)
	}
	_, want, err := s.readTree(m, plain)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(want))
	for id := range want {
		out[id] = -1
	}
	return out, nil
}

// chunkReader streams a file's content from snapshot chunks, checking
// each against its hash, and the whole against the file's size.
type chunkReader struct {
	load   func(id string) ([]byte, error)
	chunks []string
	cur    []byte
	name   string
	size   int64 // < 0: not checked
	n      int64
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if len(r.chunks) == 0 {
			if r.size >= 0 && r.n != r.size {
				return 0, fmt.Errorf("%s: its content has %d bytes, not %d: %w", r.name, r.n, r.size, ErrDamaged)
			}
			return 0, io.EOF
		}
		data, err := r.load(r.chunks[0])
		if err != nil {
			return 0, fmt.Errorf("%s: %w", r.name, err)
		}
		r.cur, r.chunks = data, r.chunks[1:]
		r.n += int64(len(data))
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

func (r *chunkReader) Close() error { return nil }

// loadChunk reads a chunk from a chunk folder (a snapshot target, with
// its packs ps, or an import's staging folder, ps nil), checked against
// its id and length. A chunk found in a pack that does not check out is
// named with its pack; another copy of it (in another pack, or loose) is
// tried first.
func loadChunk(fs fsys.FS, target string, ps *packSet, cd *codec, id string, want int64) ([]byte, error) {
	var first error
	gone := false
	for _, l := range ps.lookup(id, cd.recipient) {
		stored, err := ps.readAt(l)
		if errors.Is(err, iofs.ErrNotExist) {
			gone = true // repacked by a prune meanwhile
			continue
		}
		if err == nil {
			var data []byte
			if data, err = cd.openChunk(id, stored, want); err == nil {
				return data, nil
			}
		}
		if first == nil {
			first = refusal(ErrDamaged, "chunk %.12s in pack %s is damaged", id, strings.TrimSuffix(l.pack, packExt))
		}
	}
	if gone && first == nil && ps.refresh() == nil {
		for _, l := range ps.lookup(id, cd.recipient) {
			if stored, err := ps.readAt(l); err == nil {
				return cd.openChunk(id, stored, want)
			}
		}
	}
	if !ps.mayHaveLoose() {
		if first != nil {
			return nil, first
		}
		return nil, missingChunk(id, ps)
	}
	stored, err := fsys.ReadFileLimit(fs, chunkPath(target, id, cd.recipient), maxStoredChunk)
	if err != nil {
		if first != nil {
			return nil, first
		}
		return nil, missingChunk(id, ps)
	}
	data, err := cd.openChunk(id, stored, want)
	if err != nil && first != nil {
		return nil, first
	}
	return data, err
}

// opener returns what PutTree reads each file of a tree through.
func chunkOpener(fs fsys.FS, target string, ps *packSet, cd *codec, want map[string]int64) func(files.TreeEntry) (io.ReadCloser, error) {
	return func(e files.TreeEntry) (io.ReadCloser, error) {
		return &chunkReader{load: func(id string) ([]byte, error) { return loadChunk(fs, target, ps, cd, id, want[id]) },
			chunks: e.Chunks, name: e.Path, size: e.Size}, nil
	}
}

// checkSnapshotChunks checks, without the passphrase, that a snapshot's
// tree and chunk list match their checksums and that every chunk it needs
// is there with the size it was written with.
func (s *Service) checkSnapshotChunks(ctx context.Context, m Manifest) error {
	if err := checkTreeFile(m); err != nil {
		return err
	}
	what := fmt.Sprintf("the tree of snapshot %s", m.ID)
	if err := checkFile(ctx, s.fs, filepath.Join(m.Path, m.Tree.File), m.Tree.Bytes, m.Tree.SHA256, what); err != nil {
		return err
	}
	chunks, err := s.chunksOf(m)
	if err != nil {
		return err
	}
	target := s.snapshotTarget()
	ps, err := s.packsOf(target)
	if err != nil {
		return err
	}
	for _, id := range sortedIDs(chunks) {
		if err := ctx.Err(); err != nil {
			return err
		}
		size, ok := storedSize(s.fs, target, ps, id, m.Recipient)
		if !ok {
			return fmt.Errorf("snapshot %s: %w", m.ID, missingChunk(id, ps))
		}
		if n := chunks[id]; n >= 0 && size != n {
			return refusal(ErrDamaged, "chunk %.12s of snapshot %s has %d bytes, not the %d it was written with", id, m.ID, size, n)
		}
	}
	return nil
}

// verifySnapshot reads every chunk of a snapshot back, decodes it and
// checks it against its hash and length; it returns how many it read.
func (s *Service) verifySnapshot(ctx context.Context, m Manifest, passphrase string) (int, error) {
	cd, err := s.readingCodec(m, passphrase)
	if err != nil {
		return 0, err
	}
	_, want, err := s.readTree(m, cd)
	if err != nil {
		return 0, err
	}
	return s.readChunks(ctx, m, cd, want)
}

// readChunks decodes and checks every chunk of want; restores run it
// before they change anything.
func (s *Service) readChunks(ctx context.Context, m Manifest, cd *codec, want map[string]int64) (int, error) {
	target := s.snapshotTarget()
	ps, err := s.packsOf(target)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range sortedIDs(want) {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if _, err := loadChunk(s.fs, target, ps, cd, id, want[id]); err != nil {
			return n, fmt.Errorf("snapshot %s: %w", m.ID, err)
		}
		n++
	}
	return n, nil
}

func sortedIDs[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}
