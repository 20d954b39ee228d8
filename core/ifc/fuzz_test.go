package ifc

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeString: any bytes decode to valid UTF-8 without panicking, and
// text without quotes or backslashes comes back as it was.
func FuzzDecodeString(f *testing.F) {
	for _, s := range []string{"", "plain", `it''s`, `\S\D`, `\PB\\S\1`, `\X\E9`, `\X2\00C400D6\X0\`, `\X2\D83DDE00\X0\`,
		`\X4\0001F600\X0\`, `\X2\00C`, `\X4\FFFFFFFF\X0\`, "caf\xe9", `C:\Temp`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, _ := DecodeString(raw)
		if !utf8.ValidString(s) {
			t.Fatalf("DecodeString(%q) = %q, not UTF-8", raw, s)
		}
		if utf8.Valid(raw) && !strings.ContainsAny(string(raw), `'\`) && s != string(raw) {
			t.Fatalf("DecodeString(%q) = %q, want it unchanged", raw, s)
		}
	})
}

// FuzzParse: any DATA section either parses or fails with an error; it
// never panics or hangs, and the elements of what parses can be listed.
func FuzzParse(f *testing.F) {
	const head = "ISO-10303-21;HEADER;FILE_SCHEMA(('IFC4'));ENDSEC;DATA;\n"
	for _, s := range []string{
		"#1=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,'W',$,$,#2,$,$,$);#2=IFCLOCALPLACEMENT($,#3);#3=IFCAXIS2PLACEMENT3D(#4,$,$);#4=IFCCARTESIANPOINT((0.,0.,0.));ENDSEC;",
		"#1=(IFCA(1)IFCB('x'));ENDSEC;END-ISO-10303-21;",
		"#1=IFCWALL('a''b',/*c*/$,.T.,\"0F\",(1,(2,())),IFCLABEL('x'),1.E-009,.5);ENDSEC;",
		"#1=IFCWALL(#1);ENDSEC;",
		"#1=IFCRELDEFINESBYPROPERTIES('2k1nMz3Hz1ZuRUnjMjNOfG',$,$,$,(#2),#3);#2=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,$,$,$,$,$,$,$);#3=IFCPROPERTYSET('3k1nMz3Hz1ZuRUnjMjNOfF',$,$,$,(#4));ENDSEC;",
		"#1=IFCWALL('x'",
		"#99999999999999999999=IFCWALL();ENDSEC;",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(context.Background(), "fuzz.ifc", append([]byte(head), data...))
		if err != nil {
			return
		}
		if _, _, err := file.Elements(context.Background()); err != nil {
			return
		}
		_, _ = file.GeoReference()
		for i := 0; i < file.Len() && i < 50; i++ {
			_, _ = file.Params(file.Instance(i), nil)
		}
	})
}

// FuzzRead: whatever the bytes, Read gives what Parse and Elements give —
// the same elements, checksums and warnings, or the same error — read
// whole, in halves through a 64-byte window, and a byte at a time.
func FuzzRead(f *testing.F) {
	const head = "ISO-10303-21;HEADER;FILE_SCHEMA(('IFC4'));ENDSEC;DATA;\n"
	for _, s := range []string{
		"#1=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,'W',$,$,#2,$,$,$);#2=IFCLOCALPLACEMENT($,#3);#3=IFCAXIS2PLACEMENT3D(#4,$,$);#4=IFCCARTESIANPOINT((0.,0.,0.));ENDSEC;",
		"#4=IFCCARTESIANPOINT((0.,0.,0.));#3=IFCAXIS2PLACEMENT3D(#4,$,$);#2=IFCLOCALPLACEMENT($,#3);#1=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,'W',$,$,#2,$,$,$);ENDSEC;",
		"#1=(IFCA(1)IFCB('x'));ENDSEC;END-ISO-10303-21;",
		"#1=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',/*c*/#1,.T.,\"0F\",(1,(2,())),IFCLABEL('x'),1.E-009,.5);ENDSEC;",
		"#1=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',#2,$,$,$,#3,$,$,$);#3=IFCLOCALPLACEMENT(#4,$);#4=IFCLOCALPLACEMENT(#3,#9);ENDSEC;",
		"#1=IFCRELDEFINESBYPROPERTIES('2k1nMz3Hz1ZuRUnjMjNOfG',$,$,$,(#2),#3);#2=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,$,$,$,$,$,$,$);#3=IFCPROPERTYSET('3k1nMz3Hz1ZuRUnjMjNOfF',$,$,$,(#4));ENDSEC;",
		"#1=IFCWALL('x'",
		"#2=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH');#2=IFCWALL();ENDSEC;",
		"#99999999999999999999=IFCWALL();ENDSEC;",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsParse(t, "fuzz.ifc", append([]byte(head), data...))
	})
}
