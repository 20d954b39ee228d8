// Package backup takes, lists and checks Plinth's backups. This first
// version makes level-2 (full data) backups: both stores, consistent with
// each other, taken while Plinth runs, compressed, with a manifest that
// records each store's identity, generation and Badger version and the
// SHA-256 of each payload. Every file is written atomically; a backup
// appears in the target only once it is complete.
package backup

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/storage"
)

// Errors with a sentence for the user.
var (
	ErrNotFound = errors.New("no such backup")
	ErrDamaged  = errors.New("the backup is damaged")
)

// Payload is one store's data in a backup.
type Payload struct {
	Kind       storage.Kind `json:"kind"`
	Identity   string       `json:"identity"`
	Generation uint64       `json:"generation"`
	Since      uint64       `json:"since"`   // the Badger version to pass to the next incremental, unchanged
	File       string       `json:"file"`    // name inside the backup folder
	Bytes      int64        `json:"bytes"`   // compressed size
	SHA256     string       `json:"sha256"`  // of the compressed file
	Files      int64        `json:"files"`   // file count of the store at backup time
	Digest     string       `json:"digest"`  // set digest at backup time
	Content    int64        `json:"content"` // file bytes at backup time
	// Packs are the File Server's content packs, copied up to their
	// committed size (fileserver only).
	Packs []PackFile `json:"packs,omitempty"`
}

// PackFile is one content pack in a backup.
type PackFile struct {
	Name   string `json:"name"` // under packs/ in the backup and in the store
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Manifest describes one backup.
type Manifest struct {
	Format   int       `json:"format"`
	ID       string    `json:"id"`
	Level    int       `json:"level"`
	Created  time.Time `json:"created"`
	By       string    `json:"by"`
	Payloads []Payload `json:"payloads"`
	Seconds  float64   `json:"seconds"`
	// Path is where the backup lies on disk (not stored; filled in on read).
	Path string `json:"path,omitempty"`
}

// Bytes is the backup's size on disk.
func (m Manifest) Bytes() int64 {
	var n int64
	for _, p := range m.Payloads {
		n += p.Bytes
		for _, pk := range p.Packs {
			n += pk.Bytes
		}
	}
	return n
}

// Payload returns the payload of one store, if the backup has it.
func (m Manifest) Payload(kind storage.Kind) (Payload, bool) {
	for _, p := range m.Payloads {
		if p.Kind == kind {
			return p, true
		}
	}
	return Payload{}, false
}

const manifestName = "manifest.json"

// Service makes backups into a target folder.
type Service struct {
	files  *files.Service
	acc    *account.Service
	target string
	now    func() time.Time
}

// NewService returns the backup service writing level-2 backups into target.
func NewService(fs *files.Service, acc *account.Service, target string) *Service {
	return &Service{files: fs, acc: acc, target: target, now: time.Now}
}

// Target is the folder level-2 backups go into.
func (s *Service) Target() string { return s.target }

// Full takes a level-2 backup of both stores. No two-store change runs
// while the stores are read, so the pair is consistent. It needs Modify
// content on the Servers page.
func (s *Service) Full(ctx context.Context, actor account.Actor, prog progress.Func) (Manifest, error) {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyContent); err != nil {
		return Manifest{}, err
	}
	start := s.now()
	m := Manifest{Format: 1, ID: newID(start), Level: 2, Created: start.UTC(), By: actor.Name()}
	if err := storage.CheckFolder(s.target); err != nil {
		return Manifest{}, fmt.Errorf("backup target: %w", err)
	}
	tmp, err := os.MkdirTemp(s.target, ".incomplete-")
	if err != nil {
		return Manifest{}, fmt.Errorf("backup target %s: %w", s.target, err)
	}
	defer os.RemoveAll(tmp) // gone after the rename; cleans up a failure
	mgr, fsr := s.files.Stores()
	err = s.files.Exclusive(func() error {
		for i, st := range []*storage.Store{mgr, fsr} {
			prog.Send(progress.Report{Phase: "Backing up the " + storeName(st.Kind()), Done: int64(i), Total: 2})
			p, err := writePayload(ctx, tmp, st)
			if err != nil {
				return err
			}
			if st.Kind() == storage.FileServer {
				committed, err := s.files.CommittedPacks()
				if err != nil {
					return err
				}
				if p.Packs, err = copyPacks(ctx, st.Blobs(), committed, filepath.Join(tmp, "packs")); err != nil {
					return err
				}
			}
			m.Payloads = append(m.Payloads, p)
		}
		return nil
	})
	if err != nil {
		return Manifest{}, err
	}
	m.Seconds = s.now().Sub(start).Seconds()
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := writeFileAtomic(filepath.Join(tmp, manifestName), b); err != nil {
		return Manifest{}, err
	}
	final := filepath.Join(s.target, m.ID)
	if err := os.Rename(tmp, final); err != nil {
		return Manifest{}, fmt.Errorf("finish backup %s: %w", m.ID, err)
	}
	syncDir(s.target)
	m.Path = final
	prog.Send(progress.Report{Phase: "Backup finished", Done: 2, Total: 2})
	return m, nil
}

func storeName(k storage.Kind) string {
	if k == storage.Manager {
		return "Manager"
	}
	return "File Server"
}

func writePayload(ctx context.Context, dir string, st *storage.Store) (Payload, error) {
	id := st.Identity()
	p := Payload{Kind: st.Kind(), Identity: id.ID, Generation: id.Generation, File: string(st.Kind()) + ".badger.zst"}
	_ = st.View(func(tx *storage.Tx) error {
		set, err := tx.FileSet()
		p.Files, p.Content, p.Digest = set.Count, set.Bytes, hex.EncodeToString(set.Digest[:])
		return err
	})
	f, err := os.Create(filepath.Join(dir, p.File))
	if err != nil {
		return p, fmt.Errorf("write backup: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	zw, err := zstd.NewWriter(cw, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return p, err
	}
	since, err := st.Backup(&ctxWriter{ctx: ctx, w: zw}, 0)
	if err != nil {
		_ = zw.Close()
		return p, err
	}
	if err := zw.Close(); err != nil {
		return p, fmt.Errorf("compress backup: %w", err)
	}
	if err := f.Sync(); err != nil {
		return p, fmt.Errorf("write backup: %w", err)
	}
	p.Since, p.Bytes, p.SHA256 = since, cw.n, hex.EncodeToString(h.Sum(nil))
	return p, f.Close()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

func newID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// List returns the backups in the target, newest first. Folders without a
// readable manifest are not backups and are left out.
func (s *Service) List() ([]Manifest, error) {
	ents, err := os.ReadDir(s.target)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read backup target %s: %w", s.target, err)
	}
	var out []Manifest
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		m, err := readManifest(filepath.Join(s.target, e.Name()))
		if err == nil {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

// Get reads one backup's manifest; a unique prefix of the id is enough.
func (s *Service) Get(id string) (Manifest, error) {
	all, err := s.List()
	if err != nil {
		return Manifest{}, err
	}
	var found []Manifest
	for _, m := range all {
		if m.ID == id {
			return m, nil
		}
		if strings.HasPrefix(m.ID, id) {
			found = append(found, m)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return Manifest{}, fmt.Errorf("there is no backup %q in %s: %w", id, s.target, ErrNotFound)
	}
	return Manifest{}, fmt.Errorf("%q matches %d backups; give more of the id", id, len(found))
}

func readManifest(dir string) (Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return Manifest{}, fmt.Errorf("backup %s has no manifest: %w", filepath.Base(dir), ErrDamaged)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil || m.Format != 1 {
		return Manifest{}, fmt.Errorf("the manifest of backup %s cannot be read: %w", filepath.Base(dir), ErrDamaged)
	}
	m.Path = dir
	return m, nil
}

// Verify checks every payload of a backup against the SHA-256 in its
// manifest.
func (s *Service) Verify(ctx context.Context, m Manifest) error {
	for _, p := range m.Payloads {
		if err := verifyPayload(ctx, m, p); err != nil {
			return err
		}
	}
	return nil
}

// copyPacks copies each pack up to its committed size into dir.
func copyPacks(ctx context.Context, b *storage.Blobs, committed map[uint32]int64, dir string) ([]PackFile, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ids := make([]uint32, 0, len(committed))
	for id := range committed {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var out []PackFile
	for _, id := range ids {
		name := storage.PackName(id)
		src, err := os.Open(b.Path(id))
		if err != nil {
			return nil, fmt.Errorf("read content pack %s: %w", name, err)
		}
		pf, err := copyFile(ctx, io.LimitReader(src, committed[id]), filepath.Join(dir, name))
		src.Close()
		if err != nil {
			return nil, err
		}
		if pf.Bytes != committed[id] {
			return nil, fmt.Errorf("content pack %s is shorter than recorded (%d of %d bytes)", name, pf.Bytes, committed[id])
		}
		pf.Name = name
		out = append(out, pf)
	}
	return out, nil
}

// copyFile writes r to path (synced) and returns its size and SHA-256.
func copyFile(ctx context.Context, r io.Reader, path string) (PackFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return PackFile{}, fmt.Errorf("write %s: %w", path, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), &ctxReader{ctx: ctx, r: r})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return PackFile{}, fmt.Errorf("write %s: %w", path, err)
	}
	return PackFile{Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// RestorePacks copies a backup's content packs into a restored fileserver
// store's folder, checking each against its checksum.
func RestorePacks(ctx context.Context, m Manifest, storeDir string) error {
	p, ok := m.Payload(storage.FileServer)
	if !ok {
		return nil
	}
	dir := filepath.Join(storeDir, "packs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, pk := range p.Packs {
		src, err := os.Open(filepath.Join(m.Path, "packs", pk.Name))
		if err != nil {
			return fmt.Errorf("content pack %s of backup %s is missing: %w", pk.Name, m.ID, ErrDamaged)
		}
		got, err := copyFile(ctx, src, filepath.Join(dir, pk.Name))
		src.Close()
		if err != nil {
			return err
		}
		if got.Bytes != pk.Bytes || got.SHA256 != pk.SHA256 {
			return fmt.Errorf("content pack %s of backup %s does not match its checksum: %w", pk.Name, m.ID, ErrDamaged)
		}
	}
	return nil
}

func verifyPayload(ctx context.Context, m Manifest, p Payload) error {
	for _, pk := range p.Packs {
		f, err := os.Open(filepath.Join(m.Path, "packs", pk.Name))
		if err != nil {
			return fmt.Errorf("content pack %s of backup %s is missing: %w", pk.Name, m.ID, ErrDamaged)
		}
		h := sha256.New()
		n, err := io.Copy(h, &ctxReader{ctx: ctx, r: f})
		f.Close()
		if err != nil {
			return err
		}
		if n != pk.Bytes || hex.EncodeToString(h.Sum(nil)) != pk.SHA256 {
			return fmt.Errorf("content pack %s of backup %s does not match its checksum: %w", pk.Name, m.ID, ErrDamaged)
		}
	}
	f, err := os.Open(filepath.Join(m.Path, p.File))
	if err != nil {
		return fmt.Errorf("the %s part of backup %s is missing: %w", storeName(p.Kind), m.ID, ErrDamaged)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, &ctxReader{ctx: ctx, r: f})
	if err != nil {
		return err
	}
	if n != p.Bytes || hex.EncodeToString(h.Sum(nil)) != p.SHA256 {
		return fmt.Errorf("the %s part of backup %s does not match its checksum: %w", storeName(p.Kind), m.ID, ErrDamaged)
	}
	return nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// OpenPayload returns the decompressed Badger stream of one store in a
// backup, checking its SHA-256 as it is read: the reader fails at the end
// if the file was damaged. Verify before a restore to fail early.
func OpenPayload(m Manifest, kind storage.Kind) (io.ReadCloser, error) {
	p, ok := m.Payload(kind)
	if !ok {
		return nil, fmt.Errorf("backup %s has no %s part", m.ID, storeName(kind))
	}
	f, err := os.Open(filepath.Join(m.Path, p.File))
	if err != nil {
		return nil, fmt.Errorf("the %s part of backup %s is missing: %w", storeName(kind), m.ID, ErrDamaged)
	}
	hr := &hashReader{r: f, h: sha256.New(), want: p.SHA256, what: fmt.Sprintf("the %s part of backup %s", storeName(kind), m.ID)}
	zr, err := zstd.NewReader(hr)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &payloadReader{zr: zr, f: f}, nil
}

type hashReader struct {
	r          io.Reader
	h          hash.Hash
	want, what string
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	if errors.Is(err, io.EOF) && hex.EncodeToString(h.h.Sum(nil)) != h.want {
		return n, fmt.Errorf("%s does not match its checksum: %w", h.what, ErrDamaged)
	}
	return n, err
}

type payloadReader struct {
	zr *zstd.Decoder
	f  *os.File
}

func (p *payloadReader) Read(b []byte) (int, error) { return p.zr.Read(b) }
func (p *payloadReader) Close() error {
	p.zr.Close()
	return p.f.Close()
}
