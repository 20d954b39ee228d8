package autostart

import (
	"bytes"
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestLaunchAgent(t *testing.T) {
	argv := []string{"/Applications/Plinth.app/Contents/MacOS/plinth", "-data", `/Users/ann/R&D <"old"> 'data' 100%`, "-background"}
	data, err := LaunchAgent(argv)
	if err != nil {
		t.Fatal(err)
	}
	// Well-formed XML, all the way through.
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("not valid XML: %v\n%s", err, data)
		}
	}
	// Its keys and values, as launchd reads them.
	var doc struct {
		Dict struct {
			Nodes []plistNode `xml:",any"`
		} `xml:"dict"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]plistNode{}
	nodes := doc.Dict.Nodes
	for i := 0; i+1 < len(nodes); i += 2 {
		got[nodes[i].Text] = nodes[i+1]
	}
	if v := got["Label"]; v.XMLName.Local != "string" || v.Text != "org.plinth.console" {
		t.Errorf("Label = %+v", v)
	}
	if v := got["RunAtLoad"]; v.XMLName.Local != "true" {
		t.Errorf("RunAtLoad = %+v, want <true/>", v)
	}
	if v := got["ProcessType"]; v.Text != "Interactive" {
		t.Errorf("ProcessType = %+v", v)
	}
	if _, ok := got["KeepAlive"]; ok {
		t.Error("the agent has KeepAlive: Plinth would come back after the user quits it")
	}
	var args []string
	for _, s := range got["ProgramArguments"].Nodes {
		if s.XMLName.Local != "string" {
			t.Errorf("ProgramArguments holds <%s>", s.XMLName.Local)
		}
		args = append(args, s.Text)
	}
	if !slices.Equal(args, argv) {
		t.Errorf("ProgramArguments = %q, want %q", args, argv)
	}
	if !strings.Contains(string(data), "R&amp;D &lt;&#34;old&#34;&gt;") {
		t.Errorf("the data folder is not escaped:\n%s", data)
	}

	f, err := parseLaunchAgent(data)
	if err != nil || !slices.Equal(f.argv, argv) || f.off != "" {
		t.Fatalf("read back: %+v, %v", f, err)
	}

	for _, bad := range []string{"bell\a", "\xff\xfe"} {
		if _, err := LaunchAgent([]string{"/p", bad}); err == nil {
			t.Errorf("%q went into a launch agent", bad)
		}
	}
}

func TestParseLaunchAgent(t *testing.T) {
	const disabled = `<?xml version="1.0"?><plist version="1.0"><dict>
<key>Label</key><string>org.plinth.console</string>
<key>Program</key><string>/opt/plinth</string>
<key>ProgramArguments</key><array><string>plinth</string><string>-background</string></array>
<key>Disabled</key><true/>
</dict></plist>`
	f, err := parseLaunchAgent([]byte(disabled))
	if err != nil || !slices.Equal(f.argv, []string{"/opt/plinth", "-background"}) || f.off == "" {
		t.Fatalf("Program and Disabled: %+v, %v", f, err)
	}
	for _, bad := range []string{"", "<plist/>", "<plist><dict><key>Label</key><string>x</string></dict></plist>", "<plist><dict><key>ProgramArguments</key><string>x</string></dict></plist>"} {
		if f, err := parseLaunchAgent([]byte(bad)); err == nil {
			t.Errorf("parseLaunchAgent(%s) = %+v, want an error", bad, f)
		}
	}
}
