package ifc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"

	"codeberg.org/plinth/plinth/core/ifc/schema"
)

// Element is an instance of an IfcProduct subtype, the unit a sync
// compares.
type Element struct {
	GlobalID    string `json:"globalId"`
	Type        string `json:"type"` // as in the schema, e.g. "IfcWall"
	Name        string `json:"name,omitempty"`
	ObjectType  string `json:"objectType,omitempty"`
	Tag         string `json:"tag,omitempty"`
	Description string `json:"description,omitempty"`
	// Checksum covers the element's attributes (but not its
	// OwnerHistory, which exporters restamp on every export), everything
	// they reference, and what non-product relationships attach to it
	// (property sets, type, materials, classifications), with every
	// reference replaced by the referenced instance's own content hash:
	// renumbering #ids changes nothing.
	Checksum string `json:"checksum"`
	ID       uint64 `json:"id"`   // #id in this file
	Line     int    `json:"line"` // where it starts
}

// Warning is something wrong that does not stop the file from being read.
type Warning struct {
	Line     int    `json:"line"`
	GlobalID string `json:"globalId,omitempty"`
	Msg      string `json:"message"`
}

func (w Warning) String() string {
	if w.GlobalID != "" {
		return fmt.Sprintf("line %d (%s): %s", w.Line, w.GlobalID, w.Msg)
	}
	return fmt.Sprintf("line %d: %s", w.Line, w.Msg)
}

// Elements returns every element of the file in file order, one per
// GlobalId, with warnings for what was odd: references to instances that
// do not exist, GlobalIds that are malformed or used twice, strings with
// bad escapes, reference cycles.
func (f *File) Elements(ctx context.Context) ([]Element, []Warning, error) {
	h := newHasher(f)
	extras, err := h.relationships(ctx)
	if err != nil {
		return nil, nil, err
	}
	lines := &lineCursor{data: f.data, line: 1}
	c := &collector{seen: map[string]int{}}
	idx := map[*schema.Entity]*attrIndex{}
	for i := range f.insts {
		in := &f.insts[i]
		if in.Entity == nil || !in.Entity.IsProduct {
			continue
		}
		if i&0xfff == 0 && ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		ai := idx[in.Entity]
		if ai == nil {
			ai = newAttrIndex(in.Entity)
			idx[in.Entity] = ai
		}
		line := lines.at(int(in.typeAt))
		var elWarn []string
		params, err := f.Params(*in, func(msg string) { elWarn = append(elWarn, msg) })
		if err != nil {
			return nil, nil, err
		}
		e := Element{Type: in.Entity.Name, ID: in.ID, Line: line,
			GlobalID: ai.text(params, ai.globalID), Name: ai.text(params, ai.name), ObjectType: ai.text(params, ai.objectType),
			Tag: ai.text(params, ai.tag), Description: ai.text(params, ai.description)}
		h.missing, h.cycle, h.bad = h.missing[:0], false, false
		e.Checksum = h.element(i, h.ownerHistory(in.Entity), extras[int32(i)])
		if h.tooDeep {
			return nil, nil, f.deepError(i)
		}
		c.add(e, elWarn, h)
	}
	return c.out, c.warns, nil
}

// collector gathers elements in file order with their warnings.
type collector struct {
	out   []Element
	warns []Warning
	seen  map[string]int // GlobalId → index in out
}

// add adds element e, whose checksum h has just computed (nil: from what
// was hashed before, with nothing odd met), with warnings elWarn about
// its parameters; an element without a valid GlobalId, or with one
// another has, is left out with a warning.
func (c *collector) add(e Element, elWarn []string, h *hasher) {
	line := e.Line
	if h != nil {
		for _, id := range h.missing {
			elWarn = append(elWarn, fmt.Sprintf("refers to #%d, which does not exist", id))
		}
		if h.bad && len(h.missing) == 0 {
			elWarn = append(elWarn, "refers, through its references, to an instance that does not exist")
		}
		if h.cycle {
			elWarn = append(elWarn, "its references form a cycle")
		}
	}
	if !ValidGlobalID(e.GlobalID) {
		c.warns = append(c.warns, Warning{Line: line, GlobalID: e.GlobalID, Msg: fmt.Sprintf("#%d %s has a malformed GlobalId %q; it is skipped", e.ID, e.Type, e.GlobalID)})
		return
	}
	for _, m := range elWarn {
		c.warns = append(c.warns, Warning{Line: line, GlobalID: e.GlobalID, Msg: fmt.Sprintf("#%d %s %s", e.ID, e.Type, m)})
	}
	if j, dup := c.seen[e.GlobalID]; dup {
		c.warns = append(c.warns, Warning{Line: line, GlobalID: e.GlobalID,
			Msg: fmt.Sprintf("#%d %s has the same GlobalId as #%d on line %d; only the first is kept", e.ID, e.Type, c.out[j].ID, c.out[j].Line)})
		return
	}
	c.seen[e.GlobalID] = len(c.out)
	c.out = append(c.out, e)
}

// attrIndex says where an entity's named attributes are.
type attrIndex struct {
	globalID, ownerHistory, name, objectType, tag, description int
}

func newAttrIndex(e *schema.Entity) *attrIndex {
	ai := &attrIndex{-1, -1, -1, -1, -1, -1}
	for i, a := range e.Attrs {
		switch a {
		case "GlobalId":
			ai.globalID = i
		case "OwnerHistory":
			ai.ownerHistory = i
		case "Name":
			ai.name = i
		case "ObjectType":
			ai.objectType = i
		case "Tag":
			ai.tag = i
		case "Description":
			ai.description = i
		}
	}
	return ai
}

func (ai *attrIndex) text(params []Value, i int) string {
	if i < 0 || i >= len(params) {
		return ""
	}
	return params[i].Text()
}

// hasher computes content hashes of instances: the type and parameters
// with white space and comments dropped and every reference replaced by
// the referenced instance's hash, memoized so each instance is hashed once.
type hasher struct {
	f       *File
	memo    []uint64
	state   []uint8 // 0 not yet, 1 being hashed, 2 done
	bufs    [][]byte
	depth   int
	missing []uint64
	cycle   bool
	bad     bool   // the instance being hashed reaches a missing one
	badIn   []bool // per instance: its closure reaches a missing one
	owner   map[*schema.Entity]int
	tooDeep bool // a chain of references went deeper than MaxReferenceDepth
	// pre gives the hashes of instances that are not in f because Read
	// hashed them as it went (nil: f is the whole file).
	pre func(id uint64) (uint64, bool)
	// tmpl gives instance i's template (waits.go) when f holds no bytes.
	tmpl func(i int) ([]byte, []uint32)
}

// MaxReferenceDepth is how long a chain of references (#1 refers to #2,
// which refers to #3…) may be. Hashing follows references recursively;
// real files go a few dozen deep (placements, geometry trees, boolean
// results), and a crafted chain of millions would exhaust the stack.
// Read hashes each instance as soon as what it refers to is hashed, so it
// follows references recursively only for what still waits at the end of
// the file (cycles, references to instances that do not exist): a chain
// that points back through the file is read whatever its length.
const MaxReferenceDepth = 10000

// deepError is the error for a chain of references starting at instance
// i that is longer than MaxReferenceDepth.
func (f *File) deepError(i int) error {
	in := f.insts[i]
	return f.errorAt(int(in.typeAt), deepMsg(in.ID))
}

func deepMsg(id uint64) string {
	return fmt.Sprintf("#%d starts a chain of references more than %d instances long (IFC files go a few dozen deep)", id, MaxReferenceDepth)
}

// ownerHistory is the index of the entity's OwnerHistory attribute (IfcRoot
// subtypes), or -1. Exporters restamp it on every export, so no hash
// covers it.
func (h *hasher) ownerHistory(e *schema.Entity) int {
	if e == nil {
		return -1
	}
	if i, ok := h.owner[e]; ok {
		return i
	}
	i := -1
	for k, a := range e.Attrs {
		if a == "OwnerHistory" {
			i = k
			break
		}
	}
	h.owner[e] = i
	return i
}

func newHasher(f *File) *hasher {
	return &hasher{f: f, memo: make([]uint64, len(f.insts)), state: make([]uint8, len(f.insts)), badIn: make([]bool, len(f.insts)), owner: map[*schema.Entity]int{}}
}

const (
	markRef     = 0x01 // followed by 8 bytes of the referenced hash
	markMissing = 0x02 // a reference to an instance that does not exist
	markCycle   = 0x03 // a reference back into the instance being hashed
	markSkipped = 0x04 // an attribute left out (OwnerHistory of an element)
)

func (h *hasher) buf() []byte {
	for len(h.bufs) <= h.depth {
		h.bufs = append(h.bufs, make([]byte, 0, 256))
	}
	return h.bufs[h.depth][:0]
}

// hash returns instance i's content hash.
func (h *hasher) hash(i int) uint64 {
	switch h.state[i] {
	case 2:
		h.bad = h.bad || h.badIn[i]
		return h.memo[i]
	case 1:
		h.cycle = true
		return markCycle
	}
	if h.depth >= MaxReferenceDepth {
		h.tooDeep = true // the file fails; the hashes no longer matter
		return markCycle
	}
	h.state[i] = 1
	outer := h.bad
	h.bad = false
	b := h.canon(i, h.ownerHistory(h.f.insts[i].Entity))
	v := xxhash.Sum64(b)
	h.memo[i], h.state[i], h.badIn[i] = v, 2, h.bad
	h.bad = outer || h.bad
	return v
}

// element returns an element's checksum: its canonical content without
// the skipped attribute, then the sorted hashes of what relationships
// attach to it.
func (h *hasher) element(i, skip int, extra []uint64) string {
	return checksum(h.canon(i, skip), extra)
}

// checksum is an element's checksum from its canonical form b and the
// hashes extra of what relationships attach to it (sorted here).
func checksum(b []byte, extra []uint64) string {
	sum := sha256.New()
	sum.Write(b)
	slices.Sort(extra)
	var x [8]byte
	for _, v := range extra {
		binary.LittleEndian.PutUint64(x[:], v)
		sum.Write(x[:])
	}
	var out [sha256.Size]byte
	return hex.EncodeToString(sum.Sum(out[:0])[:16])
}

// canon writes instance i's canonical form into this depth's buffer.
func (h *hasher) canon(i, skip int) []byte {
	b := h.buf()
	h.depth++
	if h.tmpl != nil {
		t, offs := h.tmpl(i)
		b = fromTemplate(b, t, offs, h.ref)
	} else {
		b = h.f.canonical(b, h.f.insts[i], skip, h.ref, nil)
	}
	h.depth--
	h.bufs[h.depth] = b
	return b
}

// ref is the hash of the instance with this id for canonical, hashing
// it first when it is not yet; an id that is not in the file, nor in
// what Read resolved before (pre), is marked missing.
func (h *hasher) ref(id uint64) (uint64, bool) {
	j := h.f.lookup(id)
	if j < 0 {
		if h.pre != nil {
			if v, ok := h.pre(id); ok {
				return v, true
			}
		}
		h.missing = append(h.missing, id)
		h.bad = true
		return 0, false
	}
	return h.hash(j), true
}

// canonical appends instance in's canonical form to b: its type as
// written and its parameters from data without white space and comments,
// with the attribute at index skip left out and each reference replaced
// by markRef and the hash ref gives (markMissing when ref says there is
// no such instance). With offs, it notes where each hash is written.
// The instance's bytes are known to be sound (Parse read them).
func (f *File) canonical(b []byte, in Instance, skip int, ref func(id uint64) (uint64, bool), offs *[]uint32) []byte {
	b = append(b, f.data[in.typeAt:in.typeEnd]...)
	b, _, _ = f.canonParams(b, int(in.at), skip, ref, offs)
	return b
}

// Byte classes of canonParams: plain bytes are copied as they are.
const (
	clPlain = iota
	clSpace
	clOpen
	clClose
	clComma
	clSemicolon
	clQuote
	clSlash
	clHash
)

var canonClass = func() (t [256]uint8) {
	for _, c := range []byte(" \n\r\t\f\v") {
		t[c] = clSpace
	}
	t['('], t[')'], t[','], t[';'], t['\''], t['/'], t['#'] = clOpen, clClose, clComma, clSemicolon, clQuote, clSlash, clHash
	return t
}()

// canonParams appends the canonical form of the parameter list that
// starts with '(' at pos (see canonical) and returns the index just after
// it; it checks the list the way scanParams does, with the same errors,
// in the same pass.
func (f *File) canonParams(b []byte, pos, skip int, ref func(id uint64) (uint64, bool), offs *[]uint32) ([]byte, int, error) {
	data := f.data
	if pos >= len(data) || data[pos] != '(' {
		return b, 0, f.errorAt(pos, "expected '(' but found "+f.near(pos))
	}
	depth, attr := 0, 0
	for p := pos; p < len(data); {
		c := data[p]
		cl := canonClass[c]
		if cl == clPlain && (depth != 1 || attr != skip) {
			// A run of bytes that are copied as they are.
			q := p + 1
			for q < len(data) && canonClass[data[q]] == clPlain {
				q++
			}
			b = append(b, data[p:q]...)
			p = q
			continue
		}
		switch cl {
		case clSpace:
			p++
			continue
		case clOpen:
			if depth++; depth > MaxNesting {
				return b, 0, f.errorAt(p, nestingMsg)
			}
		case clClose:
			depth--
		case clComma:
			if depth == 1 {
				attr++
			}
		case clSemicolon:
			return b, 0, f.errorAt(pos, "the parameter list that starts here is not closed before ';' (a ')' is missing)")
		case clQuote:
			end, ok := stringEnd(data, p)
			if !ok {
				return b, 0, f.errorAt(p, "a string is not closed")
			}
			if depth == 1 && attr == skip {
				if len(b) == 0 || b[len(b)-1] != markSkipped {
					b = append(b, markSkipped)
				}
			} else {
				b = append(b, data[p:end]...)
			}
			p = end
			continue
		case clSlash:
			if p+1 < len(data) && data[p+1] == '*' {
				end := indexFrom(data, p+2, "*/")
				if end < 0 {
					return b, 0, f.errorAt(p, "a comment is not closed")
				}
				p = end + 2
				continue
			}
		}
		if depth == 1 && attr == skip && c != ',' && c != '(' {
			// Leave the attribute out, whatever it holds.
			p++
			if len(b) == 0 || b[len(b)-1] != markSkipped {
				b = append(b, markSkipped)
			}
			continue
		}
		if cl == clHash {
			p++
			var id uint64
			for p < len(data) && isDigit(data[p]) {
				id = id*10 + uint64(data[p]-'0')
				p++
			}
			v, ok := ref(id)
			if !ok {
				b = append(b, markMissing)
				continue
			}
			if offs != nil {
				*offs = append(*offs, uint32(len(b)+1))
			}
			b = append(b, markRef)
			b = binary.LittleEndian.AppendUint64(b, v)
			continue
		}
		b = append(b, c)
		p++
		if depth == 0 {
			return b, p, nil
		}
	}
	return b, 0, f.errorAt(pos, "the parameter list that starts here is not closed before the end of the file")
}

// relationships finds, for each element, the hashes of what relationships
// attach to it from outside the product tree: for every IfcRelationship
// whose relating side is not a product (a property set, a type, a
// material, a classification…), each related element gets that side's
// hash. Relationships between products (containment, aggregation,
// connections) are left out, so renaming a storey does not change the
// walls in it.
func (h *hasher) relationships(ctx context.Context) (map[int32][]uint64, error) {
	f := h.f
	out := map[int32][]uint64{}
	type relInfo struct {
		isRel bool
		sides [2][]int // attribute indexes: related, relating
	}
	rel := map[*schema.Entity]*relInfo{}
	for i := range f.insts {
		in := f.insts[i]
		if in.Entity == nil {
			continue
		}
		if i&0xfff == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ri := rel[in.Entity]
		if ri == nil {
			ri = &relInfo{isRel: in.Entity.Is("IfcRelationship")}
			for k, a := range in.Entity.Attrs {
				switch {
				case strings.HasPrefix(a, "Related"):
					ri.sides[0] = append(ri.sides[0], k)
				case strings.HasPrefix(a, "Relating"):
					ri.sides[1] = append(ri.sides[1], k)
				}
			}
			rel[in.Entity] = ri
		}
		if !ri.isRel {
			continue
		}
		var relating []uint64
		for _, id := range f.appendRefs(nil, in, ri.sides[1]) {
			j := f.lookup(id)
			if j < 0 || f.insts[j].Entity == nil || f.insts[j].Entity.IsProduct {
				continue
			}
			relating = append(relating, h.hash(j))
			if h.tooDeep {
				return nil, f.deepError(i)
			}
		}
		if len(relating) == 0 {
			continue
		}
		for _, id := range f.appendRefs(nil, in, ri.sides[0]) {
			j := f.lookup(id)
			if j < 0 || f.insts[j].Entity == nil || !f.insts[j].Entity.IsProduct {
				continue
			}
			out[int32(j)] = append(out[int32(j)], relating...)
		}
	}
	return out, nil
}

// appendRefs appends to ids the references in the top-level attributes
// of instance in whose indexes are in attrs (sorted), in the order of
// attrs.
func (f *File) appendRefs(ids []uint64, in Instance, attrs []int) []uint64 {
	for _, k := range attrs {
		ids = f.attrRefs(ids, in, k)
	}
	return ids
}

// attrRefs appends the references in top-level attribute k of in.
func (f *File) attrRefs(ids []uint64, in Instance, k int) []uint64 {
	data := f.data
	depth, attr := 0, 0
	for p := int(in.at); p < int(in.end); {
		switch c := data[p]; c {
		case '(':
			depth++
			p++
		case ')':
			depth--
			p++
		case ',':
			if depth == 1 {
				if attr++; attr > k {
					return ids
				}
			}
			p++
		case '\'':
			end, _ := stringEnd(data, p)
			p = end
		case '#':
			p++
			var id uint64
			for p < int(in.end) && isDigit(data[p]) {
				id = id*10 + uint64(data[p]-'0')
				p++
			}
			if attr == k {
				ids = append(ids, id)
			}
		default:
			p++
		}
	}
	return ids
}

// lineCursor finds line numbers for positions visited in increasing
// order in time linear in the file.
type lineCursor struct {
	data []byte
	pos  int
	line int
}

func (c *lineCursor) at(pos int) int {
	if pos < c.pos {
		c.pos, c.line = 0, 1
	}
	c.line += bytes.Count(c.data[c.pos:pos], []byte{'\n'})
	c.pos = pos
	return c.line
}
