package ifc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/dustin/go-humanize"

	"codeberg.org/plinth/plinth/core/ifc/schema"
)

// Model is what Read takes from an IFC file: everything a sync and
// `plinth ifc stats` need, without the file itself.
type Model struct {
	Name      string // for messages: the file name as given
	SchemaID  string // FILE_SCHEMA as written
	Schema    *schema.Schema
	Header    Header
	Instances int
	Bytes     int64
	// Unknown entity type names, with how many instances use each.
	Unknown  map[string]int
	Elements []Element // in file order, one per GlobalId (File.Elements)
	Warnings []Warning
	Geo      GeoReference // where the model sits (File.GeoReference)
	HasGeo   bool
}

// readWindow is how much of a file Read holds at a time; it grows for an
// instance longer than that and shrinks back after it.
var readWindow = 1 << 20

// Read reads an IFC file from r in one pass and returns its elements and
// warnings, the same as Load, Parse and File.Elements would, but holding
// only a window of the file: its memory is its per-instance index (about
// 16 bytes an instance) and the elements, not the size of the file.
//
// Instances are hashed as they come, each as soon as every instance it
// refers to is; what refers forward waits, and what is still waiting at
// the end of the file (references to instances that do not exist, cycles)
// is hashed then, as File.Elements does. size is what the source says
// the file holds (checked against MaxFileSize first); an error reading r
// is ErrUnreadable.
func Read(ctx context.Context, name string, r io.Reader, size int64) (*Model, error) {
	return ReadSum(ctx, name, r, size, nil)
}

// ReadSum is Read that also writes every byte it reads to sum (when not
// nil), from the hashing goroutine: the reading one has more to do.
func ReadSum(ctx context.Context, name string, r io.Reader, size int64, sum hash.Hash) (*Model, error) {
	if err := CheckSize(name, size); err != nil {
		return nil, err
	}
	s := &streamer{ctx: ctx, name: name, lim: limit(), size: size, sum: sum}
	s.r = io.LimitReader(r, s.lim+1)
	return s.read()
}

// streamer is one Read.
type streamer struct {
	ctx  context.Context
	name string
	r    io.Reader
	lim  int64
	size int64     // what the source said
	sum  hash.Hash // gets every byte read, or nil

	// The reading goroutine (body, step, more) owns the window and the
	// batch it fills; the hashing one (instance and after) the rest.
	f     *File // f.data is the window; f.Schema, f.Unknown, f.lb as in a File
	cur   *batch
	out   chan *batch
	free  chan *batch   // batches the hashing goroutine is done with, to reuse
	stop  chan struct{} // closed when the hashing goroutine stops
	nread int64         // bytes read from r
	eof   bool
	// The line cursor: the line of byte curPos of the window.
	curPos, curLine int

	ids   idTable
	insts instTable // per instance, in file order
	// Instances waiting for the ones they refer to.
	waits  waitSet
	stack  []uint64 // ids just hashed, whose waiters resolve looks at
	ready  []int32
	elWait map[int32]int // a waiting element → its place in els

	info    []entityInfo // per schema entity index
	types   typeCache
	rels    []relRec
	relIDs  []uint64
	els     []elemRec
	dup     error // the first instance defined twice
	unres   []uint64
	geoConv *GeoReference // the first IfcMapConversion
	crsID   uint64        // its TargetCRS
	crsName map[uint64]string
	site    *GeoReference
}

const flagResolved = 1

// instRec is what Read keeps of each instance.
type instRec struct {
	hash  uint64 // once resolved
	line  uint32
	ent   uint16 // schema entity index + 1; 0: unknown type or complex
	flags uint8  // flagResolved
}

// instTable holds instRecs in chunks, so that it grows without copying.
type instTable struct {
	chunks [][]instRec
	n      int
}

const instChunk = 1 << 16

func (t *instTable) add(r instRec) {
	if t.n&(instChunk-1) == 0 {
		t.chunks = append(t.chunks, make([]instRec, instChunk))
	}
	t.chunks[t.n>>16][t.n&(instChunk-1)] = r
	t.n++
}

func (t *instTable) at(o int32) *instRec { return &t.chunks[o>>16][o&(instChunk-1)] }

// binst is an Instance in a batch: without pointers, so that the
// garbage collector has nothing to look at in a batch.
type binst struct {
	id                       uint64
	typeAt, typeEnd, at, end uint32
	ent                      uint16 // Entity.Index + 1; 0: none
	complex                  bool
}

func (b binst) instance(sc *schema.Schema) Instance {
	in := Instance{ID: b.id, typeAt: b.typeAt, typeEnd: b.typeEnd, at: b.at, end: b.end, complex: b.complex}
	if b.ent != 0 {
		in.Entity = sc.At(int(b.ent) - 1)
	}
	return in
}

// A batch is what the reading goroutine hands the hashing one: a window
// of the file, the instances read in it and their templates (waits.go).
type batch struct {
	data  []byte
	lb    lineBase
	insts []binst // offsets into data
	lines []int32
	tmpl  []byte   // templates end to end
	tend  []uint32 // where each instance's template ends in tmpl
	offs  []uint32 // where the ids sit in tmpl
	oend  []uint32 // where each instance's offsets end in offs
	err   error    // the reading stopped after these instances with this error
	fresh int      // data[fresh:] was read for this batch; the rest came with the one before
}

type entityInfo struct {
	known   bool
	skip    int // OwnerHistory's index, or -1
	isRel   bool
	sides   [2][]int // for a relationship: related, relating attribute indexes
	isCRS   bool
	product bool
	// attrs: where an element's GlobalId, Name, ObjectType, Tag and
	// Description are (-1: not an attribute of it).
	attrs [5]int
}

type relRec struct {
	id        uint64
	line, col int
	// Its references in streamer.relIDs: relating, then related.
	at, relating, related int
}

type elemRec struct {
	e     Element
	warn  []string // string escapes that were odd
	perr  error    // its parameters could not be read
	ord   int32
	col   int
	canon []byte // nil: hashed at the end
}

// idMap maps instance ids to int32 values, 0 when unset: in chunks of a
// table by id (allocated as ids fall in them, so that it grows without
// copying) while at least one id in sixteen of the chunks' is used, in a
// map once they are sparser than that or far beyond what the file can
// hold (ids are any numbers a writer chose).
type idMap struct {
	chunks [][]int32
	used   int    // chunks allocated
	limit  uint64 // ids from here on go to the map
	sparse map[uint64]int32
}

const idChunk = 1 << 16

// newIDMap is an idMap for a file of size bytes (an instance takes at
// least 8 bytes, so a dense file's ids stay well below its size).
func newIDMap(size int64) idMap {
	return idMap{limit: uint64(max(size, 0))/2 + 1<<20}
}

func (m *idMap) get(id uint64) int32 {
	if m.sparse != nil {
		return m.sparse[id]
	}
	if c := id >> 16; c < uint64(len(m.chunks)) && m.chunks[c] != nil {
		return m.chunks[c][id&(idChunk-1)]
	}
	return 0
}

// slot is where id's value is kept in the table, or nil when ids are in
// the map; n is the number of instances read.
func (m *idMap) slot(id uint64, n int) *int32 {
	if m.sparse == nil {
		c := id >> 16
		switch {
		case c < uint64(len(m.chunks)) && m.chunks[c] != nil:
			return &m.chunks[c][id&(idChunk-1)]
		case id < m.limit && (m.used+1)*idChunk <= 16*n+1<<21:
			for uint64(len(m.chunks)) <= c {
				m.chunks = append(m.chunks, nil)
			}
			m.chunks[c] = make([]int32, idChunk)
			m.used++
			return &m.chunks[c][id&(idChunk-1)]
		}
		m.toSparse()
	}
	return nil
}

func (m *idMap) set(id uint64, v int32, n int) {
	if p := m.slot(id, n); p != nil {
		*p = v
	} else if v == 0 {
		delete(m.sparse, id)
	} else {
		m.sparse[id] = v
	}
}

// toSparse moves the table into the map.
func (m *idMap) toSparse() {
	m.sparse = map[uint64]int32{}
	for c, chunk := range m.chunks {
		for i, v := range chunk {
			if v != 0 {
				m.sparse[uint64(c)<<16|uint64(i)] = v
			}
		}
	}
	m.chunks, m.used = nil, 0
}

// idTable maps instance ids to their place in file order.
type idTable struct{ m idMap }

func (t *idTable) get(id uint64) int32 { return t.m.get(id) - 1 }

// put records id at place o; it reports false when id is there already.
func (t *idTable) put(id uint64, o int32) bool {
	m := &t.m
	if c := id >> 16; m.sparse == nil && c < uint64(len(m.chunks)) && m.chunks[c] != nil {
		p := &m.chunks[c][id&(idChunk-1)] // most often: the chunk is there
		if *p != 0 {
			return false
		}
		*p = o + 1
		return true
	}
	if m.get(id) != 0 {
		return false
	}
	m.set(id, o+1, int(o))
	return true
}

// errMore says a step ran into the end of the window before the end of
// the file: the window must hold more.
var errMore = errors.New("more of the file is needed")

func (s *streamer) read() (*Model, error) {
	head, err := readHead(s.ctx, s.name, s.r)
	if err != nil {
		return nil, err
	}
	s.nread = int64(len(head.data))
	s.eof = head.eof
	data := head.data
	if !s.eof {
		data = make([]byte, len(head.data), max(readWindow, 2*len(head.data)))
		copy(data, head.data)
	}
	f := &File{Name: s.name, data: data, Unknown: map[string]int{}}
	s.f = f
	pos, err := f.start()
	if err != nil {
		return nil, err
	}
	s.info = make([]entityInfo, f.Schema.Len())
	s.ids.m, s.waits.heads = newIDMap(s.size), newIDMap(s.size)
	defer s.waits.close()
	s.crsName = map[uint64]string{}
	s.elWait = map[int32]int{}
	s.curLine = 1
	if err := s.hashAll(pos); err != nil {
		return nil, err
	}
	if s.dup != nil {
		return nil, s.dup
	}
	m := &Model{Name: s.name, SchemaID: f.SchemaID, Schema: f.Schema, Header: f.Header, Instances: s.insts.n, Bytes: s.nread, Unknown: f.Unknown}
	if err := s.finish(m); err != nil {
		return nil, err
	}
	switch {
	case s.geoConv != nil:
		m.Geo, m.HasGeo = *s.geoConv, true
		if name, ok := s.crsName[s.crsID]; ok {
			m.Geo.CRS = name
		}
	case s.site != nil:
		m.Geo, m.HasGeo = *s.site, true
	}
	return m, nil
}

// hashAll reads the DATA sections from pos on one goroutine and hashes
// what it reads on this one.
func (s *streamer) hashAll(pos int) error {
	s.out, s.free, s.stop = make(chan *batch, 2), make(chan *batch, 4), make(chan struct{})
	s.cur = &batch{}
	defer func() {
		close(s.stop)
		for range s.out { // let the reader end
		}
	}()
	go s.run(pos)
	bf := &File{Name: s.name, Schema: s.f.Schema}
	for b := range s.out {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		bf.data, bf.lb = b.data, b.lb
		if s.sum != nil {
			s.sum.Write(b.data[b.fresh:])
		}
		var t0, o0 uint32
		for i, bi := range b.insts {
			in := bi.instance(s.f.Schema)
			s.instance(bf, in, int(b.lines[i]), b.tmpl[t0:b.tend[i]], b.offs[o0:b.oend[i]], t0)
			t0, o0 = b.tend[i], b.oend[i]
		}
		if b.err != nil {
			return b.err
		}
		if s.waits.err != nil {
			return fmt.Errorf("%s: %w", s.name, s.waits.err)
		}
		select {
		case s.free <- b:
		default:
		}
	}
	return nil
}

// head is the start of a file read by readHead.
type head struct {
	data []byte
	eof  bool // data is the whole file
}

// readHead reads the start of a file from lr (limited to one byte more
// than the largest file read) up to the end of its header, or all of a
// small file, and checks it: Load and Read both start with it.
func readHead(ctx context.Context, name string, lr io.Reader) (head, error) {
	buf := make([]byte, 0, firstRead)
	for {
		if err := ctx.Err(); err != nil {
			return head{}, err
		}
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*len(buf), headerWindow))
			copy(grown, buf)
			buf = grown
		}
		n, err := io.ReadFull(lr, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return head{}, &readError{name, err}
		}
		done, err := checkStart(name, buf, eof)
		switch {
		case err != nil:
			return head{}, err
		case eof:
			d, err := loaded(name, buf, limit())
			return head{data: d, eof: true}, err
		case done:
			return head{data: buf}, nil
		case len(buf) >= headerWindow:
			return head{}, (&File{Name: name, data: buf}).errorAt(0,
				fmt.Sprintf("the HEADER section does not end (ENDSEC;) within the first %s; this is not an IFC file Plinth can read", humanize.IBytes(headerWindow)))
		}
	}
}

// more makes the window hold the file from its byte keep on, and more of
// it than it holds now: it moves what is kept to the front, grows the
// window when it is full, and reads. At the end of the file it sets eof.
func (s *streamer) more(keep int) error {
	f := s.f
	s.advance(keep)
	// Where the kept part starts in the file, for messages.
	col0 := f.lb.col0
	if nl := bytes.LastIndexByte(f.data[:keep], '\n'); nl >= 0 {
		col0 = keep - nl - 1
	} else {
		col0 += keep
	}
	// The instances read so far go to the hashing goroutine with their
	// window; the rest of it moves to a new one.
	need := max(readWindow, len(f.data)-keep)
	if len(f.data)-keep > cap(f.data)/2 {
		need = 2 * cap(f.data) // an instance longer than half the window
	}
	// A batch the hashing goroutine is done with is used again.
	next := &batch{}
	select {
	case old := <-s.free:
		next = old
	default:
	}
	data := next.data[:0]
	if cap(data) < need || cap(data) > 2*need {
		data = make([]byte, 0, need)
	}
	data = append(data, f.data[keep:]...)
	kept := len(data)
	if !s.send(next) {
		return context.Canceled
	}
	next.fresh = kept
	f.lb = lineBase{line0: s.curLine - 1, col0: col0}
	s.curPos = 0
	for len(data) < cap(data) {
		n, err := s.r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		s.nread += int64(n)
		if errors.Is(err, io.EOF) {
			s.eof = true
			break
		}
		if err != nil {
			return &readError{s.name, err}
		}
		if n > 0 && len(data) > kept+cap(data)/4 {
			break
		}
	}
	f.data = data
	if s.nread > s.lim {
		return &tooLargeError{name: s.name, size: s.nread, grew: true}
	}
	return nil
}

// advance moves the line cursor to byte pos of the window.
func (s *streamer) advance(pos int) {
	if pos > s.curPos {
		s.curLine += bytes.Count(s.f.data[s.curPos:pos], []byte{'\n'})
		s.curPos = pos
	}
}

// send hands the current batch, with the window, to the hashing
// goroutine and starts next (emptied); it reports false when that
// goroutine has stopped.
func (s *streamer) send(next *batch) bool {
	b := s.cur
	b.data, b.lb = s.f.data, s.f.lb
	select {
	case s.out <- b:
	case <-s.stop:
		return false
	}
	next.insts, next.lines, next.tmpl, next.tend, next.offs, next.oend, next.err =
		next.insts[:0], next.lines[:0], next.tmpl[:0], next.tend[:0], next.offs[:0], next.oend[:0], nil
	s.cur = next
	return true
}

// take adds an instance read in the window to the batch; its template
// is there already.
func (s *streamer) take(in Instance) {
	s.advance(int(in.typeAt))
	b := s.cur
	bi := binst{id: in.ID, typeAt: in.typeAt, typeEnd: in.typeEnd, at: in.at, end: in.end, complex: in.complex}
	if in.Entity != nil {
		bi.ent = uint16(in.Entity.Index + 1)
	}
	b.insts = append(b.insts, bi)
	b.lines = append(b.lines, int32(s.curLine))
	b.tend = append(b.tend, uint32(len(b.tmpl)))
	b.oend = append(b.oend, uint32(len(b.offs)))
}

// run reads the DATA sections from pos in batches sent to s.out, the
// last with the error that stopped it, if any.
func (s *streamer) run(pos int) {
	defer close(s.out)
	err := s.body(pos)
	s.cur.err = err
	s.send(&batch{})
}

// body reads the DATA sections from pos to the end of the file.
func (s *streamer) body(pos int) error {
	inData := false
	for n := 0; ; n++ {
		if n&0xffff == 0 && s.ctx.Err() != nil {
			return s.ctx.Err()
		}
		// Before the end of the file, an error may only be the window's
		// end: it is worked out in full only once it is the file's.
		s.f.quiet = !s.eof
		next, in, done, err := s.step(pos, inData)
		if err != nil {
			if s.eof {
				return err
			}
			if !errors.Is(err, errMore) && s.complete(pos) {
				s.f.quiet = false
				_, _, _, err = s.step(pos, inData)
				return err
			}
			if err := s.more(pos); err != nil {
				return err
			}
			pos = 0
			continue
		}
		if done {
			return nil
		}
		pos, inData = next, in
	}
}

// complete reports whether the window holds the whole of the statement
// that starts at pos (its ';' outside strings and comments), so that an
// error in it is the file's and not the window's end.
func (s *streamer) complete(pos int) bool {
	data := s.f.data
	for i := pos; i < len(data); {
		switch data[i] {
		case ';':
			return true
		case '\'':
			end, ok := stringEnd(data, i)
			if !ok {
				return false
			}
			i = end
		case '/':
			if i+1 < len(data) && data[i+1] == '*' {
				end := indexFrom(data, i+2, "*/")
				if end < 0 {
					return false
				}
				i = end + 2
				continue
			}
			i++
		default:
			i++
		}
	}
	return false
}

// step reads one statement at pos: within a DATA section an instance or
// ENDSEC; between sections DATA or the end. Nothing changes unless it
// succeeds.
func (s *streamer) step(pos int, inData bool) (next int, stillData, done bool, err error) {
	f := s.f
	data := f.data
	pos = skipSpace(data, pos)
	if !inData {
		switch {
		case hasKeyword(data, pos, "DATA"):
			pos = skipSpace(data, pos+len("DATA"))
			if pos < len(data) && data[pos] == '(' {
				end, err := f.scanParams(pos)
				if err != nil {
					return 0, false, false, err
				}
				pos = skipSpace(data, end)
			}
			if pos >= len(data) || data[pos] != ';' {
				return 0, false, false, f.errorAt(pos, "DATA is not followed by ';'")
			}
			return pos + 1, true, false, nil
		case hasKeyword(data, pos, "END-ISO-10303-21"):
			return 0, false, true, nil
		case pos >= len(data):
			if !s.eof {
				return 0, false, false, errMore
			}
			return 0, false, true, nil // many writers stop after ENDSEC
		}
		return 0, false, false, f.errorAt(pos, "expected DATA or END-ISO-10303-21 but found "+f.near(pos))
	}
	if pos >= len(data) {
		if !s.eof {
			return 0, false, false, errMore
		}
		return 0, false, false, f.errorAt(pos, "the DATA section is not closed with ENDSEC;")
	}
	in, next, endsec, err := f.instanceHead(pos)
	switch {
	case err != nil:
		return 0, false, false, err
	case endsec:
		return next, false, false, nil
	}
	pos = next
	// The parameters are checked and the template made in one pass; the
	// template goes into the batch, and out again if the step fails.
	b := s.cur
	t0, o0 := len(b.tmpl), len(b.offs)
	undo := func(err error) (int, bool, bool, error) {
		b.tmpl, b.offs = b.tmpl[:t0], b.offs[:o0]
		return 0, false, false, err
	}
	var typeName []byte
	skip := -1
	if !in.complex {
		typeName = data[in.typeAt:in.typeEnd]
		if in.Entity = s.types.lookup(f, typeName); in.Entity != nil {
			skip = s.entityInfo(in.Entity).skip
		}
		b.tmpl = append(b.tmpl, typeName...)
	}
	if b.tmpl, pos, err = f.canonParams(b.tmpl, pos, skip, idRef, &b.offs); err != nil {
		return undo(err)
	}
	in.end = uint32(pos)
	pos = skipSpace(data, pos)
	if pos >= len(data) || data[pos] != ';' {
		return undo(f.errorAt(pos, fmt.Sprintf("#%d is not followed by ';'", in.ID)))
	}
	if typeName != nil && in.Entity == nil {
		f.Unknown[strings.ToUpper(string(typeName))]++
	}
	s.take(in)
	return pos + 1, true, false, nil
}

// typeCache remembers the entity of the type names met last, by a cheap
// hash of the name: a file uses a few hundred types, and the schema's map
// hashes the whole name each time.
type typeCache struct {
	slots [512]struct {
		name string
		e    *schema.Entity
	}
}

func (c *typeCache) lookup(f *File, name []byte) *schema.Entity {
	n := len(name)
	h := (uint(n)*31 + uint(name[0])*7 + uint(name[n-1])*13 + uint(name[n/2])*5 + uint(name[n*3/4])) & 511
	sl := &c.slots[h]
	if sl.e != nil && sl.name == string(name) {
		return sl.e
	}
	e := f.lookupEntity(name)
	if e != nil {
		sl.name, sl.e = string(name), e
	}
	return e
}

// entityInfo is what the reader needs to know of an entity, worked out
// once per entity.
func (s *streamer) entityInfo(e *schema.Entity) *entityInfo {
	ei := &s.info[e.Index]
	if ei.known {
		return ei
	}
	ei.known, ei.skip, ei.product = true, -1, e.IsProduct
	ei.isRel = e.Is("IfcRelationship")
	ei.isCRS = e.Is("IfcCoordinateReferenceSystem")
	ai := newAttrIndex(e)
	ei.attrs = [5]int{ai.globalID, ai.name, ai.objectType, ai.tag, ai.description}
	for k, a := range e.Attrs {
		switch {
		case a == "OwnerHistory":
			if ei.skip < 0 {
				ei.skip = k
			}
		case strings.HasPrefix(a, "Related"):
			ei.sides[0] = append(ei.sides[0], k)
		case strings.HasPrefix(a, "Relating"):
			ei.sides[1] = append(ei.sides[1], k)
		}
	}
	return ei
}

// instance hashes an instance read by the reading goroutine, or makes it
// wait: f holds its window, t its template (which starts at base in the
// batch's; offs are from there).
func (s *streamer) instance(f *File, in Instance, line int, t []byte, offs []uint32, base uint32) {
	o := int32(s.insts.n)
	if !s.ids.put(in.ID, o) {
		if s.dup == nil {
			first := s.ids.get(in.ID)
			s.dup = f.errorAt(int(in.typeAt), fmt.Sprintf("#%d is defined twice (first on line %d)", in.ID, s.insts.at(first).line))
		}
		// The file fails; the rest is only read for an earlier syntax error.
		s.insts.add(instRec{line: uint32(line)})
		return
	}
	var ei *entityInfo
	var e uint16
	if in.Entity != nil {
		ei = &s.info[in.Entity.Index]
		e = uint16(in.Entity.Index + 1)
	}
	s.insts.add(instRec{line: uint32(line), ent: e})

	// Hash it now if everything it refers to is hashed.
	ready := fillAt(t, offs, base, s.hashed)
	if ei != nil {
		if ei.product {
			s.element(f, in, o, line, ready, t)
		}
		if ei.isRel {
			s.relationship(f, in, ei, line)
		}
		if ei.isCRS || in.ID == s.crsID && s.crsID != 0 {
			s.crsName[in.ID] = strings.TrimSpace(f.attrs(in)["Name"].Text())
		}
		switch {
		case s.geoConv == nil && in.Entity.Name == "IfcMapConversion":
			if g, ok := f.mapConversion(in); ok {
				s.geoConv = &g
				if crs := f.attrs(in)["TargetCRS"]; crs.Kind == Ref {
					s.crsID = uint64(crs.Int)
				}
			}
		case s.site == nil && in.Entity.Name == "IfcSite":
			if g, ok := f.siteReference(in); ok {
				s.site = &g
			}
		}
	}
	if ready {
		s.resolve(o, in.ID, xxhash.Sum64(t))
		return
	}
	// Wait until what it refers to is hashed.
	s.unres = s.unres[:0]
	for _, off := range offs {
		id := binary.LittleEndian.Uint64(t[off-base:])
		if _, ok := s.hashed(id); !ok {
			s.unres = append(s.unres, id)
		}
	}
	s.waits.add(o, in.ID, e, t, offs, base, s.unres, s.insts.n)
}

// idRef is canonical's ref for a template: the id stands in for the hash.
func idRef(id uint64) (uint64, bool) { return id, true }

// hashed is fill's ref while reading: the hash of an instance hashed
// already.
func (s *streamer) hashed(id uint64) (uint64, bool) {
	if o := s.ids.get(id); o >= 0 {
		if r := s.insts.at(o); r.flags&flagResolved != 0 {
			return r.hash, true
		}
	}
	return 0, false
}

// resolve records the hash of instance o (with this id) and hashes what
// waited only for it, and what waited only for those, and so on.
func (s *streamer) resolve(o int32, id uint64, v uint64) {
	r := s.insts.at(o)
	r.hash, r.flags = v, r.flags|flagResolved
	if !s.waits.waitedFor(id) {
		return
	}
	s.stack = append(s.stack[:0], id)
	for len(s.stack) > 0 {
		id := s.stack[len(s.stack)-1]
		s.stack = s.stack[:len(s.stack)-1]
		s.ready = s.ready[:0]
		s.waits.take(id, s.insts.n, func(rec int32) { s.ready = append(s.ready, rec) })
		for _, rec := range s.ready {
			t, offs := s.waits.template(rec)
			if !fill(t, offs, s.hashed) {
				if s.waits.err != nil {
					return // the read fails with it
				}
				panic("ifc: an instance was hashed before what it refers to") // pending counts every id it waits for
			}
			r := *s.waits.recs.at(rec)
			ir := s.insts.at(r.ord)
			ir.hash, ir.flags = xxhash.Sum64(t), ir.flags|flagResolved
			if i, ok := s.elWait[r.ord]; ok {
				s.els[i].canon = append([]byte(nil), t...)
				delete(s.elWait, r.ord)
			}
			s.waits.done(rec)
			if s.waits.waitedFor(r.id) {
				s.stack = append(s.stack, r.id)
			}
		}
	}
}

// col is the 1-based column in the file of byte pos of f's window.
func col(f *File, pos int) int {
	if nl := bytes.LastIndexByte(f.data[:pos], '\n'); nl >= 0 {
		return pos - nl
	}
	return f.lb.col0 + pos + 1
}

// element records an element read at o; ready: its canonical form is in
// s.canon (everything it refers to was hashed).
func (s *streamer) element(f *File, in Instance, o int32, line int, ready bool, t []byte) {
	rec := elemRec{ord: o}
	ai := s.info[in.Entity.Index].attrs
	texts, err := f.attrTexts(in, ai[:], func(msg string) { rec.warn = append(rec.warn, msg) })
	if err != nil {
		rec.perr = err
	} else {
		rec.e = Element{Type: in.Entity.Name, ID: in.ID, Line: line,
			GlobalID: texts[0], Name: texts[1], ObjectType: texts[2], Tag: texts[3], Description: texts[4]}
	}
	rec.col = col(f, int(in.typeAt))
	if ready {
		rec.canon = append([]byte(nil), t...)
	} else {
		s.elWait[o] = len(s.els)
	}
	s.els = append(s.els, rec)
}

// relationship records a relationship's two sides, for finish: what its
// relating side is, and so whether it attaches to the related elements,
// may only be known further on.
func (s *streamer) relationship(f *File, in Instance, ei *entityInfo, line int) {
	at := len(s.relIDs)
	s.relIDs = f.appendRefs(s.relIDs, in, ei.sides[1])
	relating := len(s.relIDs) - at
	if relating == 0 {
		return
	}
	s.relIDs = f.appendRefs(s.relIDs, in, ei.sides[0])
	s.rels = append(s.rels, relRec{id: in.ID, line: line, col: col(f, int(in.typeAt)),
		at: at, relating: relating, related: len(s.relIDs) - at - relating})
}

// finish hashes what still waits at the end of the file — instances that
// refer to ones that do not exist, or through a cycle — the way
// File.Elements does and in the same order (relationships, then
// elements), attaches relationships to elements and fills m.
func (s *streamer) finish(m *Model) error {
	ctx := s.ctx
	// What waits, as a File of its own; the rest comes from s.insts.
	af := &File{Name: s.name, Schema: s.f.Schema, Unknown: s.f.Unknown}
	stuck := s.waits.waiting()
	for _, rec := range stuck {
		r := *s.waits.recs.at(rec)
		in := Instance{ID: r.id}
		if r.ent != 0 {
			in.Entity = s.f.Schema.At(int(r.ent) - 1)
		}
		af.insts = append(af.insts, in)
	}
	if err := af.index(); err != nil {
		return err
	}
	h := newHasher(af)
	h.tmpl = func(i int) ([]byte, []uint32) { return s.waits.template(stuck[i]) }
	h.pre = func(id uint64) (uint64, bool) {
		return s.hashed(id)
	}
	// hashOf is the hash of instance o, with this id.
	hashOf := func(o int32, id uint64) uint64 {
		if r := s.insts.at(o); r.flags&flagResolved != 0 {
			return r.hash
		}
		return h.hash(af.lookup(id))
	}
	isProduct := func(o int32) (known, product bool) {
		if o < 0 || s.insts.at(o).ent == 0 {
			return false, false
		}
		return true, s.info[s.insts.at(o).ent-1].product
	}
	deep := func(id uint64, line, col int) error {
		return &SyntaxError{File: s.name, Line: line, Col: col, Msg: deepMsg(id)}
	}

	extras := map[int32][]uint64{}
	var relating []uint64
	for i, r := range s.rels {
		if i&0xfff == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		relating = relating[:0]
		ids := s.relIDs[r.at : r.at+r.relating+r.related]
		for _, id := range ids[:r.relating] {
			o := s.ids.get(id)
			if known, product := isProduct(o); !known || product {
				continue
			}
			relating = append(relating, hashOf(o, id))
			if h.tooDeep {
				return deep(r.id, r.line, r.col)
			}
		}
		if len(relating) == 0 {
			continue
		}
		for _, id := range ids[r.relating:] {
			o := s.ids.get(id)
			if _, product := isProduct(o); product {
				extras[o] = append(extras[o], relating...)
			}
		}
	}

	c := &collector{seen: make(map[string]int, len(s.els))}
	if len(s.els) > 0 {
		c.out = make([]Element, 0, len(s.els))
	}
	for i := range s.els {
		rec := &s.els[i]
		if i&0xfff == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if rec.perr != nil {
			return rec.perr
		}
		e := rec.e
		if rec.canon != nil {
			e.Checksum = checksum(rec.canon, extras[rec.ord])
			c.add(e, rec.warn, nil)
			continue
		}
		h.missing, h.cycle, h.bad = h.missing[:0], false, false
		e.Checksum = h.element(af.lookup(e.ID), s.info[s.insts.at(rec.ord).ent-1].skip, extras[rec.ord])
		if h.tooDeep {
			return deep(e.ID, e.Line, rec.col)
		}
		c.add(e, rec.warn, h)
	}
	if s.waits.err != nil {
		return fmt.Errorf("%s: %w", s.name, s.waits.err)
	}
	m.Elements, m.Warnings = c.out, c.warns
	return nil
}
