package autostart

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// DesktopEntry is the XDG autostart entry (Desktop Entry Specification
// 1.5) that runs argv at login.
func DesktopEntry(argv []string) ([]byte, error) {
	exec, err := ExecLine(argv)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("[Desktop Entry]\n")
	b.WriteString("Type=Application\n")
	b.WriteString("Name=" + Name + "\n")
	b.WriteString("Comment=Starts Plinth hidden in the tray, so scheduled backups run without anyone opening it\n")
	b.WriteString("Exec=" + exec + "\n")
	b.WriteString("Icon=" + ID + "\n") // the icon fyne package installs
	b.WriteString("Terminal=false\n")
	b.WriteString("StartupNotify=false\n")
	b.WriteString("X-GNOME-Autostart-enabled=true\n")
	return b.Bytes(), nil
}

// execReserved are the characters that make an Exec argument need quotes.
const execReserved = " \t\n\"'\\><~|&;$*?#()`"

// ExecLine is argv as the value of a desktop entry's Exec key: arguments
// with reserved characters in double quotes with ", `, $ and \ escaped by
// a backslash, every % doubled (field codes), then the string escapes of
// the key file (\\, \n, \t, \r), applied after the quoting.
func ExecLine(argv []string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("no program to run")
	}
	parts := make([]string, len(argv))
	for i, a := range argv {
		if strings.ContainsFunc(a, isControlNotTabNL) {
			return "", fmt.Errorf("cannot put %q in a desktop entry: it has a control character", a)
		}
		a = strings.ReplaceAll(a, "%", "%%")
		if a == "" || strings.ContainsAny(a, execReserved) {
			var q strings.Builder
			q.WriteByte('"')
			for _, r := range a {
				if r == '"' || r == '`' || r == '$' || r == '\\' {
					q.WriteByte('\\')
				}
				q.WriteRune(r)
			}
			q.WriteByte('"')
			a = q.String()
		}
		parts[i] = a
	}
	line := strings.Join(parts, " ")
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\t", `\t`).Replace(line), nil
}

func isControlNotTabNL(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' || r == 0x7f }

// ParseExec is the inverse of ExecLine: the arguments of an Exec value.
func ParseExec(value string) ([]string, error) {
	line := unescapeString(value)
	var argv []string
	var cur strings.Builder
	inArg, quoted := false, false
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quoted && r == '\\':
			if i+1 < len(rs) {
				i++
				r = rs[i]
			}
			cur.WriteRune(r)
		case r == '"':
			quoted = !quoted
			inArg = true
		case !quoted && (r == ' ' || r == '\t' || r == '\n'):
			if inArg {
				argv = append(argv, cur.String())
				cur.Reset()
				inArg = false
			}
		case r == '%':
			if i+1 < len(rs) && rs[i+1] == '%' {
				i++
				cur.WriteRune('%')
				inArg = true
			} else if i+1 < len(rs) {
				i++ // a field code (%f, %U…): nothing to pass at login
			}
		default:
			cur.WriteRune(r)
			inArg = true
		}
	}
	if quoted {
		return nil, errors.New("the Exec line has an unclosed quote")
	}
	if inArg {
		argv = append(argv, cur.String())
	}
	if len(argv) == 0 {
		return nil, errors.New("the Exec line is empty")
	}
	return argv, nil
}

// unescapeString undoes the string escapes of a key file value.
func unescapeString(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' || i+1 == len(v) {
			b.WriteByte(v[i])
			continue
		}
		i++
		switch v[i] {
		case 's':
			b.WriteByte(' ')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		default:
			b.WriteByte(v[i])
		}
	}
	return b.String()
}

// parseDesktop reads an autostart entry back: the arguments of Exec, and
// whether the desktop turned it off (Hidden=true, or
// X-GNOME-Autostart-enabled=false as GNOME's Startup Applications write).
func parseDesktop(data []byte) (*found, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	group := ""
	var exec string
	hasExec := false
	f := &found{}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			group = line[1 : len(line)-1]
			continue
		}
		if group != "Desktop Entry" {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch key {
		case "Exec":
			exec, hasExec = value, true
		case "Hidden":
			if value == "true" {
				f.off = "the desktop's startup settings (Hidden=true)"
			}
		case "X-GNOME-Autostart-enabled":
			if value == "false" && f.off == "" {
				f.off = "the desktop's startup settings"
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !hasExec {
		return nil, errors.New("it has no Exec line")
	}
	argv, err := ParseExec(exec)
	if err != nil {
		return nil, err
	}
	f.argv = argv
	return f, nil
}
