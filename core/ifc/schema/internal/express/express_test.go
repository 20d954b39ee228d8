package express

import (
	"slices"
	"strings"
	"testing"
)

// A schema with the awkward corners of EXPRESS that the IFC files use or
// could use: nested and multi-line comments, -- comments, strings holding
// comment marks and semicolons, a SUPERTYPE clause over several lines,
// attribute types over several lines, several names in one declaration,
// SELF\ redeclarations in the explicit and DERIVE sections, RENAMED, and
// two supertypes.
const sample = `(* header comment
   ENTITY NotAnEntity; END_ENTITY; (* nested *) still a comment *)
SCHEMA TEST_SCHEMA;

TYPE IfcLabel = STRING;
END_TYPE;

ENTITY IfcRoot
 ABSTRACT SUPERTYPE OF (ONEOF
    (IfcObject
    ,IfcRel));
	GlobalId : IfcLabel;
	Name : OPTIONAL IfcLabel; (* trailing ; comment *)
 UNIQUE
	UR1 : GlobalId;
END_ENTITY;

ENTITY IfcObject
 SUBTYPE OF (IfcRoot);
	Points : LIST [1:?] OF
	   LIST [2:3] OF IfcLabel;
	A, B : OPTIONAL IfcLabel;
	(* a comment between attributes *)
	Tag -- a line comment; with a semicolon
	    : IfcLabel;
 DERIVE
	SELF\IfcRoot.Name : IfcLabel := 'x;(*y*)';
 WHERE
	WR1 : SIZEOF(QUERY(p <* Points | (p = 'END_ENTITY;'))) >= 0;
END_ENTITY;

ENTITY IfcRel
 ABSTRACT
 SUBTYPE OF (IfcRoot);
	SELF\IfcRoot.GlobalId : IfcLabel;
	SELF\IfcRoot.Name RENAMED Label : IfcLabel;
	Related : SET [1:?] OF IfcObject;
END_ENTITY;

ENTITY IfcMixin;
	Colour : IfcLabel;
	Tag : IfcLabel;
END_ENTITY;

ENTITY IfcBoth
 SUBTYPE OF (IfcObject, IfcMixin);
	Own : IfcLabel;
END_ENTITY;

END_SCHEMA;
`

func TestParse(t *testing.T) {
	s, err := Parse([]byte(strings.ReplaceAll(sample, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != "TEST_SCHEMA" {
		t.Errorf("got ID %q, want TEST_SCHEMA", s.ID)
	}
	type want struct {
		name       string
		abstract   bool
		supers     []string
		attrs      []string
		redeclared []string
		derived    []string
	}
	wants := []want{
		{"IfcRoot", true, nil, []string{"GlobalId", "Name"}, nil, nil},
		{"IfcObject", false, []string{"IfcRoot"}, []string{"Points", "A", "B", "Tag"}, nil, []string{"IfcRoot.Name"}},
		{"IfcRel", true, []string{"IfcRoot"}, []string{"Related"}, []string{"IfcRoot.GlobalId", "IfcRoot.Name"}, nil},
		{"IfcMixin", false, nil, []string{"Colour", "Tag"}, nil, nil},
		{"IfcBoth", false, []string{"IfcObject", "IfcMixin"}, []string{"Own"}, nil, nil},
	}
	if len(s.Entities) != len(wants) {
		t.Fatalf("got %d entities, want %d", len(s.Entities), len(wants))
	}
	for i, w := range wants {
		e := s.Entities[i]
		if e.Name != w.name || e.Abstract != w.abstract || !slices.Equal(e.Supers, w.supers) ||
			!slices.Equal(e.Attrs, w.attrs) || !slices.Equal(e.Redeclared, w.redeclared) || !slices.Equal(e.Derived, w.derived) {
			t.Errorf("entity %d:\ngot  %s %t %v %v %v %v\nwant %s %t %v %v %v %v", i,
				e.Name, e.Abstract, e.Supers, e.Attrs, e.Redeclared, e.Derived,
				w.name, w.abstract, w.supers, w.attrs, w.redeclared, w.derived)
		}
	}

	r, err := Resolve(Source{"TEST", "test.exp"}, s)
	if err != nil {
		t.Fatal(err)
	}
	i := r.Index["IfcBoth"]
	if got := r.Entities[r.Super[i]].Name; got != "IfcObject" {
		t.Errorf("IfcBoth: got Super %s, want IfcObject", got)
	}
	// Tag comes from both supertypes and is kept once.
	if got, want := r.Own[i], []string{"Colour", "Own"}; !slices.Equal(got, want) {
		t.Errorf("IfcBoth: got own attributes %v, want %v", got, want)
	}
	if len(r.Notes) == 0 || !strings.Contains(strings.Join(r.Notes, "\n"), "IfcBoth has 2 supertypes") {
		t.Errorf("no note on the two supertypes of IfcBoth: %q", r.Notes)
	}
	src, err := Write([]*Resolved{r})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(src), Header+"\n") {
		t.Errorf("generated source does not start with the header:\n%s", src)
	}
	for _, line := range []string{
		`{"IfcRel", "IFCREL", 4, true, []string{"Related"}},`,
		`{"IfcRoot", "IFCROOT", -1, true, []string{"GlobalId", "Name"}},`,
	} {
		if !strings.Contains(string(src), line) {
			t.Errorf("generated source lacks %s:\n%s", line, src)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, src, err string
	}{
		{"no schema", "ENTITY A; END_ENTITY;", "no SCHEMA declaration"},
		{"open comment", "SCHEMA S; (* ENTITY A;", "line 1: comment not closed"},
		{"open string", "SCHEMA S; ENTITY A; WHERE W : 'x;\nEND_ENTITY;", "line 1: string not closed"},
		{"no end", "SCHEMA S;\nENTITY A;\n X : INTEGER;\n", "line 2: A: END_ENTITY missing"},
		{"bad header", "SCHEMA S;\nENTITY A FOO; END_ENTITY;", `line 2: A: unexpected "FOO" in the entity header`},
		{"no type", "SCHEMA S;\nENTITY A;\n X : ;\nEND_ENTITY;", "A: line 3: attribute without a type"},
		{"derived explicit", "SCHEMA S;\nENTITY A;\n X : INTEGER := 1;\nEND_ENTITY;", "A: line 3: derived attribute (:=) among the explicit ones"},
		{"derived explicit, no type", "SCHEMA S;\nENTITY A;\n X := 1;\nEND_ENTITY;", "A: line 3: derived attribute (:=) among the explicit ones"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.src))
		if err == nil || err.Error() != tt.err {
			t.Errorf("%s: got error %v, want %q", tt.name, err, tt.err)
		}
	}
	resolveErrs := []struct {
		name, src, err string
	}{
		{"undeclared super", "SCHEMA S;\nENTITY A SUBTYPE OF (B); END_ENTITY;", "t.exp: A (line 2) is a subtype of undeclared B"},
		{"cycle", "SCHEMA S; ENTITY A SUBTYPE OF (B); END_ENTITY; ENTITY B SUBTYPE OF (A); END_ENTITY;", "t.exp: inheritance cycle through A"},
		{"twice", "SCHEMA S; ENTITY A; X : INTEGER; END_ENTITY;\nENTITY B SUBTYPE OF (A); X : INTEGER; END_ENTITY;", "t.exp: B (line 2) declares attribute X again"},
		{"case clash", "SCHEMA S; ENTITY Ab; END_ENTITY;\nENTITY AB; END_ENTITY;", "t.exp: entity Ab (line 1) clashes with AB"},
		{"bad redeclaration", "SCHEMA S; ENTITY A; X : INTEGER; END_ENTITY;\nENTITY B SUBTYPE OF (A); SELF\\A.Y : INTEGER; END_ENTITY;", `t.exp: B (line 2) redeclares A.Y, which it does not inherit`},
	}
	for _, tt := range resolveErrs {
		s, err := Parse([]byte(tt.src))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		_, err = Resolve(Source{"T", "t.exp"}, s)
		if err == nil || err.Error() != tt.err {
			t.Errorf("%s: got error %v, want %q", tt.name, err, tt.err)
		}
	}
}
