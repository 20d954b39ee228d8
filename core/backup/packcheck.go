package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
)

// The layout of a content pack, as storage.Blobs writes it: the magic,
// then entries of a 4-byte big-endian length, the 32-byte SHA-256 of the
// data, and the data.
const (
	packMagic = "PLNPACK1"
	entryHead = 4 + 32
)

// packCheck follows a content pack's bytes as they stream past (written
// to it in order, from any entry boundary) and checks every entry against
// its SHA-256, with memory bounded by one header: a backup never copies,
// and a restore never rebuilds, a chunk that does not match its hash.
type packCheck struct {
	at     int64 // pack offset of the next byte
	end    int64 // the committed size: no entry may run past it
	entry  int64 // offset of the entry being read
	head   [entryHead]byte
	nh     int   // bytes of the current header seen
	left   int64 // data bytes of the current entry still to come
	inData bool
	sum    hash.Hash
}

// damagedPack says where and how a pack is damaged.
type damagedPack struct {
	at  int64
	why string // a format with one %d, the offset
}

func (d *damagedPack) Error() string { return fmt.Sprintf(d.why, d.at) }

// newPackCheck follows a pack from offset from (0, or the end of an
// entry) to its committed size end.
func newPackCheck(from, end int64) *packCheck {
	return &packCheck{at: from, end: end, sum: sha256.New()}
}

// Write checks p, the bytes at the pack's current offset, and returns a
// *damagedPack at the first damage.
func (c *packCheck) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		var k int
		switch {
		case c.at < int64(len(packMagic)):
			k = min(len(p), len(packMagic)-int(c.at))
			if !bytes.Equal(p[:k], []byte(packMagic[c.at:c.at+int64(k)])) {
				return 0, &damagedPack{at: 0, why: "the header at byte %d is not that of a content pack"}
			}
		case c.inData:
			k = int(min(int64(len(p)), c.left))
			c.sum.Write(p[:k])
			c.left -= int64(k)
		default:
			if c.nh == 0 {
				c.entry = c.at
			}
			k = min(len(p), entryHead-c.nh)
			copy(c.head[c.nh:], p[:k])
			c.nh += k
			if c.nh == entryHead {
				c.nh = 0
				c.left = int64(binary.BigEndian.Uint32(c.head[:4]))
				if c.entry+entryHead+c.left > c.end {
					return 0, &damagedPack{at: c.entry, why: "the chunk at byte %d runs past the end of the pack"}
				}
				c.sum.Reset()
				c.inData = true
			}
		}
		c.at += int64(k)
		p = p[k:]
		if c.inData && c.left == 0 {
			if !bytes.Equal(c.sum.Sum(nil), c.head[4:]) {
				return 0, &damagedPack{at: c.entry, why: "the chunk at byte %d does not match its checksum"}
			}
			c.inData = false
		}
	}
	return n, nil
}

// done reports damage when the bytes seen end inside an entry.
func (c *packCheck) done() error {
	if c.at < int64(len(packMagic)) || c.nh != 0 || c.inData {
		return &damagedPack{at: c.entry, why: "the pack ends inside the chunk at byte %d"}
	}
	return nil
}
