// Package express reads the entity declarations of an ISO 10303-11
// (EXPRESS) schema, as far as the IFC schemas need, and writes the Go
// tables of package schema from them. It is the core of the generator
// (schema/gen) and is also run by the schema tests to check that the
// committed tables are up to date.
//
// The reader understands ENTITY … END_ENTITY blocks: the name, ABSTRACT,
// SUBTYPE OF (…) and the explicit attributes in declaration order, each
// declaration ending at its own semicolon however many lines it spans.
// Everything else (TYPE, FUNCTION, RULE, the SUPERTYPE OF expression,
// INVERSE, DERIVE, WHERE and UNIQUE sections) is skipped token by token, so
// comments, strings and nested parentheses in it do not matter.
package express

import (
	"fmt"
	"strings"
)

// Schema is what the reader finds in one EXPRESS file.
type Schema struct {
	ID       string    // identifier after SCHEMA, e.g. "IFC4X3_ADD2"
	Entities []*Entity // in file order
}

// Entity is one ENTITY declaration.
type Entity struct {
	Name     string   // as declared, e.g. "IfcWall"
	Line     int      // line of the ENTITY keyword
	Abstract bool     // ABSTRACT [SUPERTYPE]
	Supers   []string // SUBTYPE OF (…), in declared order
	Attrs    []string // own explicit attributes, in declared order
	// Redeclared lists "IfcSuper.Attr" for explicit attributes that
	// redeclare an inherited one (SELF\IfcSuper.Attr : type;); they are
	// not new attributes and are not in Attrs.
	Redeclared []string
	// Derived lists "IfcSuper.Attr" for inherited explicit attributes that
	// the DERIVE section turns into derived ones (SELF\IfcSuper.Attr : … :=).
	// They keep their place in the STEP record, written as *.
	Derived []string
}

// token kinds
const (
	tIdent = iota
	tString
	tNumber
	tPunct
)

type token struct {
	kind int
	text string
	line int
}

// lex splits src into tokens, dropping (* … *) comments (which nest in
// EXPRESS), -- line comments and white space.
func lex(src []byte) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '(' && i+1 < len(src) && src[i+1] == '*':
			start, depth := line, 0
			for {
				if i >= len(src) {
					return nil, fmt.Errorf("line %d: comment not closed", start)
				}
				switch {
				case src[i] == '(' && i+1 < len(src) && src[i+1] == '*':
					depth++
					i += 2
				case src[i] == '*' && i+1 < len(src) && src[i+1] == ')':
					depth--
					i += 2
				default:
					if src[i] == '\n' {
						line++
					}
					i++
				}
				if depth == 0 {
					break
				}
			}
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '\'':
			start := line
			j := i + 1
			for {
				if j >= len(src) {
					return nil, fmt.Errorf("line %d: string not closed", start)
				}
				if src[j] == '\n' {
					line++
				}
				if src[j] == '\'' {
					if j+1 < len(src) && src[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			toks = append(toks, token{tString, string(src[i : j+1]), start})
			i = j + 1
		case isLetter(c):
			j := i + 1
			for j < len(src) && (isLetter(src[j]) || isDigit(src[j])) {
				j++
			}
			toks = append(toks, token{tIdent, string(src[i:j]), line})
			i = j
		case isDigit(c):
			j := i + 1
			for j < len(src) && (isDigit(src[j]) || src[j] == '.' || src[j] == 'E' || src[j] == 'e') {
				j++
			}
			toks = append(toks, token{tNumber, string(src[i:j]), line})
			i = j
		default:
			toks = append(toks, token{tPunct, string(src[i : i+1]), line})
			i++
		}
	}
	return toks, nil
}

func isLetter(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

type parser struct {
	toks []token
	pos  int
}

func (p *parser) eof() bool { return p.pos >= len(p.toks) }

func (p *parser) peek() token {
	if p.eof() {
		return token{kind: tPunct, text: "<end of file>", line: p.lastLine()}
	}
	return p.toks[p.pos]
}

func (p *parser) lastLine() int {
	if len(p.toks) == 0 {
		return 1
	}
	return p.toks[len(p.toks)-1].line
}

func (p *parser) next() token {
	t := p.peek()
	if !p.eof() {
		p.pos++
	}
	return t
}

// keyword reports whether t is the given (upper-case) keyword; EXPRESS
// keywords are case-insensitive.
func keyword(t token, kw string) bool { return t.kind == tIdent && strings.EqualFold(t.text, kw) }

func (p *parser) expectPunct(s string) error {
	t := p.next()
	if t.kind != tPunct || t.text != s {
		return fmt.Errorf("line %d: want %q, found %q", t.line, s, t.text)
	}
	return nil
}

func (p *parser) expectIdent() (token, error) {
	t := p.next()
	if t.kind != tIdent {
		return t, fmt.Errorf("line %d: want a name, found %q", t.line, t.text)
	}
	return t, nil
}

// skipStatement skips to the semicolon that ends the current statement,
// outside any parentheses or brackets, and past it.
func (p *parser) skipStatement() error {
	depth := 0
	start := p.peek().line
	for !p.eof() {
		t := p.next()
		if t.kind != tPunct {
			continue
		}
		switch t.text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
		case ";":
			if depth == 0 {
				return nil
			}
		}
	}
	return fmt.Errorf("line %d: statement not ended by ';'", start)
}

// Parse reads the entities of one EXPRESS schema.
func Parse(src []byte) (*Schema, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	s := &Schema{}
	for !p.eof() {
		t := p.next()
		switch {
		case keyword(t, "SCHEMA") && s.ID == "":
			id, err := p.expectIdent()
			if err != nil {
				return nil, err
			}
			s.ID = id.text
		case keyword(t, "ENTITY"):
			e, err := p.entity(t.line)
			if err != nil {
				return nil, err
			}
			s.Entities = append(s.Entities, e)
		}
	}
	if s.ID == "" {
		return nil, fmt.Errorf("no SCHEMA declaration")
	}
	if len(s.Entities) == 0 {
		return nil, fmt.Errorf("schema %s declares no entity", s.ID)
	}
	return s, nil
}

// entity reads one entity declaration after its ENTITY keyword.
func (p *parser) entity(line int) (*Entity, error) {
	name, err := p.expectIdent()
	if err != nil {
		return nil, err
	}
	e := &Entity{Name: name.text, Line: line}
	// Header: [ABSTRACT] [SUPERTYPE OF (…)] [SUBTYPE OF (…)] ;
	for {
		t := p.next()
		switch {
		case t.kind == tPunct && t.text == ";":
			goto body
		case keyword(t, "ABSTRACT"):
			e.Abstract = true
		case keyword(t, "SUPERTYPE"):
			if keyword(p.peek(), "OF") {
				p.next()
				if err := p.skipGroup(); err != nil {
					return nil, err
				}
			}
		case keyword(t, "SUBTYPE"):
			if t := p.next(); !keyword(t, "OF") {
				return nil, fmt.Errorf("line %d: %s: want OF after SUBTYPE, found %q", t.line, e.Name, t.text)
			}
			if err := p.expectPunct("("); err != nil {
				return nil, fmt.Errorf("%s: %w", e.Name, err)
			}
			for {
				sup, err := p.expectIdent()
				if err != nil {
					return nil, fmt.Errorf("%s: %w", e.Name, err)
				}
				e.Supers = append(e.Supers, sup.text)
				t := p.next()
				if t.kind == tPunct && t.text == ")" {
					break
				}
				if t.kind != tPunct || t.text != "," {
					return nil, fmt.Errorf("line %d: %s: want ',' or ')' in SUBTYPE OF, found %q", t.line, e.Name, t.text)
				}
			}
		default:
			return nil, fmt.Errorf("line %d: %s: unexpected %q in the entity header", t.line, e.Name, t.text)
		}
	}
body:
	// Explicit attributes up to the first section keyword.
	for {
		t := p.peek()
		switch {
		case p.eof():
			return nil, fmt.Errorf("line %d: %s: END_ENTITY missing", line, e.Name)
		case keyword(t, "END_ENTITY"):
			p.next()
			return e, p.expectPunct(";")
		case keyword(t, "INVERSE"), keyword(t, "DERIVE"), keyword(t, "WHERE"), keyword(t, "UNIQUE"):
			return e, p.sections(e)
		}
		if err := p.explicit(e); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
	}
}

// skipGroup skips one parenthesised group, nested ones included.
func (p *parser) skipGroup() error {
	if err := p.expectPunct("("); err != nil {
		return err
	}
	depth := 1
	for depth > 0 {
		if p.eof() {
			return fmt.Errorf("line %d: ')' missing", p.lastLine())
		}
		t := p.next()
		if t.kind == tPunct {
			switch t.text {
			case "(":
				depth++
			case ")":
				depth--
			}
		}
	}
	return nil
}

// attrRef reads an attribute name, or SELF\Entity.Attr; for the latter it
// returns "Entity.Attr" and redecl true.
func (p *parser) attrRef() (name string, redecl bool, err error) {
	t, err := p.expectIdent()
	if err != nil {
		return "", false, err
	}
	if !keyword(t, "SELF") {
		return t.text, false, nil
	}
	if err := p.expectPunct(`\`); err != nil {
		return "", false, err
	}
	ent, err := p.expectIdent()
	if err != nil {
		return "", false, err
	}
	if err := p.expectPunct("."); err != nil {
		return "", false, err
	}
	attr, err := p.expectIdent()
	if err != nil {
		return "", false, err
	}
	if keyword(p.peek(), "RENAMED") {
		p.next()
		if _, err := p.expectIdent(); err != nil {
			return "", false, err
		}
	}
	return ent.text + "." + attr.text, true, nil
}

// explicit reads one explicit attribute declaration: names : [OPTIONAL] type ;
func (p *parser) explicit(e *Entity) error {
	var names []string
	var redecls []string
	for {
		name, redecl, err := p.attrRef()
		if err != nil {
			return err
		}
		if redecl {
			redecls = append(redecls, name)
		} else {
			names = append(names, name)
		}
		t := p.next()
		if t.kind == tPunct && t.text == ":" {
			break
		}
		if t.kind != tPunct || t.text != "," {
			return fmt.Errorf("line %d: want ':' or ',' after attribute %s, found %q", t.line, name, t.text)
		}
	}
	// The type, up to the semicolon outside brackets.
	depth, n, prev := 0, 0, ":" // the colon just read
	for {
		if p.eof() {
			return fmt.Errorf("line %d: attribute declaration not ended by ';'", p.lastLine())
		}
		t := p.next()
		if t.kind == tPunct {
			switch t.text {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				depth--
			case "=":
				if prev == ":" && depth == 0 {
					return fmt.Errorf("line %d: derived attribute (:=) among the explicit ones", t.line)
				}
			case ";":
				if depth == 0 {
					if n == 0 {
						return fmt.Errorf("line %d: attribute without a type", t.line)
					}
					e.Attrs = append(e.Attrs, names...)
					e.Redeclared = append(e.Redeclared, redecls...)
					return nil
				}
			}
		}
		prev = t.text
		n++
	}
}

// sections skips INVERSE, DERIVE, WHERE and UNIQUE up to END_ENTITY;,
// noting the DERIVE redeclarations of inherited attributes.
func (p *parser) sections(e *Entity) error {
	section := ""
	for {
		t := p.peek()
		switch {
		case p.eof():
			return fmt.Errorf("line %d: %s: END_ENTITY missing", e.Line, e.Name)
		case keyword(t, "END_ENTITY"):
			p.next()
			return p.expectPunct(";")
		case keyword(t, "INVERSE"), keyword(t, "DERIVE"), keyword(t, "WHERE"), keyword(t, "UNIQUE"):
			section = strings.ToUpper(t.text)
			p.next()
			continue
		}
		if section == "DERIVE" && keyword(t, "SELF") {
			name, _, err := p.attrRef()
			if err != nil {
				return fmt.Errorf("%s: %w", e.Name, err)
			}
			e.Derived = append(e.Derived, name)
		}
		if err := p.skipStatement(); err != nil {
			return fmt.Errorf("%s: %w", e.Name, err)
		}
	}
}
