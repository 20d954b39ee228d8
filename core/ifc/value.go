package ifc

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind says what a parameter value is.
type Kind uint8

// The kinds of parameter values in ISO 10303-21.
const (
	Null    Kind = iota // $: not given
	Derived             // *: derived from a supertype's rule
	Integer
	Real
	String
	Enum   // .NAME.; booleans and logicals are .T., .F. and .U.
	Binary // "0F…"
	Ref    // #n
	List
	Typed // TYPENAME(value), e.g. IFCLABEL('x')
)

// Value is one parameter of an instance.
type Value struct {
	Kind Kind
	Int  int64   // Integer; Ref: the instance id
	Real float64 // Real
	Str  string  // String (decoded), Enum (without dots), Binary (hex), Typed (type name)
	List []Value // List items; Typed: the one value inside
}

// Bool reads .T./.F. (and .U., which is false with ok false).
func (v Value) Bool() (b, ok bool) {
	if v.Kind != Enum {
		return false, false
	}
	switch v.Str {
	case "T":
		return true, true
	case "F":
		return false, true
	}
	return false, false
}

// Text is a string value, or the string inside a typed value; "" otherwise.
func (v Value) Text() string {
	switch v.Kind {
	case String:
		return v.Str
	case Typed:
		if len(v.List) == 1 {
			return v.List[0].Text()
		}
	}
	return ""
}

// Number is an integer or real value (or one inside a typed value).
func (v Value) Number() (float64, bool) {
	switch v.Kind {
	case Integer:
		return float64(v.Int), true
	case Real:
		return v.Real, true
	case Typed:
		if len(v.List) == 1 {
			return v.List[0].Number()
		}
	}
	return 0, false
}

func (v Value) String() string {
	switch v.Kind {
	case Null:
		return "$"
	case Derived:
		return "*"
	case Integer:
		return strconv.FormatInt(v.Int, 10)
	case Real:
		return strconv.FormatFloat(v.Real, 'g', -1, 64)
	case String:
		return strconv.Quote(v.Str)
	case Enum:
		return "." + v.Str + "."
	case Binary:
		return `"` + v.Str + `"`
	case Ref:
		return "#" + strconv.FormatInt(v.Int, 10)
	case List:
		parts := make([]string, len(v.List))
		for i, x := range v.List {
			parts[i] = x.String()
		}
		return "(" + strings.Join(parts, ",") + ")"
	case Typed:
		inner := ""
		if len(v.List) == 1 {
			inner = v.List[0].String()
		}
		return v.Str + "(" + inner + ")"
	}
	return "?"
}

// ParseParams parses a parameter list, "(" to ")", as found in an
// instance; it is what the reader uses on demand. name is used in errors.
func ParseParams(name string, src []byte) ([]Value, error) {
	p := &parser{name: name, data: src}
	v, err := p.list()
	if err != nil {
		return nil, err
	}
	p.skip()
	if p.pos != len(p.data) {
		return nil, p.errorf("unexpected %s after the parameter list", p.what())
	}
	return v.List, nil
}

// MaxNesting is how deep parameter lists and typed values may nest,
// counting the instance's own parameter list. Real IFC files nest a few
// levels (a list of lists of coordinates inside an instance is three); the
// limit keeps a crafted file from exhausting the stack or the time of the
// reader, and a file that passes it is refused with its line and column.
const MaxNesting = 64

// nestingMsg is the error for a list or typed value nested too deep.
var nestingMsg = fmt.Sprintf("parameter lists are nested more than %d deep here (IFC files nest a few levels)", MaxNesting)

// parser reads values from data starting at pos; errors name the file,
// line and column (base is where data starts in the file).
type parser struct {
	name  string
	data  []byte
	pos   int
	file  []byte // the whole file, for line numbers; nil: data is the file
	base  int
	warn  func(msg string)
	depth int // lists and typed values open around pos
	lb    lineBase
	// discard: values are checked (the same errors and warnings) but
	// not kept, so that nothing is allocated for them.
	discard bool
}

// lineBase places a window of a file that Read holds: its first byte is
// after line0 whole lines and col0 bytes of the next. The zero value is
// a window that is the whole file.
type lineBase struct{ line0, col0 int }

// position is the 1-based line and column in the file of byte at of the
// window data.
func (b lineBase) position(data []byte, at int) (line, col int) {
	line, col = position(data, at)
	if line == 1 {
		col += b.col0
	}
	return line + b.line0, col
}

// SyntaxError is malformed input at a place in a file.
type SyntaxError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s, line %d, column %d: %s", e.File, e.Line, e.Col, e.Msg)
}

func (p *parser) errorf(format string, args ...any) error {
	file, at := p.data, p.pos
	if p.file != nil {
		file, at = p.file, p.base+p.pos
	}
	line, col := p.lb.position(file, at)
	return &SyntaxError{File: p.name, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// position is the 1-based line and column of byte at in data.
func position(data []byte, at int) (line, col int) {
	if at > len(data) {
		at = len(data)
	}
	line = 1
	last := -1
	for i := 0; i < at; i++ {
		if data[i] == '\n' {
			line++
			last = i
		}
	}
	return line, at - last
}

func (p *parser) what() string {
	if p.pos >= len(p.data) {
		return "end of file"
	}
	c := p.data[p.pos]
	if c >= ' ' && c < 0x7f {
		return fmt.Sprintf("%q", string(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// skip passes white space and /* comments */.
func (p *parser) skip() {
	p.pos = skipSpace(p.data, p.pos)
}

func skipSpace(data []byte, pos int) int {
	if pos < len(data) && canonClass[data[pos]] != clSpace && data[pos] != '/' {
		return pos // most often: nothing to skip (small enough to inline)
	}
	return skipSpaceSlow(data, pos)
}

func skipSpaceSlow(data []byte, pos int) int {
	for pos < len(data) {
		switch c := data[pos]; {
		case c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\v':
			pos++
		case c == '/' && pos+1 < len(data) && data[pos+1] == '*':
			end := indexFrom(data, pos+2, "*/")
			if end < 0 {
				return len(data)
			}
			pos = end + 2
		default:
			return pos
		}
	}
	return pos
}

func indexFrom(data []byte, from int, sep string) int {
	i := strings.Index(unsafeString(data[from:]), sep)
	if i < 0 {
		return -1
	}
	return from + i
}

func (p *parser) value() (Value, error) {
	p.skip()
	if p.pos >= len(p.data) {
		return Value{}, p.errorf("a value is missing at the end of file")
	}
	switch c := p.data[p.pos]; {
	case c == '$':
		p.pos++
		return Value{Kind: Null}, nil
	case c == '*':
		p.pos++
		return Value{Kind: Derived}, nil
	case c == '#':
		start := p.pos
		p.pos++
		id, ok := p.digits()
		if !ok {
			p.pos = start
			return Value{}, p.errorf("'#' is not followed by an instance number")
		}
		return Value{Kind: Ref, Int: int64(id)}, nil
	case c == '\'':
		raw, err := p.stringRaw()
		if err != nil {
			return Value{}, err
		}
		if p.discard && plain(raw) {
			return Value{Kind: String}, nil // nothing to warn about
		}
		s, derr := DecodeString(raw)
		if derr != nil && p.warn != nil {
			p.warn(derr.Error())
		}
		if p.discard {
			return Value{Kind: String}, nil
		}
		return Value{Kind: String, Str: s}, nil
	case c == '"':
		start := p.pos
		p.pos++
		for p.pos < len(p.data) && p.data[p.pos] != '"' {
			if _, ok := hexDigit(p.data[p.pos]); !ok {
				return Value{}, p.errorf("a binary value holds %s, which is not a hex digit", p.what())
			}
			p.pos++
		}
		if p.pos >= len(p.data) {
			p.pos = start
			return Value{}, p.errorf("a binary value is not closed")
		}
		p.pos++
		if p.discard {
			return Value{Kind: Binary}, nil
		}
		return Value{Kind: Binary, Str: string(p.data[start+1 : p.pos-1])}, nil
	case c == '.' && p.pos+1 < len(p.data) && isAlpha(p.data[p.pos+1]):
		start := p.pos
		p.pos++
		for p.pos < len(p.data) && (isAlpha(p.data[p.pos]) || isDigit(p.data[p.pos])) {
			p.pos++
		}
		if p.pos >= len(p.data) || p.data[p.pos] != '.' {
			p.pos = start
			return Value{}, p.errorf("an enumeration is not closed with '.'")
		}
		p.pos++
		if p.discard {
			return Value{Kind: Enum}, nil
		}
		return Value{Kind: Enum, Str: string(p.data[start+1 : p.pos-1])}, nil
	case c == '+' || c == '-' || c == '.' || isDigit(c):
		return p.number()
	case c == '(':
		return p.list()
	case isAlpha(c):
		start := p.pos
		for p.pos < len(p.data) && (isAlpha(p.data[p.pos]) || isDigit(p.data[p.pos])) {
			p.pos++
		}
		raw := p.data[start:p.pos]
		name := func() string { return strings.ToUpper(string(raw)) }
		p.skip()
		if p.pos >= len(p.data) || p.data[p.pos] != '(' {
			return Value{}, p.errorf("%s is not followed by '(' (a typed value)", name())
		}
		if p.depth >= MaxNesting {
			return Value{}, p.errorf("%s", nestingMsg)
		}
		p.pos++
		p.depth++
		inner, err := p.value()
		p.depth--
		if err != nil {
			return Value{}, err
		}
		p.skip()
		if p.pos >= len(p.data) || p.data[p.pos] != ')' {
			return Value{}, p.errorf("the typed value %s(…) is not closed with ')'", name())
		}
		p.pos++
		if p.discard {
			return Value{Kind: Typed}, nil
		}
		return Value{Kind: Typed, Str: name(), List: []Value{inner}}, nil
	}
	return Value{}, p.errorf("%s cannot start a value", p.what())
}

func (p *parser) list() (Value, error) {
	p.skip()
	if p.pos >= len(p.data) || p.data[p.pos] != '(' {
		return Value{}, p.errorf("expected '(' but found %s", p.what())
	}
	if p.depth >= MaxNesting {
		return Value{}, p.errorf("%s", nestingMsg)
	}
	p.pos++
	p.depth++
	defer func() { p.depth-- }()
	v := Value{Kind: List}
	p.skip()
	if p.pos < len(p.data) && p.data[p.pos] == ')' {
		p.pos++
		return v, nil
	}
	for {
		item, err := p.value()
		if err != nil {
			return Value{}, err
		}
		if !p.discard {
			v.List = append(v.List, item)
		}
		p.skip()
		if p.pos >= len(p.data) {
			return Value{}, p.errorf("a list is not closed with ')'")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ')':
			p.pos++
			return v, nil
		default:
			return Value{}, p.errorf("expected ',' or ')' in a list but found %s", p.what())
		}
	}
}

// stringRaw returns the text between a string's quotes, quotes still doubled.
func (p *parser) stringRaw() ([]byte, error) {
	end, ok := stringEnd(p.data, p.pos)
	if !ok {
		return nil, p.errorf("a string is not closed")
	}
	raw := p.data[p.pos+1 : end-1]
	p.pos = end
	return raw, nil
}

// stringEnd returns the index just after the string starting at data[at]
// (a quote).
func stringEnd(data []byte, at int) (int, bool) {
	i := at + 1
	for {
		j := indexByteFrom(data, i, '\'')
		if j < 0 {
			return len(data), false
		}
		if j+1 < len(data) && data[j+1] == '\'' {
			i = j + 2
			continue
		}
		return j + 1, true
	}
}

func (p *parser) number() (Value, error) {
	start := p.pos
	if c := p.data[p.pos]; c == '+' || c == '-' {
		p.pos++
	}
	isReal := false
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case isDigit(c):
		case c == '.':
			isReal = true
		case c == 'E' || c == 'e':
			isReal = true
			if p.pos+1 < len(p.data) && (p.data[p.pos+1] == '+' || p.data[p.pos+1] == '-') {
				p.pos++
			}
		default:
			goto done
		}
		p.pos++
	}
done:
	text := unsafeString(p.data[start:p.pos])
	if isReal {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			p.pos = start
			return Value{}, p.errorf("%q is not a number", text)
		}
		return Value{Kind: Real, Real: f}, nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		p.pos = start
		return Value{}, p.errorf("%q is not a number", text)
	}
	return Value{Kind: Integer, Int: n}, nil
}

// digits reads an unsigned decimal number.
func (p *parser) digits() (uint64, bool) {
	start := p.pos
	var n uint64
	for p.pos < len(p.data) && isDigit(p.data[p.pos]) {
		n = n*10 + uint64(p.data[p.pos]-'0')
		p.pos++
		if p.pos-start > 18 {
			return 0, false
		}
	}
	return n, p.pos > start
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' }
