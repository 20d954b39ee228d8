// Package localefix keeps Fyne from printing a locale error at start-up on
// systems whose locale is "C.UTF-8" (the default of Debian containers and
// many servers), which Fyne's language lookup cannot parse. The error would
// land on stderr before every headless command's output.
//
// It must initialise before fyne.io/fyne/v2/lang: Go initialises packages
// in import-path order once their imports are ready, and this package's
// path sorts before "fyne.io" and imports only os and strings; package app
// imports it, so every binary with Fyne and app gets it. It hides the
// unparsable value while the other packages initialise; app's own init
// (which runs after Fyne's) calls Restore to put the environment back, so
// child processes see it unchanged.
package localefix

import (
	"os"
	"strings"
)

var saved = map[string]string{}

func init() {
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			continue
		}
		// go-locale takes the first non-empty of these; only "C.x" and
		// "POSIX.x" trip Fyne up.
		if strings.HasPrefix(v, "C.") || strings.HasPrefix(v, "POSIX.") {
			saved[name] = v
			_ = os.Setenv(name, "C")
		}
		return
	}
}

// Restore puts back the environment as it was before start-up.
func Restore() {
	for name, v := range saved {
		_ = os.Setenv(name, v)
	}
}
