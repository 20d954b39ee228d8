package ifc

import (
	"errors"
	"strings"
	"testing"
)

func TestParseParams(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`()`, ``},
		{`($,*)`, `$ *`},
		{`(1,-2,+3)`, `1 -2 3`},
		{`(1.,0.,1.E-009,-2.5E+3,.5,-.25,1.5e2)`, `1 0 1e-09 -2500 0.5 -0.25 150`},
		{`(.T.,.F.,.U.,.ELEMENT.,.NOTDEFINED.)`, `.T. .F. .U. .ELEMENT. .NOTDEFINED.`},
		{`("0",  "1FF")`, `"0" "1FF"`},
		{`(#1,#23 , # 4)`, ``}, // "# 4" is not a reference
		{`((1,2),(3),())`, `(1,2) (3) ()`},
		{`(((1)))`, `((1))`},
		{`('a','',' it''s ')`, `"a" "" " it's "`},
		{`(IFCLABEL('x'),IFCRATIOMEASURE(0.5),IFCBOOLEAN(.T.))`, `IFCLABEL("x") IFCRATIOMEASURE(0.5) IFCBOOLEAN(.T.)`},
		{`(ifclabel ( 'x' ))`, `IFCLABEL("x")`},
		{"( /* a comment */ 1 ,\n\t2 /* another */ )", `1 2`},
		{`(#1,'#2',$)`, `#1 "#2" $`},
	} {
		got, err := ParseParams("t.ifc", []byte(c.in))
		if c.want == "" && c.in != "()" {
			if err == nil {
				t.Errorf("ParseParams(%s) = %v, want an error", c.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseParams(%s): %v", c.in, err)
			continue
		}
		parts := make([]string, len(got))
		for i, v := range got {
			parts[i] = v.String()
		}
		if s := strings.Join(parts, " "); s != c.want {
			t.Errorf("ParseParams(%s) = %s, want %s", c.in, s, c.want)
		}
	}
}

func TestParseParamsErrorsSayWhere(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"(1,\n  'abc)", "t.ifc, line 2, column 3: a string is not closed"},
		{"(1,\n2", "t.ifc, line 2, column 2: a list is not closed with ')'"},
		{"(1 2)", "t.ifc, line 1, column 4: expected ',' or ')' in a list but found \"2\""},
		{"(.ABC)", "t.ifc, line 1, column 2: an enumeration is not closed with '.'"},
		{`("0G")`, `t.ifc, line 1, column 4: a binary value holds "G", which is not a hex digit`},
		{"(1.2.3E)", `t.ifc, line 1, column 2: "1.2.3E" is not a number`},
		{"(IFCLABEL 'x')", "t.ifc, line 1, column 11: IFCLABEL is not followed by '(' (a typed value)"},
		{"(#)", "t.ifc, line 1, column 2: '#' is not followed by an instance number"},
		{"(@)", `t.ifc, line 1, column 2: "@" cannot start a value`},
	} {
		_, err := ParseParams("t.ifc", []byte(c.in))
		var se *SyntaxError
		if !errors.As(err, &se) || err.Error() != c.want {
			t.Errorf("ParseParams(%q) error = %v, want %s", c.in, err, c.want)
		}
	}
}

func TestDecodeString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`plain`, "plain"},
		{`it''s`, "it's"},
		{`a\\b`, `a\b`},
		{`C:\Temp\x`, `C:\Temp\x`}, // not escapes: kept
		{`\S\D`, "Ä"},              // 'D'+128 = 0xC4 in ISO 8859-1
		{`\PB\\S\1`, "ą"},          // 0xB1 in ISO 8859-2
		{`\PE\\S\P`, "а"},          // 0xD0 in ISO 8859-5: Cyrillic a
		{`C\X\8E`, "C\u008e"},      // one ISO 8859-1 byte, as Revit writes it
		{`\X\E9t\X\E9`, "été"},
		{`\X2\00C400D6\X0\`, "ÄÖ"},
		{`\X2\D83DDE00\X0\`, "😀"}, // a surrogate pair
		{`\X4\0001F600\X0\x`, "😀x"},
		{`Stra\X2\00DF\X0\e`, "Straße"},
		{"UTF-8 as is: Żółw", "UTF-8 as is: Żółw"},
		{"Latin-1 raw: caf\xe9", "Latin-1 raw: café"},
	} {
		got, err := DecodeString([]byte(c.in))
		if err != nil || got != c.want {
			t.Errorf("DecodeString(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{`\X2\00C`, `\X2\00G0\X0\`, `\X4\FFFFFFFF\X0\`, `a'b`, `\X\GG`} {
		got, err := DecodeString([]byte(bad))
		if err == nil {
			t.Errorf("DecodeString(%q) = %q and no error", bad, got)
		}
	}
}
