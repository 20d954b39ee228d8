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
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
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

	// readOnly, when not nil, is why the store was opened read-only; it
	// is what every change is refused with.
	readOnly error
	// damage, once a health check found a damaged table, is what every
	// later use of the store is refused with.
	damage atomic.Pointer[DamageError]

	spaceMu  sync.Mutex
	spaceAt  time.Time // when the free space was last measured
	spaceErr error     // and what it said
}

// Options tunes Open. The zero value is right for production.
type Options struct {
	// Logger receives Badger's warnings and errors. Nil discards them.
	Logger *slog.Logger
	// FS is what the content packs are written through; nil is the OS.
	// Tests put faults in it (package faultfs).
	FS fsys.FS
	// ReadOnly opens an existing store without writing anything to its
	// folder. Open also opens a store read-only by itself when its disk
	// has less than Reserve free (ReadOnly reports why).
	ReadOnly bool
	// Format is the data format this Plinth writes. A new store records
	// it; an existing store that records a newer one is refused
	// (*NewerFormatError) before anything else reads it. Zero leaves new
	// stores without a record (format 1) and checks nothing.
	Format int
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// openBadger opens Badger and gives known OS failures their sentence.
func openBadger(o badger.Options) (*badger.DB, error) {
	db, err := badgerOpen(o)
	if err != nil {
		if c := classify(o.Dir, err); c != nil {
			return nil, c
		}
		return nil, fmt.Errorf("open store in %s: %w", o.Dir, err)
	}
	return db, nil
}

// badgerOpen opens Badger. Badger panics on some damaged files; that is a
// damaged store too, not a crash of Plinth.
func badgerOpen(o badger.Options) (db *badger.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("badger stopped: %v", r)
		}
	}()
	return badger.Open(o)
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
		WithSyncWrites(kind == Manager).
		// Every block is checked as it is read, every value from the value
		// log too. Whole tables are checked before Badger opens the store
		// (inspect), not by Badger's OnTableRead, which on a damaged table
		// leaves it out silently or crashes the process.
		WithChecksumVerificationMode(options.OnBlockRead).
		WithVerifyValueChecksum(true)
	return o
}

// Open opens (creating if needed) the store of the given kind in dir.
//
// Errors are plain sentences: ErrLocked when another process has the
// directory open, ErrNotWritable and ErrDiskFull for folders the OS refuses,
// ErrWrongKind when dir holds the other store, ErrDamaged (a *DamageError)
// when the folder holds a store that cannot be read as it is: such a
// folder is left exactly as it is, never opened as a new store.
//
// A store whose disk has less than Reserve free is opened read-only
// (Badger writes through memory maps, and a write through a map onto a
// full disk kills the process): it can be read, and every change is
// refused with a sentence that says why (ErrReadOnly, ErrNoSpace).
func Open(dir string, kind Kind, opt Options) (*Store, error) {
	if kind != Manager && kind != FileServer {
		return nil, fmt.Errorf("open store: unknown kind %q", kind)
	}
	log := opt.logger()
	if !opt.ReadOnly {
		if err := removeEmptyLogs(dir); err != nil {
			return nil, fmt.Errorf("open %s store in %s: %w", kind, dir, err)
		}
	}
	found, err := inspect(dir, kind, badgerLogger{log})
	if err != nil {
		return nil, err
	}
	var readOnly error
	switch {
	case opt.ReadOnly && !found.exists:
		return nil, fmt.Errorf("there is no %s store in %s", kind.Name(), dir)
	case opt.ReadOnly:
		readOnly = fmt.Errorf("the %s store in %s is open read-only: %w", kind.Name(), dir, ErrReadOnly)
	case found.exists:
		readOnly = belowReserve(dir)
	}
	if readOnly == nil {
		if err := ensureWritable(dir); err != nil {
			return nil, err
		}
		if !found.exists {
			if err := NeedSpace(dir, 0, "setting up the "+kind.Name()+" store"); err != nil {
				return nil, err
			}
		}
	}
	s := &Store{kind: kind, dir: dir, log: log, opt: opt, readOnly: readOnly}
	if err := s.openDB(found); err != nil {
		return nil, err
	}
	if kind == FileServer {
		fs := opt.FS
		if readOnly != nil {
			fs = readOnlyFS{fsys.Or(fs), readOnly}
		}
		if s.blobs, err = openBlobs(fs, filepath.Join(dir, "packs")); err != nil {
			_ = s.db.Close()
			return nil, err
		}
	}
	return s, nil
}

// openDB opens Badger on the folder inspect found and loads the identity.
func (s *Store) openDB(found folder) error {
	o := badgerOptions(s.dir, s.kind, s.log).WithReadOnly(s.readOnly != nil)
	db, err := badgerOpen(o)
	if err != nil {
		if c := classify(s.dir, err); c != nil {
			return c
		}
		if s.readOnly != nil && badgerSaid(err, badger.ErrTruncateNeeded) {
			return fmt.Errorf("the %s store in %s was not closed cleanly and needs free space to recover: %w", s.kind.Name(), s.dir, s.readOnly)
		}
		if found.exists {
			return damaged(s.kind, s.dir, err, "%s", badgerReason(err))
		}
		return fmt.Errorf("open the %s store in %s: %w", s.kind.Name(), s.dir, err)
	}
	s.db = db
	if err := s.loadIdentity(found); err != nil {
		_ = db.Close()
		return err
	}
	return nil
}

// ReadOnly returns why the store was opened read-only, or nil when it can
// be changed.
func (s *Store) ReadOnly() error { return s.readOnly }

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
	// Probes of processes killed while probing are debris.
	if old, _ := filepath.Glob(filepath.Join(dir, ".probe-*")); len(old) > 0 {
		for _, p := range old {
			_ = os.Remove(p)
		}
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

// loadIdentity reads the store's identity, or gives a new store one. A
// store that had data but has no identity is damaged, not new: the
// identity is the first record every store gets.
func (s *Store) loadIdentity(found folder) error {
	missing := false
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(identityKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			missing = true
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &s.ident) })
	})
	if err != nil {
		return damaged(s.kind, s.dir, err, "its identity record cannot be read")
	}
	if !missing {
		if s.ident.Kind != s.kind {
			return fmt.Errorf("folder %s holds a %s store where the %s store belongs: %w",
				s.dir, s.ident.Kind, s.kind, ErrWrongKind)
		}
		return s.checkFormat()
	}
	if found.tables {
		return damaged(s.kind, s.dir, nil, "its identity record is missing")
	}
	var other bool
	err = s.db.View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.PrefetchValues = false
		it := txn.NewIterator(opt)
		defer it.Close()
		it.Rewind()
		other = it.Valid()
		return nil
	})
	if err != nil || other {
		return damaged(s.kind, s.dir, err, "it holds records but no identity record")
	}
	if s.readOnly != nil {
		return fmt.Errorf("set up the %s store: %w", s.kind.Name(), s.readOnly)
	}
	id, err := newID()
	if err != nil {
		return err
	}
	s.ident = Identity{ID: id, Kind: s.kind, Created: time.Now().UTC()}
	b, _ := json.Marshal(s.ident)
	err = s.db.Update(func(txn *badger.Txn) error {
		if s.opt.Format > 0 {
			if err := (&Tx{txn: txn}).SetFormat(s.opt.Format); err != nil {
				return err
			}
		}
		return txn.Set(identityKey, b)
	})
	if err != nil {
		return s.wrap("write identity", err)
	}
	return nil
}

// checkFormat refuses a store whose records are of a newer format than
// this Plinth writes.
func (s *Store) checkFormat() error {
	if s.opt.Format == 0 {
		return nil
	}
	var n int
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		n, err = (&Tx{txn: txn}).Format()
		return err
	})
	if err != nil {
		return damaged(s.kind, s.dir, err, "its format record cannot be read")
	}
	if n > s.opt.Format {
		return &NewerFormatError{Kind: s.kind, Dir: s.dir, Format: n, Reads: s.opt.Format}
	}
	return nil
}

// NewerFormatError is a store of a newer data format than this Plinth
// reads: it was written, or upgraded, by a newer Plinth. Nothing in it was
// changed.
type NewerFormatError struct {
	Kind   Kind
	Dir    string
	Format int // what the store records
	Reads  int // the newest format this Plinth reads
}

func (e *NewerFormatError) Error() string {
	return fmt.Sprintf("the %s store in %s is of data format %d, written by a newer Plinth; this Plinth reads formats up to %d",
		e.Kind.Name(), e.Dir, e.Format, e.Reads)
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
	if err := s.writable(); err != nil {
		return 0, err
	}
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

// Healthy reads the store's identity back from disk and checks every
// table on disk against its checksums (reading the files, not Badger's
// cache of blocks it checked before); it fails when the store is closed or its
// files cannot be read. A damaged store stays damaged: every later use of
// it is refused with the same sentence. It reads every table, so its cost
// grows with the store (tens of ms at 100,000 files); Readable is the
// check of O(1) cost.
func (s *Store) Healthy() error {
	s.swap.RLock()
	defer s.swap.RUnlock()
	if err := s.readable(); err != nil {
		return err
	}
	m, _, err := replayManifest(s.dir, badgerLogger{s.log})
	if err != nil {
		return s.damaged(err, "its MANIFEST file cannot be read (%v)", err)
	}
	if name, err := verifyTables(s.dir, m.Tables, true); err != nil {
		return s.damaged(err, "its table %s does not match its checksums", name)
	}
	return nil
}

// Readable is Healthy without reading the tables: it fails when the store
// is closed, was found damaged, or its identity record cannot be read back,
// at a cost that does not grow with the store. Badger still checks every
// block a later read touches, but it takes a block that fails its checksum
// for one without the key (a Get then answers "not found", or an older
// version of the record; a scan skips the block): a caller that would act
// on an absence, or on a whole scan, calls Healthy first.
func (s *Store) Readable() error {
	s.swap.RLock()
	defer s.swap.RUnlock()
	return s.readable()
}

// readable is Readable; callers hold swap.
func (s *Store) readable() error {
	if err := s.usable(); err != nil {
		return err
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
		return s.damaged(err, "its identity record cannot be read")
	}
	if got.ID != s.Identity().ID {
		return fmt.Errorf("%s store in %s changed identity while open", s.kind, s.dir)
	}
	return nil
}

// damaged records that the store was found damaged and returns the error.
func (s *Store) damaged(err error, format string, args ...any) error {
	d := damaged(s.kind, s.dir, err, format, args...)
	s.damage.CompareAndSwap(nil, d)
	return s.damage.Load()
}

// usable refuses a closed store and one found damaged. Callers hold swap.
func (s *Store) usable() error {
	if s.db.IsClosed() {
		return fmt.Errorf("%s store: %w", s.kind, ErrClosed)
	}
	if d := s.damage.Load(); d != nil {
		return d
	}
	return nil
}

// writable refuses changes to a store opened read-only, and to one whose
// disk has less than Reserve free now: Badger would write onto it through
// memory maps. The free space is measured at most once a second.
func (s *Store) writable() error {
	if s.readOnly != nil {
		return s.readOnly
	}
	s.spaceMu.Lock()
	defer s.spaceMu.Unlock()
	if now := time.Now(); now.Sub(s.spaceAt) >= time.Second {
		s.spaceAt, s.spaceErr = now, NeedSpace(s.dir, 0, "saving a change")
	}
	return s.spaceErr
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
	if err := s.usable(); err != nil {
		return err
	}
	return s.db.View(func(txn *badger.Txn) error { return fn(&Tx{txn: txn}) })
}

// Update runs fn in a read-write transaction and commits it atomically. fn
// may run again when a concurrent transaction conflicted with it, so it must
// not have side effects outside tx. On a store opened read-only, or whose
// disk is below Reserve, the first write fn makes fails with the sentence
// that says why; an fn that writes nothing succeeds.
func (s *Store) Update(fn func(tx *Tx) error) error {
	s.swap.RLock()
	defer s.swap.RUnlock()
	if err := s.usable(); err != nil {
		return err
	}
	var err error
	// Two writers that touched the same key conflict; the later one runs
	// again on fresh data. Back off a little so that many at once settle.
	for attempt := range 100 {
		err = s.db.Update(func(txn *badger.Txn) error {
			if err := fn(&Tx{txn: txn, guard: s.writable}); err != nil {
				return callerError{err}
			}
			return nil
		})
		if !errors.Is(err, badger.ErrConflict) {
			break
		}
		time.Sleep(time.Duration(rand.IntN(1+min(attempt, 20))) * time.Millisecond)
	}
	if errors.Is(err, badger.ErrTxnTooBig) {
		return fmt.Errorf("%s store: %w", s.kind, ErrTooLarge)
	}
	if err == nil {
		durableCommit(s) // a test hook: see durable.go
	}
	// What fn returned is the caller's own sentence: it goes back as it
	// is, never taken for a failure of the folder.
	var ce callerError
	if errors.As(err, &ce) {
		return ce.err
	}
	if errors.Is(err, badger.ErrConflict) {
		return fmt.Errorf("%s store is too busy to save a change; try again", s.kind)
	}
	return s.wrap("write", err)
}

// callerError carries the error of an Update's fn through Badger.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }
func (e callerError) Unwrap() error { return e.err }

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
// how many files were rewritten. A store opened read-only has nothing to
// do; on a disk below Reserve it refuses, as every write does (a rewrite
// writes a whole value-log file before it frees one).
func (s *Store) RunGC(ctx context.Context) (int, error) {
	if s.readOnly != nil {
		return 0, nil
	}
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
		err := s.usable()
		if err == nil {
			err = s.writable()
		}
		if err == nil {
			err = s.db.RunValueLogGC(0.5)
		}
		s.swap.RUnlock()
		switch {
		case err == nil:
			n++
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
			return n, nil
		case errors.Is(err, ErrNoSpace), errors.Is(err, ErrDamaged):
			return n, err
		default:
			return n, fmt.Errorf("value-log gc of %s store: %w", s.kind, err)
		}
	}
}

// Path joins the default sub-folder for a kind onto a data folder.
func Path(dataDir string, kind Kind) string { return filepath.Join(dataDir, string(kind)) }

// Exists reports whether dir holds a store, whole or damaged: anything of
// Badger's is in it.
func Exists(dir string) bool {
	c, err := look(dir)
	return err != nil || !c.empty()
}

// badgerReason is the gist of a Badger error for a sentence: which of the
// store's files Badger could not read, and its last reason, without
// Badger's chain of contexts and advice.
func badgerReason(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	parts := strings.Split(msg, " err: ")
	last := strings.TrimSpace(parts[len(parts)-1])
	if last != "" {
		last = strings.ToLower(last[:1]) + last[1:]
	}
	if f := storeFile.FindString(msg); f != "" {
		return fmt.Sprintf("its file %s cannot be read (%s)", f, last)
	}
	return fmt.Sprintf("Badger cannot open it (%s)", last)
}

var storeFile = regexp.MustCompile(`[0-9]+\.(?:vlog|sst|mem)\b|\bMANIFEST\b|\bKEYREGISTRY\b|\bDISCARD\b`)

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
	durableSync(s) // a test hook: see durable.go
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
	found, err := inspect(s.dir, s.kind, badgerLogger{s.log})
	if err == nil {
		err = s.openDB(found)
	}
	if err != nil {
		return errors.Join(rerr, err)
	}
	s.damage.Store(nil) // other files now
	return rerr
}

// removeEmptyLogs removes memtable and value-log files a kill left empty.
// Badger makes a log empty in two places: it creates one before it sizes
// it and writes its header, and it deletes one (a memtable flushed to a
// table, a value log with nothing in it or rewritten by garbage
// collection) by cutting it to nothing first and removing it after. A kill
// between the two steps leaves an empty file, the newest or an older one,
// that held nothing still needed, and Badger then refuses to open the
// store ("Create a new file", badger issue #2207). The sync-files and
// snapshot-import kill loops met both.
func removeEmptyLogs(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if ext := filepath.Ext(e.Name()); e.IsDir() || (ext != ".mem" && ext != ".vlog") {
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
