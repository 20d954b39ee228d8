package text

import "testing"

func TestCount(t *testing.T) {
	for _, c := range []struct {
		n    int
		unit string
		want string
	}{
		{0, "file", "0 files"},
		{1, "file", "1 file"},
		{2, "folder", "2 folders"},
		{1234, "file", "1,234 files"},
		{3, "entry", "3 entries"},
		{2, "day", "2 days"},
		{2, "class", "2 classes"},
		{1, "entry", "1 entry"},
	} {
		if got := Count(c.n, c.unit); got != c.want {
			t.Errorf("Count(%d, %q) = %q, want %q", c.n, c.unit, got, c.want)
		}
	}
}

func TestSentence(t *testing.T) {
	for in, want := range map[string]string{
		"the passphrase is wrong":              "The passphrase is wrong",
		"house.ifc, line 6, column 3: bad":     "house.ifc, line 6, column 3: bad",
		"/Tower/Coordination is not an iModel": "/Tower/Coordination is not an iModel",
		`C:\ifc is not a folder`:               `C:\ifc is not a folder`,
		"done.":                                "Done.",
		"élément manquant":                     "Élément manquant",
		"":                                     "",
	} {
		if got := Sentence(in); got != want {
			t.Errorf("Sentence(%q) = %q, want %q", in, got, want)
		}
	}
}
