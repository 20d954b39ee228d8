package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"filippo.io/age"

	"codeberg.org/plinth/plinth/core/names"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
)

// A backup target may be an external disk or a share that others can
// write, so a manifest is outside input: every name in it is checked
// (with package names) when it is read, before anything is joined onto a
// path, and every list in it is bounded before it is decoded. A manifest
// that fails makes its backup damaged everywhere: it is not listed as a
// backup, not used as a link of a chain, not pruned, and Get, Check,
// Verify and Restore refuse it with one sentence naming it.

const (
	// maxPacks is the most entries a list or map in a manifest may have
	// (committed packs, segments): 100,000 packs of 256 MiB are 24 TiB,
	// far beyond an office.
	maxPacks = 100_000
	// maxPayloads: one payload per store.
	maxPayloads = 2
	// maxDepth is how deeply a manifest's JSON may nest; a real one
	// nests four levels.
	maxDepth = 16
	// maxSize is the most any size or count in a manifest may be, and
	// the most the sizes of one manifest may add up to: 1 PiB, far beyond
	// an office, and far from overflowing when a chain's are added up
	// (restoreBytes).
	maxSize = 1 << 50
)

// sizes checks the sizes and counts of a manifest: each between 0 and
// maxSize, named by what for the sentence.
type sizes struct{ err error }

func (c *sizes) check(what string, n int64) {
	if c.err == nil && (n < 0 || n > maxSize) {
		c.err = fmt.Errorf("it gives %s as %d", what, n)
	}
}

// sum adds ns, each checked already, and checks the total.
func (c *sizes) sum(what string, ns ...int64) {
	if c.err != nil {
		return
	}
	var t int64
	for _, n := range ns {
		if t += n; t > maxSize {
			break // before 2^13 sizes of 2^50 could overflow
		}
	}
	c.check(what, t)
}

// checkShape walks a manifest's JSON without decoding it and refuses
// lists longer than a real manifest holds, duplicate keys (a map decoded
// twice grows twice) and deep nesting, so that decoding a crafted
// manifest cannot take much memory. It only counts: whether the JSON is
// valid is for json.Unmarshal to say, which checks that before it
// decodes anything.
func checkShape(b []byte) error {
	type frame struct {
		key     string // the key whose value this container is ("" in a list)
		obj     bool
		wantKey bool // an object waiting for its next key
		n       int
		keys    map[string]bool
	}
	var stack []*frame
	key := ""
	// value counts a value beginning in the container on top.
	value := func() error {
		if len(stack) == 0 {
			return nil
		}
		if top := stack[len(stack)-1]; !top.obj {
			top.n++
			return limit(top.key, top.n, len(stack))
		}
		return nil
	}
	// ended notes that a value ended in the container on top.
	ended := func() {
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].wantKey = true
		}
	}
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case ' ', '\t', '\n', '\r', ',', ':':
		case '{', '[':
			if err := value(); err != nil {
				return err
			}
			if len(stack) >= maxDepth {
				return errors.New("it nests too deeply")
			}
			f := &frame{obj: c == '{', wantKey: c == '{'}
			if len(stack) > 0 && stack[len(stack)-1].obj {
				f.key = key
			}
			if f.obj {
				f.keys = map[string]bool{}
			}
			stack = append(stack, f)
		case '}', ']':
			if len(stack) == 0 {
				return errors.New("it is not valid JSON")
			}
			stack = stack[:len(stack)-1]
			ended()
		case '"':
			start := i
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i >= len(b) {
				return errors.New("it is not valid JSON")
			}
			if len(stack) > 0 && stack[len(stack)-1].obj && stack[len(stack)-1].wantKey {
				top := stack[len(stack)-1]
				k := string(b[start+1 : i])
				if strings.ContainsRune(k, '\\') {
					if err := json.Unmarshal(b[start:i+1], &k); err != nil {
						return errors.New("it is not valid JSON")
					}
				}
				if top.keys[k] {
					return fmt.Errorf("it has the key %s twice", quote(k))
				}
				top.keys[k] = true
				top.n++
				if err := limit(top.key, top.n, len(stack)); err != nil {
					return err
				}
				top.wantKey, key = false, k
				continue
			}
			if err := value(); err != nil {
				return err
			}
			ended()
		default: // a number, true, false or null
			for i+1 < len(b) && !strings.ContainsRune(" \t\n\r,]}", rune(b[i+1])) {
				i++
			}
			if err := value(); err != nil {
				return err
			}
			ended()
		}
	}
	if len(stack) > 0 {
		return errors.New("it is not valid JSON")
	}
	return nil
}

// limit refuses a container of a manifest with more than its share of
// entries; depth is that of the container (1: the manifest itself).
func limit(key string, n, depth int) error {
	max := maxPacks
	if key == "payloads" && depth == 2 {
		max = maxPayloads
	}
	if n > max {
		return fmt.Errorf("it lists more than %d entries under %s", max, quote(key))
	}
	return nil
}

// validate checks every name and number of a manifest read from dir
// that is later joined onto a path or trusted, and puts the file names
// in their canonical "/"-separated form.
func validate(m *Manifest, dir string) error {
	if m.Format < upgrade.OldestManifest || m.Format > upgrade.Manifest {
		return fmt.Errorf("its format is %d, which no Plinth wrote", m.Format)
	}
	if err := names.Check(m.ID); err != nil || m.ID != filepath.Base(dir) {
		return fmt.Errorf("it names the backup %s", quote(m.ID))
	}
	if m.Level != 1 && m.Level != 2 {
		return fmt.Errorf("its level is %d", m.Level)
	}
	for _, l := range []struct{ what, id string }{{"parent", m.Parent}, {"base", m.Base}} {
		if l.id == "" {
			continue
		}
		if err := names.Check(l.id); err != nil {
			return fmt.Errorf("its %s is %s", l.what, quote(l.id))
		}
	}
	if m.Recipient != "" {
		if _, err := age.ParseX25519Recipient(m.Recipient); err != nil {
			return fmt.Errorf("its encryption key %s is not a key", quote(m.Recipient))
		}
	}
	var c sizes
	c.check("the bytes it added", m.Added)
	if m.Tree != nil {
		f, err := relPath(m.Tree.File)
		if err != nil {
			return fmt.Errorf("its tree file is %s", quote(m.Tree.File))
		}
		m.Tree.File = f
		c.check("the size of its tree", m.Tree.Bytes)
		c.check("the size of its chunk index", m.Tree.IndexBytes)
		c.check("the size of its content", m.Tree.Content)
		c.check("the number of its entries", int64(m.Tree.Entries))
		c.check("the number of its files", int64(m.Tree.Files))
	}
	var stored []int64 // every stored file's size, added up at the end
	seen := map[storage.Kind]bool{}
	for i := range m.Payloads {
		p := &m.Payloads[i]
		if p.Kind != storage.Manager && p.Kind != storage.FileServer || seen[p.Kind] {
			return fmt.Errorf("it has a part for the store %s", quote(string(p.Kind)))
		}
		seen[p.Kind] = true
		f, err := relPath(p.File)
		if err != nil {
			return fmt.Errorf("its %s part is in the file %s", storeName(p.Kind), quote(p.File))
		}
		p.File = f
		c.check("the size of its "+storeName(p.Kind)+" part", p.Bytes)
		c.check("the file count of its "+storeName(p.Kind)+" part", p.Files)
		c.check("the content size of its "+storeName(p.Kind)+" part", p.Content)
		stored = append(stored, p.Bytes)
		for j := range p.Segments {
			s := &p.Segments[j]
			if err := checkPackName(s.Name); err != nil {
				return fmt.Errorf("it names the content pack %s", quote(s.Name))
			}
			f, err := relPath(s.File)
			if err != nil {
				return fmt.Errorf("it stores content pack %s in the file %s", s.Name, quote(s.File))
			}
			s.File = f
			if s.From < 0 || s.To <= s.From || s.To > maxSize {
				return fmt.Errorf("it stores bytes %d to %d of content pack %s", s.From, s.To, s.Name)
			}
			c.check("the stored size of content pack "+s.Name, s.Bytes)
			stored = append(stored, s.Bytes)
		}
		committed := make([]int64, 0, len(p.Committed))
		for name, size := range p.Committed {
			if err := checkPackName(name); err != nil {
				return fmt.Errorf("it names the content pack %s", quote(name))
			}
			c.check("the size of content pack "+name, size)
			committed = append(committed, size)
		}
		c.sum("the size of the content packs", committed...)
	}
	c.sum("the size of its stored files", stored...)
	return c.err
}

// relPath checks a file name from a manifest: a relative path inside the
// backup folder. Backups written on Windows separate folders with "\";
// both separators are read as "/" and the path is checked with
// names.CheckPath, so "..\x" is refused like "../x".
func relPath(f string) (string, error) {
	rel := strings.ReplaceAll(f, `\`, "/")
	if err := names.CheckPath(rel); err != nil {
		return "", err
	}
	return rel, nil
}

// checkPackName accepts only the names storage.PackName gives packs.
func checkPackName(name string) error {
	if err := names.Check(name); err != nil {
		return err
	}
	digits, ok := strings.CutSuffix(name, ".pack")
	id, err := strconv.ParseUint(digits, 10, 32)
	if !ok || err != nil || storage.PackName(uint32(id)) != name {
		return fmt.Errorf("%s is not the name of a content pack: %w", quote(name), names.ErrBadName)
	}
	return nil
}

// join joins a file name of a backup's manifest onto the backup's folder,
// checking it again; a name that fails makes the backup damaged.
func join(b Manifest, rel string) (string, error) {
	p, err := names.Join(b.Path, rel)
	if err != nil {
		return "", refusal(ErrDamaged, "backup %s is damaged: its manifest names the file %s", b.ID, quote(rel))
	}
	return p, nil
}

// packPath is where pack name lies in the folder dir, or an error when
// name is not a pack name.
func packPath(dir, name string, b Manifest) (string, error) {
	if err := checkPackName(name); err != nil {
		return "", refusal(ErrDamaged, "backup %s is damaged: its manifest names the content pack %s", b.ID, quote(name))
	}
	return names.Join(dir, name)
}

// quote shows a name from outside in a sentence: quoted with Go's
// escapes (no control or terminal characters get through) and cut short.
func quote(s string) string {
	const max = 60
	if len(s) > max {
		n := max
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return strconv.Quote(s[:n]) + "…"
	}
	return strconv.Quote(s)
}
