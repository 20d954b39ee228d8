// Package text holds the small wording helpers every layer shares, so
// that a sentence shown to the admin reads "1 file" and "2 files" alike
// whether it comes from the window, a command or a notification.
package text

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dustin/go-humanize"
)

// Count says n of unit in English: "1 file", "2 files", "1,024 files",
// "3 entries". unit is the singular.
func Count(n int, unit string) string {
	if n == 1 || n == -1 {
		return humanize.Comma(int64(n)) + " " + unit
	}
	return humanize.Comma(int64(n)) + " " + Plural(unit)
}

// Plural is the plural of a singular English noun of the kinds Plinth
// uses ("file", "entry", "backup", "class").
func Plural(unit string) string {
	switch {
	case strings.HasSuffix(unit, "y") && !strings.HasSuffix(unit, "ay") && !strings.HasSuffix(unit, "ey") && !strings.HasSuffix(unit, "oy"):
		return unit[:len(unit)-1] + "ies"
	case strings.HasSuffix(unit, "s"), strings.HasSuffix(unit, "x"), strings.HasSuffix(unit, "ch"), strings.HasSuffix(unit, "sh"):
		return unit + "es"
	}
	return unit + "s"
}

// Agree picks the verb form that agrees with n: Agree(1, "is", "are") is
// "is", Agree(3, "is", "are") is "are".
func Agree(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Sentence is an error message as the user reads it: the first letter
// upper case, unless the message starts with a file name or path that must
// stay as typed ("house.ifc, line 6: …", "/Tower is …").
func Sentence(msg string) string {
	first, _, _ := strings.Cut(msg, " ")
	first = strings.TrimRight(first, ",:;.")
	if msg == "" || strings.ContainsAny(first, "./\\") {
		return msg
	}
	r, size := utf8.DecodeRuneInString(msg)
	return string(unicode.ToUpper(r)) + msg[size:]
}
