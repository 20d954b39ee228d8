package main

import (
	"fmt"
	"os"
	"runtime"

	"codeberg.org/plinth/plinth/app"
	"codeberg.org/plinth/plinth/app/winexe"
)

// handWindowOver starts Plinth.exe in this program's place when this is
// the console build of the Windows package (app/winexe) and reports true
// with the exit code; false means this program opens the window itself.
// plinth.com started without a command so returns at once, and no console
// window stays open behind Plinth, where closing it would end Plinth in the
// middle of its work. With -password-stdin Plinth.exe gets standard input,
// to read the password from.
func handWindowOver(passwordStdin bool) (int, bool) {
	exe, err := os.Executable()
	if err != nil {
		return 0, false
	}
	gui := winexe.GUI(runtime.GOOS, exe)
	if gui == "" {
		return 0, false
	}
	var stdin *os.File
	if passwordStdin {
		stdin = os.Stdin
	}
	if err := winexe.Start(gui, os.Args[1:], stdin); err != nil {
		fmt.Fprintf(os.Stderr, "Plinth could not open its window: %v\n", err)
		return app.ExitFailure, true
	}
	return app.ExitOK, true
}
