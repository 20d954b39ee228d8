package names

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"Plans.pdf", true},
		{"café.ifc", true},
		{"Tower A", true},
		{"日本語.txt", true},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{`a\b`, false},
		{" lead", false},
		{"trail ", false},
		{"dot.", false},
		{"CON", false},
		{"lpt1.txt", false},
		{"a:b", false},
		{"bell\a", false},
		{"esc\x1b[31mred", false},
		{"new\nline", false},
		{"invoice\u202Efdp.exe", false}, // right-to-left override
		{"zero\u200Bwidth", false},
		{"bom\uFEFF", false},
		{"iso\u2066late", false},
		{"line\u2028sep", false},
		{strings.Repeat("x", 255), true},
		{strings.Repeat("x", 256), false},
		{"\xff\xfe", false},
	} {
		err := Check(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("Check(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadName) {
			t.Errorf("Check(%q) error is not ErrBadName", tc.name)
		}
		if err != nil && strings.ContainsAny(err.Error(), "\x1b\n\u202E") {
			t.Errorf("Check(%q) repeats the raw name: %q", tc.name, err.Error())
		}
	}
}

func TestCheckPathStaysInside(t *testing.T) {
	base := filepath.Join(t.TempDir(), "backup")
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"manifest.json", true},
		{"packs/00000001.pack.0.zst", true},
		{"../../../../x", false},
		{"packs/../../x", false},
		{"/etc/passwd", false},
		{`C:\Windows\x`, false},
		{`..\x`, false},
		{"packs//x", false},
		{"./x", false},
		{"", false},
		{"a/" + strings.Repeat("d/", MaxDepth) + "x", false},
	} {
		p, err := Join(base, tc.path)
		if (err == nil) != tc.ok {
			t.Errorf("Join(%q) = %q, %v; want ok=%v", tc.path, p, err, tc.ok)
			continue
		}
		if err == nil {
			rel, rerr := filepath.Rel(base, p)
			if rerr != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("Join(%q) = %q, outside %s", tc.path, p, base)
			}
		}
	}
}

func FuzzJoin(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "a/../../b", "/x", "a\\..\\b", "c:x", "a/./b"} {
		f.Add(s)
	}
	base := filepath.FromSlash("/srv/backup/20260101")
	f.Fuzz(func(t *testing.T, rel string) {
		p, err := Join(base, rel)
		if err != nil {
			return
		}
		r, err := filepath.Rel(base, p)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || filepath.IsAbs(r) {
			t.Fatalf("Join(%q) = %q escapes %s", rel, p, base)
		}
	})
}
