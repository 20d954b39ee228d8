package ifc

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// A small IFC4 file: forward references, ids out of order, a complex
// instance, a comment, a property set on the wall, a storey holding it.
const small = `ISO-10303-21;
HEADER;
FILE_DESCRIPTION(('ViewDefinition [CoordinationView]'),'2;1');
FILE_NAME('small.ifc','2026-11-25T10:00:00',('Anna'),('Studio \X2\00C4\X0\'),'tool','Plinth test','');
FILE_SCHEMA(('IFC4'));
ENDSEC;
DATA;
#100=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',#5,'Wall A',$,$,#20,$,'W-1',.STANDARD.);
#5=IFCOWNERHISTORY(#6,#7,$,.ADDED.,$,$,$,1700000000);
#6=IFCPERSONANDORGANIZATION($,$,$);
#7=IFCAPPLICATION($,'1','Tool','T');
/* a comment between instances */
#20=IFCLOCALPLACEMENT(#21,#22);
#21=IFCLOCALPLACEMENT($,#22);
#22=IFCAXIS2PLACEMENT3D(#23,$,$);
#23=IFCCARTESIANPOINT((0.,0.,0.));
#30=IFCBUILDINGSTOREY('0k1nMz3Hz1ZuRUnjMjNOfD',#5,'Level 1',$,$,#21,$,$,.ELEMENT.,0.);
#31=IFCRELCONTAINEDINSPATIALSTRUCTURE('1k1nMz3Hz1ZuRUnjMjNOfE',#5,$,$,(#100),#30);
#40=IFCPROPERTYSINGLEVALUE('FireRating',$,IFCLABEL('F90'),$);
#41=IFCPROPERTYSET('3k1nMz3Hz1ZuRUnjMjNOfF',#5,'Pset_WallCommon',$,(#40));
#42=IFCRELDEFINESBYPROPERTIES('2k1nMz3Hz1ZuRUnjMjNOfG',#5,$,$,(#100),#41);
#50=(IFCLENGTHMEASURE(1.)IFCNAMEDUNIT(*,.LENGTHUNIT.));
ENDSEC;
END-ISO-10303-21;
`

func parse(t *testing.T, src string) *File {
	t.Helper()
	f, err := Parse(context.Background(), "small.ifc", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func elements(t *testing.T, f *File) (map[string]Element, []Warning) {
	t.Helper()
	els, warns, err := f.Elements(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]Element{}
	for _, e := range els {
		m[e.GlobalID] = e
	}
	return m, warns
}

func TestParseSmallFile(t *testing.T) {
	f := parse(t, small)
	if f.SchemaID != "IFC4" || f.Schema.Name != "IFC4" || f.Len() != 14 {
		t.Fatalf("schema %s, %d instances", f.SchemaID, f.Len())
	}
	if f.Header.Organization[0] != "Studio Ä" || f.Header.Name != "small.ifc" || f.Header.OriginatingSystem != "Plinth test" {
		t.Fatalf("header %+v", f.Header)
	}
	c, ok := f.Get(50)
	if !ok || c.Entity != nil {
		t.Fatal("complex instance #50")
	}
	parts, err := f.Params(c, nil)
	if err != nil || len(parts) != 2 || parts[1].Str != "IFCNAMEDUNIT" || parts[1].List[1].Str != "LENGTHUNIT" {
		t.Fatalf("complex params %v %v", parts, err)
	}
	els, warns := elements(t, f)
	if len(els) != 2 || len(warns) != 0 {
		t.Fatalf("elements %v, warnings %v", els, warns)
	}
	w := els["2O2Fr$t4X7Zf8NOew3FLOH"]
	if w.Type != "IfcWall" || w.GlobalID != "2O2Fr$t4X7Zf8NOew3FLOH" || w.Tag != "W-1" || w.ID != 100 || w.Line != 8 {
		t.Fatalf("wall %+v", w)
	}
}

// renumber gives every instance a new id (reversed order) and moves the
// instances around, as a re-export might.
func renumber(src string) string {
	re := regexp.MustCompile(`#(\d+)`)
	out := re.ReplaceAllStringFunc(src, func(m string) string {
		n, _ := strconv.Atoi(m[1:])
		return "#" + strconv.Itoa(1000-n)
	})
	// Reverse the order of the instance lines.
	lines := strings.Split(out, "\n")
	var head, body, tail []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "#"):
			body = append(body, l)
		case len(body) == 0:
			head = append(head, l)
		default:
			tail = append(tail, l)
		}
	}
	for i, j := 0, len(body)-1; i < j; i, j = i+1, j-1 {
		body[i], body[j] = body[j], body[i]
	}
	return strings.Join(append(append(head, body...), tail...), "\n")
}

func TestChecksums(t *testing.T) {
	const wall, storey = "2O2Fr$t4X7Zf8NOew3FLOH", "0k1nMz3Hz1ZuRUnjMjNOfD"
	base, _ := elements(t, parse(t, small))
	check := func(what, src string, changed ...string) {
		t.Helper()
		got, _ := elements(t, parse(t, src))
		for name, e := range base {
			g, ok := got[name]
			if !ok {
				t.Errorf("%s: %s is gone", what, name)
				continue
			}
			want := false
			for _, c := range changed {
				want = want || c == name
			}
			if (g.Checksum != e.Checksum) != want {
				t.Errorf("%s: %s changed = %v, want %v", what, name, g.Checksum != e.Checksum, want)
			}
		}
	}
	check("renumbered and reordered", renumber(small))
	check("white space", strings.ReplaceAll(small, ",", " , "))
	check("a new export time in the owner history", strings.Replace(small, "1700000000", "1800000000", 1))
	check("wall renamed", strings.Replace(small, "'Wall A'", "'Wall B'", 1), wall)
	check("placement moved", strings.Replace(small, "IFCCARTESIANPOINT((0.,0.,0.))", "IFCCARTESIANPOINT((1.,0.,0.))", 1), wall, storey)
	check("fire rating changed", strings.Replace(small, "'F90'", "'F120'", 1), wall)
	check("storey renamed", strings.Replace(small, "'Level 1'", "'Ground floor'", 1), storey)
}

func TestMissingReferenceIsAWarning(t *testing.T) {
	src := strings.Replace(small, "#20=IFCLOCALPLACEMENT(#21,#22);", "#20=IFCLOCALPLACEMENT(#21,#99);", 1)
	els, warns := elements(t, parse(t, src))
	if len(els) != 2 {
		t.Fatalf("%d elements", len(els))
	}
	if len(warns) != 1 || warns[0].GlobalID != "2O2Fr$t4X7Zf8NOew3FLOH" || warns[0].Msg != "#100 IfcWall refers to #99, which does not exist" || warns[0].Line != 8 {
		t.Fatalf("warnings %v", warns)
	}
}

func TestDuplicateGlobalIDIsAWarning(t *testing.T) {
	src := strings.Replace(small, "'0k1nMz3Hz1ZuRUnjMjNOfD'", "'2O2Fr$t4X7Zf8NOew3FLOH'", 1)
	els, warns := elements(t, parse(t, src))
	if len(els) != 1 || len(warns) != 1 || !strings.Contains(warns[0].Msg, "has the same GlobalId as #100 on line 8") {
		t.Fatalf("elements %v warnings %v", els, warns)
	}
}

func TestBrokenFilesSayWhere(t *testing.T) {
	for _, c := range []struct{ what, src, want string }{
		{"not IFC", "hello", "small.ifc, line 1, column 1: this is not an IFC file: it does not start with ISO-10303-21;"},
		{"unclosed list", strings.Replace(small, "#23=IFCCARTESIANPOINT((0.,0.,0.));", "#23=IFCCARTESIANPOINT((0.,0.,0.);", 1),
			"small.ifc, line 16, column 22: the parameter list that starts here is not closed before ';' (a ')' is missing)"},
		{"duplicate id", strings.Replace(small, "#21=IFCLOCALPLACEMENT", "#20=IFCLOCALPLACEMENT", 1), "small.ifc, line 14, column 5: #20 is defined twice (first on line 13)"},
		{"no equals", strings.Replace(small, "#22=IFCAXIS", "#22 IFCAXIS", 1), "small.ifc, line 15, column 5: #22 is not followed by '='"},
		{"no ENDSEC", strings.Replace(small, "ENDSEC;\nEND-ISO", "END-ISO", 1), "small.ifc, line 23, column 1: expected an instance (#n=…) or ENDSEC but found \"END-ISO-10303-21;\""},
		{"unknown schema", strings.Replace(small, "'IFC4'", "'IFC5'", 1), `small.ifc: unknown IFC schema "IFC5"`},
		{"unclosed string", strings.Replace(small, "'Wall A'", "'Wall A", 1), "small.ifc, line 21, column 54: a string is not closed"},
	} {
		_, err := Parse(context.Background(), "small.ifc", []byte(c.src))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant: %s", c.what, err, c.want)
		}
	}
	var se *SyntaxError
	_, err := Parse(context.Background(), "small.ifc", []byte("hello"))
	if !errors.As(err, &se) || se.Line != 1 {
		t.Errorf("not a SyntaxError: %v", err)
	}
}

func TestGeoReference(t *testing.T) {
	src := strings.Replace(small, "#50=", `#60=IFCPROJECTEDCRS('EPSG:25832',$,'ETRS89',$,$,$,$);
#61=IFCMAPCONVERSION(#62,#60,385000.5,5800000.25,35.,1.,0.,$);
#62=IFCGEOMETRICREPRESENTATIONCONTEXT($,'Model',3,1.E-05,#22,$);
#50=`, 1)
	g, ok := parse(t, src).GeoReference()
	if !ok || g.Source != "IfcMapConversion" || g.CRS != "EPSG:25832" || g.Eastings != 385000.5 || g.Northings != 5800000.25 || g.Scale != 1 {
		t.Fatalf("geo %+v %v", g, ok)
	}
	site := strings.Replace(small, "#50=", `#70=IFCSITE('1O2Fr$t4X7Zf8NOew3FLOH',#5,'Site',$,$,$,$,$,.ELEMENT.,(52,31,12,500000),(13,24,0,0),34.5,$,$);
#50=`, 1)
	g, ok = parse(t, site).GeoReference()
	if !ok || g.Source != "IfcSite" || g.Latitude < 52.5201 || g.Latitude > 52.5202 || g.Longitude != 13.4 || g.Elevation != 34.5 {
		t.Fatalf("site geo %+v %v", g, ok)
	}
	if _, ok := parse(t, small).GeoReference(); ok {
		t.Fatal("a file without georeference has one")
	}
}
