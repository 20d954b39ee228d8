package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// Reader streams one version's content from the fileserver, a chunk at a
// time, checking every chunk against its hash.
type Reader struct {
	s      *Service
	ctx    context.Context
	name   string
	chunks []string
	next   int
	cur    []byte
}

// Open returns a reader for a file's current version, or for versionID
// when it is not empty. It needs View item on the file's container.
func (s *Service) Open(ctx context.Context, actor account.Actor, fileID, versionID string) (*Reader, Version, error) {
	n, err := s.Get(ctx, actor, fileID)
	if err != nil {
		return nil, Version{}, err
	}
	if n.Kind != KindFile {
		return nil, Version{}, refuse(ErrNotFound, "%q is a %s, not a file", n.Name, n.Kind)
	}
	if versionID == "" {
		versionID = n.Version
	}
	var v Version
	if err := s.mgr.View(func(tx *storage.Tx) (err error) { v, err = versions.Get(tx, versionID); return err }); err != nil {
		return nil, Version{}, refuse(ErrNotFound, "%q has no such version", n.Name)
	}
	var rec Record
	err = s.fs.View(func(tx *storage.Tx) (err error) { rec, err = records.Get(tx, versionID); return err })
	if errors.Is(err, storage.ErrNotFound) {
		return nil, v, refuse(ErrDamaged, "the content of %q is missing from the file server; run a full file synchronization", n.Name)
	}
	if err != nil {
		return nil, v, err
	}
	return &Reader{s: s, ctx: ctx, name: n.Name, chunks: rec.Chunks}, v, nil
}

func (r *Reader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.next >= len(r.chunks) {
			return 0, io.EOF
		}
		if err := r.ctx.Err(); err != nil {
			return 0, err
		}
		id := r.chunks[r.next]
		var loc storage.Loc
		err := r.s.fs.View(func(tx *storage.Tx) (err error) { loc, err = chunks.Get(tx, id); return err })
		if err != nil {
			return 0, refuse(ErrDamaged, "part %d of %q is missing from the file server", r.next+1, r.name)
		}
		data, err := r.s.fs.Blobs().Read(loc)
		if err != nil {
			return 0, refuse(ErrDamaged, "part %d of %q cannot be read from the file server: %v", r.next+1, r.name, err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != id {
			return 0, refuse(ErrDamaged, "part %d of %q is damaged on the file server", r.next+1, r.name)
		}
		r.cur = data
		r.next++
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// Close releases the reader.
func (r *Reader) Close() error { r.cur, r.chunks = nil, nil; return nil }

// WriteAtomic writes r into path through a temporary file in the same
// folder (fsys.WriteFrom: write, fsync, rename, fsync the folder). A
// failure leaves nothing at path.
func WriteAtomic(path string, r io.Reader) (int64, error) {
	return fsys.WriteFrom(fsys.OS, path, r, fsys.Options{Perm: 0o644})
}

// Export writes a file, or a folder with everything below it, to dest on
// disk. If dest is an existing folder the item goes inside it under its own
// name; an existing file or folder of that name is never overwritten.
// Every file is written atomically. It needs View item.
func (s *Service) Export(ctx context.Context, actor account.Actor, id, dest string, prog progress.Func) (int, error) {
	n, err := s.Get(ctx, actor, id)
	if err != nil {
		return 0, err
	}
	target := dest
	if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
		target = filepath.Join(dest, n.Name)
		if id == RootID {
			target = filepath.Join(dest, "Projects")
		}
	}
	if _, err := os.Lstat(target); err == nil {
		return 0, fmt.Errorf("%s already exists; export into an empty place", target)
	}
	// Count what will be written, for progress.
	var total int64
	var count int
	_ = s.mgr.View(func(tx *storage.Tx) error {
		return walk(tx, n, func(c Node) error {
			if c.Kind == KindFile {
				total += c.Size
				count++
			}
			return nil
		})
	})
	var done int64
	written := 0
	var export func(n Node, target string) error
	export = func(n Node, target string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n.Kind == KindFile {
			rd, _, err := s.Open(ctx, actor, n.ID, "")
			if err != nil {
				return err
			}
			defer rd.Close()
			c, err := WriteAtomic(target, &countingReader{r: rd, fn: func(k int64) {
				done += k
				prog.Send(progress.Report{Phase: "Exporting", Done: done, Total: total, Item: n.Name, Bytes: true})
			}})
			if err != nil {
				return fmt.Errorf("export %s to %s: %w", n.Name, target, plainFS(err))
			}
			_ = c
			written++
			return nil
		}
		if err := os.MkdirAll(target, 0o755); err != nil {
			return fmt.Errorf("create folder %s: %w", target, plainFS(err))
		}
		if n.Kind == KindIModel {
			return nil // iModel contents are exported with their own tools
		}
		kids, err := s.List(ctx, actor, n.ID)
		if err != nil {
			return err
		}
		for _, k := range kids {
			if err := export(k, filepath.Join(target, k.Name)); err != nil {
				return err
			}
		}
		return nil
	}
	err = export(n, target)
	return written, err
}

func plainFS(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type countingReader struct {
	r  io.Reader
	fn func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.fn(int64(n))
	}
	return n, err
}

// Skipped is something an import left out, and why.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// ImportStats says what an import did.
type ImportStats struct {
	Files   int       `json:"files"`
	Folders int       `json:"folders"`
	Bytes   int64     `json:"bytes"`
	Skipped []Skipped `json:"skipped,omitempty"`
}

// Import uploads a file or a folder (with everything below it) from disk
// into a container. Names that cannot be used, links and special files are
// skipped and listed; everything else goes in. It needs Modify content.
func (s *Service) Import(ctx context.Context, actor account.Actor, parentID, local string, prog progress.Func) (ImportStats, error) {
	var st ImportStats
	info, err := os.Lstat(local)
	if err != nil {
		return st, fmt.Errorf("cannot read %s: %w", local, plainFS(err))
	}
	// Measure first, so progress has a total.
	var total int64
	if info.IsDir() {
		_ = filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					total += fi.Size()
				}
			}
			return nil
		})
	} else {
		total = info.Size()
	}
	var done int64
	send := func(item string) progress.Func {
		base := done
		return func(r progress.Report) {
			prog.Send(progress.Report{Phase: "Importing", Done: base + r.Done, Total: total, Item: item, Bytes: true})
		}
	}
	var imp func(parent, path string, fi fs.FileInfo) error
	imp = func(parent, path string, fi fs.FileInfo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := normalize(filepath.Base(path))
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			st.Skipped = append(st.Skipped, Skipped{path, "it is a link; import what it points to instead"})
			return nil
		case !fi.IsDir() && !fi.Mode().IsRegular():
			st.Skipped = append(st.Skipped, Skipped{path, "it is not a regular file"})
			return nil
		}
		if err := CheckName(name); err != nil {
			st.Skipped = append(st.Skipped, Skipped{path, sentenceOf(err)})
			return nil
		}
		if fi.IsDir() {
			dir, err := s.mkdirChain(ctx, actor, parent, []string{name})
			if err != nil {
				if errors.Is(err, ErrExists) {
					st.Skipped = append(st.Skipped, Skipped{path, sentenceOf(err)})
					return nil
				}
				return err
			}
			st.Folders++
			ents, err := os.ReadDir(path)
			if err != nil {
				st.Skipped = append(st.Skipped, Skipped{path, "cannot read the folder: " + plainFS(err).Error()})
				return nil
			}
			sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
			for _, e := range ents {
				efi, err := e.Info()
				if err != nil {
					continue
				}
				if err := imp(dir.ID, filepath.Join(path, e.Name()), efi); err != nil {
					return err
				}
			}
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			st.Skipped = append(st.Skipped, Skipped{path, "cannot read the file: " + plainFS(err).Error()})
			return nil
		}
		defer f.Close()
		_, err = s.Upload(ctx, actor, parent, name, f, fi.Size(), send(name))
		if err != nil {
			if errors.Is(err, ErrExists) || errors.Is(err, ErrBadName) {
				st.Skipped = append(st.Skipped, Skipped{path, sentenceOf(err)})
				return nil
			}
			return err
		}
		st.Files++
		st.Bytes += fi.Size()
		done += fi.Size()
		return nil
	}
	err = imp(parentID, local, info)
	return st, err
}

func sentenceOf(err error) string { return err.Error() }

// ExportVersion writes one version of a file into folder dest under the
// file's name (with the version's date added when an older version is
// asked for), atomically. It needs View item.
func (s *Service) ExportVersion(ctx context.Context, actor account.Actor, fileID, versionID, dest string) (string, error) {
	rd, v, err := s.Open(ctx, actor, fileID, versionID)
	if err != nil {
		return "", err
	}
	defer rd.Close()
	n, err := s.Get(ctx, actor, fileID)
	if err != nil {
		return "", err
	}
	name := n.Name
	if v.ID != n.Version {
		ext := filepath.Ext(name)
		name = strings.TrimSuffix(name, ext) + " (" + v.Created.Local().Format("2006-01-02 15-04-05") + ")" + ext
	}
	target := filepath.Join(dest, name)
	if _, err := os.Lstat(target); err == nil {
		return "", fmt.Errorf("%s already exists; choose another folder", target)
	}
	if _, err := WriteAtomic(target, rd); err != nil {
		return "", fmt.Errorf("export %s: %w", name, plainFS(err))
	}
	return target, nil
}
