package osservice

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
)

// dataDirOf is the data folder a registered command line passes with
// -data, "" when none.
func dataDirOf(args []string) string {
	for i, a := range args {
		switch {
		case (a == "-data" || a == "--data") && i+1 < len(args):
			return args[i+1]
		case strings.HasPrefix(a, "-data="), strings.HasPrefix(a, "--data="):
			_, v, _ := strings.Cut(a, "=")
			return v
		}
	}
	return ""
}

// unitExecStart is the command line of a systemd unit's ExecStart, split
// as systemd splits it: words apart at blanks, "…" and '…' quote, C-style
// backslash escapes (kardianos writes the program with \x20 for blanks
// and each argument in double quotes).
func unitExecStart(unit []byte) ([]string, error) {
	for line := range strings.Lines(string(unit)) {
		value, ok := strings.CutPrefix(strings.TrimSpace(line), "ExecStart=")
		if ok {
			return splitExec(value)
		}
	}
	return nil, errors.New("the unit has no ExecStart line")
}

func splitExec(s string) ([]string, error) {
	var (
		args  []string
		word  strings.Builder
		in    bool // inside a word
		quote byte
	)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("ExecStart ends in a backslash")
			}
			i++
			switch e := s[i]; e {
			case 'x':
				if i+2 >= len(s) {
					return nil, errors.New("ExecStart has a short \\x escape")
				}
				b, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
				if err != nil {
					return nil, errors.New("ExecStart has a bad \\x escape")
				}
				word.WriteByte(byte(b))
				i += 2
			case 'n':
				word.WriteByte('\n')
			case 't':
				word.WriteByte('\t')
			case 's':
				word.WriteByte(' ')
			default:
				word.WriteByte(e)
			}
			in = true
		case quote != 0:
			if ch == quote {
				quote = 0
			} else {
				word.WriteByte(ch)
			}
		case ch == '"' || ch == '\'':
			quote, in = ch, true
		case ch == ' ' || ch == '\t':
			if in {
				args = append(args, word.String())
				word.Reset()
				in = false
			}
		default:
			word.WriteByte(ch)
			in = true
		}
	}
	if quote != 0 {
		return nil, errors.New("ExecStart has an unclosed quote")
	}
	if in {
		args = append(args, word.String())
	}
	return args, nil
}

// plistArguments is ProgramArguments of a launchd property list.
func plistArguments(plist []byte) ([]string, error) {
	d := xml.NewDecoder(bytes.NewReader(plist))
	var (
		key     string // the last <key> of the top dict
		inArray bool
		args    []string
		depth   int
	)
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, errors.New("the property list has no ProgramArguments")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case t.Name.Local == "key" && depth == 3: // plist > dict > key
				var k string
				if err := d.DecodeElement(&k, &t); err != nil {
					return nil, err
				}
				depth--
				key = k
			case t.Name.Local == "array" && depth == 3 && key == "ProgramArguments":
				inArray = true
			case t.Name.Local == "string" && inArray:
				var v string
				if err := d.DecodeElement(&v, &t); err != nil {
					return nil, err
				}
				depth--
				args = append(args, v)
			}
		case xml.EndElement:
			depth--
			if inArray && t.Name.Local == "array" {
				return args, nil
			}
		}
	}
}
