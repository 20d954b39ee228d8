package ifc

import (
	"bytes"
	"unsafe"
)

// unsafeString views b as a string without copying; b must not change
// while the string is in use (the reader never changes its data).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func indexByteFrom(data []byte, from int, c byte) int {
	if from >= len(data) {
		return -1
	}
	i := bytes.IndexByte(data[from:], c)
	if i < 0 {
		return -1
	}
	return from + i
}
