package ifcgen

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const samplesDir = "../../../testdata/ifc/samples"

// Instances per sample, from samples/expected.json.
var sampleInstances = map[string]int{
	"IfcOpenHouse_IFC4.ifc":                     2885,
	"example.ifc":                               6490,
	"Sample_entities.ifc":                       466,
	"ISSUE_044_test_IFCCOMPOSITEPROFILEDEF.ifc": 435,
	"KIT-Simple-Road-Test-Web-IFC4x3_RC2.ifc":   6500,
}

func readSample(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		tb.Fatalf("sample missing: %v", err)
	}
	return b
}

// inst is an instance as the test's own lexer sees it.
type inst struct {
	id   int64
	typ  string
	text string   // from '#' to ';'
	refs [][2]int // spans of the digits of every #n in text, the id's first
	gid  [2]int   // span of the GlobalId in text, or {0, 0}
}

// ref returns the number of the i-th #n of the instance.
func (in inst) ref(i int) int64 {
	n, _ := strconv.ParseInt(in.text[in.refs[i][0]:in.refs[i][1]], 10, 64)
	return n
}

func (in inst) globalID() string { return in.text[in.gid[0]:in.gid[1]] }

// normal returns the text with every #n replaced by #mapID(n) and the
// GlobalId by a placeholder.
func (in inst) normal(mapID func(int64) int64) string {
	var sb strings.Builder
	last := 0
	spans := slices.Clone(in.refs)
	if in.gid[1] > 0 {
		spans = append(spans, in.gid)
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	for _, s := range spans {
		sb.WriteString(in.text[last:s[0]])
		if s == in.gid {
			sb.WriteString("<GlobalId>")
		} else {
			n, _ := strconv.ParseInt(in.text[s[0]:s[1]], 10, 64)
			sb.WriteString(strconv.FormatInt(mapID(n), 10))
		}
		last = s[1]
	}
	sb.WriteString(in.text[last:])
	return sb.String()
}

// lexData splits a whole IFC file's DATA section into instances.
func lexData(t *testing.T, file []byte) []inst {
	t.Helper()
	start := bytes.Index(file, []byte("\nDATA;"))
	end := bytes.LastIndex(file, []byte("ENDSEC;"))
	if start < 0 || end < start {
		t.Fatal("no DATA section")
	}
	s := string(file[start+6 : end])
	var out []inst
	cur := -1 // start of the current instance
	var refs [][2]int
	gid := [2]int{}
	params := 0 // bytes seen since '(' at depth 1 (-1 before it)
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.HasPrefix(s[i:], "/*"):
			e := strings.Index(s[i+2:], "*/")
			if e < 0 {
				t.Fatal("unterminated comment")
			}
			i += e + 3
		case c == '\'':
			j := i + 1
			for {
				if j >= len(s) {
					t.Fatal("unterminated string")
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			if depth == 1 && params == 0 && j-i-1 == 22 && globalIDRE.MatchString(s[i+1:j]) {
				gid = [2]int{i + 1 - cur, j - cur}
			}
			params++
			i = j
		case c == '#' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			if cur < 0 {
				cur = i
				depth, params = 0, -1
			}
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			refs = append(refs, [2]int{i + 1 - cur, j - cur})
			params++
			i = j - 1
		case c == '(':
			depth++
			if depth == 1 {
				params = 0
			} else {
				params++
			}
		case c == ')':
			depth--
		case c == ';':
			if cur < 0 {
				t.Fatalf("';' outside an instance at %d", i)
			}
			in := inst{text: s[cur : i+1], refs: refs, gid: gid}
			in.id = in.ref(0)
			m := instanceRE.FindStringSubmatch(in.text)
			if m == nil {
				t.Fatalf("not an instance: %.80s", in.text)
			}
			in.typ = m[1]
			out = append(out, in)
			cur, refs, gid = -1, nil, [2]int{}
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		default:
			if params >= 0 {
				params++
			}
		}
	}
	if cur >= 0 {
		t.Fatal("unterminated instance")
	}
	return out
}

var instanceRE = regexp.MustCompile(`^#\d+\s*=\s*([A-Za-z0-9_]+)\s*\(`)

var globalIDRE = regexp.MustCompile(`^[0-9A-Za-z_$]{22}$`)

func validGlobalID(s string) bool {
	return len(s) == 22 && s[0] >= '0' && s[0] <= '3' && globalIDRE.MatchString(s)
}

func TestGenerateSamples(t *testing.T) {
	for name, want := range sampleInstances {
		t.Run(name, func(t *testing.T) {
			sample := readSample(t, name)
			testGenerate(t, sample, want, name != "example.ifc")
		})
	}
}

// testGenerate generates about 3 MB from sample and checks it.
// refsResolve says whether every reference in the sample resolves (then it
// must in the output too).
func testGenerate(t *testing.T, sample []byte, perCopy int, refsResolve bool) {
	const target = 3 << 20
	var buf bytes.Buffer
	n, err := Generate(&buf, sample, target, 1)
	if err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	if len(out) < target || len(out) > target+len(sample)+len(sample)/5 {
		t.Errorf("generated %d bytes for a target of %d", len(out), target)
	}

	// HEADER once, the same as the sample's; the file ends as the sample does.
	head := sample[:bytes.Index(sample, []byte("\nDATA;"))+6]
	if !bytes.HasPrefix(out, head) {
		t.Error("the output does not start with the sample's header")
	}
	for _, s := range []string{"FILE_NAME", "FILE_SCHEMA", "\nDATA;", "END-ISO-10303-21;"} {
		if c := bytes.Count(out, []byte(s)); c != 1 {
			t.Errorf("%q appears %d times", s, c)
		}
	}
	tail := sample[bytes.LastIndex(sample, []byte("ENDSEC;")):]
	if !bytes.HasSuffix(out, tail) {
		t.Error("the output does not end as the sample does")
	}

	src := lexData(t, sample)
	got := lexData(t, out)
	if len(src) != perCopy {
		t.Fatalf("the sample has %d instances, want %d", len(src), perCopy)
	}
	if len(got) != n {
		t.Fatalf("Generate returned %d but wrote %d instances", n, len(got))
	}
	copies := n / perCopy
	if n%perCopy != 0 || copies < 2 {
		t.Fatalf("%d instances is not a multiple (>1) of %d", n, perCopy)
	}

	// Ids unique; references resolve.
	ids := make(map[int64]bool, n)
	for _, in := range got {
		if ids[in.id] {
			t.Fatalf("id #%d defined twice", in.id)
		}
		ids[in.id] = true
	}
	if refsResolve {
		for _, in := range got {
			for i := 1; i < len(in.refs); i++ {
				if r := in.ref(i); !ids[r] {
					t.Fatalf("#%d refers to missing #%d", in.id, r)
				}
			}
		}
	}

	// GlobalIds valid and unique, as many per copy as in the sample.
	srcGids := 0
	for _, in := range src {
		if in.gid[1] > 0 {
			srcGids++
		}
	}
	gids := make(map[string]bool)
	for _, in := range got {
		if in.gid[1] == 0 {
			continue
		}
		g := in.globalID()
		if !validGlobalID(g) {
			t.Fatalf("#%d has GlobalId %q", in.id, g)
		}
		if gids[g] {
			t.Fatalf("GlobalId %s used twice", g)
		}
		gids[g] = true
	}
	if len(gids) != copies*srcGids || srcGids == 0 {
		t.Errorf("%d GlobalIds, want %d × %d", len(gids), copies, srcGids)
	}

	// Each copy, with its ids mapped back to the sample's and GlobalIds
	// blanked, is the sample's DATA section, instance for instance.
	var distinct []int64
	for _, in := range src {
		for i := range in.refs {
			distinct = append(distinct, in.ref(i))
		}
	}
	slices.Sort(distinct)
	distinct = slices.Compact(distinct)
	N := int64(len(distinct))
	for k := range copies {
		types := map[string]int{}
		for i, s := range src {
			g := got[k*perCopy+i]
			back := func(id int64) int64 {
				if id < 1 || (id-1)/N != int64(k) {
					t.Fatalf("copy %d: #%d outside the copy's ids", k, id)
				}
				return distinct[(id-1)%N]
			}
			same := func(id int64) int64 { return id }
			if g.normal(back) != s.normal(same) {
				t.Fatalf("copy %d, instance %d:\n got %s\nwant %s", k, i, g.normal(back), s.normal(same))
			}
			types[g.typ]++
			types[s.typ]--
		}
		for typ, d := range types {
			if d != 0 {
				t.Fatalf("copy %d: %d more %s than the sample", k, d, typ)
			}
		}
	}
	t.Logf("%d bytes, %d copies, %d instances, %d GlobalIds", len(out), copies, n, len(gids))
}

const tinySample = "ISO-10303-21;\n" +
	"HEADER;\n" +
	"FILE_DESCRIPTION(('ViewDefinition [x]'),'2;1');\n" +
	"FILE_NAME('tiny.ifc','2024-01-01T00:00:00',('a'),('b'),'DATA;','y','');\n" +
	"FILE_SCHEMA(('IFC4'));\n" +
	"ENDSEC;\n" +
	"DATA;\n" +
	"/* a comment with #3 and 'quote */\n" +
	"#10=IFCPERSON($,$,'O''Brien #12',$,$,$,$,$);\n" +
	"#12 = IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',#10,'it''s #12; not a ref',\n" +
	"  'multi\n" +
	"line /* no comment */',$,(#10,#12),#99);\n" +
	"#20=IFCPROPERTYSINGLEVALUE('ABCDEFGHIJKLMNOPQRSTUV',$,IFCLABEL('0123456789ABCDEFGHIJKL'),$);\n" +
	"#21=IFCLABELX($,'0123456789ABCDEFGHIJKL');\n" +
	"#22=IFCBINARYTHING(\"0FF#1\",'#10',''''/* '#10' */);\n" +
	"ENDSEC;\n" +
	"END-ISO-10303-21;\n"

// tinyCopy is the DATA section of tinySample as Generate should write it,
// with the ids 10, 12, 20, 21, 22 and 99 renumbered from base+1 on and
// <G> for a fresh GlobalId.
func tinyCopy(base int) string {
	r := strings.NewReplacer("{1}", strconv.Itoa(base+1), "{2}", strconv.Itoa(base+2), "{3}", strconv.Itoa(base+3),
		"{4}", strconv.Itoa(base+4), "{5}", strconv.Itoa(base+5), "{6}", strconv.Itoa(base+6))
	return r.Replace("/* a comment with #3 and 'quote */\n" +
		"#{1}=IFCPERSON($,$,'O''Brien #12',$,$,$,$,$);\n" +
		"#{2} = IFCWALL('<G>',#{1},'it''s #12; not a ref',\n" +
		"  'multi\n" +
		"line /* no comment */',$,(#{1},#{2}),#{6});\n" +
		"#{3}=IFCPROPERTYSINGLEVALUE('<G>',$,IFCLABEL('0123456789ABCDEFGHIJKL'),$);\n" +
		"#{4}=IFCLABELX($,'0123456789ABCDEFGHIJKL');\n" +
		"#{5}=IFCBINARYTHING(\"0FF#1\",'#10',''''/* '#10' */);")
}

func TestGenerateTiny(t *testing.T) {
	sample := []byte(tinySample)
	dataAt := strings.Index(tinySample, "\nDATA;\n") + 7
	want := tinySample[:dataAt] + tinyCopy(0) + "\n" + tinyCopy(6) + "\nENDSEC;\nEND-ISO-10303-21;\n"
	pattern := "^" + strings.ReplaceAll(regexp.QuoteMeta(want), "<G>", "([0-9A-Za-z_$]{22})") + "$"

	var buf bytes.Buffer
	n, err := Generate(&buf, sample, int64(len(sample)+10), 7)
	if err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Errorf("Generate returned %d instances, want 10", n)
	}
	m := regexp.MustCompile(pattern).FindStringSubmatch(buf.String())
	if m == nil {
		t.Fatalf("got\n%s\nwant (<G> a GlobalId)\n%s", buf.String(), want)
	}
	seen := map[string]bool{"2O2Fr$t4X7Zf8NOew3FLOH": true, "ABCDEFGHIJKLMNOPQRSTUV": true}
	for _, g := range m[1:] {
		if !validGlobalID(g) || seen[g] {
			t.Errorf("GlobalId %q is invalid, reused or not fresh", g)
		}
		seen[g] = true
	}

	// The same seed gives the same file; another seed other GlobalIds.
	var again, other bytes.Buffer
	if _, err := Generate(&again, sample, int64(len(sample)+10), 7); err != nil || !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Error("the same seed gave another output")
	}
	if _, err := Generate(&other, sample, int64(len(sample)+10), 8); err != nil || bytes.Equal(other.Bytes(), buf.Bytes()) {
		t.Error("another seed gave the same output")
	}

	// A target smaller than the sample gives one copy.
	buf.Reset()
	if n, err := Generate(&buf, sample, 1, 7); err != nil || n != 5 {
		t.Errorf("Generate with a tiny target = %d, %v; want 5 instances", n, err)
	}
	one := "^" + strings.ReplaceAll(regexp.QuoteMeta(tinySample[:dataAt]+tinyCopy(0)+"\nENDSEC;\nEND-ISO-10303-21;\n"), "<G>", "[0-9A-Za-z_$]{22}") + "$"
	if !regexp.MustCompile(one).Match(buf.Bytes()) {
		t.Errorf("one copy:\n%s", buf.String())
	}
}

func TestGenerateCRLF(t *testing.T) {
	sample := strings.ReplaceAll(tinySample, "\n", "\r\n")
	var buf bytes.Buffer
	if _, err := Generate(&buf, []byte(sample), int64(len(sample)+10), 1); err != nil {
		t.Fatal(err)
	}
	if strings.Count(buf.String(), "\n") != strings.Count(buf.String(), "\r\n") {
		t.Error("a bare LF in a CRLF file")
	}
	if !strings.Contains(buf.String(), "/* '#10' */);\r\n/* a comment") {
		t.Error("copies are not separated by CRLF")
	}
}

func TestGenerateErrors(t *testing.T) {
	for _, bad := range []string{
		"ISO-10303-21;\nHEADER;\nENDSEC;\nEND-ISO-10303-21;\n",
		"ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n",
		"ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\n#1=IFCX('a);\nENDSEC;\nEND-ISO-10303-21;\n",
		"ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\n#1=IFCX('a');\n",
		"ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\n#1=IFCX('a');/*\nENDSEC;\nEND-ISO-10303-21;\n",
	} {
		if n, err := Generate(io.Discard, []byte(bad), 1000, 1); err == nil {
			t.Errorf("no error (%d instances) for %q", n, bad)
		}
	}
}

func TestEncodeGlobalID(t *testing.T) {
	var g [22]byte
	for _, c := range []struct {
		hi, lo uint64
		want   string
	}{
		{0xC2E63FBC194A4895, 0xA7A862C9B0D5CC7B, "32vZ_y6Kf8bQUeOicmrSnx"},
		{0, 0, "0000000000000000000000"},
		{^uint64(0), ^uint64(0), "3$$$$$$$$$$$$$$$$$$$$$"},
	} {
		encodeGlobalID(&g, c.hi, c.lo)
		if string(g[:]) != c.want {
			t.Errorf("encodeGlobalID(%x, %x) = %s, want %s", c.hi, c.lo, g, c.want)
		}
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

func BenchmarkGenerate(b *testing.B) {
	sample := readSample(b, "example.ifc")
	for _, mb := range []int64{32} {
		b.Run(fmt.Sprintf("%dMB", mb), func(b *testing.B) {
			var w countingWriter
			for b.Loop() {
				w.n = 0
				if _, err := Generate(&w, sample, mb<<20, 1); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(w.n)
		})
	}
}
