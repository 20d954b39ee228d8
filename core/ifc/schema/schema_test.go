package schema

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/core/ifc/schema/internal/express"
)

// schemaDir is where the EXPRESS schemas are: $PLINTH_IFC_SCHEMAS, else
// the folder go generate uses by default.
func schemaDir() string {
	if d := os.Getenv("PLINTH_IFC_SCHEMAS"); d != "" {
		return d
	}
	return filepath.FromSlash("../../../testdata/ifc/schemas")
}

// sampleDir is where the sample IFC files are: $PLINTH_IFC_SAMPLES, else
// the samples folder next to the schemas.
func sampleDir() string {
	if d := os.Getenv("PLINTH_IFC_SAMPLES"); d != "" {
		return d
	}
	return filepath.FromSlash("../../../testdata/ifc/samples")
}

func mustGet(t testing.TB, name string) *Schema {
	t.Helper()
	s, err := Get(name)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	return s
}

func TestEntityCounts(t *testing.T) {
	// The numbers of ENTITY declarations in the EXPRESS files
	// (grep -c '^ENTITY'): IFC2X3.exp, IFC4.exp and IFC4X3.exp, the last
	// of which is IFC4X3_ADD2.
	tests := []struct {
		schema string
		want   int
	}{
		{"IFC2X3", 653},
		{"IFC4", 776},
		{"IFC4X3", 876},
	}
	for _, tt := range tests {
		s := mustGet(t, tt.schema)
		got := len(s.Entities())
		t.Logf("%s: %d entities", tt.schema, got)
		if got != tt.want {
			t.Errorf("%s: got %d entities, want %d", tt.schema, got, tt.want)
		}
	}
}

func TestAttrs(t *testing.T) {
	product := []string{"GlobalId", "OwnerHistory", "Name", "Description", "ObjectType", "ObjectPlacement", "Representation"}
	tests := []struct {
		schema, upper string
		want          []string // nil: check only the count
		count         int
	}{
		{"IFC4", "IFCWALL", append(slices.Clone(product), "Tag", "PredefinedType"), 9},
		{"IFC2X3", "IFCWALLSTANDARDCASE", append(slices.Clone(product), "Tag"), 8},
		{"IFC2X3", "IFCWALL", nil, 8},
		{"IFC4X3", "IFCWALL", nil, 9},
		{"IFC4", "IFCPRODUCT", product, 7},
		{"IFC2X3", "IFCOWNERHISTORY", []string{"OwningUser", "OwningApplication", "State", "ChangeAction",
			"LastModifiedDate", "LastModifyingUser", "LastModifyingApplication", "CreationDate"}, 8},
		{"IFC4", "IFCCARTESIANPOINT", []string{"Coordinates"}, 1},
		{"IFC4", "IFCRELAGGREGATES", []string{"GlobalId", "OwnerHistory", "Name", "Description", "RelatingObject", "RelatedObjects"}, 6},
		{"IFC4X3", "IFCALIGNMENT", append(slices.Clone(product), "PredefinedType"), 8},
		// IFC4X3_ADD2 moved PlacementRelTo up to IfcObjectPlacement:
		// IfcLocalPlacement keeps its order, IfcGridPlacement gains one.
		{"IFC4X3", "IFCLOCALPLACEMENT", []string{"PlacementRelTo", "RelativePlacement"}, 2},
		{"IFC4", "IFCLOCALPLACEMENT", []string{"PlacementRelTo", "RelativePlacement"}, 2},
		{"IFC4X3", "IFCGRIDPLACEMENT", []string{"PlacementRelTo", "PlacementLocation", "PlacementRefDirection"}, 3},
		{"IFC4", "IFCGRIDPLACEMENT", []string{"PlacementLocation", "PlacementRefDirection"}, 2},
		// Subtypes that redeclare inherited attributes with SELF\… in
		// DERIVE: the attributes keep their places (written * in STEP)
		// and nothing is added.
		{"IFC4X3", "IFCSIUNIT", []string{"Dimensions", "UnitType", "Prefix", "Name"}, 4},
		{"IFC4X3", "IFCORIENTEDEDGE", []string{"EdgeStart", "EdgeEnd", "EdgeElement", "Orientation"}, 4},
		{"IFC4X3", "IFCMIRROREDPROFILEDEF", []string{"ProfileType", "ProfileName", "ParentProfile", "Operator", "Label"}, 5},
		{"IFC4X3", "IFCGEOMETRICREPRESENTATIONSUBCONTEXT", []string{"ContextIdentifier", "ContextType",
			"CoordinateSpaceDimension", "Precision", "WorldCoordinateSystem", "TrueNorth",
			"ParentContext", "TargetScale", "TargetView", "UserDefinedTargetView"}, 10},
		{"IFC2X3", "IFCGEOMETRICREPRESENTATIONSUBCONTEXT", nil, 10},
	}
	for _, tt := range tests {
		e := mustGet(t, tt.schema).Entity(tt.upper)
		if e == nil {
			t.Errorf("%s: no entity %s", tt.schema, tt.upper)
			continue
		}
		if len(e.Attrs) != tt.count {
			t.Errorf("%s %s: got %d attributes %v, want %d", tt.schema, e.Name, len(e.Attrs), e.Attrs, tt.count)
		}
		if tt.want != nil && !slices.Equal(e.Attrs, tt.want) {
			t.Errorf("%s %s: got attributes %v, want %v", tt.schema, e.Name, e.Attrs, tt.want)
		}
	}
}

func TestEntityFields(t *testing.T) {
	tests := []struct {
		schema, upper, name, super string
		abstract                   bool
	}{
		{"IFC4", "IFCWALL", "IfcWall", "IfcBuildingElement", false},
		{"IFC4X3", "IFCWALL", "IfcWall", "IfcBuiltElement", false},
		{"IFC2X3", "IFCPRODUCT", "IfcProduct", "IfcObject", true},
		{"IFC4", "IFCPRODUCT", "IfcProduct", "IfcObject", true},
		{"IFC4X3", "IFCPRODUCT", "IfcProduct", "IfcObject", true},
		{"IFC4", "IFCROOT", "IfcRoot", "", true},
		{"IFC4", "IFCBUILDINGELEMENT", "IfcBuildingElement", "IfcElement", true},
		// IfcBuildingElement became IfcBuiltElement, and no longer abstract.
		{"IFC4X3", "IFCBUILTELEMENT", "IfcBuiltElement", "IfcElement", false},
		{"IFC4", "IFCCARTESIANPOINT", "IfcCartesianPoint", "IfcPoint", false},
	}
	for _, tt := range tests {
		e := mustGet(t, tt.schema).Entity(tt.upper)
		if e == nil {
			t.Errorf("%s: no entity %s", tt.schema, tt.upper)
			continue
		}
		super := ""
		if e.Super != nil {
			super = e.Super.Name
		}
		if e.Name != tt.name || e.Upper != tt.upper || super != tt.super || e.Abstract != tt.abstract {
			t.Errorf("%s %s: got Name %q Upper %q Super %q Abstract %t, want %q %q %q %t", tt.schema, tt.upper,
				e.Name, e.Upper, super, e.Abstract, tt.name, tt.upper, tt.super, tt.abstract)
		}
	}
	if e := mustGet(t, "IFC4X3").Entity("IFCBUILDINGELEMENT"); e != nil {
		t.Errorf("IFC4X3: got entity %s, want none (renamed IfcBuiltElement)", e.Name)
	}
	if e := mustGet(t, "IFC4").Entity("IfcWall"); e != nil {
		t.Errorf("Entity(%q): got %s, want nil (names are upper-case)", "IfcWall", e.Name)
	}
}

func TestIsProduct(t *testing.T) {
	tests := []struct {
		schema, upper string
		want          bool
	}{
		{"IFC2X3", "IFCWALL", true},
		{"IFC4", "IFCWALL", true},
		{"IFC4X3", "IFCWALL", true},
		{"IFC2X3", "IFCSITE", true},
		{"IFC4", "IFCSITE", true},
		{"IFC4", "IFCBUILDINGSTOREY", true},
		{"IFC2X3", "IFCBUILDINGSTOREY", true},
		{"IFC4", "IFCANNOTATION", true},
		{"IFC4X3", "IFCALIGNMENT", true},
		{"IFC4", "IFCPRODUCT", true},
		{"IFC4X3", "IFCOPENINGELEMENT", true},
		{"IFC4", "IFCRELAGGREGATES", false},
		{"IFC2X3", "IFCRELAGGREGATES", false},
		{"IFC4", "IFCCARTESIANPOINT", false},
		{"IFC4X3", "IFCCARTESIANPOINT", false},
		{"IFC4", "IFCOWNERHISTORY", false},
		{"IFC2X3", "IFCOWNERHISTORY", false},
		{"IFC4", "IFCOBJECT", false},
		{"IFC4", "IFCWALLTYPE", false},
		{"IFC4", "IFCPROJECT", false},
	}
	for _, tt := range tests {
		e := mustGet(t, tt.schema).Entity(tt.upper)
		if e == nil {
			t.Errorf("%s: no entity %s", tt.schema, tt.upper)
			continue
		}
		if e.IsProduct != tt.want {
			t.Errorf("%s %s: got IsProduct %t, want %t", tt.schema, e.Name, e.IsProduct, tt.want)
		}
		if got := e.Is("IfcProduct"); got != tt.want {
			t.Errorf("%s %s: got Is(IfcProduct) %t, want %t", tt.schema, e.Name, got, tt.want)
		}
	}
	// IsProduct agrees with Is everywhere.
	for _, name := range []string{"IFC2X3", "IFC4", "IFC4X3"} {
		n := 0
		for _, e := range mustGet(t, name).Entities() {
			if e.IsProduct != e.Is("IFCPRODUCT") {
				t.Errorf("%s %s: IsProduct %t but Is(IFCPRODUCT) %t", name, e.Name, e.IsProduct, !e.IsProduct)
			}
			if e.IsProduct {
				n++
			}
		}
		t.Logf("%s: %d product entities", name, n)
	}
}

func TestIs(t *testing.T) {
	wall := mustGet(t, "IFC4").Entity("IFCWALLSTANDARDCASE")
	tests := []struct {
		name string
		want bool
	}{
		{"IfcWallStandardCase", true},
		{"IfcWall", true},
		{"IFCWALL", true},
		{"ifcbuildingelement", true},
		{"IfcElement", true},
		{"IfcProduct", true},
		{"IfcRoot", true},
		{"IfcWallType", false},
		{"IfcSlab", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := wall.Is(tt.name); got != tt.want {
			t.Errorf("IfcWallStandardCase.Is(%q): got %t, want %t", tt.name, got, tt.want)
		}
	}
}

func TestEntitiesSortedAndLinked(t *testing.T) {
	for _, name := range []string{"IFC2X3", "IFC4", "IFC4X3"} {
		s := mustGet(t, name)
		list := s.Entities()
		if !sort.SliceIsSorted(list, func(i, j int) bool { return list[i].Name < list[j].Name }) {
			t.Errorf("%s: Entities not sorted by Name", name)
		}
		for _, e := range list {
			if e.Upper != strings.ToUpper(e.Name) {
				t.Errorf("%s %s: got Upper %q", name, e.Name, e.Upper)
			}
			if s.Entity(e.Upper) != e || s.EntityBytes([]byte(e.Upper)) != e {
				t.Errorf("%s: Entity(%q) is not the listed entity", name, e.Upper)
			}
			if e.Super != nil {
				if s.Entity(e.Super.Upper) != e.Super {
					t.Errorf("%s %s: Super %s is not in the table", name, e.Name, e.Super.Name)
				}
				if !slices.Equal(e.Attrs[:len(e.Super.Attrs)], e.Super.Attrs) {
					t.Errorf("%s %s: attributes %v do not start with those of %s %v", name, e.Name, e.Attrs, e.Super.Name, e.Super.Attrs)
				}
			}
			if cap(e.Attrs) != len(e.Attrs) {
				t.Errorf("%s %s: Attrs has room to grow into another entity's (len %d cap %d)", name, e.Name, len(e.Attrs), cap(e.Attrs))
			}
		}
		// Entities returns a copy.
		list[0] = nil
		if s.Entities()[0] == nil {
			t.Errorf("%s: Entities shares its slice with the caller", name)
		}
	}
}

func TestGet(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"IFC2X3", "IFC2X3", ""},
		{"IFC4", "IFC4", ""},
		{"IFC4X3", "IFC4X3", ""},
		{"ifc4x3", "IFC4X3", ""},
		{"Ifc2x3", "IFC2X3", ""},
		{"IFC4_ADD2", "", `unknown IFC schema "IFC4_ADD2"; Plinth reads IFC2X3, IFC4 and IFC4X3`},
		{"", "", `unknown IFC schema ""; Plinth reads IFC2X3, IFC4 and IFC4X3`},
	}
	for _, tt := range tests {
		s, err := Get(tt.in)
		got, gotErr := "", ""
		if s != nil {
			got = s.Name
		}
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.err {
			t.Errorf("Get(%q): got %q, %q; want %q, %q", tt.in, got, gotErr, tt.want, tt.err)
		}
	}
	a, _ := Get("ifc4")
	b, _ := Get("IFC4")
	if a != b {
		t.Errorf("Get returns different *Schema values for one schema")
	}
}

func TestForFileSchema(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"IFC2X3", "IFC2X3"},
		{"IFC2X3_TC1", "IFC2X3"},
		{"IFC2X3_FINAL", "IFC2X3"},
		{"IFC2X2_FINAL", "IFC2X3"},
		{"IFC2X2", "IFC2X3"},
		{"ifc2x3", "IFC2X3"},
		{"'IFC2X3'", "IFC2X3"},
		{" IFC2X3 ", "IFC2X3"},
		{"IFC2X3 {1 0 10303 11 1 1 1}", "IFC2X3"},
		{"IFC4", "IFC4"},
		{"IFC4_ADD1", "IFC4"},
		{"IFC4_ADD2", "IFC4"},
		{"IFC4_ADD2_TC1", "IFC4"},
		{"Ifc4_Add2_Tc1", "IFC4"},
		{"IFC4X1", "IFC4X3"},
		{"IFC4X2", "IFC4X3"},
		{"IFC4X3", "IFC4X3"},
		{"IFC4X3_RC1", "IFC4X3"},
		{"IFC4X3_RC2", "IFC4X3"},
		{"IFC4X3_RC3", "IFC4X3"},
		{"IFC4X3_RC4", "IFC4X3"},
		{"IFC4X3_ADD1", "IFC4X3"},
		{"IFC4X3_ADD2", "IFC4X3"},
		{"IFC4X3_TC1", "IFC4X3"},
		{"ifc4x3_add2", "IFC4X3"},
	}
	for _, tt := range tests {
		s, err := ForFileSchema(tt.in)
		if err != nil {
			t.Errorf("ForFileSchema(%q): got error %v, want %s", tt.in, err, tt.want)
			continue
		}
		if s.Name != tt.want {
			t.Errorf("ForFileSchema(%q): got %s, want %s", tt.in, s.Name, tt.want)
		}
		if s.Entity("IFCPRODUCT") == nil {
			t.Errorf("ForFileSchema(%q): table not built", tt.in)
		}
	}
	bad := []struct {
		in, err string
	}{
		{"FOO", `unknown IFC schema "FOO"; Plinth reads IFC2X3, IFC4 and IFC4X3`},
		{"", `unknown IFC schema ""; Plinth reads IFC2X3, IFC4 and IFC4X3`},
		{"IFC2X", `unknown IFC schema "IFC2X"; Plinth reads IFC2X3, IFC4 and IFC4X3`},
		{"IFC4X", `unknown IFC schema "IFC4X"; Plinth reads IFC2X3, IFC4 and IFC4X3`},
		{"IFC4X4", `unknown IFC schema "IFC4X4"; Plinth reads IFC2X3, IFC4 and IFC4X3`},
		{"IFC5", `unknown IFC schema "IFC5"; Plinth reads IFC2X3, IFC4 and IFC4X3`},
		{"IFC2X3X", `unknown IFC schema "IFC2X3X"; Plinth reads IFC2X3, IFC4 and IFC4X3`},
		{"IFC4ADD2", `unknown IFC schema "IFC4ADD2"; Plinth reads IFC2X3, IFC4 and IFC4X3`},
	}
	for _, tt := range bad {
		s, err := ForFileSchema(tt.in)
		if err == nil {
			t.Errorf("ForFileSchema(%q): got %s, want error %q", tt.in, s.Name, tt.err)
			continue
		}
		if err.Error() != tt.err {
			t.Errorf("ForFileSchema(%q): got error %q, want %q", tt.in, err, tt.err)
		}
	}
}

func TestEntityBytesAllocs(t *testing.T) {
	s := mustGet(t, "IFC4")
	name := []byte("IFCWALLSTANDARDCASE")
	allocs := testing.AllocsPerRun(100, func() {
		if s.EntityBytes(name) == nil {
			t.Fatal("IFCWALLSTANDARDCASE not found")
		}
	})
	if allocs != 0 {
		t.Errorf("EntityBytes: got %v allocations, want 0", allocs)
	}
}

// TestGeneratedTablesUpToDate runs the generator on the schema folder and
// checks that tables_gen.go is what it writes.
func TestGeneratedTablesUpToDate(t *testing.T) {
	dir := schemaDir()
	if _, err := os.Stat(filepath.Join(dir, "IFC4.exp")); err != nil {
		t.Fatalf("EXPRESS schemas missing (%v); set PLINTH_IFC_SCHEMAS", err)
	}
	want, _, err := express.Generate(dir)
	if err != nil {
		t.Fatalf("generating from %s: %v", dir, err)
	}
	got, err := os.ReadFile("tables_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w []byte
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if !bytes.Equal(g, w) {
				t.Fatalf("tables_gen.go is out of date (run go generate in core/ifc/schema); first difference at line %d:\ngot  %s\nwant %s", i+1, g, w)
			}
		}
	}
}

// TestSamplesProductCounts reads the sample files line by line: every
// instance "#n= IFCNAME(" must name an entity of the schema its
// FILE_SCHEMA maps to, and the numbers of instances and of product
// instances must be those of expected.json.
//
// One file does use an entity the table lacks, and that is expected: the
// KIT road model is IFC4X3_RC2, read as IFC4X3 (IFC4X3_ADD2), and RC2 still
// had IfcPresentationStyleAssignment (deprecated in IFC4, removed from
// IFC4X3 before ADD2, where IfcStyledItem.Styles holds IfcPresentationStyle
// directly). It is no product, so the product count is unaffected.
func TestSamplesProductCounts(t *testing.T) {
	dir := sampleDir()
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatalf("IFC samples missing (%v); set PLINTH_IFC_SAMPLES", err)
	}
	var expected map[string]struct {
		Schema    string `json:"schema"`
		Instances int    `json:"instances"`
		Products  int    `json:"products"`
	}
	if err := json.Unmarshal(raw, &expected); err != nil {
		t.Fatalf("expected.json: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.ifc"))
	if len(files) != len(expected) {
		t.Errorf("got %d .ifc files, expected.json lists %d", len(files), len(expected))
	}
	var (
		fileSchema = regexp.MustCompile(`^\s*FILE_SCHEMA\s*\(\s*\(\s*'([^']*)'`)
		instance   = regexp.MustCompile(`^\s*#\d+\s*=\s*([A-Za-z0-9_]*)\s*\(`)
	)
	names := make([]string, 0, len(expected))
	for name := range expected {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want := expected[name]
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var (
			s                   *Schema
			id                  string
			instances, products int
			unknown             = map[string]int{}
			complexes           int
			arity               = map[string]int{} // "IfcName n": instances with n parameters, not len(Attrs)
		)
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			line := sc.Bytes()
			if s == nil {
				if m := fileSchema.FindSubmatch(line); m != nil {
					id = string(m[1])
					if s, err = ForFileSchema(id); err != nil {
						t.Errorf("%s: %v", name, err)
						break
					}
				}
				continue
			}
			m := instance.FindSubmatch(line)
			if m == nil {
				continue
			}
			instances++
			if len(m[1]) == 0 {
				complexes++ // #n=(IFCA(…)IFCB(…)): no single entity
				continue
			}
			e := s.EntityBytes(m[1])
			if e == nil {
				unknown[string(m[1])]++
				continue
			}
			if e.IsProduct {
				products++
			}
			if n := params(line[len(m[0]):]); n != len(e.Attrs) {
				arity[e.Name+" "+strconv.Itoa(n)]++
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if s == nil {
			t.Errorf("%s: no FILE_SCHEMA", name)
			continue
		}
		t.Logf("%s: FILE_SCHEMA %s read as %s: %d instances, %d products, %d complex", name, id, s.Name, instances, products, complexes)
		if id != want.Schema {
			t.Errorf("%s: got FILE_SCHEMA %q, expected.json says %q", name, id, want.Schema)
		}
		for n, c := range unknown {
			if knownMissing[name][n] != c {
				t.Errorf("%s: %d instances of %s, which %s does not have", name, c, n, s.Name)
			}
		}
		for n, c := range knownMissing[name] {
			if unknown[n] != c {
				t.Errorf("%s: got %d instances of %s outside %s, want %d", name, unknown[n], n, s.Name, c)
			}
		}
		for k, c := range arity {
			if knownArity[name][k] != c {
				ent, n, _ := strings.Cut(k, " ")
				t.Errorf("%s: %d instances of %s with %s parameters; it has %d attributes", name, c, ent, n, len(s.Entity(strings.ToUpper(ent)).Attrs))
			}
		}
		for k, c := range knownArity[name] {
			if arity[k] != c {
				t.Errorf("%s: got %d instances of %q parameters, want %d", name, arity[k], k, c)
			}
		}
		if instances != want.Instances || products != want.Products {
			t.Errorf("%s: got %d instances, %d products; want %d, %d", name, instances, products, want.Instances, want.Products)
		}
	}
}

// knownArity counts, per sample file, the instances whose number of
// parameters is not the number of attributes of their entity:
//   - example.ifc has one IfcSpace written with the 8 parameters of an
//     element (GlobalId … Representation, Tag), an exporter's mistake;
//   - the KIT road model follows IFC4X3_RC2, where IfcRoad had no
//     PredefinedType yet (9 instead of 10) and IfcFacilityPart still had a
//     PredefinedType of its own before UsageType (11 instead of 10).
var knownArity = map[string]map[string]int{
	"example.ifc": {"IfcSpace 8": 1},
	"KIT-Simple-Road-Test-Web-IFC4x3_RC2.ifc": {"IfcRoad 9": 1, "IfcFacilityPart 11": 51},
}

// params counts the top-level parameters of an instance line after its
// opening parenthesis, up to the matching closing one. Strings may hold
// any character; a doubled quote inside one reads as two strings in a row,
// which counts the same.
func params(rest []byte) int {
	n, depth, seen := 1, 0, false
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; c {
		case '\'':
			j := bytes.IndexByte(rest[i+1:], '\'')
			if j < 0 {
				return -1
			}
			i += j + 1
			seen = true
		case '(':
			depth++
			seen = true
		case ')':
			if depth == 0 {
				if !seen {
					return 0
				}
				return n
			}
			depth--
		case ',':
			if depth == 0 {
				n++
			}
		case ' ', '\t', '\r':
		default:
			seen = true
		}
	}
	return -1
}

// knownMissing counts, per sample file, the instances of entities that the
// schema the file is read with does not have (see TestSamplesProductCounts).
var knownMissing = map[string]map[string]int{
	"KIT-Simple-Road-Test-Web-IFC4x3_RC2.ifc": {"IFCPRESENTATIONSTYLEASSIGNMENT": 66},
}

func BenchmarkEntityBytes(b *testing.B) {
	s := mustGet(b, "IFC4")
	names := [][]byte{
		[]byte("IFCCARTESIANPOINT"), []byte("IFCWALLSTANDARDCASE"), []byte("IFCPOLYLOOP"),
		[]byte("IFCRELDEFINESBYPROPERTIES"), []byte("IFCPROPERTYSINGLEVALUE"), []byte("IFCNOTANENTITY"),
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.EntityBytes(names[i%len(names)])
	}
}
