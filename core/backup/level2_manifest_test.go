package backup

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Folders with a damaged manifest are listed as damaged, and what Get
// says about them names them.
func TestDamagedBackupsListed(t *testing.T) {
	e := newEnv(t)
	e.put("/a.txt", []byte("a"))
	real := e.full()
	craft(t, real, "20991231-235959-0000aa", func(doc map[string]any) { firstSegment(doc)["name"] = "x.pack" })
	// A folder without a manifest is no backup at all.
	if err := os.Mkdir(filepath.Join(filepath.Dir(real.Path), "photos"), 0o700); err != nil {
		t.Fatal(err)
	}
	bad, err := e.b.Damaged()
	if err != nil || len(bad) != 1 || bad[0].ID != "20991231-235959-0000aa" || !errors.Is(bad[0].Err, ErrDamaged) {
		t.Fatalf("damaged = %+v, %v", bad, err)
	}
	want := `backup 20991231-235959-0000aa is damaged: its manifest cannot be trusted (it names the content pack "x.pack")`
	if _, err := e.b.Get("20991231-235959-0000"); err == nil || err.Error() != want {
		t.Fatalf("get by prefix: %v\nwant %s", err, want)
	}
	if _, err := e.b.Get("photos"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get of a folder without a manifest: %v", err)
	}
}

func TestCheckShape(t *testing.T) {
	ok := []string{`{}`, `{"a":[1,2,{"b":[]}],"c":{"d":{}}}`, `{"payloads":[{"committed":{"a":1}},{}]}`}
	for _, s := range ok {
		if err := checkShape([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := map[string]string{
		`{"payloads":[{},{},{}]}`: `more than 2 entries under "payloads"`,
		`{"a":1,"a":2}`:           `the key "a" twice`,
		`{"a":`:                   "not valid JSON",
		strings.Repeat("[", 17):   "nests too deeply",
		`{"x":[` + strings.Repeat("1,", maxPacks) + `1]}`: fmt.Sprintf(`more than %d entries under "x"`, maxPacks),
	}
	for s, want := range bad {
		if err := checkShape([]byte(s)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40s: %v, want %q", s, err, want)
		}
	}
}

// packCheck finds damage wherever the stream is cut.
func TestPackCheckStreams(t *testing.T) {
	var pack bytes.Buffer
	pack.WriteString(packMagic)
	for _, n := range []int{0, 1, 5000, 37, 100_000} {
		data := random(n)
		sum := sha256.Sum256(data)
		pack.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		pack.Write(sum[:])
		pack.Write(data)
	}
	good := pack.Bytes()
	feed := func(b []byte, step int, from int64) error {
		c := newPackCheck(from, int64(len(good)))
		for i := 0; i < len(b); i += step {
			if _, err := c.Write(b[i:min(i+step, len(b))]); err != nil {
				return err
			}
		}
		return c.done()
	}
	for _, step := range []int{1, 7, 36, 4096, len(good)} {
		if err := feed(good, step, 0); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		// From an entry boundary, as an incremental copies.
		off := len(packMagic) + entryHead
		if err := feed(good[off:], step, int64(off)); err != nil {
			t.Fatalf("step %d from %d: %v", step, off, err)
		}
		for _, at := range []int{0, 9, 8 + 36 + 36, 8 + 36 + 36 + 1 + 10, len(good) - 1} {
			bad := bytes.Clone(good)
			bad[at] ^= 0x40
			var d *damagedPack
			if err := feed(bad, step, 0); !errors.As(err, &d) {
				t.Fatalf("step %d, byte %d flipped: %v", step, at, err)
			}
		}
		if err := feed(good[:len(good)-1], step, 0); err == nil {
			t.Fatalf("step %d: a pack cut short passed", step)
		}
	}
}
