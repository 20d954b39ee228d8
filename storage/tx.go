package storage

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Tx is a transaction on one store, read-only inside View.
type Tx struct {
	txn *badger.Txn
	// guard, in Update, is asked once before the first write: a store
	// opened read-only, or on a disk below Reserve, refuses there. An
	// Update that writes nothing succeeds on such a store.
	guard func() error
}

// writing asks the guard before the first write.
func (tx *Tx) writing() error {
	if tx.guard == nil {
		return nil
	}
	err := tx.guard()
	if err == nil {
		tx.guard = nil
	}
	return err
}

// Get returns a copy of the value at key, or ErrNotFound.
func (tx *Tx) Get(key []byte) ([]byte, error) {
	item, err := tx.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return item.ValueCopy(nil)
}

// Has reports whether key exists.
func (tx *Tx) Has(key []byte) (bool, error) {
	_, err := tx.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get %s: %w", key, err)
	}
	return true, nil
}

// Set writes value at key. Both slices are copied, so the caller may reuse
// them at once.
func (tx *Tx) Set(key, value []byte) error {
	if err := tx.writing(); err != nil {
		return err
	}
	if err := tx.txn.Set(bytes.Clone(key), bytes.Clone(value)); err != nil {
		return fmt.Errorf("set %s: %w", key, err)
	}
	return nil
}

// Delete removes key; deleting a missing key is not an error.
func (tx *Tx) Delete(key []byte) error {
	if err := tx.writing(); err != nil {
		return err
	}
	if err := tx.txn.Delete(bytes.Clone(key)); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// Scan calls fn for every key with the given prefix, in key order. The key
// and value slices are valid only during the call. Returning ErrStop from fn
// ends the scan without an error.
func (tx *Tx) Scan(prefix []byte, fn func(key, value []byte) error) error {
	return tx.scan(prefix, true, func(item *badger.Item) error {
		return item.Value(func(v []byte) error { return fn(item.Key(), v) })
	})
}

// ScanFrom is Scan starting at the first key ≥ from (which must start with
// prefix), so that a long job can go on where its last batch ended.
func (tx *Tx) ScanFrom(prefix, from []byte, fn func(key, value []byte) error) error {
	opt := badger.DefaultIteratorOptions
	opt.Prefix = prefix
	opt.PrefetchValues = false
	it := tx.txn.NewIterator(opt)
	defer it.Close()
	for it.Seek(from); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		err := item.Value(func(v []byte) error { return fn(item.Key(), v) })
		if err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// ScanKeys is Scan without reading values, which is much cheaper.
func (tx *Tx) ScanKeys(prefix []byte, fn func(key []byte) error) error {
	return tx.scan(prefix, false, func(item *badger.Item) error { return fn(item.Key()) })
}

func (tx *Tx) scan(prefix []byte, _ bool, fn func(*badger.Item) error) error {
	opt := badger.DefaultIteratorOptions
	opt.Prefix = prefix
	// Plinth's records are small and live in the LSM tree: reading each
	// value in place beats Badger's prefetch goroutines.
	opt.PrefetchValues = false
	it := tx.txn.NewIterator(opt)
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		if err := fn(it.Item()); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// ErrStop ends a Scan early without an error.
var ErrStop = errors.New("stop scan")
