package backup

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// A snapshot archive (ExportSnapshot, ImportSnapshot) is a tar file whose
// members come in this order and no other:
//
//	manifest.json              the snapshot's manifest
//	keys/<recipient>.age       encrypted snapshots only: the key, which
//	                           the passphrase unlocks
//	tree.json.zst (or .age)    the tree, as stored
//	chunks/<sha-256>.zst       every chunk the tree lists, once each, as
//	chunks/<sha-256>.age       stored (.age when encrypted)
//
// An import reads it in one pass with no more memory than a chunk, checks
// every member against the manifest and the tree before it is used, and
// creates the project only when every chunk is there and sound.

// archive member limits: anything larger is not an archive of ours.
const (
	maxArchiveManifest = 1 << 20
	maxArchiveKey      = 64 << 10
)

var snapshotID = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$`)

func archiveChunkName(id string, encrypted bool) string {
	if encrypted {
		return "chunks/" + id + ".age"
	}
	return "chunks/" + id + ".zst"
}

// ExportSnapshot writes a snapshot with every chunk it needs into one
// portable archive file (tar), atomically; an encrypted snapshot is
// exported as stored, with its key, so that it opens elsewhere with the
// passphrase. An existing dest is refused unless force says to replace it.
// It needs View on the Servers page.
func (s *Service) ExportSnapshot(ctx context.Context, actor account.Actor, id, dest string, force bool) error {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.View); err != nil {
		return err
	}
	m, err := s.Get(id)
	if err != nil {
		return err
	}
	if m.Level != 1 {
		return fmt.Errorf("backup %s is not a project or library snapshot; only snapshots export to one file", m.ID)
	}
	if err := checkTreeFile(m); err != nil {
		return err
	}
	target := s.snapshotTarget()
	r, err := openRepo(ctx, s.fs, target)
	if err != nil {
		return err
	}
	defer r.close()
	chunks, err := s.chunksOf(m)
	if err != nil {
		return err
	}
	ps, err := s.packsOf(target)
	if err != nil {
		return err
	}
	tree, err := fsys.ReadFileLimit(s.fs, filepath.Join(m.Path, m.Tree.File), maxTree)
	if err != nil {
		return refusal(ErrDamaged, "the tree of snapshot %s is missing", m.ID)
	}
	var want map[string]int64
	if m.Encrypted() {
		if err := checkTree(m, tree); err != nil {
			return err
		}
	} else if _, want, err = decodeTree(m, plain, tree); err != nil {
		return err
	}
	var key []byte
	if m.Encrypted() {
		if key, err = s.readKeyFile(m); err != nil {
			return err
		}
	}
	f, err := fsys.Create(s.fs, dest, fsys.Options{NoReplace: !force, Perm: 0o644})
	if errors.Is(err, fsys.ErrExists) {
		return fmt.Errorf("%s already exists; choose another file name or replace it (--force)", dest)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	defer f.Abort()
	tw := tar.NewWriter(f)
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(len(data)), ModTime: m.Created}); err != nil {
			return fmt.Errorf("write %s: %w", dest, err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("write %s: %w", dest, err)
		}
		return nil
	}
	em := m
	em.Path = ""
	t := *m.Tree
	t.Index, t.IndexBytes, t.IndexSHA256 = "", 0, ""
	em.Tree = &t
	mb, _ := json.MarshalIndent(em, "", "  ")
	if err := add(manifestName, mb); err != nil {
		return err
	}
	if key != nil {
		if err := add(keysDir+"/"+m.Recipient+".age", key); err != nil {
			return err
		}
	}
	if err := add(m.Tree.File, tree); err != nil {
		return err
	}
	for _, c := range sortedIDs(chunks) {
		if err := ctx.Err(); err != nil {
			return err
		}
		stored, _, err := storedChunk(s.fs, target, ps, c, m.Recipient)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", m.ID, err)
		}
		if n := chunks[c]; n >= 0 && int64(len(stored)) != n {
			return refusal(ErrDamaged, "chunk %.12s of snapshot %s has %d bytes, not the %d it was written with", c, m.ID, len(stored), n)
		}
		if !m.Encrypted() {
			if _, err := plain.openChunk(c, stored, want[c]); err != nil {
				return fmt.Errorf("snapshot %s: %w", m.ID, err)
			}
		}
		if err := add(archiveChunkName(c, m.Encrypted()), stored); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	if err := f.Commit(); err != nil {
		if errors.Is(err, fsys.ErrExists) {
			return fmt.Errorf("%s appeared while the snapshot was exported; nothing was replaced", dest)
		}
		if !force {
			// The rename may have happened before the folder could be
			// synced: there was no file, so let there be none.
			_ = s.fs.Remove(dest)
		}
		return fmt.Errorf("write %s: %w", dest, err)
	}
	return nil
}

// readKeyFile reads the key file of an encrypted snapshot, from the
// snapshot target or else the level-2 target.
func (s *Service) readKeyFile(m Manifest) ([]byte, error) {
	targets := []string{s.snapshotTarget()}
	if c, err := s.Level2(); err == nil {
		targets = append(targets, c.Target)
	}
	for _, t := range targets {
		if b, err := fsys.ReadFileLimit(s.fs, keyPath(t, m.Recipient), maxArchiveKey); err == nil {
			return b, nil
		}
	}
	return nil, refusal(ErrDamaged, "the key of encrypted snapshot %s is missing", m.ID)
}

// importKey marks the import that is running: one at a time, so that a
// new one may sweep what an interrupted one left behind.
type importKey struct{}

// importStaging is the prefix of the folder in the data folder where an
// import keeps the chunks it read until the project is filled. It contains
// ".restoring-" so that a restart removes what a crash left behind.
const importStaging = ".snapshot-restoring-"

// ImportSnapshot creates a new project or library from a portable archive
// made by ExportSnapshot (on this Plinth or another), named asNew or as in
// the archive. It needs Modify content on the Projects root, checked
// before the archive is read; an encrypted archive needs the backup
// passphrase it was made with. The import is all or nothing: a bad
// archive is refused before anything is created, and a project that
// cannot be filled is removed again.
func (s *Service) ImportSnapshot(ctx context.Context, actor account.Actor, archive, asNew, passphrase string, prog progress.Func) (Result, error) {
	res := Result{Scope: ScopeItem}
	root, err := s.files.Get(ctx, actor, files.RootID)
	if err != nil {
		return res, err
	}
	if err := s.acc.Check(ctx, actor, root.Item(), account.ModifyContent); err != nil {
		return res, err
	}
	if asNew != "" {
		if err := files.CheckName(asNew); err != nil {
			return res, err
		}
	}
	if _, busy := s.running.LoadOrStore(importKey{}, struct{}{}); busy {
		return res, errors.New("another snapshot import is running; try again when it has finished")
	}
	defer s.running.Delete(importKey{})
	s.sweepStaging()
	f, err := s.fs.Open(archive)
	if err != nil {
		return res, fmt.Errorf("cannot read %s: %w", archive, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("cannot read %s: %w", archive, err)
	}
	ar := &archiveReader{tr: tar.NewReader(f), name: archive}
	mb, err := ar.next(manifestName, maxArchiveManifest)
	if err != nil {
		return res, err
	}
	if err := checkFormat(mb, "the snapshot file "+archive); err != nil {
		return res, err
	}
	var m Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return res, refusal(ErrDamaged, "the manifest in %s cannot be read", archive)
	}
	if m.Format < upgrade.OldestManifest || m.Format > upgrade.Manifest || m.Level != 1 || m.Type != TypeSnapshot || !snapshotID.MatchString(m.ID) {
		return res, ar.notOurs()
	}
	m.Path = ""
	if err := checkTreeFile(m); err != nil {
		return res, fmt.Errorf("%s: %w", archive, err)
	}
	res.Backup = m.ID
	if m.Encrypted() && passphrase == "" {
		return res, refusal(ErrNeedPassphase, "%s is encrypted; give the backup passphrase it was made with", archive)
	}
	stage, err := s.fs.MkdirTemp(s.dataDir, importStaging)
	if err != nil {
		return res, fmt.Errorf("import %s: %w", archive, err)
	}
	defer s.fs.RemoveAll(stage)
	cd := plain
	if m.Encrypted() {
		key, err := ar.next(keysDir+"/"+m.Recipient+".age", maxArchiveKey)
		if err != nil {
			return res, err
		}
		if err := s.fs.MkdirAll(filepath.Join(stage, keysDir), 0o700); err != nil {
			return res, fmt.Errorf("import %s: %w", archive, err)
		}
		if err := fsys.WriteFile(s.fs, keyPath(stage, m.Recipient), key, fsys.Options{NoDirSync: true}); err != nil {
			return res, fmt.Errorf("import %s: %w", archive, err)
		}
		id, err := openKey(s.fs, stage, m.Recipient, passphrase)
		if errors.Is(err, ErrPassphrase) {
			return res, refusal(ErrPassphrase, "the passphrase does not open %s; nothing was imported", archive)
		}
		if err != nil {
			return res, fmt.Errorf("%s: %w", archive, err)
		}
		cd = &codec{recipient: m.Recipient, identity: id}
	}
	treeBytes, err := ar.nextSized(m.Tree.File, m.Tree.Bytes)
	if err != nil {
		return res, err
	}
	doc, want, err := decodeTree(m, cd, treeBytes)
	if err != nil {
		return res, fmt.Errorf("%s: %w", archive, err)
	}
	treeBytes = nil
	name := asNew
	if name == "" {
		name = doc.Name
	}
	if err := s.mayCreate(ctx, actor, name); err != nil {
		return res, err
	}
	kind, err := files.ParseKind(doc.Kind)
	if err != nil || (kind != files.KindProject && kind != files.KindLibrary) {
		kind = files.KindProject
	}
	var content int64
	for _, n := range want {
		content += n
	}
	if err := storage.NeedSpace(s.dataDir, fi.Size()+content, "importing "+filepath.Base(archive)); err != nil {
		return res, err
	}
	// The chunks: only those the tree lists, each once, each decoded with
	// the length the tree gives it as its limit (so the whole archive
	// decodes to no more than the content the tree lists, which the free
	// space was checked for) and checked against its hash, then kept as
	// stored until the project is filled.
	seen := make(map[string]bool, len(want))
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		h, err := ar.tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, ar.notOurs()
		}
		c, ok := strings.CutPrefix(h.Name, "chunks/")
		ext := ".zst"
		if cd.encrypted() {
			ext = ".age"
		}
		c, okExt := strings.CutSuffix(c, ext)
		if !ok || !okExt || !isChunkID(c) || h.Typeflag != tar.TypeReg {
			return res, refusal(ErrDamaged, "%s holds %q, which is not part of a snapshot", archive, cut(h.Name))
		}
		if _, listed := want[c]; !listed || seen[c] {
			return res, refusal(ErrDamaged, "%s holds a chunk its tree does not list, or one chunk twice", archive)
		}
		if h.Size <= 0 || h.Size > maxStoredChunk {
			return res, refusal(ErrDamaged, "chunk %.12s in %s is too large to be one", c, archive)
		}
		stored, err := ar.read(h.Size)
		if err != nil {
			return res, err
		}
		if _, err := cd.openChunk(c, stored, want[c]); err != nil {
			return res, fmt.Errorf("%s: %w", archive, err)
		}
		p := chunkPath(stage, c, cd.recipient)
		if err := s.fs.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return res, fmt.Errorf("import %s: %w", archive, err)
		}
		if err := fsys.WriteFile(s.fs, p, stored, fsys.Options{NoDirSync: true}); err != nil {
			return res, fmt.Errorf("import %s: %w", archive, err)
		}
		seen[c] = true
		prog.Send(progress.Report{Phase: "Reading the snapshot file", Done: int64(len(seen)), Total: int64(len(want)), Unit: "chunk"})
	}
	if len(seen) != len(want) {
		return res, refusal(ErrDamaged, "%s lacks %d of the %d chunks its tree lists", archive, len(want)-len(seen), len(want))
	}
	n, err := s.createFromTree(ctx, actor, Pending{Op: opImport, Name: name, From: filepath.Base(archive)}, kind, doc.Entries,
		chunkOpener(s.fs, stage, nil, cd, want), prog)
	if err != nil {
		return res, err
	}
	res.Item = n.Name
	return res, nil
}

// sweepStaging removes the staging folders of imports that did not end.
func (s *Service) sweepStaging() {
	ents, _ := s.fs.ReadDir(s.dataDir)
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), importStaging) {
			_ = s.fs.RemoveAll(filepath.Join(s.dataDir, e.Name()))
		}
	}
}

// archiveReader reads the members of a snapshot archive in their order.
type archiveReader struct {
	tr   *tar.Reader
	name string
}

func (a *archiveReader) notOurs() error {
	return refusal(ErrDamaged, "%s is not a Plinth snapshot archive, or it is damaged", a.name)
}

// next reads the next member, which must be a file named name of at most
// limit bytes.
func (a *archiveReader) next(name string, limit int64) ([]byte, error) {
	h, err := a.tr.Next()
	if err != nil {
		return nil, a.notOurs()
	}
	if h.Name != name || h.Typeflag != tar.TypeReg {
		return nil, refusal(ErrDamaged, "%s holds %q where %q belongs", a.name, cut(h.Name), name)
	}
	if h.Size < 0 || h.Size > limit {
		return nil, refusal(ErrDamaged, "%s in %s is too large", name, a.name)
	}
	return a.read(h.Size)
}

// nextSized is next for a member whose size the manifest gives.
func (a *archiveReader) nextSized(name string, size int64) ([]byte, error) {
	h, err := a.tr.Next()
	if err != nil {
		return nil, a.notOurs()
	}
	if h.Name != name || h.Typeflag != tar.TypeReg {
		return nil, refusal(ErrDamaged, "%s holds %q where %q belongs", a.name, cut(h.Name), name)
	}
	if h.Size != size {
		return nil, refusal(ErrDamaged, "%s in %s has %d bytes, not the %d its manifest says", name, a.name, h.Size, size)
	}
	return a.read(h.Size)
}

func (a *archiveReader) read(n int64) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(a.tr, b); err != nil {
		return nil, refusal(ErrDamaged, "%s cannot be read to the end", a.name)
	}
	return b, nil
}

// cut shortens a name read from an archive for a sentence (%q escapes
// what it holds).
func cut(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
