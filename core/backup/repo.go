// Package backup takes, keeps, checks and restores Plinth's backups, at
// three levels:
//
//   - level 1, project and library snapshots: one item's files, with their
//     chunks stored once in a content-addressed store, so that an hourly
//     snapshot of an unchanged project costs a small manifest;
//   - level 2, full data backups of both stores, consistent with each
//     other and taken while Plinth runs: a full backup, then incrementals
//     chained to it (Badger's backup stream from the previous version, and
//     the bytes appended to each content pack since);
//   - level 3, an OS or VM snapshot command the admin configures, whose
//     exit status and output are kept.
//
// A backup is a folder written under a temporary name and renamed into
// place only when complete, with a manifest listing the SHA-256 of every
// file; payloads are compressed (zstd) and, when a passphrase is set,
// encrypted with age to a key that only the passphrase opens, so scheduled
// backups never need the passphrase. A lock file in each target keeps two
// Plinths from pruning each other's backups.
package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"codeberg.org/plinth/plinth/core/names"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// Errors with a sentence for the user.
var (
	ErrNotFound      = errors.New("no such backup")
	ErrDamaged       = errors.New("the backup is damaged")
	ErrPassphrase    = errors.New("the passphrase does not open this backup")
	ErrOtherPlinth   = errors.New("the backup was taken of another Plinth")
	ErrTargetBusy    = errors.New("another Plinth is using the backup target")
	ErrNeedPassphase = errors.New("the backup is encrypted")
	// ErrNewerBackup is a backup, snapshot repository or archive of a
	// newer format than this Plinth reads: it is left as it is.
	ErrNewerBackup = errors.New("the backup was written by a newer Plinth")
)

// refused is an error whose sentence says it all; errors.Is still finds
// the kind (one of the Err values above).
type refused struct {
	msg  string
	kind error
}

func (e *refused) Error() string { return e.msg }
func (e *refused) Unwrap() error { return e.kind }

func refusal(kind error, format string, args ...any) error {
	return &refused{msg: fmt.Sprintf(format, args...), kind: kind}
}

const manifestName = "manifest.json"

// Types of backup.
const (
	TypeFull        = "full"
	TypeIncremental = "incremental"
	TypeSnapshot    = "snapshot"
	TypeOS          = "os"
)

// Segment is part of a content pack: the bytes [From, To) of pack Name,
// stored in File.
type Segment struct {
	Name   string `json:"name"`
	From   int64  `json:"from"`
	To     int64  `json:"to"`
	File   string `json:"file"`
	Bytes  int64  `json:"bytes"` // as stored (compressed, maybe encrypted)
	SHA256 string `json:"sha256"`
}

// Payload is one store's data in a level-2 backup.
type Payload struct {
	Kind       storage.Kind `json:"kind"`
	Identity   string       `json:"identity"`
	Generation uint64       `json:"generation"`
	From       uint64       `json:"from"`  // the Badger version this part starts at (0: full)
	Since      uint64       `json:"since"` // the version to pass, unchanged, to the next incremental
	File       string       `json:"file"`
	Bytes      int64        `json:"bytes"`
	SHA256     string       `json:"sha256"`
	// Format is the store's data format at backup time (upgrade.Data);
	// 0 in backups taken before formats were recorded, which are of 1.
	Format  int    `json:"format,omitempty"`
	Files   int64  `json:"files"`   // file count of the store at backup time
	Digest  string `json:"digest"`  // set digest at backup time
	Content int64  `json:"content"` // file bytes at backup time
	// Fileserver only: the pack bytes this backup adds, and every pack's
	// committed size at this point (what a restore rebuilds).
	Segments  []Segment        `json:"segments,omitempty"`
	Committed map[string]int64 `json:"committed,omitempty"`
}

// Manifest describes one backup.
type Manifest struct {
	Format    int       `json:"format"`
	ID        string    `json:"id"`
	Level     int       `json:"level"`
	Type      string    `json:"type"`
	Parent    string    `json:"parent,omitempty"` // incremental: the backup it continues
	Base      string    `json:"base,omitempty"`   // incremental: the full backup of its chain
	Plinth    string    `json:"plinth"`           // identity of the Manager store backed up
	Created   time.Time `json:"created"`
	By        string    `json:"by"`
	Writer    string    `json:"writer,omitempty"` // the version of the Plinth that wrote it
	Seconds   float64   `json:"seconds"`
	Recipient string    `json:"recipient,omitempty"` // age recipient when encrypted
	Payloads  []Payload `json:"payloads,omitempty"`
	// Level 1.
	Tree     *TreeFile `json:"tree,omitempty"`
	Added    int64     `json:"added,omitempty"` // bytes the snapshot added to the target: its tree and new chunks
	Item     string    `json:"item,omitempty"`
	ItemName string    `json:"itemName,omitempty"`
	ItemKind string    `json:"itemKind,omitempty"`
	Trigger  string    `json:"trigger,omitempty"` // why it was taken: TriggerSchedule (or ""), TriggerManual, TriggerSafety
	// Path is where the backup lies on disk (filled in on read).
	Path string `json:"path,omitempty"`
	// Source is the named target the backup was read from, when it is not
	// in the backup folder (then Path is empty): a restore or verify reads
	// its files from there (stored.go).
	Source *Source `json:"-"`
}

// Encrypted reports whether the backup needs a passphrase to read.
func (m Manifest) Encrypted() bool { return m.Recipient != "" }

// Bytes is what the backup added to its target on disk: a level-2
// backup's payloads, a snapshot's tree and the chunks no earlier snapshot
// had (an unchanged project's snapshot costs its tree).
func (m Manifest) Bytes() int64 {
	if m.Tree != nil {
		if m.Added > 0 {
			return m.Added
		}
		return m.Tree.Bytes
	}
	var n int64
	for _, p := range m.Payloads {
		n += p.Bytes
		for _, s := range p.Segments {
			n += s.Bytes
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

// repo is an open backup target folder, locked for this process.
type repo struct {
	fs   fsys.FS
	dir  string
	lock *flock.Flock
}

// openRepo creates and locks a target. It waits up to 30 s for another
// Plinth (or another backup of this one) to finish with it.
func openRepo(ctx context.Context, fs fsys.FS, dir string) (*repo, error) {
	if err := storage.CheckFolder(dir); err != nil {
		return nil, fmt.Errorf("backup target: %w", err)
	}
	l := flock.New(filepath.Join(dir, ".plinth-backup.lock"))
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ok, err := l.TryLockContext(wait, 100*time.Millisecond)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil || !ok {
		return nil, fmt.Errorf("%w %s; try again when it has finished", ErrTargetBusy, dir)
	}
	return &repo{fs: fsys.Or(fs), dir: dir, lock: l}, nil
}

func (r *repo) close() {
	if r.lock != nil {
		_ = r.lock.Unlock()
	}
}

// begin makes a temporary folder for a new backup.
func (r *repo) begin() (string, error) {
	return r.fs.MkdirTemp(r.dir, ".incomplete-")
}

// commit writes the manifest and renames the temporary folder into place:
// before the rename there is no backup, after it a complete one.
func (r *repo) commit(tmp string, m *Manifest) error {
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := fsys.WriteFile(r.fs, filepath.Join(tmp, manifestName), b, fsys.Options{}); err != nil {
		return fmt.Errorf("write the manifest of backup %s: %w", m.ID, err)
	}
	final := filepath.Join(r.dir, m.ID)
	if err := r.fs.Rename(tmp, final); err != nil {
		return fmt.Errorf("finish backup %s: %w", m.ID, err)
	}
	if err := r.fs.SyncDir(r.dir); err != nil {
		// The rename may not last: take it back, so that a backup reported
		// as failed never turns up later as a good one.
		if rerr := r.fs.Rename(final, tmp); rerr == nil {
			_ = r.fs.SyncDir(r.dir)
		}
		return fmt.Errorf("finish backup %s: %w", m.ID, err)
	}
	m.Path = final
	return nil
}

// sweep removes what interrupted backups left behind.
func (r *repo) sweep() {
	ents, _ := r.fs.ReadDir(r.dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".incomplete-") || strings.HasPrefix(e.Name(), ".removing-") || fsys.IsTemp(e.Name()) {
			_ = r.fs.RemoveAll(filepath.Join(r.dir, e.Name()))
		}
	}
}

// remove deletes a backup: rename first (atomic), then delete the files.
// What a failure leaves under the ".removing-" name goes with the next
// sweep.
func (r *repo) remove(m Manifest) error {
	gone := filepath.Join(r.dir, ".removing-"+m.ID)
	if err := r.fs.Rename(m.Path, gone); err != nil {
		return fmt.Errorf("remove backup %s: %w", m.ID, err)
	}
	serr := r.fs.SyncDir(r.dir)
	if err := r.fs.RemoveAll(gone); err != nil {
		return fmt.Errorf("remove backup %s: %w", m.ID, err)
	}
	if serr != nil {
		return fmt.Errorf("remove backup %s: %w", m.ID, serr)
	}
	return nil
}

// list reads every backup in a target folder, newest first. Folders
// without a manifest are not backups; folders whose manifest is damaged
// are left out too (scan returns them).
func list(fs fsys.FS, dir string) ([]Manifest, error) {
	good, _, err := scan(fs, dir)
	return good, err
}

// Damaged is a folder in a backup target whose manifest is there but
// cannot be read or trusted.
type Damaged struct {
	ID   string `json:"id"` // the folder's name
	Path string `json:"path"`
	Err  error  `json:"-"` // the sentence, wrapping ErrDamaged
}

// newer reports whether a was taken after b. Backup ids begin with the
// second they were taken in and end with a random suffix, so two backups
// of the same second compare by their creation time, never by the id
// alone: a script or a safety backup can take two in one second.
func newer(a, b Manifest) bool {
	if !a.Created.Equal(b.Created) {
		return a.Created.After(b.Created)
	}
	return a.ID > b.ID
}

// sortNewestFirst orders backups newest first (see newer).
func sortNewestFirst(l []Manifest) {
	sort.SliceStable(l, func(i, j int) bool { return newer(l[i], l[j]) })
}

// scan reads every backup in a target folder: the sound ones newest
// first, and the damaged ones.
func scan(fs fsys.FS, dir string) (good []Manifest, bad []Damaged, err error) {
	ents, err := fs.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read backup target %s: %w", dir, err)
	}
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		m, err := readManifest(fs, path)
		switch {
		case err == nil:
			good = append(good, m)
		case errors.Is(err, errNoManifest):
			// not a backup (the keys folder, say)
		default:
			bad = append(bad, Damaged{ID: e.Name(), Path: path, Err: err})
		}
	}
	sortNewestFirst(good)
	sort.Slice(bad, func(i, j int) bool { return bad[i].ID > bad[j].ID })
	return good, bad, nil
}

// maxManifest is the largest manifest read; a bigger one is damaged.
const maxManifest = 64 << 20

// errNoManifest means a folder holds no manifest: it is not a backup (to
// list), or a damaged one (to whoever asked for it by name).
var errNoManifest error = noManifest{}

type noManifest struct{}

func (noManifest) Error() string        { return "no manifest" }
func (noManifest) Is(target error) bool { return target == ErrDamaged }

// readManifest reads and checks the manifest of the backup in dir. Every
// name in it is checked before anything uses it (validate): a manifest
// that fails is damaged.
func readManifest(fs fsys.FS, dir string) (Manifest, error) {
	id := filepath.Base(dir)
	if names.Check(id) != nil {
		id = quote(id) // shown escaped: a folder name is outside input too
	}
	path := filepath.Join(dir, manifestName)
	var b []byte
	fi, err := fs.Stat(path)
	if err == nil && fi.Size() > maxManifest {
		err = fsys.ErrTooLarge // not worth reading
	} else if err == nil {
		b, err = fsys.ReadFileLimit(fs, path, maxManifest)
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return Manifest{}, refusal(errNoManifest, "backup %s has no manifest", id)
	case errors.Is(err, fsys.ErrTooLarge):
		return Manifest{}, refusal(ErrDamaged, "backup %s is damaged: its manifest is larger than %d MiB", id, maxManifest>>20)
	case err != nil:
		return Manifest{}, refusal(ErrDamaged, "the manifest of backup %s cannot be read: %v", id, err)
	}
	m, err := decodeManifest(b, id, dir)
	if err != nil {
		return Manifest{}, err
	}
	m.Path = dir
	return m, nil
}

// decodeManifest checks and decodes the manifest b of the backup whose
// folder (or name in a target) is dir; id is how sentences name it.
func decodeManifest(b []byte, id, dir string) (Manifest, error) {
	if err := checkFormat(b, "backup "+id); err != nil {
		return Manifest{}, err
	}
	if err := checkShape(b); err != nil {
		return Manifest{}, refusal(ErrDamaged, "backup %s is damaged: its manifest cannot be read (%v)", id, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, refusal(ErrDamaged, "backup %s is damaged: its manifest cannot be read", id)
	}
	if err := validate(&m, dir); err != nil {
		return Manifest{}, refusal(ErrDamaged, "backup %s is damaged: its manifest cannot be trusted (%v)", id, err)
	}
	return m, nil
}

func newID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// checkFormat refuses a manifest of a newer format than this Plinth reads
// (ErrNewerBackup), before its shape is judged: a newer Plinth may write
// other fields. what names it ("backup 2026…", "the snapshot file").
func checkFormat(b []byte, what string) error {
	var head struct {
		Format int    `json:"format"`
		Writer string `json:"writer"`
	}
	if json.Unmarshal(b, &head) != nil || head.Format <= upgrade.Manifest {
		return nil // judged with the rest of the manifest
	}
	return newerBackup(what, "backup format", head.Format, upgrade.Manifest, head.Writer)
}

// newerBackup is the sentence for something of a newer format: what (was
// written by …), the kind of format, its format and the newest this
// Plinth reads, and the version of the Plinth that wrote it when known.
func newerBackup(what, kind string, format, reads int, writer string) error {
	by, install := "a newer Plinth", "a newer Plinth"
	if writer != "" {
		by = "Plinth " + writer
		install = by + " or newer"
	}
	return refusal(ErrNewerBackup, "%s was written by %s (%s %d); this Plinth reads %ss up to %d: install %s to use it",
		what, by, kind, format, kind, reads, install)
}
