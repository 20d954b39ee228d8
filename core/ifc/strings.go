package ifc

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// ISO 10303-21 code pages selected by \PA\ … \PI\ for \S\ characters.
var codePages = [...]*charmap.Charmap{
	charmap.ISO8859_1, charmap.ISO8859_2, charmap.ISO8859_3, charmap.ISO8859_4, charmap.ISO8859_5,
	charmap.ISO8859_6, charmap.ISO8859_7, charmap.ISO8859_8, charmap.ISO8859_9,
}

// DecodeString turns the text between a STEP string's quotes into UTF-8:
// a doubled quote is a quote, \\ a backslash, \S\c the character c+128 of the current
// ISO 8859 code page (\PA\ to \PI\ choose it, A by default), \X\HH one
// ISO 8859-1 byte, \X2\…\X0\ UTF-16 and \X4\…\X0\ UCS-4 in hex. Bytes
// that are already UTF-8 pass through; other high bytes are read as
// ISO 8859-1. A backslash that starts no known escape stays as it is (many
// exporters write Windows paths that way). The result is always valid
// UTF-8; the error, if any, names the first malformed escape.
func DecodeString(raw []byte) (string, error) {
	if plain(raw) {
		return string(raw), nil
	}
	var (
		b     strings.Builder
		page  = charmap.ISO8859_1
		first error
	)
	fail := func(msg string) {
		if first == nil {
			first = errors.New(msg)
		}
	}
	b.Grow(len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\'':
			b.WriteByte('\'')
			if i+1 < len(raw) && raw[i+1] == '\'' {
				i += 2
			} else {
				fail("a lone quote inside a string")
				i++
			}
		case c == '\\' && i+1 < len(raw):
			n := decodeEscape(raw[i:], &b, &page, fail)
			i += n
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size <= 1 {
				r, size = rune(c), 1 // ISO 8859-1
			}
			b.WriteRune(r)
			i += size
		}
	}
	return b.String(), first
}

// plain reports whether raw needs no decoding: no quote, no backslash, and
// valid UTF-8.
func plain(raw []byte) bool {
	ascii := true
	for _, c := range raw {
		if c == '\'' || c == '\\' {
			return false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return ascii || utf8.Valid(raw)
}

// decodeEscape decodes the escape at the start of s (s[0] is a backslash)
// and returns how many bytes it used.
func decodeEscape(s []byte, b *strings.Builder, page **charmap.Charmap, fail func(string)) int {
	switch {
	case s[1] == '\\':
		b.WriteByte('\\')
		return 2
	case s[1] == 'S' && len(s) >= 4 && s[2] == '\\':
		b.WriteRune((*page).DecodeByte(s[3] | 0x80))
		return 4
	case s[1] == 'P' && len(s) >= 4 && s[3] == '\\' && s[2] >= 'A' && s[2] <= 'I':
		*page = codePages[s[2]-'A']
		return 4
	case s[1] == 'X' && len(s) >= 5 && s[2] == '\\':
		if v, ok := hexByte(s[3], s[4]); ok {
			b.WriteRune(rune(v))
			return 5
		}
		fail(`\X\ is not followed by two hex digits`)
	case s[1] == 'X' && len(s) >= 4 && (s[2] == '2' || s[2] == '4') && s[3] == '\\':
		return decodeWide(s, b, fail)
	}
	b.WriteByte('\\') // not an escape: a literal backslash
	return 1
}

// decodeWide decodes \X2\…\X0\ (4 hex digits a UTF-16 unit) or \X4\…\X0\
// (8 hex digits a code point).
func decodeWide(s []byte, b *strings.Builder, fail func(string)) int {
	width := 4
	if s[2] == '4' {
		width = 8
	}
	i := 4
	var units []uint16
	for {
		if i+4 <= len(s) && s[i] == '\\' && s[i+1] == 'X' && s[i+2] == '0' && s[i+3] == '\\' {
			i += 4
			break
		}
		if i+width > len(s) {
			fail(`\X` + string(s[2]) + `\ is not closed by \X0\`)
			i = len(s)
			break
		}
		var v uint32
		ok := true
		for k := 0; k < width; k++ {
			d, good := hexDigit(s[i+k])
			ok = ok && good
			v = v<<4 | uint32(d)
		}
		if !ok {
			fail(`\X` + string(s[2]) + `\ holds a character that is not hex`)
			// Keep what cannot be decoded as it is (high bytes as ISO 8859-1).
			for _, c := range s[i : i+width] {
				b.WriteRune(rune(c))
			}
			i += width
			continue
		}
		i += width
		if width == 4 {
			units = append(units, uint16(v))
			continue
		}
		if v > utf8.MaxRune || (v >= 0xD800 && v < 0xE000) {
			fail(`\X4\ holds a value that is not a character`)
			v = utf8.RuneError
		}
		b.WriteRune(rune(v))
	}
	if len(units) > 0 {
		for _, r := range utf16.Decode(units) {
			b.WriteRune(r)
		}
	}
	return i
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func hexByte(hi, lo byte) (byte, bool) {
	h, ok1 := hexDigit(hi)
	l, ok2 := hexDigit(lo)
	return h<<4 | l, ok1 && ok2
}
