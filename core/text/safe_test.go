package text

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// Names with terminal escapes, bidi overrides and invisible characters are
// shown escaped; ordinary names in any script are left alone.
func TestSafe(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plan.pdf", "plan.pdf"},
		{"café — Zürich 東京 план.pdf", "café — Zürich 東京 план.pdf"},
		{"cafe\u0301.txt", "cafe\u0301.txt"}, // a combining accent is visible
		{"C:\\Users\\pat", "C:\\Users\\pat"},
		{"\x1b[2J\x1b[31mpwned.txt", `\x1b[2J\x1b[31mpwned.txt`},
		{"bell\a", `bell\x07`},
		{"two\nlines\r", `two\x0alines\x0d`},
		{"del\x7f", `del\x7f`},
		{"c1\u009b31m", `c1\u009b31m`},
		{"invoice\u202egnp.exe", `invoice\u202egnp.exe`},
		{"zero\u200bwidth", `zero\u200bwidth`},
		{"isolate\u2066x\u2069", `isolate\u2066x\u2069`},
		{"bom\ufeff", `bom\ufeff`},
		{"line\u2028sep", `line\u2028sep`},
		{"tag\U000e0041", `tag\U000e0041`},
		{"bad\xffutf8", `bad\xffutf8`},
	} {
		if got := Safe(c.in); got != c.want {
			t.Errorf("Safe(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTerminalWriter(t *testing.T) {
	var b strings.Builder
	w := TerminalWriter(&b)
	_, _ = io.WriteString(w, "NAME\tSIZE\nfdp\u202eexe.pdf\t\x1b[31m3 B\n")
	if got, want := b.String(), "NAME\tSIZE\nfdp\\u202eexe.pdf\t\\x1b[31m3 B\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// JSON stays JSON, with the same strings.
	b.Reset()
	name := "invoice\u202efdp.exe\x1b"
	_ = json.NewEncoder(w).Encode(map[string]string{"name": name})
	var back map[string]string
	if err := json.Unmarshal([]byte(b.String()), &back); err != nil || back["name"] != name {
		t.Fatalf("JSON through the writer: %q, %v", b.String(), err)
	}
	if strings.ContainsRune(b.String(), '\u202e') {
		t.Fatal("the raw override reached the terminal")
	}
}
