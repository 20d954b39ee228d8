package ifc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

const limitHead = "ISO-10303-21;\nHEADER;\nFILE_SCHEMA(('IFC4'));\nENDSEC;\nDATA;\n"

// allocated runs fn and returns the bytes it allocated.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// syntaxAt asserts err is a SyntaxError at line:col whose message holds want.
func syntaxAt(t *testing.T, err error, line, col int, want string) {
	t.Helper()
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != line || se.Col != col || !strings.Contains(se.Msg, want) {
		t.Fatalf("got %v, want a SyntaxError at line %d, column %d saying %q", err, line, col, want)
	}
}

// A million nested '(' once killed the process with a stack overflow (a
// fatal error nothing can recover). Now every place that reads nested
// lists stops at MaxNesting with the line and column, fast and in little
// memory: an instance, a complex instance, the header, and ParseParams.
func TestDeepNestingIsRefusedWithLineAndColumn(t *testing.T) {
	deep := strings.Repeat("(", 1_000_000)
	closed := deep + strings.Repeat(")", 1_000_000)
	for _, c := range []struct {
		what, src string
		line, col int
	}{
		{"instance", limitHead + "#1=IFCWALL(" + deep + ");\nENDSEC;\n", 6, 11 + MaxNesting},
		{"balanced, in a wall", limitHead + "#1=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH'," + closed + ");\nENDSEC;\n", 6, 36 + MaxNesting},
		{"complex instance", limitHead + "#1=(IFCA" + deep + ");\nENDSEC;\n", 6, 8 + MaxNesting},
		{"header", "ISO-10303-21;\nHEADER;\nFILE_NAME" + deep + ");\nENDSEC;\n", 3, 10 + MaxNesting},
		{"typed values", limitHead + "#1=IFCWALL(" + strings.Repeat("IFCLABEL(", 1_000_000) + ");\nENDSEC;\n", 6, 11 + 9*MaxNesting},
	} {
		t.Run(c.what, func(t *testing.T) {
			var err error
			data := []byte(c.src)
			start := time.Now()
			// Parse sets aside room for the instances, in proportion to
			// the file (not to its depth).
			n := allocated(func() { _, err = Parse(context.Background(), "deep.ifc", data) })
			syntaxAt(t, err, c.line, c.col, fmt.Sprintf("nested more than %d deep", MaxNesting))
			if d := time.Since(start); d > time.Second {
				t.Errorf("refusing took %v", d)
			}
			if n > 4<<20+uint64(len(c.src)) {
				t.Errorf("refusing allocated %d bytes for a %d-byte file", n, len(c.src))
			}
		})
	}
	// ParseParams parses without the scan first: the parser stops too.
	for what, src := range map[string]string{"list": deep, "typed": strings.Repeat("IFCLABEL(", 1_000_000)} {
		_, err := ParseParams("p", []byte("("+src))
		syntaxAt(t, err, 1, map[string]int{"list": 1 + MaxNesting, "typed": 1 + 9*(MaxNesting-1) + 9}[what], "nested more than")
	}
	// Through Open, from a file on disk.
	p := filepath.Join(t.TempDir(), "deep.ifc")
	if err := os.WriteFile(p, []byte(limitHead+"#1=IFCWALL("+closed+");\nENDSEC;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), p)
	syntaxAt(t, err, 6, 11+MaxNesting, "nested more than")
}

// Nesting up to the limit is read; one more is refused.
func TestNestingLimitIsExact(t *testing.T) {
	at := func(depth int) error {
		// The instance's own list is the first level.
		inner := strings.Repeat("(", depth-1) + "1" + strings.Repeat(")", depth-1)
		f, err := Parse(context.Background(), "n.ifc", []byte(limitHead+"#1=IFCCARTESIANPOINTLIST3D("+inner+");\nENDSEC;\n"))
		if err != nil {
			return err
		}
		_, err = f.Params(f.Instance(0), nil)
		return err
	}
	if err := at(MaxNesting); err != nil {
		t.Fatalf("nesting of %d refused: %v", MaxNesting, err)
	}
	if err := at(MaxNesting + 1); err == nil {
		t.Fatalf("nesting of %d read", MaxNesting+1)
	}
}

// chain is a file with a wall whose placement starts a chain of n
// placements, each relative to the next.
func chain(n int) []byte {
	var b bytes.Buffer
	b.WriteString(limitHead)
	b.WriteString("#1=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,'W',$,$,#2,$,$,$);\n")
	for i := 2; i < n+1; i++ {
		fmt.Fprintf(&b, "#%d=IFCLOCALPLACEMENT(#%d,$);\n", i, i+1)
	}
	fmt.Fprintf(&b, "#%d=IFCLOCALPLACEMENT($,$);\nENDSEC;\n", n+1)
	return b.Bytes()
}

// Checksums follow references recursively: a chain of 5 million
// references overflowed the 1 GB stack (a fatal error). The stack is
// lowered here so that a chain of 200,000 shows the same: the file is
// refused at MaxReferenceDepth, naming the element, instead.
func TestLongReferenceChainIsRefused(t *testing.T) {
	defer debug.SetMaxStack(debug.SetMaxStack(32 << 20))
	f, err := Parse(context.Background(), "chain.ifc", chain(200_000))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = f.Elements(context.Background())
	syntaxAt(t, err, 6, 4, fmt.Sprintf("#1 starts a chain of references more than %d instances long", MaxReferenceDepth))

	// The same through a relationship: a property set at the end of a chain.
	var b bytes.Buffer
	b.WriteString(limitHead + "#1=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,'W',$,$,$,$,$,$);\n")
	b.WriteString("#2=IFCRELDEFINESBYPROPERTIES('2k1nMz3Hz1ZuRUnjMjNOfG',$,$,$,(#1),#3);\n")
	b.WriteString("#3=IFCPROPERTYSET('3k1nMz3Hz1ZuRUnjMjNOfF',$,'P',$,(#4));\n")
	for i := 4; i < 200_000; i++ {
		fmt.Fprintf(&b, "#%d=IFCCOMPLEXPROPERTY('C',$,'U',(#%d));\n", i, i+1)
	}
	b.WriteString("#200000=IFCPROPERTYSINGLEVALUE('V',$,$,$);\nENDSEC;\n")
	if f, err = Parse(context.Background(), "rel.ifc", b.Bytes()); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.Elements(context.Background())
	syntaxAt(t, err, 7, 4, "#2 starts a chain of references more than")

	// A long but real chain is read.
	f, err = Parse(context.Background(), "chain.ifc", chain(1000))
	if err != nil {
		t.Fatal(err)
	}
	if els, _, err := f.Elements(context.Background()); err != nil || len(els) != 1 {
		t.Fatalf("a chain of 1000: %d elements, %v", len(els), err)
	}
}

// withLimit sets MaxFileSize for one test.
func withLimit(t *testing.T, n int64) {
	old := MaxFileSize
	MaxFileSize = n
	t.Cleanup(func() { MaxFileSize = old })
}

// sparse makes a file of size bytes that holds only zeros and takes no
// disk space.
func sparse(t *testing.T, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "garbage.ifc")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// A 2 GiB file of garbage cost 2.1 GB of memory before it was refused:
// it was read whole first. Now its first bytes refuse it, whatever the
// limit; and with the default limit its size refuses it before a byte is
// read.
func TestGarbageIsRefusedFromItsFirstBytes(t *testing.T) {
	p := sparse(t, 2<<30)
	t.Run("by content", func(t *testing.T) {
		withLimit(t, 3<<30)
		var err error
		start := time.Now()
		n := allocated(func() { _, err = Open(context.Background(), p) })
		syntaxAt(t, err, 1, 1, "this is not an IFC file")
		if n > 1<<20 {
			t.Errorf("refusing a 2 GiB garbage file allocated %d bytes", n)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("refusing took %v", d)
		}
	})
	t.Run("by size", func(t *testing.T) {
		var err error
		n := allocated(func() { _, err = Open(context.Background(), p) })
		if !errors.Is(err, ErrTooLarge) || err.Error() != p+" is 2.0 GiB; Plinth reads IFC files of up to 1.0 GiB (export the model in parts, e.g. by storey or discipline, and map each part)" {
			t.Fatalf("got %v", err)
		}
		if n > 64<<10 {
			t.Errorf("refusing by size allocated %d bytes", n)
		}
		if _, err := Size(p); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Size: %v", err)
		}
	})
}

// validFile is a small sound IFC file of exactly size bytes (padded with
// a comment).
func validFile(t *testing.T, size int) []byte {
	t.Helper()
	body := limitHead + "#1=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,'W',$,$,$,$,$,$);\nENDSEC;\nEND-ISO-10303-21;\n"
	pad := size - len(body) - len("/**/\n")
	if pad < 0 {
		t.Fatalf("%d bytes is too small", size)
	}
	return []byte(body + "/*" + strings.Repeat("x", pad) + "*/\n")
}

// A file of exactly MaxFileSize is read; one byte more is refused with the
// sentence that names the limit, by Open, Load and Parse alike.
func TestFileJustAboveTheLimit(t *testing.T) {
	withLimit(t, 64<<10)
	dir := t.TempDir()
	at, above := filepath.Join(dir, "at.ifc"), filepath.Join(dir, "above.ifc")
	if err := os.WriteFile(at, validFile(t, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(above, validFile(t, 64<<10+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := Open(context.Background(), at); err != nil || f.Len() != 1 {
		t.Fatalf("a file of exactly the limit: %v", err)
	}
	want := above + " is 65,537 bytes; Plinth reads IFC files of up to 65,536 bytes (export the model in parts, e.g. by storey or discipline, and map each part)"
	if _, err := Open(context.Background(), above); !errors.Is(err, ErrTooLarge) || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if _, err := Parse(context.Background(), above, validFile(t, 64<<10+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Parse: %v", err)
	}
}

// countingReader counts what was read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// endless gives x bytes for ever.
type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}

// Load checks the header on the first bytes; a file that grows while it
// is read stops at the limit.
func TestLoadChecksTheStartFirst(t *testing.T) {
	withLimit(t, 3<<30)
	ctx := context.Background()
	for _, c := range []struct{ what, start, want string }{
		{"unknown schema", "ISO-10303-21;\nHEADER;\nFILE_SCHEMA(('IFC9'));\nENDSEC;\n", `unknown IFC schema "IFC9"`},
		{"no header", "ISO-10303-21;\nDATA;\n", `line 2, column 1: expected HEADER but found "DATA;"`},
		{"bad magic", "ISO-10303-22;\n", "this is not an IFC file"},
	} {
		r := &countingReader{r: io.MultiReader(strings.NewReader(c.start), endless(' '))}
		_, err := Load(ctx, "x.ifc", r, 2<<30)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.what, err)
		}
		if r.n > firstRead {
			t.Errorf("%s: %d bytes read before refusing", c.what, r.n)
		}
	}
	// A header that never ends: refused after the header window.
	r := &countingReader{r: io.MultiReader(strings.NewReader("ISO-10303-21;\nHEADER;\nFILE_NAME('"), endless('x'))}
	if _, err := Load(ctx, "x.ifc", r, 2<<30); err == nil || !strings.Contains(err.Error(), "does not end (ENDSEC;) within the first 1.0 MiB") {
		t.Errorf("endless header: %v", err)
	}
	if r.n > headerWindow+firstRead {
		t.Errorf("endless header: %d bytes read", r.n)
	}
	// A file that says it is small but keeps growing.
	withLimit(t, 1<<20)
	var err error
	n := allocated(func() {
		_, err = Load(ctx, "grows.ifc", io.MultiReader(strings.NewReader(limitHead), endless(' ')), 1000)
	})
	if !errors.Is(err, ErrTooLarge) || err.Error() != "grows.ifc grew while it was read to more than 1.0 MiB, the most Plinth reads of an IFC file" {
		t.Fatalf("a growing file: %v", err)
	}
	if n > 8<<20 {
		t.Errorf("a growing file allocated %d bytes", n)
	}
	// A start split at the end of the first read: the byte-order mark, a
	// comment or ISO-10303-21 itself cut in two. The source says nothing
	// of the size (0).
	sound := string(validFile(t, 2000))
	for _, start := range []string{
		"\xEF\xBB\xBF" + strings.Repeat(" ", firstRead-4) + "/* c */" + sound,
		strings.Repeat(" ", firstRead-3) + sound,
		strings.Repeat("\n", firstRead-1) + sound,
	} {
		got, err := Load(ctx, "split.ifc", strings.NewReader(start), 0)
		if err != nil || string(got) != start {
			t.Fatalf("a start split by the first read: %v", err)
		}
		if _, err := Parse(ctx, "split.ifc", got); err != nil {
			t.Fatal(err)
		}
	}
	// A file of the size it says, read through a slow reader, is whole.
	want := validFile(t, 100<<10)
	got, err := Load(ctx, "ok.ifc", io.LimitReader(&oneByte{bytes.NewReader(want)}, 1<<30), int64(len(want)))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Load of a sound file: %d bytes, %v", len(got), err)
	}
}

// oneByte reads at most a byte at a time at first, like a slow share.
type oneByte struct{ r *bytes.Reader }

func (o *oneByte) Read(p []byte) (int, error) {
	if o.r.Len() > 90<<10 && len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

// Instances keep their byte offsets in 32 bits: a file above 4 GiB would
// wrap them silently, so it is refused whatever MaxFileSize says.
func TestOffsetsBoundTheLimit(t *testing.T) {
	withLimit(t, 8<<30)
	p := sparse(t, 5<<30)
	if _, err := Size(p); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "is 5.0 GiB; Plinth reads IFC files of up to 4.0 GiB") {
		t.Fatalf("a 5 GiB file with an 8 GiB limit: %v", err)
	}
	if err := CheckSize("x.ifc", maxOffset); err != nil {
		t.Fatalf("4 GiB - 1: %v", err)
	}
}
