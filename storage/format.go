package storage

import (
	"encoding/json"
	"errors"
	"fmt"
)

// formatKey holds the store's data format: which layout of records it
// holds. Stores written before Plinth had format versions have none and
// are format 1. A migration step changes the records and this one in the
// same transaction, so a store is always wholly at one format.
var formatKey = []byte("meta/format")

type formatRecord struct {
	Format int `json:"format"`
}

// Format returns the data format the store records: 1 when it records
// none (stores written before Plinth had format versions).
func (tx *Tx) Format() (int, error) {
	b, err := tx.Get(formatKey)
	if errors.Is(err, ErrNotFound) {
		return 1, nil
	}
	if err != nil {
		return 0, err
	}
	var r formatRecord
	if err := json.Unmarshal(b, &r); err != nil || r.Format < 1 {
		return 0, fmt.Errorf("the store's format record %q cannot be read", b)
	}
	return r.Format, nil
}

// SetFormat records the store's data format, in the transaction of the
// change that brings the store to it.
func (tx *Tx) SetFormat(n int) error {
	if n < 1 {
		return fmt.Errorf("set store format %d: formats start at 1", n)
	}
	b, _ := json.Marshal(formatRecord{Format: n})
	return tx.Set(formatKey, b)
}

// Format returns the data format the store records (see Tx.Format).
func (s *Store) Format() (int, error) {
	var n int
	err := s.View(func(tx *Tx) error {
		var err error
		n, err = tx.Format()
		return err
	})
	return n, err
}
