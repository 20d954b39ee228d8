package ifc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
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
	var (
		out   []Element
		warns []Warning
		seen  = map[string]int{} // GlobalId → index in out
		idx   = map[*schema.Entity]*attrIndex{}
	)
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
		for _, id := range h.missing {
			elWarn = append(elWarn, fmt.Sprintf("refers to #%d, which does not exist", id))
		}
		if h.bad && len(h.missing) == 0 {
			elWarn = append(elWarn, "refers, through its references, to an instance that does not exist")
		}
		if h.cycle {
			elWarn = append(elWarn, "its references form a cycle")
		}
		if !ValidGlobalID(e.GlobalID) {
			warns = append(warns, Warning{Line: line, GlobalID: e.GlobalID, Msg: fmt.Sprintf("#%d %s has a malformed GlobalId %q; it is skipped", in.ID, e.Type, e.GlobalID)})
			continue
		}
		for _, m := range elWarn {
			warns = append(warns, Warning{Line: line, GlobalID: e.GlobalID, Msg: fmt.Sprintf("#%d %s %s", in.ID, e.Type, m)})
		}
		if j, dup := seen[e.GlobalID]; dup {
			warns = append(warns, Warning{Line: line, GlobalID: e.GlobalID,
				Msg: fmt.Sprintf("#%d %s has the same GlobalId as #%d on line %d; only the first is kept", in.ID, e.Type, out[j].ID, out[j].Line)})
			continue
		}
		seen[e.GlobalID] = len(out)
		out = append(out, e)
	}
	return out, warns, nil
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
}

// MaxReferenceDepth is how long a chain of references (#1 refers to #2,
// which refers to #3…) may be. Hashing follows references recursively;
// real files go a few dozen deep (placements, geometry trees, boolean
// results), and a crafted chain of millions would exhaust the stack.
const MaxReferenceDepth = 10000

// deepError is the error for a chain of references starting at instance
// i that is longer than MaxReferenceDepth.
func (f *File) deepError(i int) error {
	in := f.insts[i]
	return f.errorAt(int(in.typeAt), fmt.Sprintf("#%d starts a chain of references more than %d instances long (IFC files go a few dozen deep)", in.ID, MaxReferenceDepth))
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
	b := h.canon(i, skip)
	sum := sha256.New()
	sum.Write(b)
	sort.Slice(extra, func(a, b int) bool { return extra[a] < extra[b] })
	var x [8]byte
	for _, v := range extra {
		binary.LittleEndian.PutUint64(x[:], v)
		sum.Write(x[:])
	}
	return hex.EncodeToString(sum.Sum(nil)[:16])
}

// canon writes instance i's canonical form into this depth's buffer.
func (h *hasher) canon(i, skip int) []byte {
	f := h.f
	in := f.insts[i]
	data := f.data
	b := h.buf()
	b = append(b, data[in.typeAt:in.typeEnd]...)
	h.depth++
	defer func() { h.depth-- }()
	depth, attr := 0, 0
	for p := int(in.at); p < int(in.end); {
		c := data[p]
		switch c {
		case ' ', '\n', '\r', '\t', '\f', '\v':
			p++
			continue
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 1 {
				attr++
			}
		}
		if depth == 1 && attr == skip && c != ',' && c != '(' {
			// Leave the attribute out, whatever it holds.
			if c == '\'' {
				end, _ := stringEnd(data, p)
				p = end
			} else {
				p++
			}
			if len(b) == 0 || b[len(b)-1] != markSkipped {
				b = append(b, markSkipped)
			}
			continue
		}
		switch c {
		case '\'':
			end, _ := stringEnd(data, p)
			b = append(b, data[p:end]...)
			p = end
		case '/':
			if p+1 < len(data) && data[p+1] == '*' {
				if end := indexFrom(data, p+2, "*/"); end >= 0 {
					p = end + 2
					continue
				}
			}
			b = append(b, c)
			p++
		case '#':
			p++
			var id uint64
			for p < int(in.end) && isDigit(data[p]) {
				id = id*10 + uint64(data[p]-'0')
				p++
			}
			j := f.lookup(id)
			if j < 0 {
				h.missing = append(h.missing, id)
				h.bad = true
				b = append(b, markMissing)
				continue
			}
			h.bufs[h.depth-1] = b // the recursion below may grow bufs
			v := h.hash(j)
			b = h.bufs[h.depth-1]
			b = append(b, markRef)
			b = binary.LittleEndian.AppendUint64(b, v)
		default:
			b = append(b, c)
			p++
		}
	}
	h.bufs[h.depth-1] = b
	return b
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
		sides := ri.sides
		refs := f.refsByAttr(in)
		var relating []uint64
		for _, k := range sides[1] {
			if k >= len(refs) {
				continue
			}
			for _, id := range refs[k] {
				j := f.lookup(id)
				if j < 0 || f.insts[j].Entity == nil || f.insts[j].Entity.IsProduct {
					continue
				}
				relating = append(relating, h.hash(j))
				if h.tooDeep {
					return nil, f.deepError(i)
				}
			}
		}
		if len(relating) == 0 {
			continue
		}
		for _, k := range sides[0] {
			if k >= len(refs) {
				continue
			}
			for _, id := range refs[k] {
				j := f.lookup(id)
				if j < 0 || f.insts[j].Entity == nil || !f.insts[j].Entity.IsProduct {
					continue
				}
				out[int32(j)] = append(out[int32(j)], relating...)
			}
		}
	}
	return out, nil
}

// refsByAttr lists the references in each top-level attribute.
func (f *File) refsByAttr(in Instance) [][]uint64 {
	data := f.data
	var out [][]uint64
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
				attr++
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
			for len(out) <= attr {
				out = append(out, nil)
			}
			out[attr] = append(out[attr], id)
		default:
			p++
		}
	}
	return out
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
