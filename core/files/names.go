package files

import (
	"strings"

	"golang.org/x/text/unicode/norm"

	"codeberg.org/plinth/plinth/core/names"
)

// ErrBadName means a name cannot be used for a file or folder.
var ErrBadName = names.ErrBadName

// CheckName says, in a sentence, why name cannot name a file or folder, or
// returns nil (names.Check: the one check for names from outside).
func CheckName(name string) error { return names.Check(name) }

// normalize puts a name in the form it is stored in: NFC.
func normalize(name string) string { return norm.NFC.String(name) }

// nameKey is what two names are compared by: NFC and case-insensitive, so
// that an export to Windows or macOS never finds two files with one name.
func nameKey(name string) string { return strings.ToLower(norm.NFC.String(name)) }

// NameKey is what two names are compared by (NFC, case-insensitive): two
// names with one key cannot be in one folder.
func NameKey(name string) string { return nameKey(name) }

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
