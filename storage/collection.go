package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Collection is a typed set of records under one key prefix,
// "<name>/<id>", each stored as JSON unless the collection has its own codec.
type Collection[T any] struct {
	prefix string
	codec  Codec[T]
}

// Codec turns records into bytes and back. Collections that hold many small
// records (file entries) use a compact binary codec instead of JSON.
type Codec[T any] interface {
	Encode(v T) ([]byte, error)
	Decode(b []byte, v *T) error
}

type jsonCodec[T any] struct{}

func (jsonCodec[T]) Encode(v T) ([]byte, error)  { return json.Marshal(v) }
func (jsonCodec[T]) Decode(b []byte, v *T) error { return json.Unmarshal(b, v) }

// NewCollection declares a JSON collection. name must be non-empty and free
// of '/', which separates it from record ids.
func NewCollection[T any](name string) Collection[T] {
	return NewCollectionWith[T](name, jsonCodec[T]{})
}

// NewCollectionWith declares a collection with its own codec.
func NewCollectionWith[T any](name string, codec Codec[T]) Collection[T] {
	if name == "" || strings.Contains(name, "/") {
		panic(fmt.Sprintf("storage: bad collection name %q", name))
	}
	return Collection[T]{prefix: name + "/", codec: codec}
}

// Prefix is the key prefix of the collection, "<name>/".
func (c Collection[T]) Prefix() string { return c.prefix }

// Name is the collection's name.
func (c Collection[T]) Name() string { return strings.TrimSuffix(c.prefix, "/") }

// Key is the store key of the record with the given id.
func (c Collection[T]) Key(id string) []byte { return []byte(c.prefix + id) }

// Get reads one record; it returns ErrNotFound when there is none.
func (c Collection[T]) Get(tx *Tx, id string) (T, error) {
	var v T
	b, err := tx.Get(c.Key(id))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return v, fmt.Errorf("%s %q: %w", c.Name(), id, ErrNotFound)
		}
		return v, err
	}
	if err := c.codec.Decode(b, &v); err != nil {
		return v, fmt.Errorf("decode %s %q: %w", c.Name(), id, err)
	}
	return v, nil
}

// Has reports whether a record with the given id exists.
func (c Collection[T]) Has(tx *Tx, id string) (bool, error) { return tx.Has(c.Key(id)) }

// Put writes one record.
func (c Collection[T]) Put(tx *Tx, id string, v T) error {
	b, err := c.codec.Encode(v)
	if err != nil {
		return fmt.Errorf("encode %s %q: %w", c.Name(), id, err)
	}
	return tx.Set(c.Key(id), b)
}

// Delete removes one record.
func (c Collection[T]) Delete(tx *Tx, id string) error { return tx.Delete(c.Key(id)) }

// Scan calls fn for every record whose id starts with idPrefix ("" for all),
// in id order. Returning ErrStop ends the scan early.
func (c Collection[T]) Scan(tx *Tx, idPrefix string, fn func(id string, v T) error) error {
	return tx.Scan([]byte(c.prefix+idPrefix), func(key, value []byte) error {
		var v T
		if err := c.codec.Decode(value, &v); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		return fn(string(key[len(c.prefix):]), v)
	})
}

// List returns every record whose id starts with idPrefix, in id order.
func (c Collection[T]) List(tx *Tx, idPrefix string) ([]T, error) {
	var out []T
	err := c.Scan(tx, idPrefix, func(_ string, v T) error {
		out = append(out, v)
		return nil
	})
	return out, err
}

// Count counts the records whose id starts with idPrefix without decoding them.
func (c Collection[T]) Count(tx *Tx, idPrefix string) (int, error) {
	n := 0
	err := tx.ScanKeys([]byte(c.prefix+idPrefix), func([]byte) error {
		n++
		return nil
	})
	return n, err
}

// PutBatch writes one record into a batch.
func (c Collection[T]) PutBatch(b *Batch, id string, v T) error {
	raw, err := c.codec.Encode(v)
	if err != nil {
		return fmt.Errorf("encode %s %q: %w", c.Name(), id, err)
	}
	return b.Set(c.Key(id), raw)
}

// DeleteBatch queues the deletion of one record in a batch.
func (c Collection[T]) DeleteBatch(b *Batch, id string) error { return b.Delete(c.Key(id)) }
