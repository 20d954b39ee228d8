// Package schema holds the entity tables of the IFC schemas Plinth reads
// (IFC2X3, IFC4 and IFC4X3): for every entity its name, supertype, whether
// it is abstract, its explicit attributes in the order a STEP file writes
// them, and whether it is a product (IfcProduct or a subtype).
//
// The tables are generated from the official EXPRESS schemas by
// "go generate" (see gen and internal/express), never typed by hand. Each
// schema's table is built on first use, so a program that reads no IFC
// pays nothing for it.
package schema

//go:generate go run ./gen

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Schema is one IFC schema's entity table.
type Schema struct {
	Name string // "IFC2X3", "IFC4", "IFC4X3"

	raw      *rawSchema
	once     sync.Once
	entities []Entity  // sorted by Name
	sorted   []*Entity // pointers into entities, sorted by Name
	byUpper  map[string]*Entity
}

// Entity is one entity of a schema.
//
// Attrs lists the explicit attributes a STEP record of the entity holds, in
// order. A few subtypes turn inherited attributes into derived ones
// (SELF\IfcSuper.Attr := … in DERIVE, e.g. IfcSIUnit.Dimensions,
// IfcOrientedEdge.EdgeStart and EdgeEnd); those keep their place in Attrs,
// as STEP files still write a * there.
type Entity struct {
	Name      string   // as in the schema, e.g. "IfcWall"
	Upper     string   // "IFCWALL", as written in STEP files
	Super     *Entity  // nil at the root
	Abstract  bool     // ABSTRACT in the schema: no instance of it alone
	Attrs     []string // every explicit attribute, inherited first, in STEP order
	IsProduct bool     // IfcProduct or a subtype
	Index     int      // position in the schema's table, for per-entity arrays
}

// rawSchema and rawEntity are the generated form of a table (tables_gen.go).
type rawSchema struct {
	name     string
	release  string // SCHEMA identifier of the EXPRESS file, e.g. "IFC4X3_ADD2"
	entities []rawEntity
}

type rawEntity struct {
	name     string
	upper    string
	super    int // index in entities, -1 at the root
	abstract bool
	attrs    []string // added to the supertype's
}

var (
	ifc2x3 = &Schema{Name: "IFC2X3", raw: &rawIFC2X3}
	ifc4   = &Schema{Name: "IFC4", raw: &rawIFC4}
	ifc4x3 = &Schema{Name: "IFC4X3", raw: &rawIFC4X3}
)

// Get returns the schema named IFC2X3, IFC4 or IFC4X3 (in any case).
func Get(name string) (*Schema, error) {
	var s *Schema
	switch strings.ToUpper(name) {
	case "IFC2X3":
		s = ifc2x3
	case "IFC4":
		s = ifc4
	case "IFC4X3":
		s = ifc4x3
	default:
		return nil, unknown(name)
	}
	s.build()
	return s, nil
}

func unknown(id string) error {
	return fmt.Errorf("unknown IFC schema %q; Plinth reads IFC2X3, IFC4 and IFC4X3", id)
}

// ForFileSchema maps a FILE_SCHEMA identifier as found in files onto the
// nearest schema here. Surrounding quotes and blanks and a trailing
// object identifier in braces are ignored, and so is case.
//
//   - IFC2X3, IFC2X3_TC1, IFC2X3_FINAL, … and IFC2X2, IFC2X2_FINAL (whose
//     entities IFC2X3 keeps, mostly unchanged): IFC2X3.
//   - IFC4 and its addenda and corrigenda (IFC4_ADD1, IFC4_ADD2,
//     IFC4_ADD2_TC1, …): IFC4.
//   - IFC4X1 and IFC4X2 (IFC4 plus the first alignment and bridge
//     entities, which only IFC4X3 has) and IFC4X3 with its release
//     candidates, addenda and corrigenda (IFC4X3_RC1 … RC4, IFC4X3_ADD1,
//     IFC4X3_ADD2, IFC4X3_TC1, …): IFC4X3.
//
// Any other identifier is an error that names it.
func ForFileSchema(id string) (*Schema, error) {
	v := strings.TrimSpace(id)
	v = strings.Trim(v, `'"`)
	if i := strings.IndexByte(v, '{'); i >= 0 {
		v = v[:i]
	}
	v = strings.ToUpper(strings.TrimSpace(v))
	var s *Schema
	switch {
	case release(v, "IFC2X3"), release(v, "IFC2X2"):
		s = ifc2x3
	case release(v, "IFC4"):
		s = ifc4
	case release(v, "IFC4X1"), release(v, "IFC4X2"), release(v, "IFC4X3"):
		s = ifc4x3
	default:
		return nil, unknown(strings.TrimSpace(id))
	}
	s.build()
	return s, nil
}

// release reports whether id is base or base followed by "_" and a
// qualifier (IFC4_ADD2, IFC4X3_RC2), but not another base (IFC4X3 is no
// IFC4 release).
func release(id, base string) bool {
	rest, ok := strings.CutPrefix(id, base)
	return ok && (rest == "" || rest[0] == '_')
}

// build turns the generated table into linked entities, once.
func (s *Schema) build() {
	s.once.Do(func() {
		raw := s.raw.entities
		s.entities = make([]Entity, len(raw))
		s.sorted = make([]*Entity, len(raw))
		s.byUpper = make(map[string]*Entity, len(raw))
		// Every entity's Attrs is a capacity-limited window on one
		// backing array, so that appending to it cannot touch another's.
		n := make([]int, len(raw)) // length of the full list, -1 not yet known
		for i := range n {
			n[i] = -1
		}
		var length func(i int) int
		length = func(i int) int {
			if n[i] < 0 {
				n[i] = len(raw[i].attrs)
				if sup := raw[i].super; sup >= 0 {
					n[i] += length(sup)
				}
			}
			return n[i]
		}
		total := 0
		for i := range raw {
			total += length(i)
		}
		backing := make([]string, 0, total)
		done := make([]bool, len(raw))
		var link func(i int)
		link = func(i int) {
			if done[i] {
				return
			}
			done[i] = true
			r := &raw[i]
			e := &s.entities[i]
			e.Name, e.Upper, e.Abstract, e.Index = r.name, r.upper, r.abstract, i
			if r.super >= 0 {
				link(r.super) // before start: it appends to backing
				e.Super = &s.entities[r.super]
				e.IsProduct = e.Super.IsProduct
			}
			start := len(backing)
			if e.Super != nil {
				backing = append(backing, e.Super.Attrs...)
			}
			backing = append(backing, r.attrs...)
			e.Attrs = backing[start:len(backing):len(backing)]
			if e.Name == "IfcProduct" {
				e.IsProduct = true
			}
		}
		for i := range raw {
			link(i)
			s.sorted[i] = &s.entities[i]
			s.byUpper[s.entities[i].Upper] = &s.entities[i]
		}
	})
}

// Entity returns the entity with the given upper-case STEP name, such as
// "IFCWALL", or nil if the schema has none.
func (s *Schema) Entity(upper string) *Entity {
	return s.byUpper[upper]
}

// EntityBytes is Entity for a name held in bytes; it does not allocate.
func (s *Schema) EntityBytes(upper []byte) *Entity {
	return s.byUpper[string(upper)]
}

// At is the entity with this Index.
func (s *Schema) At(i int) *Entity { return &s.entities[i] }

// Len is the number of entities in the schema (Entity.Index is below it).
func (s *Schema) Len() int { return len(s.entities) }

// Entities returns every entity of the schema, sorted by Name.
func (s *Schema) Entities() []*Entity {
	return slices.Clone(s.sorted)
}

// Is reports whether e or one of its supertypes is named name (in any case).
func (e *Entity) Is(name string) bool {
	for p := e; p != nil; p = p.Super {
		if strings.EqualFold(p.Name, name) {
			return true
		}
	}
	return false
}
