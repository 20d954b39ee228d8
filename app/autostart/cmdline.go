package autostart

import (
	"errors"
	"fmt"
	"strings"
)

// WindowsCommandLine is argv as one Windows command line, as the Run key
// holds it. The program is always in double quotes (a path with spaces
// must be, and a Windows path cannot hold a quote); the arguments follow
// the rules of syscall.EscapeArg, which CommandLineToArgvW and the C
// runtime undo: quotes around an argument with spaces, a backslash before
// a literal quote, and the backslashes before a quote doubled.
func WindowsCommandLine(argv []string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("no program to run")
	}
	if strings.ContainsAny(argv[0], "\"\x00") || argv[0] == "" {
		return "", fmt.Errorf("cannot start %q from the Run key", argv[0])
	}
	var b strings.Builder
	b.WriteString(`"` + argv[0] + `"`)
	for _, a := range argv[1:] {
		if strings.ContainsRune(a, 0) {
			return "", fmt.Errorf("cannot pass %q in a command line", a)
		}
		b.WriteByte(' ')
		b.WriteString(escapeArg(a))
	}
	return b.String(), nil
}

// escapeArg is syscall.EscapeArg, which only Windows builds have.
func escapeArg(s string) string {
	if s == "" {
		return `""`
	}
	if !strings.ContainsAny(s, "\"\\ \t") {
		return s
	}
	hasSpace := strings.ContainsAny(s, " \t")
	var b strings.Builder
	if hasSpace {
		b.WriteByte('"')
	}
	slashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		default:
			slashes = 0
		case '\\':
			slashes++
		case '"':
			for ; slashes > 0; slashes-- {
				b.WriteByte('\\')
			}
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	if hasSpace {
		for ; slashes > 0; slashes-- {
			b.WriteByte('\\')
		}
		b.WriteByte('"')
	}
	return b.String()
}

// SplitWindowsCommandLine is the inverse of WindowsCommandLine, by the
// rules of CommandLineToArgvW: the program runs to the closing quote or
// the first space; in the arguments 2n backslashes before a quote are n
// backslashes and the quote opens or closes, 2n+1 are n and a literal
// quote, other backslashes are literal, and "" inside quotes is a quote.
func SplitWindowsCommandLine(line string) ([]string, error) {
	line = strings.TrimLeft(line, " \t")
	if line == "" {
		return nil, errors.New("the command line is empty")
	}
	var argv []string
	if line[0] == '"' {
		end := strings.IndexByte(line[1:], '"')
		if end < 0 {
			return nil, errors.New("the program's quote is not closed")
		}
		argv = append(argv, line[1:1+end])
		line = line[2+end:]
	} else {
		end := strings.IndexAny(line, " \t")
		if end < 0 {
			end = len(line)
		}
		argv = append(argv, line[:end])
		line = line[end:]
	}
	var cur strings.Builder
	inArg, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\':
			n := 0
			for i < len(line) && line[i] == '\\' {
				n++
				i++
			}
			if i < len(line) && line[i] == '"' {
				cur.WriteString(strings.Repeat(`\`, n/2))
				if n%2 == 1 {
					cur.WriteByte('"')
				} else {
					quoted = !quoted
				}
			} else {
				cur.WriteString(strings.Repeat(`\`, n))
				i--
			}
			inArg = true
		case c == '"':
			if quoted && i+1 < len(line) && line[i+1] == '"' {
				cur.WriteByte('"')
				i++
			} else {
				quoted = !quoted
			}
			inArg = true
		case !quoted && (c == ' ' || c == '\t'):
			if inArg {
				argv = append(argv, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		argv = append(argv, cur.String())
	}
	return argv, nil
}
