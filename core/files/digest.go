package files

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"

	"codeberg.org/plinth/plinth/storage"
)

// term is one file's contribution to a store's set digest:
// SHA-256(id ‖ content hash) read as a 256-bit big-endian number.
func term(id string, hash Hash) [32]byte {
	h := sha256.New()
	h.Write([]byte(id))
	h.Write(hash[:])
	var t [32]byte
	h.Sum(t[:0])
	return t
}

// add returns a + b mod 2^256; sub returns a − b mod 2^256. Addition is
// commutative, so the digest does not depend on the order files arrived in,
// and sub undoes add exactly.
func add(a, b [32]byte) [32]byte {
	var out [32]byte
	var carry uint64
	for i := 3; i >= 0; i-- {
		x := binary.BigEndian.Uint64(a[i*8:])
		y := binary.BigEndian.Uint64(b[i*8:])
		var s uint64
		s, carry = bits.Add64(x, y, carry)
		binary.BigEndian.PutUint64(out[i*8:], s)
	}
	return out
}

func sub(a, b [32]byte) [32]byte {
	var out [32]byte
	var borrow uint64
	for i := 3; i >= 0; i-- {
		x := binary.BigEndian.Uint64(a[i*8:])
		y := binary.BigEndian.Uint64(b[i*8:])
		var d uint64
		d, borrow = bits.Sub64(x, y, borrow)
		binary.BigEndian.PutUint64(out[i*8:], d)
	}
	return out
}

// addFile and removeFile update a store's file-set summary for one file.
func addFile(fs *storage.FileSet, id string, hash Hash, size int64) {
	fs.Count++
	fs.Bytes += size
	fs.Digest = add(fs.Digest, term(id, hash))
}

func removeFile(fs *storage.FileSet, id string, hash Hash, size int64) {
	fs.Count--
	fs.Bytes -= size
	fs.Digest = sub(fs.Digest, term(id, hash))
}
