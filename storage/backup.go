package storage

import (
	"fmt"
	"io"
	"os"
)

// Backup writes a consistent snapshot of every entry newer than since to w
// and returns the version to pass, unchanged, as since for the next
// incremental backup. (Badger's doc comment says to add 1; that drops the
// entries of that version, badger issue #2060.)
func (s *Store) Backup(w io.Writer, since uint64) (uint64, error) {
	s.swap.RLock()
	defer s.swap.RUnlock()
	// A desktop-sized stream: one producer and 16 MB batches rather than
	// Badger's defaults, which hold up to 100 MB in flight. Each producer
	// takes 32 MB buffers (a constant in Badger) and Plinth's stores hold
	// only metadata, so a second one costs more memory than it saves time.
	st := s.db.NewStream()
	st.LogPrefix = "Plinth backup"
	st.NumGo = 1
	st.MaxSize = 16 << 20
	st.SinceTs = since
	v, err := st.Backup(w, since)
	if err != nil {
		return 0, s.wrap("backup", fmt.Errorf("back up the %s store: %w", s.kind, err))
	}
	return v, nil
}

// LoadInto creates a store of the given kind in dir (which must not exist
// or be empty) from backup streams, applied in order (a full backup, then
// its incrementals). The store is closed again; open it with Open.
func LoadInto(dir string, kind Kind, opt Options, streams ...io.Reader) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("folder %s is not empty", dir)
	}
	if err := CheckFolder(dir); err != nil {
		return err
	}
	// Badger writes the loaded tables through memory maps: never onto a
	// disk below the reserve (the caller checks the space the backup needs).
	doing := "loading the " + kind.Name() + " backup"
	if err := NeedSpace(dir, 0, doing); err != nil {
		return err
	}
	o := badgerOptions(dir, kind, opt.logger())
	o.SyncWrites = false // the caller syncs by closing before the swap
	db, err := openBadger(o)
	if err != nil {
		return err
	}
	for i, r := range streams {
		if err := NeedSpace(dir, 0, doing); err != nil {
			_ = db.Close()
			return err
		}
		if err := db.Load(r, 256); err != nil {
			_ = db.Close()
			return fmt.Errorf("load part %d of the %s backup: %w", i+1, kind, err)
		}
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("close the restored %s store: %w", kind, err)
	}
	return nil
}
