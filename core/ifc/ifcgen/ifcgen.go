// Package ifcgen generates large realistic IFC files for benchmarks, by
// replicating the DATA section of a real sample file with fresh instance
// ids and fresh GlobalIds in every copy.
package ifcgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
)

// globalIDChars is the IFC GlobalId alphabet: a 128-bit GUID written as 22
// base-64 digits, most significant first, the first digit carrying only the
// top 2 bits (so it is 0-3).
const globalIDChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$"

var isGlobalIDChar = func() (t [256]bool) {
	for i := 0; i < len(globalIDChars); i++ {
		t[globalIDChars[i]] = true
	}
	return t
}()

// Generate writes to w an IFC file of about targetBytes made by replicating the
// DATA section of the sample (an ISO 10303-21 file's bytes) again and again:
// each copy renumbers every #id (consistently, including every reference inside
// parameters, strings excluded) to fresh ids and gives every 22-character
// IFC GlobalId (the first attribute of IfcRoot subtypes; detect it as a quoted 22-char
// string of the alphabet 0-9A-Za-z_$ that is the FIRST parameter of an instance) a fresh random but valid value,
// so that every copy's products are distinct elements. HEADER is kept once (FILE_NAME may stay).
// It returns the number of instances written.
//
// The ids are renumbered densely: the N distinct ids that the sample's DATA
// section defines or references, in increasing order, become 1..N in the
// first copy, N+1..2N in the second, and so on, so ids stay as short as in
// a real file of that size whatever the gaps in the sample's numbering (a
// reference to an id that the sample does not define stays dangling, to a
// distinct id in each copy). Text inside strings ('...', with ” for a
// quote), binary literals ("...") and comments (/* */) is never changed, nor
// is anything but the ids and GlobalIds. At least one copy is written; copies
// are added while the output is shorter than targetBytes, so it exceeds
// targetBytes by less than one copy. The same sample, size and seed give
// the same output. Memory use is bounded by a few times the sample's size.
func Generate(w io.Writer, sample []byte, targetBytes int64, seed int64) (instances int, err error) {
	t, err := compile(sample)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var written int64
	write := func(b []byte) {
		n, _ := bw.Write(b) // a write error is kept by bw and returned by Flush
		written += int64(n)
	}

	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	var gidCounter uint64
	var num [20]byte
	var gid [22]byte
	write(sample[:t.bodyStart])
	for copyIndex := 0; ; copyIndex++ {
		if copyIndex > 0 {
			write(t.newline)
		}
		base := int64(copyIndex) * int64(len(t.ids))
		for _, op := range t.ops {
			write(t.body[op.start:op.end])
			switch op.kind {
			case opRef:
				write(strconv.AppendInt(num[:0], base+int64(op.rank)+1, 10))
			case opGlobalID:
				gidCounter++
				// The high half is random, the low half a bijective mix of a
				// counter: random-looking, yet never the same twice.
				encodeGlobalID(&gid, rng.Uint64(), mix64(gidCounter+uint64(seed)))
				write(gid[:])
			}
		}
		write(t.body[t.tail:])
		instances += t.instances
		if written+int64(len(sample)-t.bodyEnd) >= targetBytes {
			break
		}
	}
	write(sample[t.bodyEnd:])
	if err := bw.Flush(); err != nil {
		return instances, err
	}
	return instances, nil
}

// encodeGlobalID writes the 128-bit value hi:lo as an IFC GlobalId.
func encodeGlobalID(dst *[22]byte, hi, lo uint64) {
	for i := 21; i >= 0; i-- {
		dst[i] = globalIDChars[lo&63]
		lo = lo>>6 | hi<<58
		hi >>= 6
	}
}

// mix64 is the SplitMix64 finaliser, a bijection of uint64.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

type opKind uint8

const (
	opRef      opKind = iota + 1 // the digits of a #id, replaced by the renumbered id
	opGlobalID                   // the 22 characters of a GlobalId, replaced by a fresh one
)

// An op copies body[start:end] verbatim and then writes the hole that
// follows it: a renumbered id or a fresh GlobalId.
type op struct {
	start, end int32
	kind       opKind
	rank       int32 // for opRef: the id's index among the sample's sorted distinct ids
}

// template is the DATA section of a sample, cut at the ids and GlobalIds.
type template struct {
	body      []byte // the instances: sample[bodyStart:bodyEnd]
	bodyStart int    // after DATA; and the white space that follows it
	bodyEnd   int    // after the last instance's ';'
	ops       []op
	tail      int     // body[tail:] follows the last op
	ids       []int64 // the distinct ids defined or referenced, sorted
	instances int     // instances in one copy
	newline   []byte  // the sample's line ending, written between copies
}

// compile finds the sample's DATA section and cuts it into ops.
func compile(sample []byte) (*template, error) {
	dataStart, bodyEnd, err := findData(sample)
	if err != nil {
		return nil, err
	}
	bodyStart := skipSpace(sample, dataStart)
	if bodyStart >= bodyEnd {
		return nil, errors.New("ifcgen: the sample's DATA section has no instance")
	}
	if len(sample) > 1<<31-1 {
		return nil, errors.New("ifcgen: the sample is larger than 2 GiB")
	}
	t := &template{body: sample[bodyStart:bodyEnd], bodyStart: bodyStart, bodyEnd: bodyEnd, newline: []byte("\n")}
	if bytes.Contains(sample[:bodyStart], []byte("\r\n")) || bytes.Contains(t.body, []byte("\r\n")) {
		t.newline = []byte("\r\n")
	}
	refs, err := t.cut()
	if err != nil {
		return nil, err
	}
	if t.instances == 0 {
		return nil, errors.New("ifcgen: the sample's DATA section has no instance")
	}
	// Rank the distinct ids.
	t.ids = slices.Clone(refs)
	slices.Sort(t.ids)
	t.ids = slices.Compact(t.ids)
	for i := range t.ops {
		if t.ops[i].kind == opRef {
			r, _ := slices.BinarySearch(t.ids, refs[t.ops[i].rank])
			t.ops[i].rank = int32(r)
		}
	}
	return t, nil
}

// Where an instance is in its parsing, for spotting the GlobalId.
const (
	phaseID      = iota // expecting #id
	phaseEquals         // after #id, expecting '='
	phaseName           // after '=', in or before the entity name
	phaseFirst          // after '(', expecting the first parameter
	phaseNothing        // the GlobalId slot is past or absent
)

// cut lexes t.body into ops. It returns the id of each opRef, indexed by
// the op's rank field (which compile then turns into a true rank).
func (t *template) cut() (refs []int64, err error) {
	b := t.body
	last := 0 // start of the literal not yet in an op
	phase := phaseID
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '\'':
			end, ok := stringEnd(b, i)
			if !ok {
				return nil, fmt.Errorf("ifcgen: unterminated string at byte %d", t.bodyStart+i)
			}
			if phase == phaseFirst && end-i == 24 && isGlobalID(b[i+1:end-1]) {
				t.ops = append(t.ops, op{start: int32(last), end: int32(i + 1), kind: opGlobalID})
				last = end - 1
			}
			if phase != phaseID {
				phase = phaseNothing
			}
			i = end
		case c == '"':
			end := bytes.IndexByte(b[i+1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("ifcgen: unterminated binary literal at byte %d", t.bodyStart+i)
			}
			phase = phaseNothing
			i += end + 2
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			end := bytes.Index(b[i+2:], []byte("*/"))
			if end < 0 {
				return nil, fmt.Errorf("ifcgen: unterminated comment at byte %d", t.bodyStart+i)
			}
			i += end + 4
		case c == '#' && i+1 < len(b) && isDigit(b[i+1]):
			j := i + 1
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			id, err := strconv.ParseInt(string(b[i+1:j]), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("ifcgen: bad id %s at byte %d", b[i:j], t.bodyStart+i)
			}
			t.ops = append(t.ops, op{start: int32(last), end: int32(i + 1), kind: opRef, rank: int32(len(refs))})
			refs = append(refs, id)
			last = j
			if phase == phaseID {
				phase = phaseEquals
			} else {
				phase = phaseNothing
			}
			i = j
		case c == ';':
			if phase != phaseID {
				t.instances++
			}
			phase = phaseID
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		default:
			switch {
			case phase == phaseEquals && c == '=':
				phase = phaseName
			case phase == phaseName && (isDigit(c) || c == '_' || c|0x20 >= 'a' && c|0x20 <= 'z'):
			case phase == phaseName && c == '(':
				phase = phaseFirst
			default:
				phase = phaseNothing
			}
			i++
		}
	}
	t.tail = last
	return refs, nil
}

// findData returns where the DATA section's instances start (after the
// DATA statement's ';') and end (after the ';' of the statement before
// ENDSEC).
func findData(b []byte) (start, end int, err error) {
	start = -1
	stmt := 0    // start of the current statement
	lastEnd := 0 // after the last statement's ';'
	for i := 0; i < len(b); {
		switch c := b[i]; {
		case c == '\'':
			e, ok := stringEnd(b, i)
			if !ok {
				return 0, 0, fmt.Errorf("ifcgen: unterminated string at byte %d", i)
			}
			i = e
		case c == '"':
			e := bytes.IndexByte(b[i+1:], '"')
			if e < 0 {
				return 0, 0, fmt.Errorf("ifcgen: unterminated binary literal at byte %d", i)
			}
			i += e + 2
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			e := bytes.Index(b[i+2:], []byte("*/"))
			if e < 0 {
				return 0, 0, fmt.Errorf("ifcgen: unterminated comment at byte %d", i)
			}
			i += e + 4
		case c == ';':
			kw := keyword(b[stmt:i])
			switch {
			case start < 0 && kw == "DATA":
				start = i + 1
			case start >= 0 && kw == "ENDSEC":
				return start, lastEnd, nil
			}
			i++
			stmt, lastEnd = i, i
		default:
			i++
		}
	}
	if start < 0 {
		return 0, 0, errors.New("ifcgen: the sample has no DATA section")
	}
	return 0, 0, errors.New("ifcgen: the sample's DATA section has no ENDSEC")
}

// keyword returns the first word of a statement, past white space and
// comments ("" if the statement starts otherwise).
func keyword(s []byte) string {
	for {
		s = bytes.TrimLeft(s, " \t\r\n")
		if !bytes.HasPrefix(s, []byte("/*")) {
			break
		}
		e := bytes.Index(s[2:], []byte("*/"))
		if e < 0 {
			return ""
		}
		s = s[e+4:]
	}
	n := 0
	for n < len(s) && (s[n] == '_' || s[n] == '-' || isDigit(s[n]) || s[n]|0x20 >= 'a' && s[n]|0x20 <= 'z') {
		n++
	}
	return string(s[:n])
}

// skipSpace returns the index of the first byte at or after i that is not
// white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index after the string that starts with the quote
// at b[i], whose quotes inside are doubled.
func stringEnd(b []byte, i int) (int, bool) {
	for j := i + 1; ; {
		k := bytes.IndexByte(b[j:], '\'')
		if k < 0 {
			return 0, false
		}
		j += k + 1
		if j < len(b) && b[j] == '\'' {
			j++
			continue
		}
		return j, true
	}
}

func isGlobalID(s []byte) bool {
	if len(s) != 22 {
		return false
	}
	for _, c := range s {
		if !isGlobalIDChar[c] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
