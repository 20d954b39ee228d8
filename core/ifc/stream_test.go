package ifc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// viaParse is what Load, Parse and File.Elements give for data, as a Model.
func viaParse(name string, data []byte) (*Model, error) {
	ctx := context.Background()
	f, err := Parse(ctx, name, data)
	if err != nil {
		return nil, err
	}
	els, warns, err := f.Elements(ctx)
	if err != nil {
		return nil, err
	}
	m := &Model{Name: name, SchemaID: f.SchemaID, Schema: f.Schema, Header: f.Header, Instances: f.Len(), Bytes: int64(len(data)),
		Unknown: f.Unknown, Elements: els, Warnings: warns}
	m.Geo, m.HasGeo = f.GeoReference()
	return m, nil
}

// sameAsParse checks that Read gives for data exactly what Parse and
// Elements give — elements, checksums, warnings, counts, header, place
// on earth, or the same error — read whole, a byte at a time, and
// through a window so small that most instances cross its end.
func sameAsParse(t *testing.T, name string, data []byte) {
	t.Helper()
	want, wantErr := viaParse(name, data)
	readers := []struct {
		what   string
		r      func() io.Reader
		window int
		budget int // waitBudget
	}{
		{"whole", func() io.Reader { return bytes.NewReader(data) }, readWindow, waitBudget},
		{"half reads, 64-byte window, waiting instances in a temporary file", func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) }, 64, 0},
		{"one byte at a time, 1 KiB window", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) }, 1 << 10, 200},
	}
	if len(data) > 2<<20 {
		readers = readers[:2] // a byte at a time is slow on the big samples
	}
	for _, rd := range readers {
		func() {
			defer func(w, b, sb int) { readWindow, waitBudget, spillBlock = w, b, sb }(readWindow, waitBudget, spillBlock)
			readWindow, waitBudget = rd.window, rd.budget
			if rd.budget == 0 {
				spillBlock = 64 // blocks read forwards and backwards
			}
			sum := sha256.New()
			got, err := ReadSum(context.Background(), name, rd.r(), int64(len(data)), sum)
			if want := sha256.Sum256(data); err == nil && !bytes.Equal(sum.Sum(nil), want[:]) {
				t.Errorf("%s, %s: the SHA-256 of what was read is not the file's", name, rd.what)
			}
			switch {
			case wantErr != nil || err != nil:
				if fmt.Sprint(err) != fmt.Sprint(wantErr) {
					t.Errorf("%s, %s: error\n got: %v\nwant: %v", name, rd.what, err, wantErr)
				}
				return
			}
			if !reflect.DeepEqual(got.Elements, want.Elements) {
				t.Errorf("%s, %s: %d elements differ from Parse's %d", name, rd.what, len(got.Elements), len(want.Elements))
				for i := range min(len(got.Elements), len(want.Elements)) {
					if got.Elements[i] != want.Elements[i] {
						t.Errorf("first difference:\n got %+v\nwant %+v", got.Elements[i], want.Elements[i])
						break
					}
				}
			}
			if !reflect.DeepEqual(got.Warnings, want.Warnings) {
				t.Errorf("%s, %s: warnings\n got %v\nwant %v", name, rd.what, got.Warnings, want.Warnings)
			}
			got.Elements, got.Warnings, want.Elements, want.Warnings = nil, nil, nil, nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s, %s:\n got %+v\nwant %+v", name, rd.what, got, want)
			}
			want.Elements, want.Warnings, _ = func() ([]Element, []Warning, error) { m, _ := viaParse(name, data); return m.Elements, m.Warnings, nil }()
		}()
	}
}

func TestReadIsParseOnSamples(t *testing.T) {
	for name := range samples(t) {
		data, err := os.ReadFile(filepath.Join(samplesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		sameAsParse(t, name, data)
	}
}

func TestReadIsParseOnOddFiles(t *testing.T) {
	cases := map[string]string{
		"small": small,
		// A cycle, a reference to nothing, and an element that reaches both
		// through an instance that comes before them.
		"cycle and missing": limitHead +
			"#1=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,'W',$,$,#2,$,$,$);\n" +
			"#2=IFCLOCALPLACEMENT(#3,#4);\n#3=IFCLOCALPLACEMENT(#2,$);\n" +
			"#4=IFCAXIS2PLACEMENT3D(#99,$,$);\n" +
			"#5=IFCWALL('3O2Fr$t4X7Zf8NOew3FLOH',$,'W2',$,$,#3,$,$,$);\n" +
			"#6=IFCWALL('3O2Fr$t4X7Zf8NOew3FLOH',$,'dup',$,$,$,$,$,$);\n" +
			"#7=IFCWALL('bad',$,'W3',$,$,#4,$,$,$);\n" +
			"#8=IFCWALL('1O2Fr$t4X7Zf8NOew3FLOH',$,'Self',$,$,#8,$,$,$);\nENDSEC;\nEND-ISO-10303-21;\n",
		// Property sets before and after the walls they describe, a
		// relationship to a product (left out), escapes in names.
		"relationships": limitHead +
			"#10=IFCPROPERTYSINGLEVALUE('A',$,IFCLABEL('1'),$);\n" +
			"#11=IFCPROPERTYSET('3k1nMz3Hz1ZuRUnjMjNOfF',$,'P',$,(#10));\n" +
			"#12=IFCRELDEFINESBYPROPERTIES('2k1nMz3Hz1ZuRUnjMjNOfG',$,$,$,(#1,#2),#11);\n" +
			"#13=IFCRELDEFINESBYPROPERTIES('2k1nMz3Hz1ZuRUnjMjNOfH',$,$,$,(#2),#14);\n" +
			"#1=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,'W \\X2\\00C4\\X0\\',$,$,$,$,$,$);\n" +
			"#2=IFCDOOR('1O2Fr$t4X7Zf8NOew3FLOH',$,'D \\S\\',$,$,$,$,$,$,$,$,$,$);\n" +
			"#14=IFCPROPERTYSET('3k1nMz3Hz1ZuRUnjMjNOfX',$,'Q',$,(#15));\n" +
			"#15=IFCPROPERTYSINGLEVALUE('B',$,IFCLABEL('2'),$);\n" +
			"#16=IFCRELCONTAINEDINSPATIALSTRUCTURE('1k1nMz3Hz1ZuRUnjMjNOfE',$,$,$,(#1),#17);\n" +
			"#17=IFCBUILDINGSTOREY('0k1nMz3Hz1ZuRUnjMjNOfD',$,'L1',$,$,$,$,$,.ELEMENT.,0.);\n" +
			"#18=IFCPROJECTEDCRS('EPSG:25832',$,$,$,$,$,$);\n" +
			"#19=IFCMAPCONVERSION(#20,#18,500000.,5500000.,10.,1.,0.,$);\n" +
			"#20=IFCGEOMETRICREPRESENTATIONCONTEXT($,'Model',3,$,#21,$);\n" +
			"#21=IFCAXIS2PLACEMENT3D(#22,$,$);\n#22=IFCCARTESIANPOINT((0.,0.,0.));\n" +
			"ENDSEC;\nDATA;\n#30=IFCWALL('0O2Fr$t4X7Zf8NOew3FLOH',$,'In a second DATA',$,$,$,$,$,$);\nENDSEC;\n",
		"no END-ISO":    limitHead + "#1=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,'W',$,$,$,$,$,$);\nENDSEC;\n",
		"unknown types": limitHead + "#1=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,'W',$,$,#2,$,$,$);\n#2=IFCSOMETHING(1);\n#3=ifcwall('1O2Fr$t4X7Zf8NOew3FLOH',$,$,$,$,$,$,$,$);\nENDSEC;\n",
		"sparse ids":    limitHead + "#9000000000=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,'W',$,$,#1,$,$,$);\n#1=IFCLOCALPLACEMENT($,$);\n#5=IFCWALL('1O2Fr$t4X7Zf8NOew3FLOH',$,'W',$,$,#9000000000,$,$,$);\nENDSEC;\n",
		"chain of 1000": string(chain(1000)),
	}
	// The broken files of TestBrokenFilesSayWhere, and more.
	for what, pair := range map[string][2]string{
		"unclosed list":   {"#23=IFCCARTESIANPOINT((0.,0.,0.));", "#23=IFCCARTESIANPOINT((0.,0.,0.);"},
		"duplicate id":    {"#21=IFCLOCALPLACEMENT", "#20=IFCLOCALPLACEMENT"},
		"no equals":       {"#22=IFCAXIS", "#22 IFCAXIS"},
		"no ENDSEC":       {"ENDSEC;\nEND-ISO", "END-ISO"},
		"unclosed string": {"'Wall A'", "'Wall A"},
		"bad value":       {"'W-1',.STANDARD.", "'W-1',.STAND"},
		"garbage at end":  {"END-ISO-10303-21;", "GARBAGE;"},
		"no type":         {"#6=IFCPERSON", "#6=(IFCPERSON"},
		"comment open":    {"/* a comment between instances */", "/* a comment between instances"},
		"dup then error":  {"#21=IFCLOCALPLACEMENT(#22,", "#20=IFCLOCALPLACEMENT(#22,"},
	} {
		cases[what] = strings.Replace(small, pair[0], pair[1], 1)
	}
	cases["dup then error"] = strings.Replace(cases["dup then error"], "#41=IFCPROPERTYSET(", "#41=IFCPROPERTYSET((", 1)
	for name, src := range cases {
		sameAsParse(t, name, []byte(src))
	}
}

// The fuzzer's corpus holds files that once broke the reader.
func TestReadIsParseOnFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skip("no corpus")
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		data, ok := corpusBytes(b)
		if !ok {
			continue
		}
		sameAsParse(t, e.Name(), data)
	}
}

// corpusBytes takes the []byte of a one-value corpus file of go test -fuzz.
func corpusBytes(b []byte) ([]byte, bool) {
	lines := strings.SplitN(string(b), "\n", 2)
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "go test fuzz v1") {
		return nil, false
	}
	v := strings.TrimSpace(lines[1])
	if !strings.HasPrefix(v, "[]byte(") || !strings.HasSuffix(v, ")") {
		return nil, false
	}
	var s string
	if _, err := fmt.Sscanf(v[len("[]byte("):len(v)-1], "%q", &s); err != nil {
		return nil, false
	}
	return []byte(s), true
}

// Instances that wait beyond the memory budget go to a temporary file; a
// file that cannot be made fails the read with a sentence, not a panic or
// a wrong checksum, and nothing is left behind.
func TestWaitingSpillFailsWithASentence(t *testing.T) {
	defer func(b int) { waitBudget = b }(waitBudget)
	waitBudget = 0
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	src := limitHead + "#1=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,'W',$,$,#2,$,$,$);\n#2=IFCLOCALPLACEMENT($,$);\nENDSEC;\n"
	_, err := Read(context.Background(), "ahead.ifc", strings.NewReader(src), int64(len(src)))
	if err == nil || !strings.Contains(err.Error(), "ahead.ifc: a temporary file to hold what the file refers ahead to cannot be made") {
		t.Fatalf("got %v", err)
	}
	// With a place for it, the same file reads.
	t.Setenv("TMPDIR", t.TempDir())
	m, err := Read(context.Background(), "ahead.ifc", strings.NewReader(src), int64(len(src)))
	if err != nil || len(m.Elements) != 1 {
		t.Fatalf("%v, %+v", err, m)
	}
	if left, _ := os.ReadDir(os.Getenv("TMPDIR")); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// A chain of references that points back through the file is hashed as
// it is read, whatever its length; Parse and Elements, which follow it
// recursively, refuse it past MaxReferenceDepth. The same chain pointing
// forward (limits_test.go) is refused by both.
func TestReadLongBackwardChain(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(limitHead)
	const n = 3 * MaxReferenceDepth
	b.WriteString("#1=IFCCARTESIANPOINT((0.,0.,0.));\n")
	for i := 2; i <= n; i++ {
		fmt.Fprintf(&b, "#%d=IFCLOCALPLACEMENT(#%d,$);\n", i, i-1)
	}
	fmt.Fprintf(&b, "#%d=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,'W',$,$,#%d,$,$,$);\nENDSEC;\n", n+1, n)
	m, err := Read(context.Background(), "back.ifc", bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil || len(m.Elements) != 1 || len(m.Warnings) != 0 {
		t.Fatalf("%v, %+v", err, m)
	}
	// Renumbering the chain changes nothing.
	again := strings.ReplaceAll(b.String(), "#", "#1")
	m2, err := Read(context.Background(), "back.ifc", strings.NewReader(again), int64(len(again)))
	if err != nil || m2.Elements[0].Checksum != m.Elements[0].Checksum {
		t.Fatalf("renumbered: %v, %+v", err, m2)
	}
}
