package ifc

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
)

func TestGlobalID(t *testing.T) {
	for _, c := range []struct{ id, guid string }{
		{"32vZ_y6Kf8bQUeOicmrSnx", "C2E63FBC-194A-4895-A7A8-62C9B0D5CC7B"},
		{"0000000000000000000000", "00000000-0000-0000-0000-000000000000"},
		{"3$$$$$$$$$$$$$$$$$$$$$", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"},
	} {
		got, err := GlobalIDToGUID(c.id)
		if err != nil || got != c.guid {
			t.Errorf("GlobalIDToGUID(%q) = %q, %v; want %q", c.id, got, err, c.guid)
		}
		back, err := GUIDToGlobalID(c.guid)
		if err != nil || back != c.id {
			t.Errorf("GUIDToGlobalID(%q) = %q, %v; want %q", c.guid, back, err, c.id)
		}
	}
	for _, bad := range []string{"", "32vZ_y6Kf8bQUeOicmrSn", "42vZ_y6Kf8bQUeOicmrSnx", "32vZ_y6Kf8bQUeOicmrSn!", "32vZ_y6Kf8bQUeOicmrSnxx"} {
		if _, err := GlobalIDToGUID(bad); err == nil {
			t.Errorf("GlobalIDToGUID(%q) accepted", bad)
		}
	}
	if _, err := GUIDToGlobalID("C2E63FBC-194A-4895-A7A8"); err == nil {
		t.Error("a short GUID was accepted")
	}
	// Round trip of random GUIDs.
	for range 1000 {
		var b [16]byte
		_, _ = rand.Read(b[:])
		guid := hex.EncodeToString(b[:])
		id, err := GUIDToGlobalID(guid)
		if err != nil || !ValidGlobalID(id) {
			t.Fatalf("GUIDToGlobalID(%s) = %q, %v", guid, id, err)
		}
		got, _ := globalIDBytes(id)
		if got != b {
			t.Fatalf("round trip of %s gave %x", guid, got)
		}
	}
}
