package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
)

// folder is what inspect found in a store folder before Badger opened it.
type folder struct {
	// exists: the folder holds a store (it has a MANIFEST).
	exists bool
	// tables: the store has tables on disk, so it has written its
	// identity (the first record of every store) long ago.
	tables bool
}

// inspect looks at a store folder before Badger opens it, because Badger
// repairs what it finds by deleting: a table its MANIFEST does not list is
// removed, and a folder without a MANIFEST is started empty. A folder whose
// files do not fit together is reported as damaged (a *DamageError) and
// left exactly as it is.
//
// What is damage and what is a crash's leftover: a crash can leave tables
// the MANIFEST does not list yet (a flush or compaction cut off before its
// MANIFEST entry), and a half-written last entry. It cannot leave data
// files without a MANIFEST (the MANIFEST is the first file a store gets),
// a listed table missing, an entry that fails its checksum, or several
// tables beside a MANIFEST that lists none (before the first entry only
// one flush can be under way, and its memtable log is still there).
func inspect(dir string, kind Kind, log badger.Logger) (folder, error) {
	c, err := look(dir)
	if err != nil {
		return folder{}, err
	}
	if c.badName != "" {
		// Badger stops the process on a table name it cannot parse.
		return folder{}, damaged(kind, dir, nil, "it holds a file %s that is not one of its tables", c.badName)
	}
	for _, name := range c.logs {
		if err := checkLogHeader(filepath.Join(dir, name)); err != nil {
			return folder{}, refused(kind, dir, err, "its file %s cannot be read (%v)", name, err)
		}
	}
	manifest, tables := c.manifest, c.tables
	if !manifest {
		if c.empty() {
			return folder{}, nil // new, or a first start cut off before its MANIFEST
		}
		return folder{}, damaged(kind, dir, nil, "its MANIFEST file is missing")
	}
	m, complete, err := replayManifest(dir, log)
	if err != nil {
		return folder{}, refused(kind, dir, err, "its MANIFEST file cannot be read (%v)", err)
	}
	listed := m.Tables
	var missing []string
	for id := range listed {
		if _, ok := tables[id]; !ok {
			missing = append(missing, fmt.Sprintf("%06d.sst", id))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return folder{}, damaged(kind, dir, nil, "%s listed in its MANIFEST %s missing", words(missing, 3), isAre(len(missing)))
	}
	orphans := len(tables) - len(listed)
	if len(listed) == 0 && orphans > 0 && (orphans > 1 || c.mems == 0) {
		how := "lists no tables"
		if !complete {
			how = "is cut short and lists no tables"
		}
		return folder{}, damaged(kind, dir, nil, "its MANIFEST file %s, but %d %s there", how, orphans, plural(orphans, "table is", "tables are"))
	}
	if name, err := verifyTables(dir, listed, false); err != nil {
		return folder{}, refused(kind, dir, err, "its table %s does not match its checksums", name)
	}
	return folder{exists: true, tables: len(tables) > 0}, nil
}

// verifyTables checks every listed table against its checksums, in the
// order of their ids, and returns the name of the first damaged one. With
// gone, a table that is no longer there is skipped (a running store's
// compactions remove tables).
func verifyTables(dir string, listed map[uint64]badger.TableManifest, gone bool) (string, error) {
	ids := make([]uint64, 0, len(listed))
	for id := range listed {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var buf []byte // one table at a time: read into the same memory
	for _, id := range ids {
		name := fmt.Sprintf("%06d.sst", id)
		path := filepath.Join(dir, name)
		var err error
		buf, err = verifyTable(path, id, listed[id], buf)
		if gone && err != nil {
			// A compaction of the running store may have removed the
			// table while it was read (Badger empties a table file before
			// it removes it): that is no damage.
			if fi, serr := os.Stat(path); errors.Is(serr, fs.ErrNotExist) || (serr == nil && fi.Size() == 0) {
				continue
			}
		}
		if err != nil {
			return name, err
		}
	}
	return "", nil
}

// verifyTable reads a table whole and checks every block against its
// checksum. Badger does this too when asked (OnTableRead), but on a
// damaged table it then either leaves the table out without a word or
// stops the process from one of its own goroutines; here it happens
// before Badger runs, in this goroutine, and a panic is damage too. The
// table is read into memory, not mapped: a running store's compaction
// empties a table file before it removes it, and a mapping of a file that
// shrank kills the process (SIGBUS) when it is read. The file is read
// into buf, grown when it is too small and returned for the next table:
// nothing of the table is kept once it is checked.
func verifyTable(path string, id uint64, tm badger.TableManifest, buf []byte) (_ []byte, err error) {
	if tm.KeyID != 0 {
		return buf, errors.New("it is encrypted, and Plinth does not encrypt its stores")
	}
	data, err := readFileInto(path, buf)
	if cap(data) > cap(buf) {
		buf = data
	}
	if err != nil {
		return buf, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("read table %s: %v", filepath.Base(path), r)
		}
	}()
	t, err := table.OpenInMemoryTable(data, id, &table.Options{
		ChkMode:     options.OnTableRead,
		Compression: tm.Compression,
		BlockSize:   badger.DefaultOptions("").BlockSize,
	})
	if err != nil {
		return buf, err
	}
	return buf, t.VerifyChecksum()
}

// readFileInto reads a whole file as os.ReadFile does (to its end, however
// long it turns out to be), into buf when the file fits.
func readFileInto(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && int64(cap(buf)) < fi.Size()+512 {
		buf = make([]byte, 0, fi.Size()+512)
	}
	b := bytes.NewBuffer(buf[:0])
	if _, err := b.ReadFrom(f); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// refused is a damaged store, unless the OS refused to read a file (a
// permission, a full disk): then it is that, and the store may be sound.
func refused(kind Kind, dir string, err error, format string, args ...any) error {
	if c := classify(dir, err); c != nil {
		return c
	}
	return damaged(kind, dir, err, format, args...)
}

// contents is what look found in a store folder.
type contents struct {
	manifest bool
	tables   map[uint64]string // id → file name
	badName  string            // a .sst whose name is no table id
	logs     []string          // value logs and memtable logs
	mems     int               // memtable logs
	other    bool              // key registry, discard stats, packs
}

func (c contents) empty() bool {
	return !c.manifest && len(c.tables) == 0 && c.badName == "" && len(c.logs) == 0 && !c.other
}

// look lists what of a store is in a folder, without reading it.
func look(dir string) (contents, error) {
	c := contents{tables: map[uint64]string{}}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		if cl := classify(dir, err); cl != nil {
			return c, cl
		}
		return c, fmt.Errorf("read folder %s: %w", dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case name == badger.ManifestFilename:
			c.manifest = true
		case strings.HasSuffix(name, ".sst"):
			id, err := strconv.ParseUint(strings.TrimSuffix(name, ".sst"), 10, 64)
			if err != nil {
				c.badName = name
				continue
			}
			c.tables[id] = name
		case strings.HasSuffix(name, ".mem"):
			c.mems++
			c.logs = append(c.logs, name)
		case strings.HasSuffix(name, ".vlog"):
			c.logs = append(c.logs, name)
		case name == "KEYREGISTRY", name == "DISCARD":
			c.other = true
		case name == "packs" && e.IsDir():
			if packs, _ := os.ReadDir(filepath.Join(dir, name)); len(packs) > 0 {
				c.other = true
			}
		}
	}
	return c, nil
}

// checkLogHeader reads the header of a value log or memtable log: the id
// of its encryption key, which is 0 in a store Plinth made, and a nonce.
// Badger, finding another key id, fails only after it has created files.
func checkLogHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var head [20]byte
	n, err := io.ReadFull(f, head[:])
	switch {
	case n == 0 && errors.Is(err, io.EOF):
		return nil // created and not yet begun: Badger starts it afresh
	case err != nil:
		return errors.New("its header is cut short")
	case binary.BigEndian.Uint64(head[:8]) != 0:
		return errors.New("its header is damaged")
	}
	return nil
}

// replayManifest reads a MANIFEST as Badger will, without changing it, and
// returns the tables it lists and whether it was read to its end (a crash
// can cut its last entry short).
func replayManifest(dir string, log badger.Logger) (badger.Manifest, bool, error) {
	f, err := os.Open(filepath.Join(dir, badger.ManifestFilename))
	if err != nil {
		return badger.Manifest{}, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return badger.Manifest{}, false, err
	}
	m, end, err := badger.ReplayManifestFile(f, 0, badger.DefaultOptions(dir).WithLogger(log))
	if err != nil {
		return badger.Manifest{}, false, err
	}
	return m, end == fi.Size(), nil
}

// words lists up to n names, "a, b and 3 more".
func words(names []string, n int) string {
	if len(names) > n {
		return strings.Join(names[:n], ", ") + fmt.Sprintf(" and %d more", len(names)-n)
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func isAre(n int) string { return plural(n, "is", "are") }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
