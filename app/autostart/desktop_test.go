package autostart

import (
	"slices"
	"strings"
	"testing"
)

func TestExecLine(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"/usr/bin/plinth", "-background"}, `/usr/bin/plinth -background`},
		{[]string{"/opt/My Apps/plinth", "-background"}, `"/opt/My Apps/plinth" -background`},
		{[]string{"/opt/100%/plinth"}, `/opt/100%%/plinth`},
		{[]string{"/opt/100% sure/plinth"}, `"/opt/100%% sure/plinth"`},
		{[]string{"/p", "-data", `C:\data`}, `/p -data "C:\\\\data"`},
		{[]string{"/p", `say "hi"`}, `/p "say \\"hi\\""`},
		{[]string{"/p", "$HOME", "`x`", "a'b", "~"}, strings.ReplaceAll(`/p "\\$HOME" "\\Bx\\B" "a'b" "~"`, "B", "`")},
		{[]string{"/p", "two\nlines", "tab\there"}, `/p "two\nlines" "tab\there"`},
		{[]string{"/p", ""}, `/p ""`},
		{[]string{"/p", "ünï=cödé"}, `/p ünï=cödé`},
	} {
		got, err := ExecLine(tc.argv)
		if err != nil {
			t.Fatalf("ExecLine(%q): %v", tc.argv, err)
		}
		if got != tc.want {
			t.Errorf("ExecLine(%q)\n got %s\nwant %s", tc.argv, got, tc.want)
		}
		back, err := ParseExec(got)
		if err != nil || !slices.Equal(back, tc.argv) {
			t.Errorf("ParseExec(%s) = %q, %v; want %q", got, back, err, tc.argv)
		}
	}
	if _, err := ExecLine([]string{"/p", "bell\a"}); err == nil {
		t.Error("a control character went into an Exec line")
	}
	if _, err := ExecLine(nil); err == nil {
		t.Error("an empty command line went into an Exec line")
	}
}

// What other programs write: field codes dropped, \s unescaped, quotes
// joined to the argument around them.
func TestParseExec(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{`plinth %U`, []string{"plinth"}},
		{`plinth\s-background`, []string{"plinth", "-background"}},
		{`  "/a b/plinth"   -x  `, []string{"/a b/plinth", "-x"}},
		{`/p a"b c"d`, []string{"/p", "ab cd"}},
	} {
		got, err := ParseExec(tc.line)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseExec(%s) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
	for _, bad := range []string{``, `   `, `"/a b/plinth`} {
		if got, err := ParseExec(bad); err == nil {
			t.Errorf("ParseExec(%s) = %q, want an error", bad, got)
		}
	}
}

func TestDesktopEntry(t *testing.T) {
	argv := []string{"/opt/My Apps/plinth 100%/plinth", "-data", "/srv/office data", "-background"}
	data, err := DesktopEntry(argv)
	if err != nil {
		t.Fatal(err)
	}
	want := `[Desktop Entry]
Type=Application
Name=Plinth
Comment=Starts Plinth hidden in the tray, so scheduled backups run without anyone opening it
Exec="/opt/My Apps/plinth 100%%/plinth" -data "/srv/office data" -background
Icon=org.plinth.console
Terminal=false
StartupNotify=false
X-GNOME-Autostart-enabled=true
`
	if string(data) != want {
		t.Fatalf("desktop entry:\n%s\nwant:\n%s", data, want)
	}
	f, err := parseDesktop(data)
	if err != nil || !slices.Equal(f.argv, argv) || f.off != "" {
		t.Fatalf("read back: %+v, %v", f, err)
	}
	// Only the [Desktop Entry] group counts, and Hidden turns it off.
	other := "# c\n[Desktop Action x]\nExec=/other\n" + strings.Replace(string(data), "Terminal=false", "Hidden=true", 1)
	f, err = parseDesktop([]byte(other))
	if err != nil || !slices.Equal(f.argv, argv) || f.off == "" {
		t.Fatalf("read back with an action and Hidden: %+v, %v", f, err)
	}
}
