package text

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"codeberg.org/plinth/plinth/core/names"
)

// Safe returns s as it can be printed on a terminal, in a log line or in a
// table without changing what is shown around it: control characters
// (ESC, BEL, backspace, carriage return, line feed, DEL, the C1 range),
// invisible and text-direction characters (zero-width spaces and joiners,
// right-to-left overrides and isolates, line and paragraph separators) and
// bytes that are not UTF-8 are written as \x1b, \u202e and so on. Other
// text, accents and every script included, comes back unchanged.
//
// File names reach the command line from the stores, where names checked
// by older versions of Plinth, or adopted from the File Server, may hold
// such characters: print them through Safe.
func Safe(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r) && r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || unsafeRune(r) {
			return true
		}
		i += size
	}
	return false
}

func unsafeRune(r rune) bool { return unicode.IsControl(r) || names.Invisible(r) }

// TerminalWriter passes what is written to w with the characters Safe
// escapes written as escapes, line feeds and tabs excepted: every line a
// command prints reaches the terminal as text, whatever names are in it.
// JSON stays valid and decodes to the same strings (the escapes it gets
// are JSON's own \u forms, and JSON already escapes control characters).
func TerminalWriter(w io.Writer) io.Writer { return terminalWriter{w} }

type terminalWriter struct{ w io.Writer }

func (t terminalWriter) Write(p []byte) (int, error) {
	s := string(p)
	clean := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || (unsafeRune(r) && r != '\n' && r != '\t') {
			clean = false
			break
		}
		i += size
	}
	if clean {
		return t.w.Write(p)
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\n' || r == '\t' {
			b.WriteRune(r)
		} else {
			b.WriteString(Safe(s[i : i+size]))
		}
		i += size
	}
	if _, err := io.WriteString(t.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}
