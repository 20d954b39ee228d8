package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/core/ifc"
)

// The corpus of bench ifc, at 1 MiB: every real sample gives a file that
// Plinth's reader parses to a whole number (≥ 2) of copies of the sample,
// with as many distinct elements as GlobalIds; a file ifcgen cannot
// replicate is left out with one line, without stopping the others.
func TestBenchIFCCorpus(t *testing.T) {
	ctx := context.Background()
	samples, _ := filepath.Glob(filepath.Join("..", ifcSamplesFolder, "*.ifc"))
	if len(samples) != 5 {
		t.Fatalf("%d samples, want 5", len(samples))
	}
	broken := filepath.Join(t.TempDir(), "broken.ifc")
	if err := os.WriteFile(broken, []byte("ISO-10303-21;\nHEADER;\nENDSEC;\nEND-ISO-10303-21;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	const size = 1 << 20
	corpus := ifcCorpus(&out, append(samples, broken), []int64{size})
	if got := strings.TrimSpace(out.String()); strings.Count(got, "\n") != 0 || !strings.Contains(got, "broken.ifc") || !strings.Contains(got, "no DATA section") {
		t.Errorf("the skip line is %q, want one line naming broken.ifc and why", got)
	}
	if len(corpus) != len(samples) {
		t.Fatalf("%d corpus files, want %d (one per real sample)", len(corpus), len(samples))
	}
	dir := t.TempDir()
	for _, f := range corpus {
		t.Run(f.name, func(t *testing.T) {
			src, err := ifc.Open(ctx, f.sample)
			if err != nil {
				t.Fatal(err)
			}
			srcEls, _, err := src.Elements(ctx)
			if err != nil {
				t.Fatal(err)
			}
			path, err := f.generate(dir)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Dir(path) != dir || !strings.HasSuffix(f.name, "-1MiB.ifc") {
				t.Errorf("generated %s, want a -1MiB.ifc file in %s", path, dir)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() < size {
				t.Errorf("%d bytes, want at least %d", st.Size(), size)
			}
			g, err := ifc.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			copies := g.Len() / src.Len()
			if g.Len()%src.Len() != 0 || copies < 2 {
				t.Fatalf("%d instances, want a multiple (≥ 2) of the sample's %d", g.Len(), src.Len())
			}
			els, _, err := g.Elements(ctx)
			if err != nil {
				t.Fatal(err)
			}
			gids := make(map[string]bool, len(els))
			for _, e := range els {
				gids[e.GlobalID] = true
			}
			if len(els) != copies*len(srcEls) || len(gids) != len(els) {
				t.Errorf("%d elements with %d distinct GlobalIds, want %d × %d, all distinct", len(els), len(gids), copies, len(srcEls))
			}
		})
	}
}

func TestBenchIFCCorpusSizes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int64
	}{
		{"50,200", []int64{50 << 20, 200 << 20}},
		{" 1 ", []int64{1 << 20}},
		{"", nil},
		{"50,", nil},
		{"0", nil},
		{"-5", nil},
		{"1.5", nil},
	} {
		got, err := parseSizesMiB(c.in)
		if c.want == nil && err == nil || c.want != nil && (err != nil || !slices.Equal(got, c.want)) {
			t.Errorf("parseSizesMiB(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}
