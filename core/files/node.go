package files

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"codeberg.org/plinth/plinth/core/account"
)

// Kind says what a node on the Projects page is.
type Kind uint8

// The kinds of node.
const (
	KindFolder Kind = iota + 1
	KindProject
	KindLibrary
	KindIModel
	KindFile
)

var kindNames = map[Kind]string{KindFolder: "folder", KindProject: "project", KindLibrary: "library", KindIModel: "imodel", KindFile: "file"}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind reads "folder", "project", "library", "imodel" or "file".
func ParseKind(s string) (Kind, error) {
	for k, n := range kindNames {
		if n == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown kind %q: use folder, project, library or imodel", s)
}

// IsContainer reports whether nodes of this kind hold other nodes.
func (k Kind) IsContainer() bool { return k == KindFolder || k == KindProject || k == KindLibrary }

// MarshalText writes the kind's name, for JSON.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	*k = v
	return err
}

// RootID is the Projects root, the folder every node descends from.
const RootID = "root"

// Node is a folder, project, library, iModel or file on the Projects page.
// For a file it carries its current version.
type Node struct {
	ID       string    `json:"id"`
	Parent   string    `json:"parent"`
	Kind     Kind      `json:"kind"`
	Name     string    `json:"name"`
	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`
	By       string    `json:"by,omitempty"`
	// Files only.
	Size     int64  `json:"size,omitempty"`
	Hash     Hash   `json:"hash,omitzero"`
	Version  string `json:"version,omitempty"`
	Versions int    `json:"versions,omitempty"`
}

// Hash identifies a content: see contentHash.
type Hash [32]byte

// String is the hash in hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText writes the hash in hex, for JSON.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads a hash in hex.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("a content hash has 64 hex digits, not %d", len(b))
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// Item is the node as a permission item: what the window asks
// account.Service.Can about before it offers an action.
func (n Node) Item() account.Item { return n.item() }

// item is the node as a permission item.
func (n Node) item() account.Item {
	k := account.KindFolder
	switch n.Kind {
	case KindProject:
		k = account.KindProject
	case KindLibrary:
		k = account.KindLibrary
	case KindIModel:
		k = account.KindIModel
	}
	return account.Item{Kind: k, ID: n.ID, Name: n.Name}
}

// newID returns a 32-hex-digit id that sorts by creation time: 8 bytes of
// nanoseconds, then 8 random bytes.
func newID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

// nodeCodec stores nodes compactly: folders can hold 100,000 of them and
// listing one decodes every one.
type nodeCodec struct{}

const nodeFormat = 1

func (nodeCodec) Encode(n Node) ([]byte, error) {
	b := make([]byte, 0, 96+len(n.Name)+len(n.ID)+len(n.Parent)+len(n.Version)+len(n.By))
	b = append(b, nodeFormat, byte(n.Kind))
	b = appendString(b, n.ID)
	b = appendString(b, n.Parent)
	b = appendString(b, n.Name)
	b = binary.AppendVarint(b, n.Created.UnixNano())
	b = binary.AppendVarint(b, n.Modified.UnixNano())
	b = appendString(b, n.By)
	if n.Kind == KindFile {
		b = binary.AppendVarint(b, n.Size)
		b = append(b, n.Hash[:]...)
		b = appendString(b, n.Version)
		b = binary.AppendUvarint(b, uint64(n.Versions))
	}
	return b, nil
}

var errCorrupt = errors.New("corrupt record")

func (nodeCodec) Decode(b []byte, n *Node) error {
	if len(b) < 2 || b[0] != nodeFormat {
		return errCorrupt
	}
	r := reader{b: b[2:]}
	n.Kind = Kind(b[1])
	n.ID = r.string()
	n.Parent = r.string()
	n.Name = r.string()
	n.Created = time.Unix(0, r.varint()).UTC()
	n.Modified = time.Unix(0, r.varint()).UTC()
	n.By = r.string()
	if n.Kind == KindFile {
		n.Size = r.varint()
		copy(n.Hash[:], r.bytes(32))
		n.Version = r.string()
		n.Versions = int(r.uvarint())
	}
	return r.err
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = errCorrupt
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	return string(r.raw())
}

// raw is string without the copy: a slice of what is being read.
func (r *reader) raw() []byte {
	n := r.uvarint()
	if r.err != nil || uint64(len(r.b)) < n {
		r.err = errCorrupt
		return nil
	}
	return r.bytes(int(n))
}
