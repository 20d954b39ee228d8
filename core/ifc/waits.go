package ifc

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
)

// A template is an instance's canonical form (see canonical) with the id
// of each instance it refers to where the hash will be: markRef and 8
// bytes at each offset in its list. Read makes one per instance; when
// every id in it is hashed, the ids are replaced and the template hashed.

// fill replaces the ids in template t (at offs) with the hashes ref
// gives, in place; it reports false, leaving t as it was, when one is not
// there yet.
func fill(t []byte, offs []uint32, ref func(id uint64) (uint64, bool)) bool {
	return fillAt(t, offs, 0, ref)
}

// fillAt is fill for offsets counted from base.
func fillAt(t []byte, offs []uint32, base uint32, ref func(id uint64) (uint64, bool)) bool {
	var few [16]uint64
	vs := few[:0]
	if len(offs) > len(few) {
		vs = make([]uint64, 0, len(offs))
	}
	for _, off := range offs {
		v, ok := ref(binary.LittleEndian.Uint64(t[off-base:]))
		if !ok {
			return false
		}
		vs = append(vs, v)
	}
	for i, off := range offs {
		binary.LittleEndian.PutUint64(t[off-base:], vs[i])
	}
	return true
}

// fromTemplate appends to b the canonical form of template t, asking ref
// for each reference the way canonical does, in the same order: it is
// what canonical gives from the instance's bytes.
func fromTemplate(b, t []byte, offs []uint32, ref func(id uint64) (uint64, bool)) []byte {
	last := 0
	for _, off := range offs {
		b = append(b, t[last:off-1]...)
		if v, ok := ref(binary.LittleEndian.Uint64(t[off:])); ok {
			b = append(b, markRef)
			b = binary.LittleEndian.AppendUint64(b, v)
		} else {
			b = append(b, markMissing)
		}
		last = int(off) + 8
	}
	return append(b, t[last:]...)
}

// waitSet holds the instances that wait for others: their templates, end
// to end in one buffer, and who waits for which id.
type waitSet struct {
	// Templates beyond waitBudget bytes go to a temporary file (spill),
	// so that a file whose instances refer far ahead, or that is crafted
	// so, does not take memory in proportion to its size.
	spill   *os.File
	spilled int64  // bytes used in spill, wbuf included
	wbuf    []byte // the end of spill, not written yet
	rbuf    []byte // a block of spill read last
	rat     int64  // where rbuf starts
	err     error  // the first error writing or reading spill
	recs    recTable
	free    []int32 // places in recs to reuse
	live    int
	tmpl    []byte
	offs    []uint32
	dead    int // bytes of tmpl whose instance was hashed
	edges   []edge
	spare   int32 // first free edge + 1
	heads   idMap // the first edge of each id waited for, +1
}

type waitRec struct {
	t0, t1  uint32 // template in tmpl; in spill: its length (t1)
	o0, o1  uint32 // its offsets in offs; in spill: their number (o1)
	at      int64  // where it is in spill, or -1
	pending int32  // ids not hashed yet
	ord     int32  // place in file order
	id      uint64
	ent     uint16 // Entity.Index + 1; 0: none (no pointers: the collector skips recs)
}

type edge struct{ rec, next int32 }

// recTable holds waitRecs in chunks, so that it grows without copying.
type recTable struct {
	chunks [][]waitRec
	n      int
}

func (t *recTable) add(r waitRec) int32 {
	if t.n>>16 >= len(t.chunks) {
		t.chunks = append(t.chunks, make([]waitRec, 1<<16))
	}
	t.chunks[t.n>>16][t.n&(1<<16-1)] = r
	t.n++
	return int32(t.n - 1)
}

func (t *recTable) at(i int32) *waitRec { return &t.chunks[i>>16][i&(1<<16-1)] }

// add makes instance ord (id, of type ent) wait, with template t and its
// offsets (counted from base), for the distinct ids in unres; it returns
// its place.
func (w *waitSet) add(ord int32, id uint64, ent uint16, t []byte, offs []uint32, base uint32, unres []uint64, n int) int32 {
	if len(w.tmpl)+len(t) > waitBudget/2 && w.dead > len(w.tmpl)/2 {
		w.compact()
	}
	r := waitRec{at: -1, ord: ord, id: id, ent: ent}
	if len(w.tmpl)+len(t)+4*len(offs) <= waitBudget {
		r.t0, r.o0 = uint32(len(w.tmpl)), uint32(len(w.offs))
		w.tmpl = append(w.tmpl, t...)
		for _, off := range offs {
			w.offs = append(w.offs, off-base)
		}
		r.t1, r.o1 = uint32(len(w.tmpl)), uint32(len(w.offs))
	} else {
		r.at, r.t1, r.o1 = w.write(t, offs, base), uint32(len(t)), uint32(len(offs))
	}
	var i int32
	if k := len(w.free); k > 0 {
		i = w.free[k-1]
		w.free = w.free[:k-1]
		*w.recs.at(i) = r
	} else {
		i = w.recs.add(r)
	}
	w.live++
	for k, u := range unres {
		if k > 0 && contains(unres[:k], u) {
			continue
		}
		w.recs.at(i).pending++
		w.link(u, i, n)
	}
	return i
}

func contains(ids []uint64, id uint64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// link records that rec waits for id; n is the number of instances read.
func (w *waitSet) link(id uint64, rec int32, n int) {
	var e int32
	if w.spare > 0 {
		e = w.spare - 1
		w.spare = w.edges[e].next
	} else {
		e = int32(len(w.edges))
		w.edges = append(w.edges, edge{})
	}
	w.edges[e] = edge{rec: rec, next: w.heads.get(id)}
	w.heads.set(id, e+1, n)
}

// waitedFor reports whether anything waits for id.
func (w *waitSet) waitedFor(id uint64) bool { return w.heads.get(id) != 0 }

// take calls fn with each instance that waited for id and now waits for
// nothing, and forgets that they waited for id; n is the number of
// instances read.
func (w *waitSet) take(id uint64, n int, fn func(rec int32)) {
	e := w.heads.get(id)
	w.heads.set(id, 0, n)
	for e != 0 {
		ed := w.edges[e-1]
		w.edges[e-1].next = w.spare
		w.spare = e
		e = ed.next
		r := w.recs.at(ed.rec)
		if r.pending--; r.pending == 0 {
			fn(ed.rec)
		}
	}
}

// waitBudget is how many bytes of templates a waitSet holds in memory.
// It is a variable so that tests can lower it.
var waitBudget = 32 << 20

// write puts a template and its offsets (counted from base) in the spill
// file and returns where; a failure is kept in w.err (the template then
// reads back as nothing, and Read fails with the error).
func (w *waitSet) write(t []byte, offs []uint32, base uint32) int64 {
	if w.err != nil {
		return 0
	}
	if w.spill == nil {
		if w.spill, w.err = os.CreateTemp("", "plinth-ifc-*.tmp"); w.err != nil {
			w.err = fmt.Errorf("a temporary file to hold what the file refers ahead to cannot be made: %w", w.err)
			return 0
		}
	}
	at := w.spilled
	for _, off := range offs {
		w.wbuf = binary.LittleEndian.AppendUint32(w.wbuf, off-base)
	}
	w.wbuf = append(w.wbuf, t...)
	w.spilled += int64(4*len(offs) + len(t))
	if len(w.wbuf) >= spillBlock {
		w.flush()
	}
	return at
}

// spillBlock is how much of the spill file is written or read at once (a
// variable so that tests can lower it).
var spillBlock = 1 << 20

// flush writes wbuf at the end of the spill file.
func (w *waitSet) flush() {
	if w.err != nil || len(w.wbuf) == 0 {
		return
	}
	if _, err := w.spill.WriteAt(w.wbuf, w.spilled-int64(len(w.wbuf))); err != nil {
		w.err = fmt.Errorf("what the file refers ahead to cannot be kept in a temporary file: %w", err)
	}
	w.wbuf = w.wbuf[:0]
}

// readSpill fills buf from the spill file at at, through a block read
// ahead (waiting instances are mostly taken in the order they came).
func (w *waitSet) readSpill(buf []byte, at int64) {
	if w.err != nil || w.spill == nil {
		return
	}
	w.flush()
	end := at + int64(len(buf))
	if at < w.rat || end > w.rat+int64(len(w.rbuf)) {
		// The block starts here, or ends here when the reads go backwards
		// (what waited for one id is taken newest first).
		from := at
		if at < w.rat {
			from = min(at, max(0, end-int64(spillBlock)))
		}
		n := min(max(int64(spillBlock), end-from), w.spilled-from)
		if int64(cap(w.rbuf)) < n {
			w.rbuf = make([]byte, n)
		}
		w.rbuf = w.rbuf[:n]
		at := from
		if _, err := w.spill.ReadAt(w.rbuf, at); err != nil {
			w.err = fmt.Errorf("what the file refers ahead to cannot be read back from a temporary file: %w", err)
			w.rbuf = w.rbuf[:0]
			return
		}
		w.rat = from
	}
	copy(buf, w.rbuf[at-w.rat:])
}

// close removes the spill file.
func (w *waitSet) close() {
	if w.spill != nil {
		_ = w.spill.Close()
		_ = os.Remove(w.spill.Name())
		w.spill = nil
	}
}

// template is rec's template and offsets (new slices when they come from
// the spill file).
func (w *waitSet) template(rec int32) ([]byte, []uint32) {
	r := w.recs.at(rec)
	if r.at < 0 {
		return w.tmpl[r.t0:r.t1], w.offs[r.o0:r.o1]
	}
	buf := make([]byte, 4*int(r.o1)+int(r.t1))
	w.readSpill(buf, r.at)
	offs := make([]uint32, r.o1)
	for i := range offs {
		offs[i] = binary.LittleEndian.Uint32(buf[4*i:])
	}
	return buf[4*r.o1:], offs
}

// done forgets rec, hashed now.
func (w *waitSet) done(rec int32) {
	r := w.recs.at(rec)
	if r.at < 0 {
		w.dead += int(r.t1 - r.t0)
	}
	w.free = append(w.free, rec)
	w.live--
	if w.live == 0 {
		w.tmpl, w.offs, w.dead, w.spilled, w.wbuf, w.rbuf = w.tmpl[:0], w.offs[:0], 0, 0, w.wbuf[:0], w.rbuf[:0]
		w.recs.n, w.free = 0, w.free[:0]
	}
}

// compact drops the templates of instances hashed already.
func (w *waitSet) compact() {
	live := make(map[int32]bool, w.live)
	for _, f := range w.free {
		live[f] = false
	}
	tmpl := make([]byte, 0, len(w.tmpl)-w.dead+len(w.tmpl)/4)
	offs := make([]uint32, 0, len(w.offs))
	for i := range w.recs.n {
		if _, freed := live[int32(i)]; freed {
			continue
		}
		r := w.recs.at(int32(i))
		if r.at >= 0 {
			continue
		}
		t0, o0 := uint32(len(tmpl)), uint32(len(offs))
		tmpl = append(tmpl, w.tmpl[r.t0:r.t1]...)
		offs = append(offs, w.offs[r.o0:r.o1]...)
		r.t0, r.t1, r.o0, r.o1 = t0, uint32(len(tmpl)), o0, uint32(len(offs))
	}
	w.tmpl, w.offs, w.dead = tmpl, offs, 0
}

// waiting lists the instances still waiting, in file order.
func (w *waitSet) waiting() []int32 {
	freed := make(map[int32]bool, len(w.free))
	for _, f := range w.free {
		freed[f] = true
	}
	var out []int32
	for i := range w.recs.n {
		if !freed[int32(i)] {
			out = append(out, int32(i))
		}
	}
	// Places are reused, so file order is the order of ord.
	slices.SortFunc(out, func(a, b int32) int { return cmp.Compare(w.recs.at(a).ord, w.recs.at(b).ord) })
	return out
}
