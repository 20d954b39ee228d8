package files

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// The diff reads versions with decodeVersionSum, which must read what
// versionCodec writes exactly as Decode does, and refuse what Decode
// refuses.
func TestDecodeVersionSumAgreesWithDecode(t *testing.T) {
	for _, v := range []Version{
		{ID: "0187a1b2c3d4e5f60718293a4b5c6d7e", Entry: "0187a1b2c3d4e5f6ffffffffffffffff", Hash: Hash{1, 2, 3, 31: 9}, Size: 1 << 40,
			Created: time.Date(2026, 12, 3, 17, 0, 0, 1, time.UTC), By: "masteradmin"},
		{ID: "v", Entry: "", Size: 0, Created: time.Unix(0, 0).UTC()},
		{ID: "x", Entry: "e", Size: -1, Created: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), By: "é"},
	} {
		b, err := (versionCodec{}).Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		var want Version
		if err := (versionCodec{}).Decode(b, &want); err != nil {
			t.Fatal(err)
		}
		id, ent, sum, err := decodeVersionSum(b)
		if err != nil || string(id) != want.ID || string(ent) != want.Entry || sum != (Sum{Hash: want.Hash, Size: want.Size}) {
			t.Errorf("decodeVersionSum(%+v) = %q, %q, %+v, %v; want %q, %q, %x %d", v, id, ent, sum, err, want.ID, want.Entry, want.Hash, want.Size)
		}
		for cut := range len(b) {
			var dv Version
			derr := (versionCodec{}).Decode(b[:cut], &dv)
			_, _, _, err := decodeVersionSum(b[:cut])
			if !errors.Is(err, errCorrupt) || !errors.Is(derr, errCorrupt) {
				t.Errorf("%d of %d bytes: decodeVersionSum = %v, Decode = %v; want both corrupt", cut, len(b), err, derr)
			}
		}
		bad := bytes.Clone(b)
		bad[0] = 2
		if _, _, _, err := decodeVersionSum(bad); !errors.Is(err, errCorrupt) {
			t.Errorf("an unknown format byte: %v, want corrupt", err)
		}
	}
}
