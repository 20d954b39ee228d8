package files

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ErrBadName means a name cannot be used for a file or folder.
var ErrBadName = errors.New("bad name")

type nameError struct{ msg string }

func (e *nameError) Error() string        { return e.msg }
func (e *nameError) Is(target error) bool { return target == ErrBadName }

func badName(format string, a ...any) error { return &nameError{fmt.Sprintf(format, a...)} }

// reserved are the names Windows will not let a file have, with or without
// an extension.
var reserved = map[string]bool{
	"CON": true, "PRN": true, "AUX": true, "NUL": true,
	"COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true, "COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true, "LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true,
}

// CheckName says, in a sentence, why name cannot name a file or folder, or
// returns nil. Names must survive an export to Windows, macOS and Linux.
func CheckName(name string) error {
	switch {
	case name == "":
		return badName("a name cannot be empty")
	case !utf8.ValidString(name):
		return badName("the name %q is not valid text", name)
	case name == "." || name == "..":
		return badName("%q cannot be used as a name", name)
	case len(name) > 255:
		return badName("the name %q… is %d bytes long; at most 255 are allowed", name[:40], len(name))
	case strings.ContainsAny(name, `/\`):
		return badName("the name %q contains %q; slashes separate folders", name, string(name[strings.IndexAny(name, `/\`)]))
	case strings.TrimSpace(name) != name:
		return badName("the name %q starts or ends with a space", name)
	case strings.HasSuffix(name, "."):
		return badName("the name %q ends with a dot, which Windows drops", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return badName("the name %q contains a control character", name)
		}
		if strings.ContainsRune(`<>:"|?*`, r) {
			return badName("the name %q contains %q, which Windows does not allow", name, r)
		}
	}
	stem, _, _ := strings.Cut(name, ".")
	if reserved[strings.ToUpper(strings.TrimSpace(stem))] {
		return badName("%q is a reserved name on Windows", name)
	}
	return nil
}

// normalize puts a name in the form it is stored in: NFC.
func normalize(name string) string { return norm.NFC.String(name) }

// nameKey is what two names are compared by: NFC and case-insensitive, so
// that an export to Windows or macOS never finds two files with one name.
func nameKey(name string) string { return strings.ToLower(norm.NFC.String(name)) }

// SplitPath splits "/Tower A/Plans/a.pdf" (or without the leading slash)
// into its names, checking each one.
func SplitPath(path string) ([]string, error) {
	path = strings.Trim(strings.ReplaceAll(path, `\`, "/"), "/")
	if path == "" {
		return nil, nil
	}
	parts := strings.Split(path, "/")
	for i, p := range parts {
		parts[i] = normalize(p)
		if err := CheckName(parts[i]); err != nil {
			return nil, err
		}
	}
	return parts, nil
}
