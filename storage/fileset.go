package storage

import (
	"encoding/json"
	"errors"
	"fmt"
)

// FileSet summarises the files a store holds: how many, how many bytes, and
// the set digest (the sum mod 2^256 of SHA-256(id ‖ content hash) over all
// files). It is updated in the same transaction as every change to the file
// set, so comparing two stores' FileSets costs O(1).
type FileSet struct {
	Count  int64    `json:"count"`
	Bytes  int64    `json:"bytes"`
	Digest [32]byte `json:"digest"`
}

var fileSetKey = []byte("meta/fileset")

// FileSet reads the store's file-set summary; an empty store has the zero value.
func (tx *Tx) FileSet() (FileSet, error) {
	var fs FileSet
	b, err := tx.Get(fileSetKey)
	if errors.Is(err, ErrNotFound) {
		return fs, nil
	}
	if err != nil {
		return fs, err
	}
	if err := json.Unmarshal(b, &fs); err != nil {
		return fs, fmt.Errorf("decode file-set summary: %w", err)
	}
	return fs, nil
}

// SetFileSet writes the store's file-set summary.
func (tx *Tx) SetFileSet(fs FileSet) error {
	b, err := json.Marshal(fs)
	if err != nil {
		return fmt.Errorf("encode file-set summary: %w", err)
	}
	return tx.Set(fileSetKey, b)
}
