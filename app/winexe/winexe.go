// Package winexe knows the two programs of the Windows package (README,
// "Windows"): Plinth.exe, linked for the GUI subsystem, which the Start
// menu, shortcuts and autostart run without a console window, and
// plinth.com, the same program linked for the console subsystem, which
// cmd.exe and PowerShell run when you type plinth (.COM comes before .EXE in
// PATHEXT), wait for, and take the exit code from. A command runs in
// whichever was started; the window belongs to Plinth.exe.
package winexe

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// GUIName is the file name of the GUI-subsystem build.
const GUIName = "Plinth.exe"

// GUI returns the GUI build that opens the window in place of the program
// at exe, or "" when that program opens it itself: on Windows (goos), a
// Plinth.exe beside exe that is another file. Plinth.exe itself, a build
// from make build or make cross-windows (bin\plinth.exe, which on a
// case-insensitive disk is the same file as bin\Plinth.exe) and every build
// on other systems open the window themselves.
func GUI(goos, exe string) string {
	if goos != "windows" {
		return ""
	}
	gui := filepath.Join(filepath.Dir(exe), GUIName)
	gi, err := os.Stat(gui)
	if err != nil || !gi.Mode().IsRegular() {
		return ""
	}
	ei, err := os.Stat(exe)
	if err != nil || os.SameFile(gi, ei) {
		return ""
	}
	return gui
}

// Start starts gui with args and does not wait for it. stdin, when not
// nil, becomes its standard input; its output goes nowhere, so nothing it
// writes reaches the console after the prompt has come back.
func Start(gui string, args []string, stdin *os.File) error {
	cmd := exec.Command(gui, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", gui, err)
	}
	return cmd.Process.Release()
}
