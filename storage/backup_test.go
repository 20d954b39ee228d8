package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"
)

// readStream decodes a backup stream into its blocks' entries.
func readStream(t *testing.T, b []byte) (blocks [][]*pb.KV) {
	t.Helper()
	r := bytes.NewReader(b)
	for {
		var n uint64
		if err := binary.Read(r, binary.LittleEndian, &n); err == io.EOF {
			return blocks
		} else if err != nil {
			t.Fatal(err)
		}
		block := make([]byte, n)
		if _, err := io.ReadFull(r, block); err != nil {
			t.Fatal(err)
		}
		var list pb.KVList
		if err := proto.Unmarshal(block, &list); err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, list.Kv)
	}
}

// A full backup holds each live key once, at its newest version, and
// no deleted key; it returns the version Badger's own stream returns, so
// the incremental after it starts where it would have; it is written in
// blocks of about fullBlock bytes; loaded alone, and with an incremental
// after it, it gives the store back exactly.
func TestFullBackupHoldsNewestVersions(t *testing.T) {
	src := openT(t, filepath.Join(t.TempDir(), "manager"), Manager)
	set := func(from, to, size int, round byte) {
		t.Helper()
		if err := src.Update(func(tx *Tx) error {
			for i := from; i < to; i++ {
				if err := tx.Set(fmt.Appendf(nil, "rec/%06d", i), bytes.Repeat([]byte{round, byte(i)}, size/2)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	del := func(from, to int) {
		t.Helper()
		if err := src.Update(func(tx *Tx) error {
			for i := from; i < to; i++ {
				if err := tx.Delete(fmt.Appendf(nil, "rec/%06d", i)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	set(0, 3000, 600, 1)
	set(1000, 2000, 800, 2) // second versions
	set(1500, 1600, 4<<10, 3)
	set(5000, 5003, 3<<20, 4) // in the value log
	del(2500, 2600)
	del(1550, 1560) // deleted after three versions
	// Plinth sets no user meta; Badger allows any byte.
	if err := src.db.Update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry([]byte("meta/user"), []byte("x")).WithMeta(0xff))
	}); err != nil {
		t.Fatal(err)
	}

	var full bytes.Buffer
	since, err := src.Backup(&full, 0)
	if err != nil {
		t.Fatal(err)
	}
	badgers, err := src.db.Backup(io.Discard, 0)
	if err != nil {
		t.Fatal(err)
	}
	if since != badgers {
		t.Errorf("full backup returned version %d, Badger's stream %d", since, badgers)
	}
	newest := map[string]uint64{}
	if err := src.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions) // live keys, newest versions
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			newest[string(it.Item().Key())] = it.Item().Version()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	blocks := readStream(t, full.Bytes())
	for i, kvs := range blocks {
		var size int
		for _, kv := range kvs {
			k := string(kv.Key)
			size += len(kv.Key) + len(kv.Value)
			switch {
			case seen[k]:
				t.Errorf("key %s is in the full backup twice", k)
			case newest[k] == 0:
				t.Errorf("key %s is in the full backup, deleted in the store", k)
			case kv.Version != newest[k]:
				t.Errorf("key %s is in the full backup at version %d, its newest is %d", k, kv.Version, newest[k])
			}
			if k == "meta/user" && (len(kv.UserMeta) != 1 || kv.UserMeta[0] != 0xff) {
				t.Errorf("key %s has user meta %x in the full backup, want ff", k, kv.UserMeta)
			}
			seen[k] = true
		}
		if last := kvs[len(kvs)-1]; size-len(last.Key)-len(last.Value) >= fullBlock {
			t.Errorf("block %d holds %d bytes of entries before its last, want less than %d", i, size, fullBlock)
		}
	}
	if len(seen) != len(newest) {
		t.Errorf("the full backup holds %d keys, the store %d", len(seen), len(newest))
	}
	if len(blocks) < 2 {
		t.Errorf("%d blocks, want several", len(blocks))
	}

	// Loaded alone, then with an incremental after more changes.
	set(2000, 2100, 300, 5)
	del(0, 10)
	var inc bytes.Buffer
	if _, err := src.Backup(&inc, since); err != nil {
		t.Fatal(err)
	}
	fullOnly := full.Bytes()
	for _, tc := range []struct {
		name    string
		streams []io.Reader
		want    map[string]string
	}{
		{"full", []io.Reader{bytes.NewReader(fullOnly)}, nil},
		{"full and incremental", []io.Reader{bytes.NewReader(fullOnly), &inc}, records(t, src)},
	} {
		dir := filepath.Join(t.TempDir(), "manager")
		if err := LoadInto(dir, Manager, Options{}, tc.streams...); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		dst := openT(t, dir, Manager)
		got := records(t, dst)
		want := tc.want
		if want == nil {
			want = map[string]string{}
			for _, kvs := range blocks {
				for _, kv := range kvs {
					if bytes.HasPrefix(kv.Key, []byte("rec/")) {
						want[string(kv.Key)] = string(kv.Value)
					}
				}
			}
			if len(want) != 3000-100-10+3 {
				t.Fatalf("the full backup holds %d records", len(want))
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: loaded %d records, want %d", tc.name, len(got), len(want))
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: record %s differs after the load", tc.name, k)
				break
			}
		}
		_ = dst.Close()
	}
}

// records is every rec/ record of s.
func records(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := s.View(func(tx *Tx) error {
		return tx.Scan([]byte("rec/"), func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
