package storage

import (
	"bytes"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Batch collects many writes and commits them in as many transactions as
// Badger needs, so that a bulk change never fails with ErrTxnTooBig. A batch
// is not atomic as a whole: callers that need all-or-nothing over a bulk
// change keep a job record and make each step idempotent.
type Batch struct {
	s     *Store
	wb    *badger.WriteBatch
	n     int
	ended bool
}

// NewBatch starts a batch. Call Flush to commit what is left, or Cancel;
// the store cannot be swapped (restored) until then.
func (s *Store) NewBatch() *Batch {
	s.swap.RLock()
	return &Batch{s: s, wb: s.db.NewWriteBatch()}
}

// Set queues a write. Both slices are copied, so the caller may reuse them
// at once.
func (b *Batch) Set(key, value []byte) error {
	if err := b.check(); err != nil {
		return err
	}
	b.n++
	if err := b.wb.Set(bytes.Clone(key), bytes.Clone(value)); err != nil {
		return b.s.wrap("batch write", fmt.Errorf("set %s: %w", key, err))
	}
	return nil
}

// Delete queues a deletion.
func (b *Batch) Delete(key []byte) error {
	if err := b.check(); err != nil {
		return err
	}
	b.n++
	if err := b.wb.Delete(bytes.Clone(key)); err != nil {
		return b.s.wrap("batch delete", fmt.Errorf("delete %s: %w", key, err))
	}
	return nil
}

// check refuses writes to a store opened read-only, found damaged, or on
// a disk below Reserve (Store.writable measures at most once a second).
func (b *Batch) check() error {
	if err := b.s.usable(); err != nil {
		return err
	}
	return b.s.writable()
}

// Len is the number of queued writes and deletions.
func (b *Batch) Len() int { return b.n }

// Flush commits everything queued and waits for it to be durable as the
// store's options say. The batch cannot be used afterwards.
func (b *Batch) Flush() error {
	defer b.done()
	if b.n > 0 {
		if err := b.check(); err != nil {
			b.wb.Cancel()
			return err
		}
	}
	if err := b.wb.Flush(); err != nil {
		return b.s.wrap("batch flush", fmt.Errorf("%s store: flush batch: %w", b.s.kind, err))
	}
	return nil
}

// Cancel drops whatever has not been committed yet.
func (b *Batch) Cancel() {
	defer b.done()
	b.wb.Cancel()
}

func (b *Batch) done() {
	if !b.ended {
		b.ended = true
		b.s.swap.RUnlock()
	}
}
