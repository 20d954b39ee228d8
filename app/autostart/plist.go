package autostart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"unicode/utf8"
)

// LaunchAgent is the macOS launch agent (a property list) that runs argv
// when the user logs in. It runs once at login (RunAtLoad) and is not kept
// alive: a user who quits Plinth means it.
func LaunchAgent(argv []string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("no program to run")
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + ID + `</string>
	<key>ProgramArguments</key>
	<array>
`)
	for _, a := range argv {
		if !xmlText(a) {
			return nil, fmt.Errorf("cannot put %q in a launch agent: XML cannot hold some of its characters", a)
		}
		b.WriteString("\t\t<string>")
		if err := xml.EscapeText(&b, []byte(a)); err != nil {
			return nil, err
		}
		b.WriteString("</string>\n")
	}
	b.WriteString(`	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>ProcessType</key>
	<string>Interactive</string>
	<key>LimitLoadToSessionType</key>
	<string>Aqua</string>
</dict>
</plist>
`)
	return b.Bytes(), nil
}

// xmlText says whether XML 1.0 can hold s: valid UTF-8 of the characters
// the Char production allows.
func xmlText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
		case r >= 0x20 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		default:
			return false
		}
	}
	return true
}

// plistNode is any element of a property list.
type plistNode struct {
	XMLName xml.Name
	Text    string      `xml:",chardata"`
	Nodes   []plistNode `xml:",any"`
}

// parseLaunchAgent reads a launch agent back: ProgramArguments (or
// Program), and whether Disabled is true.
func parseLaunchAgent(data []byte) (*found, error) {
	var doc struct {
		XMLName xml.Name `xml:"plist"`
		Dict    *struct {
			Nodes []plistNode `xml:",any"`
		} `xml:"dict"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("it is not a property list: %w", err)
	}
	if doc.Dict == nil {
		return nil, errors.New("the property list has no dictionary")
	}
	f := &found{}
	var program string
	nodes := doc.Dict.Nodes
	for i := 0; i+1 < len(nodes); i += 2 {
		if nodes[i].XMLName.Local != "key" {
			return nil, fmt.Errorf("the property list has <%s> where a key belongs", nodes[i].XMLName.Local)
		}
		key, value := nodes[i].Text, nodes[i+1]
		switch key {
		case "ProgramArguments":
			if value.XMLName.Local != "array" {
				return nil, errors.New("ProgramArguments is not an array")
			}
			for _, s := range value.Nodes {
				if s.XMLName.Local != "string" {
					return nil, errors.New("ProgramArguments holds something other than strings")
				}
				f.argv = append(f.argv, s.Text)
			}
		case "Program":
			program = value.Text
		case "Disabled":
			if value.XMLName.Local == "true" {
				f.off = "its launch agent (Disabled is true)"
			}
		}
	}
	if program != "" {
		// launchd runs Program with ProgramArguments as its argv, argv[0]
		// included.
		if len(f.argv) == 0 {
			f.argv = []string{program}
		} else {
			f.argv[0] = program
		}
	}
	if len(f.argv) == 0 {
		return nil, errors.New("it names no program")
	}
	return f, nil
}
