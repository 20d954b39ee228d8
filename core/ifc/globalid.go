package ifc

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// The IFC GlobalId alphabet: a 128-bit GUID in 22 characters of 6 bits,
// the first of which carries only the top 2 bits.
const globalIDChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$"

var globalIDValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(globalIDChars); i++ {
		t[globalIDChars[i]] = int8(i)
	}
	return t
}()

// ValidGlobalID reports whether s is a well-formed IFC GlobalId.
func ValidGlobalID(s string) bool {
	if len(s) != 22 || globalIDValue[s[0]] < 0 || globalIDValue[s[0]] > 3 {
		return false
	}
	for i := 1; i < 22; i++ {
		if globalIDValue[s[i]] < 0 {
			return false
		}
	}
	return true
}

// GlobalIDToGUID turns an IFC GlobalId into the GUID it encodes, written
// as upper-case hex in 8-4-4-4-12 groups.
func GlobalIDToGUID(id string) (string, error) {
	b, err := globalIDBytes(id)
	if err != nil {
		return "", err
	}
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}

func globalIDBytes(id string) ([16]byte, error) {
	var b [16]byte
	if !ValidGlobalID(id) {
		return b, fmt.Errorf("%q is not an IFC GlobalId (22 characters of 0-9, A-Z, a-z, _ and $, the first 0-3)", id)
	}
	// 128 bits, most significant first: 2 bits from the first character,
	// then 6 from each of the other 21.
	var hi, lo uint64
	for i := 0; i < 22; i++ {
		v := uint64(globalIDValue[id[i]])
		bits := uint(6)
		if i == 0 {
			bits = 2
		}
		hi = hi<<bits | lo>>(64-bits)
		lo = lo<<bits | v
	}
	for i := 0; i < 8; i++ {
		b[i] = byte(hi >> (56 - 8*i))
		b[8+i] = byte(lo >> (56 - 8*i))
	}
	return b, nil
}

// GUIDToGlobalID turns a GUID (hex, with or without dashes or braces)
// into its IFC GlobalId.
func GUIDToGlobalID(guid string) (string, error) {
	h := strings.NewReplacer("-", "", "{", "", "}", "").Replace(guid)
	raw, err := hex.DecodeString(h)
	if err != nil || len(raw) != 16 {
		return "", fmt.Errorf("%q is not a GUID (32 hex digits)", guid)
	}
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(raw[i])
		lo = lo<<8 | uint64(raw[8+i])
	}
	out := make([]byte, 22)
	for i := 21; i >= 0; i-- {
		bits := uint(6)
		if i == 0 {
			bits = 2
		}
		out[i] = globalIDChars[lo&(1<<bits-1)]
		lo = lo>>bits | hi<<(64-bits)
		hi >>= bits
	}
	return string(out), nil
}
