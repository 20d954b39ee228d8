// Package names is the one place where a name that comes from outside
// Plinth is checked before it is used: a file or folder name typed or
// uploaded by a user, and every name read from a manifest, an archive, a
// tar entry, a snapshot tree or a connection mapping before it is joined
// onto a path. A name that passes Check can be stored, shown and written
// to disk on Windows, macOS and Linux; a path that passes CheckPath stays
// inside the folder it is joined onto.
package names

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrBadName means a name cannot be used.
var ErrBadName = errors.New("bad name")

type nameError struct{ msg string }

func (e *nameError) Error() string        { return e.msg }
func (e *nameError) Is(target error) bool { return target == ErrBadName }

func bad(format string, a ...any) error { return &nameError{fmt.Sprintf(format, a...)} }

// MaxBytes is the longest name, in bytes of UTF-8.
const MaxBytes = 255

// reserved are the names Windows will not let a file have, with or without
// an extension.
var reserved = map[string]bool{
	"CON": true, "PRN": true, "AUX": true, "NUL": true,
	"COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true, "COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true, "LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true,
}

// Check says, in a sentence, why name cannot name a file or folder, or
// returns nil. Names must survive an export to Windows, macOS and Linux,
// must not hide what they are (no control characters, no invisible or
// direction-changing characters that make "exe.pdf" look like "fdp.exe"),
// and are one path element.
func Check(name string) error {
	switch {
	case name == "":
		return bad("a name cannot be empty")
	case !utf8.ValidString(name):
		return bad("the name %q is not valid text", name)
	case name == "." || name == "..":
		return bad("%q cannot be used as a name", name)
	case len(name) > MaxBytes:
		return bad("the name %q… is %d bytes long; at most %d are allowed", cut(name, 40), len(name), MaxBytes)
	case strings.ContainsAny(name, `/\`):
		return bad("the name %q contains %q; slashes separate folders", name, string(name[strings.IndexAny(name, `/\`)]))
	case strings.TrimSpace(name) != name:
		return bad("the name %q starts or ends with a space", name)
	case strings.HasSuffix(name, "."):
		return bad("the name %q ends with a dot, which Windows drops", name)
	}
	for _, r := range name {
		switch {
		case unicode.IsControl(r):
			return bad("the name %q contains a control character", name)
		case Invisible(r):
			return bad("the name %q contains an invisible or text-direction character (%U)", name, r)
		case strings.ContainsRune(`<>:"|?*`, r):
			return bad("the name %q contains %q, which Windows does not allow", name, r)
		}
	}
	stem, _, _ := strings.Cut(name, ".")
	if reserved[strings.ToUpper(strings.TrimSpace(stem))] {
		return bad("%q is a reserved name on Windows", name)
	}
	return nil
}

// Invisible reports whether r is a character that changes how text
// around it is shown without being seen itself: format characters
// (zero-width spaces and joiners, the byte-order mark, soft hyphens,
// right-to-left and left-to-right overrides and isolates) and the line
// and paragraph separators.
func Invisible(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r)
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// MaxDepth is how many names a path read from outside may have.
const MaxDepth = 256

// CheckPath checks a relative, "/"-separated path read from outside (a
// manifest entry, an archive member, a snapshot tree path): it is not
// absolute, has no empty, "." or ".." element, no more than MaxDepth
// elements, and every element passes Check. A path that passes stays
// inside whatever folder it is joined onto.
func CheckPath(rel string) error {
	if rel == "" {
		return bad("an empty path")
	}
	if strings.HasPrefix(rel, "/") || strings.Contains(rel, `\`) || filepath.IsAbs(rel) || filepath.VolumeName(rel) != "" {
		return bad("the path %q is not relative", rel)
	}
	parts := strings.Split(rel, "/")
	if len(parts) > MaxDepth {
		return bad("the path %q… is %d folders deep; at most %d are allowed", cut(rel, 40), len(parts), MaxDepth)
	}
	for _, p := range parts {
		if err := Check(p); err != nil {
			return bad("the path %q cannot be used: %v", rel, err)
		}
	}
	return nil
}

// Join checks rel with CheckPath and joins it onto base.
func Join(base, rel string) (string, error) {
	if err := CheckPath(rel); err != nil {
		return "", err
	}
	return filepath.Join(base, filepath.FromSlash(rel)), nil
}
