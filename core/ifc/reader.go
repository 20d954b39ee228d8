package ifc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/dustin/go-humanize"

	"codeberg.org/plinth/plinth/core/ifc/schema"
)

// Instance is one entity instance of the DATA section.
type Instance struct {
	ID     uint64
	Entity *schema.Entity // nil: a type the schema does not know, or a complex instance
	// Byte spans in the file: the type name, and the parameter list "(…)"
	// (for a complex instance, the whole "(A(…)B(…))").
	typeAt, typeEnd uint32
	at, end         uint32
	complex         bool
}

// Header is what the HEADER section says about the file.
type Header struct {
	Description       []string
	ImplementationLvl string
	Name              string
	TimeStamp         string
	Author            []string
	Organization      []string
	PreprocessorVer   string
	OriginatingSystem string
	Authorization     string
	Schemas           []string // FILE_SCHEMA, as written
}

// File is a parsed IFC file.
type File struct {
	Name     string // for messages: the file name as given
	SchemaID string // FILE_SCHEMA as written, e.g. "IFC4X3_RC2"
	Schema   *schema.Schema
	Header   Header

	data  []byte
	insts []Instance
	dense []int32          // id → index+1, when ids are dense enough
	ids   map[uint64]int32 // id → index, otherwise
	// Unknown entity type names, with how many instances use each.
	Unknown map[string]int
	lb      lineBase // where data sits in the file, when Read holds a window of it
	quiet   bool     // errorAt gives errQuiet: the error is not shown
}

// errQuiet is errorAt's error when its place and sentence are not needed.
var errQuiet = errors.New("a syntax error")

// MaxFileSize is the largest IFC file Plinth reads: 1 GiB. Read (what a
// sync and `ifc stats` use) holds only a window of a file and an index of
// about 16 bytes an instance; Load and Parse hold the whole file with an
// index of about three times its size. Larger models are exported in
// parts (by storey or by discipline) and mapped as several files. It is
// a variable so that tests can lower it; the reader's offsets reach 4 GiB,
// and a larger value is treated as that.
var MaxFileSize int64 = 1 << 30

// maxOffset is the largest size the reader's uint32 offsets can address.
const maxOffset = math.MaxUint32

// limit is the largest file Load and Parse accept.
func limit() int64 { return min(MaxFileSize, maxOffset) }

// ErrTooLarge means a file is larger than MaxFileSize.
var ErrTooLarge = errors.New("the IFC file is too large")

type tooLargeError struct {
	name string
	size int64
	grew bool // more than size was read: the file grew while it was read
}

func (e *tooLargeError) Error() string {
	lim := limit()
	size, most := humanize.IBytes(uint64(e.size)), humanize.IBytes(uint64(lim))
	if size == most && !e.grew {
		size, most = humanize.Comma(e.size)+" bytes", humanize.Comma(lim)+" bytes"
	}
	if e.grew {
		return fmt.Sprintf("%s grew while it was read to more than %s, the most Plinth reads of an IFC file", e.name, most)
	}
	return fmt.Sprintf("%s is %s; Plinth reads IFC files of up to %s (export the model in parts, e.g. by storey or discipline, and map each part)",
		e.name, size, most)
}

func (e *tooLargeError) Is(target error) bool { return target == ErrTooLarge }

// CheckSize refuses, with a sentence, a file of size bytes that is larger
// than MaxFileSize; name is used in the sentence.
func CheckSize(name string, size int64) error {
	if size > limit() {
		return &tooLargeError{name: name, size: size}
	}
	return nil
}

// Open reads and parses the file at path (see Load).
func Open(ctx context.Context, path string) (*File, error) {
	size, err := Size(path)
	if err != nil {
		return nil, err
	}
	r, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s cannot be read: %w", path, err)
	}
	defer r.Close()
	data, err := Load(ctx, path, r, size)
	if err != nil {
		return nil, err
	}
	return Parse(ctx, path, data)
}

// Size returns the size of the IFC file at path, or a sentence saying why
// it is not one Plinth reads: missing, a folder, unreadable, larger than
// MaxFileSize.
func Size(path string) (int64, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("there is no file %s", path)
	case err != nil:
		return 0, fmt.Errorf("%s cannot be read: %w", path, err)
	case st.IsDir():
		return 0, fmt.Errorf("%s is a folder, not an IFC file", path)
	}
	return st.Size(), CheckSize(path, st.Size())
}

// ErrUnreadable means the bytes of a file could not be read (the disk or
// the share failed), as opposed to bytes that are not an IFC file.
var ErrUnreadable = errors.New("the file cannot be read")

type readError struct {
	name string
	err  error
}

func (e *readError) Error() string        { return fmt.Sprintf("%s cannot be read: %v", e.name, e.err) }
func (e *readError) Unwrap() error        { return e.err }
func (e *readError) Is(target error) bool { return target == ErrUnreadable }

// How much of a file Load reads before it has checked the start: the
// first read, and how far into the file the header must end (real headers
// take a few hundred bytes).
const (
	firstRead    = 4 << 10
	headerWindow = 1 << 20
)

// Load reads an IFC file from r for Parse, with its memory bounded: a file
// larger than MaxFileSize (by size, what the source says it holds, or by
// what r gives, as a file that grows while it is read) is refused with a
// sentence, and the start (ISO-10303-21;) and the whole header are checked
// on the first bytes, before the rest is read, so that something that is
// not an IFC file is refused after a few kilobytes whatever its size.
// An error reading r is ErrUnreadable; every other error is about the
// file's content or size. name is used in messages.
func Load(ctx context.Context, name string, r io.Reader, size int64) ([]byte, error) {
	if err := CheckSize(name, size); err != nil {
		return nil, err
	}
	lim := limit()
	lr := io.LimitReader(r, lim+1) // one byte more says the file is too large
	readErr := func(err error) error { return &readError{name, err} }

	// The start and the header, from a small buffer.
	h, err := readHead(ctx, name, lr)
	if err != nil || h.eof {
		return h.data, err // the whole file is in it
	}
	head := h.data

	// The rest, into one buffer of the size the source gave (it grows,
	// up to the limit, if the file grew).
	data := make([]byte, len(head), min(lim, max(size, int64(len(head))))+1)
	copy(data, head)
	for n := 0; ; n++ {
		if n&0xff == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		m, err := lr.Read(data[len(data):cap(data)])
		data = data[:len(data)+m]
		if errors.Is(err, io.EOF) {
			return loaded(name, data, lim)
		}
		if err != nil {
			return nil, readErr(err)
		}
	}
}

// loaded returns data, read through a reader limited to lim+1 bytes, or
// refuses it when it holds more than lim: the file grew while it was read.
func loaded(name string, data []byte, lim int64) ([]byte, error) {
	if int64(len(data)) > lim {
		return nil, &tooLargeError{name: name, size: int64(len(data)), grew: true}
	}
	return data, nil
}

// checkStart checks the start of a file held partly (complete: wholly) in
// head: ISO-10303-21; then the HEADER section and a schema Plinth knows.
// done says the header was found whole and is sound; with neither done
// nor an error, more of the file is needed to tell.
func checkStart(name string, head []byte, complete bool) (done bool, err error) {
	const magic = "ISO-10303-21"
	f := &File{Name: name, data: head, Unknown: map[string]int{}}
	pos := skipSpace(head, skipBOM(head))
	if rest := string(head[pos:]); !complete && (len(rest) < len(magic) && rest == magic[:len(rest)] ||
		rest == "/" || pos == 0 && len(rest) < 3 && rest == "\xEF\xBB\xBF"[:len(rest)]) {
		return false, nil // too little yet to tell: part of the start, a comment or the byte-order mark
	}
	if !hasKeyword(head, pos, magic) {
		return false, f.errorAt(pos, "this is not an IFC file: it does not start with ISO-10303-21;")
	}
	end, found := headerEnd(head, pos+len(magic))
	if !found {
		// Garbage after the start is refused before the header window.
		p := skipSpace(head, pos+len(magic))
		switch {
		case p >= len(head):
		case head[p] != ';':
			return false, f.errorAt(p, "ISO-10303-21 is not followed by ';'")
		default:
			if p = skipSpace(head, p+1); len(head)-p >= len("HEADER") && !hasKeyword(head, p, "HEADER") {
				return false, f.errorAt(p, "expected HEADER but found "+f.near(p))
			}
		}
		return false, nil // more is needed, or (complete) Parse says what is wrong
	}
	// Parse what Parse would, on the start alone.
	f.data = head[:end]
	pos = skipSpace(f.data, pos+len(magic))
	if pos >= len(f.data) || f.data[pos] != ';' {
		return false, f.errorAt(pos, "ISO-10303-21 is not followed by ';'")
	}
	if _, err := f.header(skipSpace(f.data, pos+1)); err != nil {
		return false, err
	}
	if _, _, err := pickSchema(f.Header.Schemas); err != nil {
		return false, fmt.Errorf("%s: %w", name, err)
	}
	return true, nil
}

// headerEnd finds the end of the header section: just after the first
// ENDSEC outside strings, comments and parentheses, and the ';' after it.
func headerEnd(data []byte, pos int) (int, bool) {
	depth := 0
	for i := pos; i < len(data); {
		switch c := data[i]; {
		case c == '\'':
			end, ok := stringEnd(data, i)
			if !ok {
				return 0, false
			}
			i = end
		case c == '/' && i+1 < len(data) && data[i+1] == '*':
			end := indexFrom(data, i+2, "*/")
			if end < 0 {
				return 0, false
			}
			i = end + 2
		case c == '(':
			depth++
			i++
		case c == ')':
			depth--
			i++
		case c == 'E' && depth == 0 && hasKeyword(data, i, "ENDSEC") && (i == 0 || !isAlpha(data[i-1]) && !isDigit(data[i-1]) && data[i-1] != '-'):
			j := skipSpace(data, i+len("ENDSEC"))
			switch {
			case j >= len(data):
				return 0, false
			case data[j] == ';':
				return j + 1, true
			}
			return j, true // the header parser says what is wrong
		default:
			i++
		}
	}
	return 0, false
}

// start reads the start of the file, ISO-10303-21; and the header, sets
// the schema, and returns where the DATA sections start.
func (f *File) start() (int, error) {
	data := f.data
	pos := skipSpace(data, skipBOM(data))
	if !hasKeyword(data, pos, "ISO-10303-21") {
		return 0, f.errorAt(pos, "this is not an IFC file: it does not start with ISO-10303-21;")
	}
	pos = skipSpace(data, pos+len("ISO-10303-21"))
	if pos >= len(data) || data[pos] != ';' {
		return 0, f.errorAt(pos, "ISO-10303-21 is not followed by ';'")
	}
	pos, err := f.header(skipSpace(data, pos+1))
	if err != nil {
		return 0, err
	}
	if f.SchemaID, f.Schema, err = pickSchema(f.Header.Schemas); err != nil {
		return 0, fmt.Errorf("%s: %w", f.Name, err)
	}
	return pos, nil
}

// Parse parses an IFC file held in data, which it keeps (do not change
// it afterwards). name is used in messages.
func Parse(ctx context.Context, name string, data []byte) (*File, error) {
	if err := CheckSize(name, int64(len(data))); err != nil {
		return nil, err
	}
	f := &File{Name: name, data: data, Unknown: map[string]int{}}
	pos, err := f.start()
	if err != nil {
		return nil, err
	}
	// One or more DATA sections, then END-ISO-10303-21.
	f.insts = make([]Instance, 0, len(data)/64+16) // IFC averages 70–100 bytes an instance
	for {
		pos = skipSpace(data, pos)
		switch {
		case hasKeyword(data, pos, "DATA"):
			pos = skipSpace(data, pos+len("DATA"))
			if pos < len(data) && data[pos] == '(' { // DATA(name, schemas) in edition 3
				end, err := f.scanParams(pos)
				if err != nil {
					return nil, err
				}
				pos = skipSpace(data, end)
			}
			if pos >= len(data) || data[pos] != ';' {
				return nil, f.errorAt(pos, "DATA is not followed by ';'")
			}
			if pos, err = f.dataSection(ctx, pos+1); err != nil {
				return nil, err
			}
		case hasKeyword(data, pos, "END-ISO-10303-21"):
			return f, f.index()
		case pos >= len(data):
			// Many writers stop after ENDSEC; the instances are all there.
			return f, f.index()
		default:
			return nil, f.errorAt(pos, "expected DATA or END-ISO-10303-21 but found "+f.near(pos))
		}
	}
}

func skipBOM(data []byte) int {
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		return 3
	}
	return 0
}

func hasKeyword(data []byte, pos int, kw string) bool {
	return pos+len(kw) <= len(data) && string(data[pos:pos+len(kw)]) == kw
}

// header reads HEADER; … ENDSEC; and returns the position after it.
func (f *File) header(pos int) (int, error) {
	data := f.data
	if !hasKeyword(data, pos, "HEADER") {
		return 0, f.errorAt(pos, "expected HEADER but found "+f.near(pos))
	}
	pos = skipSpace(data, pos+len("HEADER"))
	if pos >= len(data) || data[pos] != ';' {
		return 0, f.errorAt(pos, "HEADER is not followed by ';'")
	}
	pos++
	for {
		pos = skipSpace(data, pos)
		if hasKeyword(data, pos, "ENDSEC") {
			pos = skipSpace(data, pos+len("ENDSEC"))
			if pos >= len(data) || data[pos] != ';' {
				return 0, f.errorAt(pos, "ENDSEC is not followed by ';'")
			}
			return pos + 1, nil
		}
		start := pos
		for pos < len(data) && (isAlpha(data[pos]) || isDigit(data[pos])) {
			pos++
		}
		if pos == start {
			return 0, f.errorAt(pos, "expected a header entry or ENDSEC but found "+f.near(pos))
		}
		kw := strings.ToUpper(string(data[start:pos]))
		pos = skipSpace(data, pos)
		end, err := f.scanParams(pos)
		if err != nil {
			return 0, err
		}
		p := &parser{name: f.Name, data: data[pos:end], file: data, base: pos, lb: f.lb}
		params, err := p.list()
		if err != nil {
			return 0, err
		}
		f.headerEntry(kw, params.List)
		pos = skipSpace(data, end)
		if pos >= len(data) || data[pos] != ';' {
			return 0, f.errorAt(pos, kw+"(…) is not followed by ';'")
		}
		pos++
	}
}

func (f *File) headerEntry(kw string, v []Value) {
	at := func(i int) Value {
		if i < len(v) {
			return v[i]
		}
		return Value{}
	}
	texts := func(x Value) []string {
		var out []string
		for _, s := range x.List {
			out = append(out, s.Text())
		}
		return out
	}
	h := &f.Header
	switch kw {
	case "FILE_DESCRIPTION":
		h.Description, h.ImplementationLvl = texts(at(0)), at(1).Text()
	case "FILE_NAME":
		h.Name, h.TimeStamp, h.Author, h.Organization = at(0).Text(), at(1).Text(), texts(at(2)), texts(at(3))
		h.PreprocessorVer, h.OriginatingSystem, h.Authorization = at(4).Text(), at(5).Text(), at(6).Text()
	case "FILE_SCHEMA":
		h.Schemas = texts(at(0))
	}
}

func pickSchema(ids []string) (string, *schema.Schema, error) {
	if len(ids) == 0 {
		return "", nil, fmt.Errorf("the file names no schema (FILE_SCHEMA is missing or empty)")
	}
	id := strings.TrimSpace(ids[0])
	s, err := schema.ForFileSchema(id)
	return id, s, err
}

// Special bytes inside a parameter list.
var paramSpecial = func() (t [256]bool) {
	for _, c := range []byte("'()/;") {
		t[c] = true
	}
	return t
}()

// scanParams returns the index just after the parameter list that starts
// with '(' at pos, passing strings and comments.
func (f *File) scanParams(pos int) (int, error) {
	data := f.data
	if pos >= len(data) || data[pos] != '(' {
		return 0, f.errorAt(pos, "expected '(' but found "+f.near(pos))
	}
	depth := 0
	for i := pos; i < len(data); {
		c := data[i]
		if !paramSpecial[c] {
			i++
			continue
		}
		switch c {
		case '(':
			depth++
			if depth > MaxNesting {
				return 0, f.errorAt(i, nestingMsg)
			}
			i++
		case ')':
			depth--
			i++
			if depth == 0 {
				return i, nil
			}
		case '\'':
			end, ok := stringEnd(data, i)
			if !ok {
				return 0, f.errorAt(i, "a string is not closed")
			}
			i = end
		case '/':
			if i+1 < len(data) && data[i+1] == '*' {
				end := indexFrom(data, i+2, "*/")
				if end < 0 {
					return 0, f.errorAt(i, "a comment is not closed")
				}
				i = end + 2
			} else {
				i++
			}
		case ';':
			return 0, f.errorAt(pos, "the parameter list that starts here is not closed before ';' (a ')' is missing)")
		}
	}
	return 0, f.errorAt(pos, "the parameter list that starts here is not closed before the end of the file")
}

// dataSection reads instances up to ENDSEC; and returns the position after.
func (f *File) dataSection(ctx context.Context, pos int) (int, error) {
	data := f.data
	for n := 0; ; n++ {
		if n&0xffff == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		pos = skipSpace(data, pos)
		if pos >= len(data) {
			return 0, f.errorAt(pos, "the DATA section is not closed with ENDSEC;")
		}
		in, next, endsec, err := f.instanceHead(pos)
		switch {
		case err != nil:
			return 0, err
		case endsec:
			return next, nil
		}
		pos = next
		if !in.complex {
			in.Entity = f.entity(data[in.typeAt:in.typeEnd])
		}
		end, err := f.scanParams(pos)
		if err != nil {
			return 0, err
		}
		in.end = uint32(end)
		pos = end
		pos = skipSpace(data, pos)
		if pos >= len(data) || data[pos] != ';' {
			return 0, f.errorAt(pos, fmt.Sprintf("#%d is not followed by ';'", in.ID))
		}
		pos++
		f.insts = append(f.insts, in)
	}
}

// instanceHead reads, at pos (within data) in a DATA section, either
// ENDSEC; (endsec, next after it) or the start of an instance — #n=, then
// its type name, or '(' for a complex instance — and returns the instance
// with its id, type span and where its parameters start (next).
func (f *File) instanceHead(pos int) (in Instance, next int, endsec bool, err error) {
	data := f.data
	if data[pos] != '#' {
		if hasKeyword(data, pos, "ENDSEC") {
			pos = skipSpace(data, pos+len("ENDSEC"))
			if pos >= len(data) || data[pos] != ';' {
				return in, 0, false, f.errorAt(pos, "ENDSEC is not followed by ';'")
			}
			return in, pos + 1, true, nil
		}
		return in, 0, false, f.errorAt(pos, "expected an instance (#n=…) or ENDSEC but found "+f.near(pos))
	}
	start := pos
	pos++
	var id uint64
	digits := 0
	for pos < len(data) && isDigit(data[pos]) {
		id = id*10 + uint64(data[pos]-'0')
		pos++
		digits++
	}
	if digits == 0 || digits > 18 {
		return in, 0, false, f.errorAt(start, "an instance number is missing or too long after '#'")
	}
	pos = skipSpace(data, pos)
	if pos >= len(data) || data[pos] != '=' {
		return in, 0, false, f.errorAt(pos, fmt.Sprintf("#%d is not followed by '='", id))
	}
	pos = skipSpace(data, pos+1)
	in.ID = id
	if pos < len(data) && data[pos] == '(' {
		in.complex = true
		in.typeAt, in.typeEnd, in.at = uint32(pos), uint32(pos), uint32(pos)
		return in, pos, false, nil
	}
	t := pos
	for pos < len(data) && (isAlpha(data[pos]) || isDigit(data[pos])) {
		pos++
	}
	if pos == t {
		return in, 0, false, f.errorAt(pos, fmt.Sprintf("#%d has no entity type", id))
	}
	in.typeAt, in.typeEnd = uint32(t), uint32(pos)
	pos = skipSpace(data, pos)
	in.at = uint32(pos)
	return in, pos, false, nil
}

// entity looks a type name up in the schema (upper case as written; other
// case is folded), counting the names it does not know in f.Unknown.
func (f *File) entity(name []byte) *schema.Entity {
	e := f.lookupEntity(name)
	if e == nil {
		f.Unknown[strings.ToUpper(string(name))]++
	}
	return e
}

// lookupEntity is entity without the counting.
func (f *File) lookupEntity(name []byte) *schema.Entity {
	if e := f.Schema.EntityBytes(name); e != nil {
		return e
	}
	return f.Schema.Entity(strings.ToUpper(string(name)))
}

// index builds the id → instance table and refuses duplicate ids.
func (f *File) index() error {
	var top uint64
	for _, in := range f.insts {
		top = max(top, in.ID)
	}
	if top < uint64(4*len(f.insts)+1024) {
		f.dense = make([]int32, top+1)
		for i, in := range f.insts {
			if f.dense[in.ID] != 0 {
				return f.duplicate(in, int(f.dense[in.ID]-1))
			}
			f.dense[in.ID] = int32(i + 1)
		}
		return nil
	}
	f.ids = make(map[uint64]int32, len(f.insts))
	for i, in := range f.insts {
		if j, dup := f.ids[in.ID]; dup {
			return f.duplicate(in, int(j))
		}
		f.ids[in.ID] = int32(i)
	}
	return nil
}

func (f *File) duplicate(in Instance, first int) error {
	line, _ := position(f.data, int(f.insts[first].typeAt))
	return f.errorAt(int(in.typeAt), fmt.Sprintf("#%d is defined twice (first on line %d)", in.ID, line))
}

// lookup returns the index of instance id, or -1.
func (f *File) lookup(id uint64) int {
	if f.dense != nil {
		if id < uint64(len(f.dense)) {
			return int(f.dense[id]) - 1
		}
		return -1
	}
	if i, ok := f.ids[id]; ok {
		return int(i)
	}
	return -1
}

func (f *File) errorAt(pos int, msg string) error {
	if f.quiet {
		return errQuiet
	}
	line, col := f.lb.position(f.data, pos)
	return &SyntaxError{File: f.Name, Line: line, Col: col, Msg: msg}
}

// near describes what is at pos, for messages.
func (f *File) near(pos int) string {
	if pos >= len(f.data) {
		return "the end of the file"
	}
	end := pos
	for end < len(f.data) && end-pos < 20 && f.data[end] != '\n' && f.data[end] != '\r' {
		end++
	}
	return fmt.Sprintf("%q", string(f.data[pos:end]))
}

// Len is the number of instances.
func (f *File) Len() int { return len(f.insts) }

// Bytes is the size of the file.
func (f *File) Bytes() int { return len(f.data) }

// Instance returns the i-th instance in file order.
func (f *File) Instance(i int) Instance { return f.insts[i] }

// Get returns the instance with this id.
func (f *File) Get(id uint64) (Instance, bool) {
	i := f.lookup(id)
	if i < 0 {
		return Instance{}, false
	}
	return f.insts[i], true
}

// TypeName is the instance's type as written in the file, upper case;
// a complex instance lists its parts: "(IFCA,IFCB)".
func (f *File) TypeName(in Instance) string {
	if in.complex {
		return "(complex)"
	}
	return strings.ToUpper(string(f.data[in.typeAt:in.typeEnd]))
}

// Line is the line on which the instance starts.
func (f *File) Line(in Instance) int {
	line, _ := position(f.data, int(in.typeAt))
	return line
}

// Params parses the instance's parameters (for a complex instance, one
// Typed value per part). Problems with string escapes go to warn.
func (f *File) Params(in Instance, warn func(string)) ([]Value, error) {
	if in.complex {
		return f.complexParams(in, warn)
	}
	p := &parser{name: f.Name, data: f.data[in.at:in.end], file: f.data, base: int(in.at), warn: warn, lb: f.lb}
	v, err := p.list()
	if err != nil {
		return nil, err
	}
	return v.List, nil
}

// attrTexts reads instance in's parameters the way Params does, with the
// same errors and warnings, but keeps only the text (Value.Text) of the
// attributes at the indexes in want (-1: none); nothing is allocated for
// the others. in is not a complex instance.
func (f *File) attrTexts(in Instance, want []int, warn func(string)) ([]string, error) {
	p := &parser{name: f.Name, data: f.data[in.at:in.end], file: f.data, base: int(in.at), warn: warn, lb: f.lb}
	out := make([]string, len(want))
	// As list(), at the top level.
	p.skip()
	if p.pos >= len(p.data) || p.data[p.pos] != '(' {
		return nil, p.errorf("expected '(' but found %s", p.what())
	}
	p.pos++
	p.depth++
	p.skip()
	if p.pos < len(p.data) && p.data[p.pos] == ')' {
		return out, nil
	}
	for i := 0; ; i++ {
		p.discard = !slices.Contains(want, i)
		item, err := p.value()
		if err != nil {
			return nil, err
		}
		if !p.discard {
			for k, w := range want {
				if w == i {
					out[k] = item.Text()
				}
			}
		}
		p.skip()
		if p.pos >= len(p.data) {
			return nil, p.errorf("a list is not closed with ')'")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ')':
			return out, nil
		default:
			return nil, p.errorf("expected ',' or ')' in a list but found %s", p.what())
		}
	}
}

func (f *File) complexParams(in Instance, warn func(string)) ([]Value, error) {
	// depth 1: the parts sit inside the instance's outer parentheses.
	p := &parser{name: f.Name, data: f.data[in.at+1 : in.end-1], file: f.data, base: int(in.at) + 1, warn: warn, depth: 1, lb: f.lb}
	var out []Value
	for {
		p.skip()
		if p.pos >= len(p.data) {
			return out, nil
		}
		start := p.pos
		for p.pos < len(p.data) && (isAlpha(p.data[p.pos]) || isDigit(p.data[p.pos])) {
			p.pos++
		}
		if p.pos == start {
			return nil, p.errorf("expected an entity name in a complex instance but found %s", p.what())
		}
		name := strings.ToUpper(string(p.data[start:p.pos]))
		l, err := p.list()
		if err != nil {
			return nil, err
		}
		out = append(out, Value{Kind: Typed, Str: name, List: l.List})
	}
}
