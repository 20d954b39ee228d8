package files

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"codeberg.org/plinth/plinth/storage"
)

// Key layout, in addition to storage's.
//
//	manager
//	  n/<parent>/<name key>   Node (binary), the listing of a folder is one prefix scan
//	  id/<node id>            "<parent>/<name key>": where the node's record is
//	  ver/<version id>        Version (binary): entry, content hash, size
//	  ev/<entry>/<version>    ""; the versions of one file, oldest first
//	  intent/<id>             Intent: a two-store change in progress
//	  setting/versioning      Versioning rule
//
//	fileserver
//	  file/<version id>       Record: original path, name, size, hash, chunks
//	  sum/<version id>        content hash + size (binary), for fast diffs
//	  chunk/<sha-256 hex>     where the chunk's bytes are: pack, offset, length
//	  ref/<sha-256 hex>       how many records use the chunk (uint64)
//	  pack/<id>               PackInfo: committed size and bytes still used
//	  (the bytes themselves are in the pack files, see storage.Blobs)
var (
	nodes    = storage.NewCollectionWith[Node]("n", nodeCodec{})
	nodeIDs  = storage.NewCollectionWith[string]("id", rawString{})
	versions = storage.NewCollectionWith[Version]("ver", versionCodec{})
	entryVer = storage.NewCollectionWith[string]("ev", rawString{})
	intents  = storage.NewCollection[Intent]("intent")
	settings = storage.NewCollection[Versioning]("setting")

	records = storage.NewCollection[Record]("file")
	sums    = storage.NewCollectionWith[Sum]("sum", sumCodec{})
	chunks  = storage.NewCollectionWith[storage.Loc]("chunk", locCodec{})
	refs    = storage.NewCollectionWith[uint64]("ref", uint64Codec{})
	packs   = storage.NewCollection[PackInfo]("pack")
)

// ChunkSize is how content is split: 4 MiB, addressed by SHA-256.
const ChunkSize = 4 << 20

// Version is one stored content of a file entry.
type Version struct {
	ID      string    `json:"id"`
	Entry   string    `json:"entry"`
	Hash    Hash      `json:"hash"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
	By      string    `json:"by,omitempty"`
}

// Record is a file on the File Server: one version's content and where it
// was uploaded, so that a synchronization can adopt it into its original
// sub-folders if the Manager lost it.
type Record struct {
	ID      string    `json:"id"`
	Path    string    `json:"path"` // folder path under the Projects root, "/"-separated
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	Hash    string    `json:"hash"`
	Chunks  []string  `json:"chunks"`
	Created time.Time `json:"created"`
}

// Sum is a record's content hash and size, kept apart from the record so
// that comparing the two stores reads 40 bytes a file.
type Sum struct {
	Hash Hash
	Size int64
}

// Intent is a change that touches both stores, recorded in the manager
// before the fileserver is written, so a crash can be finished or undone.
type Intent struct {
	ID   string `json:"id"`
	Op   string `json:"op"` // "add", "drop", "deltree", "repath"
	Node string `json:"node,omitempty"`
	// add: the version being added and the node it belongs to
	Version Version `json:"version"`
	Parent  string  `json:"parent,omitempty"`
	Name    string  `json:"name,omitempty"`
	NewNode bool    `json:"newNode,omitempty"`
	Replace bool    `json:"replace,omitempty"` // Keep none: drop the older versions
	// drop: fileserver records to remove
	Records []string  `json:"records,omitempty"`
	Created time.Time `json:"created"`
}

type rawString struct{}

func (rawString) Encode(s string) ([]byte, error)  { return []byte(s), nil }
func (rawString) Decode(b []byte, s *string) error { *s = string(b); return nil }

// PackInfo is what the fileserver store knows of one pack file: how far
// it is committed (anything after that is what a crash left behind) and
// how many of those bytes chunks still use.
type PackInfo struct {
	Size int64 `json:"size"`
	Live int64 `json:"live"`
}

func packKey(id uint32) string { return fmt.Sprintf("%08d", id) }

type locCodec struct{}

func (locCodec) Encode(l storage.Loc) ([]byte, error) {
	b := binary.AppendUvarint(nil, uint64(l.Pack))
	b = binary.AppendUvarint(b, uint64(l.Off))
	return binary.AppendUvarint(b, uint64(l.Len)), nil
}

func (locCodec) Decode(b []byte, l *storage.Loc) error {
	r := reader{b: b}
	l.Pack, l.Off, l.Len = uint32(r.uvarint()), int64(r.uvarint()), int64(r.uvarint())
	return r.err
}

type uint64Codec struct{}

func (uint64Codec) Encode(v uint64) ([]byte, error) { return binary.AppendUvarint(nil, v), nil }
func (uint64Codec) Decode(b []byte, v *uint64) error {
	x, n := binary.Uvarint(b)
	if n <= 0 {
		return errCorrupt
	}
	*v = x
	return nil
}

type sumCodec struct{}

func (sumCodec) Encode(s Sum) ([]byte, error) {
	return binary.AppendVarint(append([]byte(nil), s.Hash[:]...), s.Size), nil
}
func (sumCodec) Decode(b []byte, s *Sum) error {
	if len(b) < 33 {
		return errCorrupt
	}
	copy(s.Hash[:], b)
	v, n := binary.Varint(b[32:])
	if n <= 0 {
		return errCorrupt
	}
	s.Size = v
	return nil
}

type versionCodec struct{}

func (versionCodec) Encode(v Version) ([]byte, error) {
	b := make([]byte, 0, 96+len(v.By))
	b = append(b, 1)
	b = appendString(b, v.ID)
	b = appendString(b, v.Entry)
	b = append(b, v.Hash[:]...)
	b = binary.AppendVarint(b, v.Size)
	b = binary.AppendVarint(b, v.Created.UnixNano())
	b = appendString(b, v.By)
	return b, nil
}

func (versionCodec) Decode(b []byte, v *Version) error {
	if len(b) < 1 || b[0] != 1 {
		return errCorrupt
	}
	r := reader{b: b[1:]}
	v.ID = r.string()
	v.Entry = r.string()
	copy(v.Hash[:], r.bytes(32))
	v.Size = r.varint()
	v.Created = time.Unix(0, r.varint()).UTC()
	v.By = r.string()
	return r.err
}

// decodeVersionSum is versionCodec.Decode for the diff: it checks the
// whole record as Decode does and returns the version's id and entry as
// slices of b (valid as long as b is), its hash and its size, allocating
// nothing.
func decodeVersionSum(b []byte) (id, entry []byte, sum Sum, err error) {
	if len(b) < 1 || b[0] != 1 {
		return nil, nil, Sum{}, errCorrupt
	}
	r := reader{b: b[1:]}
	id = r.raw()
	entry = r.raw()
	copy(sum.Hash[:], r.bytes(32))
	sum.Size = r.varint()
	r.varint() // created
	r.raw()    // by
	return id, entry, sum, r.err
}

// VersioningRule is how many old versions a file keeps.
type VersioningRule string

// The versioning rules.
const (
	KeepAll      VersioningRule = "keep-all"
	KeepNone     VersioningRule = "keep-none"
	KeepLastDays VersioningRule = "keep-days"
)

// Versioning is the server's versioning setting.
type Versioning struct {
	Rule VersioningRule `json:"rule"`
	Days int            `json:"days,omitempty"`
}

func (v Versioning) String() string {
	switch v.Rule {
	case KeepNone:
		return "Keep none"
	case KeepLastDays:
		return "Keep last " + strconv.Itoa(v.Days) + " days"
	}
	return "Keep all"
}
