package storage

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"codeberg.org/plinth/plinth/storage/fsys"
)

// Kind names one of Plinth's two stores.
type Kind string

// The two stores.
const (
	Manager    Kind = "manager"
	FileServer Kind = "fileserver"
)

// Identity says which store this is. It is written when the store is
// created; only a restore changes Generation.
type Identity struct {
	ID         string    `json:"id"`
	Kind       Kind      `json:"kind"`
	Generation uint64    `json:"generation"`
	Created    time.Time `json:"created"`
}

var identityKey = []byte("meta/identity")

// Store is one open Badger database.
type Store struct {
	db    *badger.DB
	kind  Kind
	dir   string
	log   *slog.Logger
	blobs *Blobs // fileserver only
	opt   Options

	// swap is held shared by every use of db and exclusively by Swap,
	// which replaces the database under a running Plinth (a restore).
	swap sync.RWMutex

	mu    sync.RWMutex
	ident Identity
}

// Options tunes Open. The zero value is right for production.
type Options struct {
	// Logger receives Badger's warnings and errors. Nil discards them.
	Logger *slog.Logger
	// FS is what the content packs are written through; nil is the OS.
	// Tests put faults in it (package faultfs).
	FS fsys.FS
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

func openBadger(o badger.Options) (*badger.DB, error) {
	db, err := badger.Open(o)
	if err != nil {
		if c := classify(o.Dir, err); c != nil {
			return nil, c
		}
		return nil, fmt.Errorf("open store in %s: %w", o.Dir, err)
	}
	return db, nil
}

// badgerOptions returns Badger options sized for a desktop: small memtables
// and caches, 64 MB value-log files (they are mmapped at twice their size),
// and synchronous writes for the manager store.
func badgerOptions(dir string, kind Kind, log *slog.Logger) badger.Options {
	o := badger.DefaultOptions(dir).
		WithMemTableSize(16 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(3).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(2 << 20).
		WithValueLogFileSize(64 << 20).
		WithBlockCacheSize(16 << 20).
		WithIndexCacheSize(8 << 20).
		WithNumCompactors(2).
		WithNumGoroutines(4).
		WithCompression(options.Snappy).
		WithMetricsEnabled(false).
		WithLogger(badgerLogger{log}).
		WithSyncWrites(kind == Manager)
	return o
}

// Open opens (creating if needed) the store of the given kind in dir.
//
// Errors are plain sentences: ErrLocked when another process has the
// directory open, ErrNotWritable and ErrDiskFull for folders the OS refuses,
// ErrWrongKind when dir holds the other store.
func Open(dir string, kind Kind, opt Options) (*Store, error) {
	if kind != Manager && kind != FileServer {
		return nil, fmt.Errorf("open store: unknown kind %q", kind)
	}
	log := opt.logger()
	if err := ensureWritable(dir); err != nil {
		return nil, err
	}
	if err := removeEmptyMemtables(dir); err != nil {
		return nil, fmt.Errorf("open %s store in %s: %w", kind, dir, err)
	}
	db, err := badger.Open(badgerOptions(dir, kind, log))
	if err != nil {
		if c := classify(dir, err); c != nil {
			return nil, c
		}
		return nil, fmt.Errorf("open %s store in %s: %w", kind, dir, err)
	}
	s := &Store{db: db, kind: kind, dir: dir, log: log, opt: opt}
	if err := s.loadIdentity(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if kind == FileServer {
		if s.blobs, err = openBlobs(opt.FS, filepath.Join(dir, "packs")); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	return s, nil
}

// removeEmptyMemtables removes the memtable files (*.mem) of dir that are
// empty: a process killed just after Badger created one leaves it so, and
// Badger then refuses to open the store ("Create a new file", badger
// issue #2207). An empty memtable file holds nothing; Badger makes a new
// one when it needs one.
func removeEmptyMemtables(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() || filepath.Ext(e.Name()) != ".mem" {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// ensureWritable creates dir if needed and proves a file can be written in
// it, so that a read-only or full folder gets a plain sentence instead of an
// error from deep inside Badger.
func ensureWritable(dir string) error { return CheckFolder(dir) }

// CheckFolder creates dir if needed and proves that a file can be written
// and synced in it. A read-only, unwritable or full folder gets its plain
// sentence (ErrNotWritable, ErrDiskFull).
func CheckFolder(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		if c := classify(dir, err); c != nil {
			return c
		}
		return fmt.Errorf("create folder %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		if c := classify(dir, err); c != nil {
			return c
		}
		return fmt.Errorf("write in folder %s: %w", dir, err)
	}
	name := f.Name()
	_, err = f.Write(make([]byte, 4096))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	_ = os.Remove(name)
	if err != nil {
		if c := classify(dir, err); c != nil {
			return c
		}
		return fmt.Errorf("write in folder %s: %w", dir, err)
	}
	return nil
}

func (s *Store) loadIdentity() error {
	return s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(identityKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			id, err := newID()
			if err != nil {
				return err
			}
			s.ident = Identity{ID: id, Kind: s.kind, Created: time.Now().UTC()}
			b, _ := json.Marshal(s.ident)
			return txn.Set(identityKey, b)
		}
		if err != nil {
			return fmt.Errorf("read identity of %s: %w", s.dir, err)
		}
		err = item.Value(func(v []byte) error { return json.Unmarshal(v, &s.ident) })
		if err != nil {
			return fmt.Errorf("read identity of %s: %w", s.dir, err)
		}
		if s.ident.Kind != s.kind {
			return fmt.Errorf("folder %s holds a %s store where the %s store belongs: %w",
				s.dir, s.ident.Kind, s.kind, ErrWrongKind)
		}
		return nil
	})
}

func newID() (string, error) {
	b := make([]byte, 16)
	if _, err := crand.Read(b); err != nil {
		return "", fmt.Errorf("new store id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Kind reports which store this is.
func (s *Store) Kind() Kind { return s.kind }

// Dir is the folder the store lives in.
func (s *Store) Dir() string { return s.dir }

// Identity returns the store's identity as of now.
func (s *Store) Identity() Identity {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ident
}

// BumpGeneration records that the store was restored from a backup and
// returns the new generation.
func (s *Store) BumpGeneration() (uint64, error) { return s.SetGeneration(s.Identity().Generation + 1) }

// SetGeneration sets the restore generation; a restore sets it one past the
// generation of the store it replaced.
func (s *Store) SetGeneration(g uint64) (uint64, error) {
	s.swap.RLock()
	defer s.swap.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.ident
	next.Generation = g
	b, _ := json.Marshal(next)
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(identityKey, b) }); err != nil {
		return 0, s.wrap("bump generation", err)
	}
	s.ident = next
	return next.Generation, nil
}

// Close flushes and closes the store. It is safe to call twice.
func (s *Store) Close() error {
	s.swap.Lock()
	defer s.swap.Unlock()
	if s.db.IsClosed() {
		return nil
	}
	if s.blobs != nil {
		if err := s.blobs.Close(); err != nil {
			_ = s.db.Close()
			return fmt.Errorf("close packs: %w", err)
		}
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close %s store: %w", s.kind, err)
	}
	return nil
}

// Healthy reads the store's identity back from disk; it fails when the store
// is closed or its files cannot be read.
func (s *Store) Healthy() error {
	s.swap.RLock()
	defer s.swap.RUnlock()
	if s.db.IsClosed() {
		return fmt.Errorf("%s store: %w", s.kind, ErrClosed)
	}
	var got Identity
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(identityKey)
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &got) })
	})
	if err != nil {
		return s.wrap("health check", err)
	}
	if got.ID != s.Identity().ID {
		return fmt.Errorf("%s store in %s changed identity while open", s.kind, s.dir)
	}
	return nil
}

// DiskSize is the bytes the store occupies on disk (LSM tree, value log
// and packs).
func (s *Store) DiskSize() int64 {
	s.swap.RLock()
	defer s.swap.RUnlock()
	lsm, vlog := s.db.Size()
	n := lsm + vlog
	if s.blobs != nil {
		if packs, err := s.blobs.Packs(); err == nil {
			for _, sz := range packs {
				n += sz
			}
		}
	}
	return n
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(tx *Tx) error) error {
	s.swap.RLock()
	defer s.swap.RUnlock()
	if s.db.IsClosed() {
		return fmt.Errorf("%s store: %w", s.kind, ErrClosed)
	}
	return s.db.View(func(txn *badger.Txn) error { return fn(&Tx{txn: txn}) })
}

// Update runs fn in a read-write transaction and commits it atomically. fn
// may run again when a concurrent transaction conflicted with it, so it must
// not have side effects outside tx.
func (s *Store) Update(fn func(tx *Tx) error) error {
	s.swap.RLock()
	defer s.swap.RUnlock()
	if s.db.IsClosed() {
		return fmt.Errorf("%s store: %w", s.kind, ErrClosed)
	}
	var err error
	// Two writers that touched the same key conflict; the later one runs
	// again on fresh data. Back off a little so that many at once settle.
	for attempt := range 100 {
		err = s.db.Update(func(txn *badger.Txn) error { return fn(&Tx{txn: txn}) })
		if !errors.Is(err, badger.ErrConflict) {
			break
		}
		time.Sleep(time.Duration(rand.IntN(1+min(attempt, 20))) * time.Millisecond)
	}
	if errors.Is(err, badger.ErrConflict) {
		return fmt.Errorf("%s store is too busy to save a change; try again", s.kind)
	}
	if errors.Is(err, badger.ErrTxnTooBig) {
		return fmt.Errorf("%s store: %w", s.kind, ErrTooLarge)
	}
	return s.wrap("write", err)
}

// wrap gives known OS failures their plain sentence and leaves others be.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if c := classify(s.dir, err); c != nil {
		return c
	}
	return err
}

// RunGC reclaims value-log space left by deleted and overwritten values,
// rewriting files until Badger finds nothing more worth rewriting. It returns
// how many files were rewritten.
func (s *Store) RunGC(ctx context.Context) (int, error) {
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		s.swap.RLock()
		if s.db.IsClosed() {
			s.swap.RUnlock()
			return n, nil
		}
		err := s.db.RunValueLogGC(0.5)
		s.swap.RUnlock()
		switch {
		case err == nil:
			n++
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
			return n, nil
		default:
			return n, fmt.Errorf("value-log gc of %s store: %w", s.kind, err)
		}
	}
}

// Path joins the default sub-folder for a kind onto a data folder.
func Path(dataDir string, kind Kind) string { return filepath.Join(dataDir, string(kind)) }

// Exists reports whether dir already holds a Badger store.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "MANIFEST"))
	return err == nil
}

// badgerLogger forwards Badger's log lines to slog. Badger's INFO lines
// (compactions, replays) are debug-level noise for an office admin.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any) {
	l.log.Error(trim(fmt.Sprintf(f, a...)), "src", "badger")
}
func (l badgerLogger) Warningf(f string, a ...any) {
	l.log.Warn(trim(fmt.Sprintf(f, a...)), "src", "badger")
}
func (l badgerLogger) Infof(f string, a ...any) {
	l.log.Debug(trim(fmt.Sprintf(f, a...)), "src", "badger")
}
func (l badgerLogger) Debugf(f string, a ...any) {}

func trim(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}

// Blobs is the fileserver store's pack storage for file contents (nil for
// the manager store).
func (s *Store) Blobs() *Blobs { return s.blobs }

// Sync makes every write so far durable, also on a store without SyncWrites.
func (s *Store) Sync() error {
	s.swap.RLock()
	defer s.swap.RUnlock()
	if s.blobs != nil {
		if err := s.blobs.Sync(); err != nil {
			return s.wrap("sync", err)
		}
	}
	if err := s.db.Sync(); err != nil {
		return s.wrap("sync", fmt.Errorf("sync the %s store: %w", s.kind, err))
	}
	return nil
}

// Swap closes the store, runs replace (which puts another store's files in
// the folder, as a restore does), and opens it again, all while everyone
// holding this *Store waits: services keep their pointer across a restore.
// If replace fails the folder is opened again as it is.
func (s *Store) Swap(replace func() error) error {
	s.swap.Lock()
	defer s.swap.Unlock()
	if s.blobs != nil {
		if err := s.blobs.Close(); err != nil {
			return fmt.Errorf("close packs: %w", err)
		}
	}
	if !s.db.IsClosed() {
		if err := s.db.Close(); err != nil {
			return fmt.Errorf("close %s store: %w", s.kind, err)
		}
	}
	rerr := replace()
	db, err := openBadger(badgerOptions(s.dir, s.kind, s.opt.logger()))
	if err != nil {
		return errors.Join(rerr, err)
	}
	s.db = db
	if err := s.loadIdentity(); err != nil {
		return errors.Join(rerr, err)
	}
	return rerr
}
