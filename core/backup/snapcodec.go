package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// How level-1 chunks and trees are stored: compressed with zstd and, when
// a backup passphrase is set, encrypted with age to the same recipient as
// level-2 backups (each chunk and each tree on its own). Taking a snapshot
// needs only the recipient, which is public; reading one back needs the
// identity that the passphrase unlocks.
//
// An encrypted chunk's file name carries a tag of its recipient, so a
// chunk stored plain, or for an earlier passphrase, never stands in for
// one an encrypted snapshot needs:
//
//	chunks/<aa>/<sha-256>.zst               plain
//	chunks/<aa>/<sha-256>.<tag>.age         encrypted to the recipient tagged
//
// Decoding is bounded whatever the input: a chunk decodes to at most
// files.ChunkSize bytes, a tree or chunk index to at most maxTreeRaw.

// Names of the files in a snapshot's folder besides its manifest.
const (
	treePlain  = "tree.json.zst"
	treeSealed = "tree.json.zst.age"
	indexName  = "chunks.json.zst"
)

// maxTree and maxStoredChunk bound what is read of a stored tree (or
// chunk index) and a stored chunk; anything larger is damaged. A chunk
// holds at most files.ChunkSize bytes, and neither zstd nor age grows it
// by much. maxTreeRaw bounds what a tree or index decodes to.
const (
	maxTree        = 256 << 20
	maxTreeRaw     = 256 << 20
	maxStoredChunk = files.ChunkSize + 1<<20
)

// treeLimit is what a stored tree or index of n bytes may decode to: JSON
// of paths and hex digests compresses far less than 100 to 1, so a small
// file that claims to expand much further is refused early.
func treeLimit(n int) int {
	return min(maxTreeRaw, 100*n+16<<20)
}

// Shared zstd coders: EncodeAll and DecodeAll may be called concurrently,
// and a coder per chunk would cost more than the chunk. The decoders
// refuse output beyond their limit while they decode, so a small input
// that would expand without end (a "zip bomb") costs little.
var (
	chunkEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2), zstd.WithLowerEncoderMem(true))
		return e
	})
	chunkDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(4), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(files.ChunkSize), zstd.WithDecoderMaxWindow(files.ChunkSize))
		return d
	})
	treeDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(maxTreeRaw), zstd.WithDecoderMaxWindow(maxTreeRaw))
		return d
	})
)

// codec seals and opens what a snapshot stores.
type codec struct {
	recipient string        // "" when not encrypted
	to        age.Recipient // to seal; nil when not encrypted
	identity  age.Identity  // to open; nil when not encrypted or not unlocked
}

// plain is the codec of snapshots taken without a passphrase.
var plain = &codec{}

// sealingCodec is the codec that writes for recipient ("" for plain).
func sealingCodec(recipient string) (*codec, error) {
	if recipient == "" {
		return plain, nil
	}
	r, err := age.ParseX25519Recipient(recipient)
	if err != nil {
		return nil, fmt.Errorf("the backup encryption key is damaged: %w", err)
	}
	return &codec{recipient: recipient, to: r}, nil
}

func (c *codec) encrypted() bool { return c.recipient != "" }

// sealChunk is seal for a chunk read for a snapshot: a plain one is
// compressed into a buffer of sealBufs (given back with freeSealed once
// written), which holds any chunk, so that the frame is not grown and
// copied as it is written; an encrypted one as seal does.
func (c *codec) sealChunk(raw []byte) ([]byte, error) {
	if c.to != nil {
		return c.seal(raw)
	}
	buf := sealBufs.Get().(*[]byte)
	out := chunkEncoder().EncodeAll(raw, (*buf)[:0])
	*buf = out
	return out, nil
}

// freeSealed gives a chunk sealChunk returned back to sealBufs.
func (c *codec) freeSealed(b []byte) {
	if c.to == nil && cap(b) >= sealBufSize() {
		b = b[:0]
		sealBufs.Put(&b)
	}
}

// sealBufSize is the most a chunk takes compressed (MaxEncodedSize).
var sealBufSize = sync.OnceValue(func() int { return chunkEncoder().MaxEncodedSize(files.ChunkSize) })

var sealBufs = sync.Pool{New: func() any { b := make([]byte, 0, sealBufSize()); return &b }}

// seal compresses raw and, when the codec encrypts, encrypts the result.
func (c *codec) seal(raw []byte) ([]byte, error) {
	z := chunkEncoder().EncodeAll(raw, nil)
	if c.to == nil {
		return z, nil
	}
	var buf bytes.Buffer
	buf.Grow(len(z) + len(z)/4096*16 + 512)
	w, err := age.Encrypt(&buf, c.to)
	if err != nil {
		return nil, fmt.Errorf("encrypt snapshot: %w", err)
	}
	if _, err := w.Write(z); err != nil {
		return nil, fmt.Errorf("encrypt snapshot: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypt snapshot: %w", err)
	}
	return buf.Bytes(), nil
}

// errUnreadable is what open returns for input that does not decrypt or
// decode; callers say which file it was.
var errUnreadable = errors.New("cannot be read")

// open reverses seal. It refuses input that decodes to more than limit
// bytes, and stops decoding as soon as it would.
func (c *codec) open(stored []byte, dec *zstd.Decoder, limit int) ([]byte, error) {
	z := stored
	if c.encrypted() {
		if c.identity == nil {
			return nil, errors.New("the snapshot is encrypted and was not unlocked")
		}
		r, err := age.Decrypt(bytes.NewReader(stored), c.identity)
		if err != nil {
			return nil, errUnreadable
		}
		// Plaintext is never longer than its ciphertext.
		if z, err = io.ReadAll(io.LimitReader(r, int64(len(stored)))); err != nil {
			return nil, errUnreadable
		}
	} else if len(stored) >= 4 && string(stored[:4]) == "age-" {
		return nil, errUnreadable // an encrypted file where a plain one belongs
	}
	out, err := dec.DecodeAll(z, nil)
	if err != nil || len(out) > limit {
		return nil, errUnreadable
	}
	return out, nil
}

// openChunk decodes a stored chunk and checks it against its id (its
// SHA-256) and, when want ≥ 0, its length.
func (c *codec) openChunk(id string, stored []byte, want int64) ([]byte, error) {
	limit := files.ChunkSize
	if want >= 0 && want < int64(limit) {
		limit = int(want)
	}
	data, err := c.open(stored, chunkDecoder(), limit)
	if err != nil {
		return nil, refusal(ErrDamaged, "chunk %.12s of the snapshot cannot be read", id)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != id || (want >= 0 && int64(len(data)) != want) {
		return nil, refusal(ErrDamaged, "chunk %.12s of the snapshot is damaged", id)
	}
	return data, nil
}

// recipientTag names a recipient in chunk file names.
func recipientTag(recipient string) string {
	sum := sha256.Sum256([]byte(recipient))
	return hex.EncodeToString(sum[:8])
}

// chunkName is the file name of chunk id stored for recipient.
func chunkName(id, recipient string) string {
	if recipient == "" {
		return id + ".zst"
	}
	return id + "." + recipientTag(recipient) + ".age"
}

// chunkPath is where chunk id, stored for recipient, lies in target. id
// must have passed isChunkID.
func chunkPath(target, id, recipient string) string {
	return filepath.Join(target, "chunks", id[:2], chunkName(id, recipient))
}

// isChunkID reports whether id is a hex SHA-256 in lower case, so that a
// name taken from an archive or a tree can never point outside the chunk
// folders.
func isChunkID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isChunkFile reports whether name is the file name of a chunk (of any
// key) in the folder dir ("aa", the id's first two digits).
func isChunkFile(dir, name string) bool {
	id, rest, ok := strings.Cut(name, ".")
	if !ok || !isChunkID(id) || id[:2] != dir {
		return false
	}
	if rest == "zst" {
		return true
	}
	tag, ext, ok := strings.Cut(rest, ".")
	_, err := hex.DecodeString(tag)
	return ok && ext == "age" && len(tag) == 16 && err == nil
}

// checkRecipient makes sure a recipient read from a manifest is one, so
// that it can name a key file.
func checkRecipient(m Manifest) error {
	if m.Recipient == "" {
		return nil
	}
	if _, err := age.ParseX25519Recipient(m.Recipient); err != nil {
		return refusal(ErrDamaged, "the encryption key named by snapshot %s is not one", m.ID)
	}
	return nil
}

// keyPath is where a target keeps the key of recipient (see NewKey).
func keyPath(target, recipient string) string {
	return filepath.Join(target, keysDir, recipient+".age")
}

// placeKey makes sure the snapshot target holds the key file of
// recipient, copied from the level-2 target where SetPassphrase made it,
// so that snapshots can be opened with the passphrase even if the level-2
// target is lost.
func (s *Service) placeKey(target, recipient string) error {
	dst := keyPath(target, recipient)
	if _, err := s.fs.Stat(dst); err == nil {
		return nil
	}
	c, err := s.Level2()
	if err != nil {
		return err
	}
	raw, err := fsys.ReadFileLimit(s.fs, keyPath(c.Target, recipient), 64<<10)
	if err != nil {
		return fmt.Errorf("the key of the backup passphrase is missing from %s; set the passphrase again", c.Target)
	}
	if err := s.fs.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := fsys.WriteFile(s.fs, dst, raw, fsys.Options{}); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

// readingCodec returns the codec that opens snapshot m: for an encrypted
// one, with the key the passphrase unlocks (from the snapshot target, else
// the level-2 target).
func (s *Service) readingCodec(m Manifest, passphrase string) (*codec, error) {
	if !m.Encrypted() {
		return plain, nil
	}
	if err := checkRecipient(m); err != nil {
		return nil, err
	}
	if passphrase == "" {
		return nil, refusal(ErrNeedPassphase, "snapshot %s is encrypted; give the backup passphrase", m.ID)
	}
	targets := []string{s.snapshotTarget()}
	if c, err := s.Level2(); err == nil {
		targets = append(targets, c.Target)
	}
	var err error
	for _, t := range targets {
		var id age.Identity
		if id, err = openKey(s.fs, t, m.Recipient, passphrase); err == nil {
			return &codec{recipient: m.Recipient, identity: id}, nil
		}
		if errors.Is(err, ErrPassphrase) {
			break
		}
	}
	if errors.Is(err, ErrPassphrase) {
		return nil, refusal(ErrPassphrase, "the passphrase does not open snapshot %s; nothing was changed", m.ID)
	}
	return nil, refusal(ErrDamaged, "the key of encrypted snapshot %s is missing", m.ID)
}
