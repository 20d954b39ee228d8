package autostart

import (
	"slices"
	"syscall"
	"testing"

	"golang.org/x/sys/windows"
)

// On Windows itself: the arguments are quoted as syscall.EscapeArg does,
// and CommandLineToArgvW splits the line back into them.
func TestWindowsCommandLineOnWindows(t *testing.T) {
	for _, argv := range [][]string{
		{`C:\Program Files\Plinth\plinth.exe`, "-data", `D:\Plinth data\`, "-background"},
		{`C:\p.exe`, `a"b`, `a\"b`, `a\\b`, "", `say "hi" \`, "tab\there", `C:\`},
	} {
		for _, a := range argv[1:] {
			if got, want := escapeArg(a), syscall.EscapeArg(a); got != want {
				t.Errorf("escapeArg(%q) = %s, syscall.EscapeArg says %s", a, got, want)
			}
		}
		line, err := WindowsCommandLine(argv)
		if err != nil {
			t.Fatal(err)
		}
		back, err := windows.DecomposeCommandLine(line)
		if err != nil || !slices.Equal(back, argv) {
			t.Errorf("CommandLineToArgvW(%s) = %q, %v; want %q", line, back, err, argv)
		}
	}
}
