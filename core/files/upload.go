package files

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/storage"
)

// content is a stored content: its chunks are in the fileserver's packs.
// locs holds the chunks this upload appended; they are indexed when the
// record is committed (chunks already indexed are shared instead).
type content struct {
	chunks []string
	hash   Hash
	size   int64
	locs   map[string]storage.Loc
}

// contentHash is the hash that identifies a content: SHA-256 over its
// chunk hashes and its size. Chunks are hashed once, on the way in.
func contentHash(chunkSums [][32]byte, size int64) Hash {
	h := sha256.New()
	for _, c := range chunkSums {
		h.Write(c[:])
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(size))
	h.Write(b[:])
	var out Hash
	h.Sum(out[:0])
	return out
}

// Chunk buffers come from pools by size: a chunk of a small file is read
// into a small buffer, so that an import of many small files does not
// allocate (and clear) a full chunk for each of them whenever the
// collector has emptied the pool.
var bufPools = [...]struct {
	size int
	pool sync.Pool
}{{size: 64 << 10}, {size: 1 << 20}, {size: ChunkSize}}

func init() {
	for i := range bufPools {
		size := bufPools[i].size
		bufPools[i].pool.New = func() any { b := make([]byte, size); return &b }
	}
}

// getBuf returns a buffer of at least n bytes (n ≤ ChunkSize).
func getBuf(n int64) *[]byte {
	for i := range bufPools {
		if n <= int64(bufPools[i].size) {
			return bufPools[i].pool.Get().(*[]byte)
		}
	}
	return bufPools[len(bufPools)-1].pool.Get().(*[]byte)
}

// putBuf gives a buffer from getBuf back to its pool.
func putBuf(b *[]byte) {
	for i := range bufPools {
		if len(*b) == bufPools[i].size {
			bufPools[i].pool.Put(b)
			return
		}
	}
}

// readChunk reads the next chunk of r: ChunkSize bytes, fewer at the end.
// left is how much the caller expects is left to read (0 when it does not
// know); a chunk expected to be small is read into a small buffer, and
// moved to a full one if r holds more than expected, so that chunks are
// cut at the same places whatever was expected.
func readChunk(r io.Reader, left int64) (*[]byte, int, error) {
	if left <= 0 || left >= ChunkSize {
		left = ChunkSize
	}
	buf := getBuf(left + 1)
	n, err := io.ReadFull(r, *buf)
	if err != nil || len(*buf) == ChunkSize {
		return buf, n, err
	}
	full := getBuf(ChunkSize)
	copy(*full, (*buf)[:n])
	putBuf(buf)
	m, err := io.ReadFull(r, (*full)[n:])
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return full, n + m, err
}

// storeContent reads r to the end, splitting it into chunks that it
// appends to the fileserver's packs unless they are stored already. Memory
// stays bounded by a few chunks whatever the size of r. Chunks appended
// but never committed (a cancelled or killed upload) are cut off or
// compacted away later.
func (s *Service) storeContent(ctx context.Context, r io.Reader, total int64, item string, prog progress.Func) (content, error) {
	type job struct {
		i   int
		buf *[]byte
		n   int
	}
	// Two workers hash and store the chunks of a big content; a content
	// of one chunk (most files of an office) is stored by the caller,
	// without handing it to another goroutine.
	workers := 2
	if 0 < total && total < ChunkSize {
		workers = 0
	}
	jobs := make(chan job, workers)
	var (
		mu      sync.Mutex
		sums    [][32]byte
		locs    = map[string]storage.Loc{}
		firstEr error
		done    int64
	)
	put := func(j job) {
		data := (*j.buf)[:j.n]
		sum := sha256.Sum256(data)
		loc, fresh, err := s.putChunk(sum, data, locs, &mu)
		putBuf(j.buf)
		mu.Lock()
		if err != nil && firstEr == nil {
			firstEr = err
		}
		if fresh {
			locs[hex.EncodeToString(sum[:])] = loc
		}
		sums[j.i] = sum
		done += int64(j.n)
		d := done
		mu.Unlock()
		prog.Send(progress.Report{Phase: "Uploading", Done: d, Total: total, Item: item, Bytes: true})
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				put(j)
			}
		})
	}
	var size int64
	var readErr error
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			readErr = err
			break
		}
		mu.Lock()
		stop := firstEr != nil
		mu.Unlock()
		if stop {
			break
		}
		buf, n, err := readChunk(r, total-size)
		if n > 0 {
			mu.Lock()
			sums = append(sums, [32]byte{})
			mu.Unlock()
			size += int64(n)
			if workers == 0 {
				put(job{i: i, buf: buf, n: n})
			} else {
				jobs <- job{i: i, buf: buf, n: n}
			}
		} else {
			putBuf(buf)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			readErr = &sourceError{item: item, err: err}
			break
		}
	}
	close(jobs)
	wg.Wait()
	if readErr != nil && firstEr == nil {
		firstEr = readErr
	}
	if firstEr != nil {
		return content{}, firstEr
	}
	c := content{size: size, hash: contentHash(sums, size), chunks: make([]string, len(sums)), locs: locs}
	for i, sm := range sums {
		c.chunks[i] = hex.EncodeToString(sm[:])
	}
	return c, nil
}

// sourceError is a failure to read what is being uploaded (not to store
// it): an import skips that one file and goes on.
type sourceError struct {
	item string
	err  error
}

func (e *sourceError) Error() string { return fmt.Sprintf("read %s: %v", e.item, e.err) }
func (e *sourceError) Unwrap() error { return e.err }

// putChunk appends a chunk to the packs unless it is indexed already (or
// this upload appended it already) and says whether it appended.
func (s *Service) putChunk(sum [32]byte, data []byte, mine map[string]storage.Loc, mu *sync.Mutex) (storage.Loc, bool, error) {
	id := hex.EncodeToString(sum[:])
	mu.Lock()
	_, dup := mine[id]
	mu.Unlock()
	if dup {
		return storage.Loc{}, false, nil
	}
	var known bool
	if err := s.fs.View(func(tx *storage.Tx) (err error) { known, err = chunks.Has(tx, id); return err }); err != nil {
		return storage.Loc{}, false, err
	}
	if known {
		return storage.Loc{}, false, nil
	}
	loc, err := s.fs.Blobs().Append(sum, data)
	return loc, err == nil, err
}

// Upload stores r as the file name in a container: a new file, or a new
// version of the file of that name (compared after NFC normalization and
// ignoring case). total is the expected size for progress and for the
// free-space check (0 if unknown). It needs Modify content on the
// container.
func (s *Service) Upload(ctx context.Context, actor account.Actor, parentID, name string, r io.Reader, total int64, prog progress.Func) (Node, error) {
	name, err := s.prepareUpload(ctx, actor, parentID, name)
	if err != nil {
		return Node{}, err
	}
	if err := s.needSpace(total, "uploading "+name); err != nil {
		return Node{}, err
	}
	s.gate.RLock()
	defer s.gate.RUnlock()
	c, err := s.storeContent(ctx, r, total, name, prog)
	if err != nil {
		return Node{}, s.wrapWrite(name, err)
	}
	n, _, err := s.commitVersion(ctx, actor.Name(), parentID, name, c)
	return n, err
}

// prepareUpload checks that name can be stored in the container and that
// actor may, and returns the name as it is stored (NFC).
func (s *Service) prepareUpload(ctx context.Context, actor account.Actor, parentID, name string) (string, error) {
	name = normalize(name)
	if err := CheckName(name); err != nil {
		return "", err
	}
	var parent Node
	err := s.mgr.View(func(tx *storage.Tx) error {
		var err error
		if parent, err = getNode(tx, parentID); err != nil {
			return err
		}
		if !parent.Kind.IsContainer() {
			return refuse(ErrNotDir, "%q is a %s; files go into folders, projects and libraries", parent.Name, parent.Kind)
		}
		if old, ok, err := lookupChild(tx, parentID, name); err != nil {
			return err
		} else if ok && old.Kind != KindFile {
			return refuse(ErrExists, "%q already holds a %s named %q", parent.Name, old.Kind, old.Name)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if err := s.check(ctx, actor, parent, account.ModifyContent); err != nil {
		return "", err
	}
	return name, nil
}

// needSpace refuses, with one sentence, work that would write about need
// bytes into the packs when their disk would be left with less than
// storage.Reserve: Badger writes through memory maps, and a full disk
// under a map kills the process instead of returning an error.
func (s *Service) needSpace(need int64, doing string) error {
	if need <= 0 {
		return nil
	}
	return storage.NeedSpace(s.fs.Blobs().Dir(), need, doing)
}

func (s *Service) wrapWrite(name string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("upload of %s cancelled: %w", name, err)
	}
	if errors.Is(err, storage.ErrDiskFull) || errors.Is(err, storage.ErrNotWritable) {
		return err
	}
	return fmt.Errorf("upload %s: %w", name, err)
}

// commitVersion makes stored content the newest version of name in parent,
// through the intent journal. It reports whether the content became a new
// version of a file that was there before.
func (s *Service) commitVersion(ctx context.Context, by, parentID, name string, c content) (Node, bool, error) {
	now := s.now().UTC()
	vid := newID(now)
	rule, err := s.Versioning(ctx)
	if err != nil {
		return Node{}, false, err
	}
	in := Intent{ID: vid, Op: "add", Parent: parentID, Name: name, Created: now,
		Version: Version{ID: vid, Hash: c.hash, Size: c.size, Created: now, By: by},
		Replace: rule.Rule == KeepNone}
	var path string
	err = s.mgr.Update(func(tx *storage.Tx) error {
		if path, err = pathOf(tx, parentID); err != nil {
			return err
		}
		old, ok, err := lookupChild(tx, parentID, name)
		if err != nil {
			return err
		}
		if ok {
			in.Version.Entry = old.ID
		} else {
			in.Version.Entry, in.NewNode = newID(now), true
		}
		return intents.Put(tx, in.ID, in)
	})
	if err != nil {
		return Node{}, false, fmt.Errorf("record upload of %s: %w", name, err)
	}
	if err := s.step("add:intent"); err != nil {
		return Node{}, false, err
	}
	rec := Record{ID: vid, Path: path, Name: name, Size: c.size, Hash: hex.EncodeToString(c.hash[:]), Chunks: c.chunks, Created: now}
	if err := s.addRecord(rec, c.locs); err != nil {
		return Node{}, false, s.undoAdds([]Intent{in}, err)
	}
	if err := s.step("add:fileserver"); err != nil {
		return Node{}, false, err
	}
	return s.finishAdd(ctx, in, rule)
}

// undoAdds takes back uploads whose content could not be stored on the
// File Server (a failed write or sync), so that the stores agree at once:
// the records leave the File Server if they got there, durably, and then
// the intents go. When that fails too, the intents stay and Recover
// finishes the job. It returns cause.
func (s *Service) undoAdds(ins []Intent, cause error) error {
	ids := make([]string, len(ins))
	for i, in := range ins {
		ids[i] = in.Version.ID
	}
	if err := s.dropRecords(ids); err != nil {
		return cause
	}
	if err := s.syncServer(); err != nil {
		return cause
	}
	_ = s.mgr.Update(func(tx *storage.Tx) error {
		for _, in := range ins {
			if err := intents.Delete(tx, in.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return cause
}

// pendingAdd is a content stored in the packs that is to become the
// newest version of name in parent: an import commits its files in groups.
type pendingAdd struct {
	parent, name string
	c            content
}

// added is what committing one pendingAdd did.
type added struct {
	node    Node
	existed bool  // a new version of a file that was there before
	err     error // a refusal for this file alone: its folder changed meanwhile
}

// commitVersions is commitVersion for many contents at once: one manager
// commit records every intent, one fileserver commit and one sync store
// every record, one manager commit adds every version. The crash-safety
// is that of commitVersion, file by file: Recover finishes each intent
// whose record reached the File Server and drops the others. A file whose
// folder changed meanwhile is refused alone (added.err); an error for the
// group leaves none of its files added.
func (s *Service) commitVersions(ctx context.Context, by string, adds []pendingAdd) ([]added, error) {
	rule, err := s.Versioning(ctx)
	if err != nil {
		return nil, err
	}
	now := s.nowUTC()
	res := make([]added, len(adds))
	ins := make([]Intent, len(adds)) // no ID: no intent (refused)
	recs := make([]Record, len(adds))
	err = s.mgr.Update(func(tx *storage.Tx) error {
		paths := map[string]string{} // a group's files share a few folders
		for i, a := range adds {
			res[i], ins[i] = added{}, Intent{}
			path, ok := paths[a.parent]
			var err error
			if !ok {
				if path, err = pathOf(tx, a.parent); err == nil {
					paths[a.parent] = path
				}
			}
			if errors.Is(err, ErrNotFound) {
				res[i].err = refuse(ErrNotFound, "the folder of %q was removed during the import", a.name)
				continue
			}
			if err != nil {
				return err
			}
			vid := newID(now)
			in := Intent{ID: vid, Op: "add", Parent: a.parent, Name: a.name, Created: now,
				Version: Version{ID: vid, Hash: a.c.hash, Size: a.c.size, Created: now, By: by},
				Replace: rule.Rule == KeepNone}
			old, ok, err := lookupChild(tx, a.parent, a.name)
			if err != nil {
				return err
			}
			if ok {
				in.Version.Entry = old.ID
			} else {
				in.Version.Entry, in.NewNode = newID(now), true
			}
			if err := intents.Put(tx, in.ID, in); err != nil {
				return err
			}
			ins[i] = in
			recs[i] = Record{ID: vid, Path: path, Name: a.name, Size: a.c.size, Hash: hex.EncodeToString(a.c.hash[:]), Chunks: a.c.chunks, Created: now}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record the import: %w", err)
	}
	if err := s.step("add:intent"); err != nil {
		return nil, err
	}
	var live []Intent
	var liveRecs []Record
	var liveLocs []map[string]storage.Loc
	for i := range adds {
		if ins[i].ID != "" {
			live = append(live, ins[i])
			liveRecs = append(liveRecs, recs[i])
			liveLocs = append(liveLocs, adds[i].c.locs)
		}
	}
	if err := s.addRecords(liveRecs, liveLocs); err != nil {
		return nil, s.undoAdds(live, fmt.Errorf("store the imported files on the file server: %w", err))
	}
	if err := s.step("add:fileserver"); err != nil {
		return nil, err
	}
	var drops []Intent
	err = s.mgr.Update(func(tx *storage.Tx) error {
		drops = drops[:0]
		set, err := tx.FileSet()
		if err != nil {
			return err
		}
		for i, in := range ins {
			if in.ID == "" {
				continue
			}
			res[i] = added{}
			n, existed, drop, err := s.finishAddTx(tx, &set, in, rule)
			if errors.Is(err, ErrExists) || errors.Is(err, ErrNotFound) {
				res[i].err = err // written nothing; its record goes below
				continue
			}
			if err != nil {
				return err
			}
			res[i].node, res[i].existed = n, existed
			if drop.ID != "" {
				drops = append(drops, drop)
			}
		}
		return tx.SetFileSet(set)
	})
	if err != nil {
		return nil, fmt.Errorf("record the imported files in the Manager: %w", err)
	}
	if err := s.step("add:manager"); err != nil {
		return nil, err
	}
	// Refused files leave the File Server again, as Recover would do.
	for i, in := range ins {
		if in.ID != "" && res[i].err != nil {
			if err := s.finishDrop(ctx, Intent{ID: in.ID, Op: "drop", Records: []string{in.Version.ID}}); err != nil {
				return res, err
			}
		}
	}
	for _, d := range drops {
		if err := s.finishDrop(ctx, d); err != nil {
			return res, err
		}
	}
	return res, nil
}

// syncServer makes every write to the File Server so far durable: its
// packs and its Badger store. The Manager commits nothing that relies on
// the File Server before this returned: after a power cut it must not
// list a file whose content never reached the disk (the full
// synchronization would then delete it).
func (s *Service) syncServer() error {
	if err := s.fs.Sync(); err != nil {
		return fmt.Errorf("make the File Server's writes durable: %w", err)
	}
	return nil
}

// addRecord writes a record to the fileserver with its chunk references
// and digest, in one transaction; writing it twice changes nothing. The
// chunks this upload appended (locs) are made durable first and indexed in
// the same transaction, unless another upload indexed them meanwhile; the
// record is durable when addRecord returns.
func (s *Service) addRecord(rec Record, locs map[string]storage.Loc) error {
	if err := s.addRecords([]Record{rec}, []map[string]storage.Loc{locs}); err != nil {
		return fmt.Errorf("store %s on the file server: %w", rec.Name, err)
	}
	return nil
}

// addRecords is addRecord for many records, in one transaction and with
// one sync of each kind; locs[i] holds what recs[i]'s upload appended.
func (s *Service) addRecords(recs []Record, locs []map[string]storage.Loc) error {
	hashes := make([]Hash, len(recs))
	appended := false
	for i, rec := range recs {
		if err := hashes[i].UnmarshalText([]byte(rec.Hash)); err != nil {
			return fmt.Errorf("record %s: bad hash: %w", rec.ID, err)
		}
		appended = appended || len(locs[i]) > 0
	}
	if appended {
		if err := s.fs.Blobs().Sync(); err != nil {
			return err
		}
	}
	err := s.fs.Update(func(tx *storage.Tx) error {
		set, err := tx.FileSet()
		if err != nil {
			return err
		}
		touched := map[uint32]PackInfo{}
		for i, rec := range recs {
			if err := addRecordTx(tx, &set, touched, rec, hashes[i], locs[i]); err != nil {
				return err
			}
		}
		for id, pi := range touched {
			if err := packs.Put(tx, packKey(id), pi); err != nil {
				return err
			}
		}
		return tx.SetFileSet(set)
	})
	if err != nil {
		return err
	}
	return s.syncServer()
}

// addRecordTx is addRecord's change in a fileserver transaction. It
// changes set, the file-set summary, and touched, the info of the packs
// that hold its new chunks (read from tx when missing); the caller read
// the one and writes both back, once for a whole group.
func addRecordTx(tx *storage.Tx, set *storage.FileSet, touched map[uint32]PackInfo, rec Record, hash Hash, locs map[string]storage.Loc) error {
	if ok, err := records.Has(tx, rec.ID); err != nil || ok {
		return err
	}
	for _, c := range rec.Chunks {
		n, err := refs.Get(tx, c)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if n == 0 {
			loc, ok := locs[c]
			if !ok {
				return refuse(ErrDamaged, "a part of %q was removed from the file server during the upload; upload it again", rec.Name)
			}
			if err := chunks.Put(tx, c, loc); err != nil {
				return err
			}
			pi, ok := touched[loc.Pack]
			if !ok {
				if pi, err = packs.Get(tx, packKey(loc.Pack)); err != nil && !errors.Is(err, storage.ErrNotFound) {
					return err
				}
			}
			pi.Live += loc.Len + entryOverhead
			pi.Size = max(pi.Size, loc.Off+loc.Len)
			touched[loc.Pack] = pi
		}
		if err := refs.Put(tx, c, n+1); err != nil {
			return err
		}
	}
	if err := records.Put(tx, rec.ID, rec); err != nil {
		return err
	}
	if err := sums.Put(tx, rec.ID, Sum{Hash: hash, Size: rec.Size}); err != nil {
		return err
	}
	addFile(set, rec.ID, hash, rec.Size)
	return nil
}

// finishAdd commits the manager side of an add intent: the version, the
// file entry, the digest, and under Keep none or Keep last N days the
// removal of versions that are now too old. Finishing twice changes
// nothing. It reports whether the version went to a file that was there
// before.
func (s *Service) finishAdd(ctx context.Context, in Intent, rule Versioning) (Node, bool, error) {
	var n Node
	var drop Intent
	var existed bool
	err := s.mgr.Update(func(tx *storage.Tx) error {
		set, err := tx.FileSet()
		if err != nil {
			return err
		}
		if n, existed, drop, err = s.finishAddTx(tx, &set, in, rule); err != nil {
			return err
		}
		return tx.SetFileSet(set)
	})
	if err != nil {
		return Node{}, false, fmt.Errorf("record %s in the Manager: %w", in.Name, err)
	}
	if err := s.step("add:manager"); err != nil {
		return n, existed, err
	}
	if drop.ID != "" {
		if err := s.finishDrop(ctx, drop); err != nil {
			return n, existed, err
		}
	}
	return n, existed, nil
}

// finishAddTx is finishAdd's change in a manager transaction; it changes
// set, the store's file-set summary, which the caller read in tx and
// writes back (once for a whole group). It returns the drop intent it
// recorded for versions the rule no longer keeps (no ID when none). Its
// refusals (ErrExists, ErrNotFound: the folder changed meanwhile) come
// before it writes anything.
func (s *Service) finishAddTx(tx *storage.Tx, set *storage.FileSet, in Intent, rule Versioning) (n Node, existed bool, drop Intent, err error) {
	if ok, err := versions.Has(tx, in.Version.ID); err != nil {
		return n, false, drop, err
	} else if ok { // finished before
		if n, err = getNode(tx, in.Version.Entry); err != nil {
			return n, false, drop, err
		}
		return n, false, drop, intents.Delete(tx, in.ID)
	}
	v := in.Version
	old, ok, err := lookupChild(tx, in.Parent, in.Name)
	if err != nil {
		return n, false, drop, err
	}
	switch {
	case ok && old.Kind == KindFile:
		n, existed = old, true
		v.Entry = old.ID
	case ok:
		return n, false, drop, refuse(ErrExists, "a %s named %q appeared in the meantime", old.Kind, old.Name)
	default:
		if _, err := getNode(tx, in.Parent); err != nil {
			return n, false, drop, refuse(ErrNotFound, "the folder of %q was removed during the upload", in.Name)
		}
		n = Node{ID: v.Entry, Parent: in.Parent, Kind: KindFile, Name: in.Name, Created: v.Created}
	}
	n.Size, n.Hash, n.Version, n.Modified, n.By = v.Size, v.Hash, v.ID, v.Created, v.By
	n.Versions++
	if err := versions.Put(tx, v.ID, v); err != nil {
		return n, existed, drop, err
	}
	if err := entryVer.Put(tx, n.ID+"/"+v.ID, ""); err != nil {
		return n, existed, drop, err
	}
	addFile(set, v.ID, v.Hash, v.Size)
	// Versioning: drop what the rule no longer keeps, never the new one.
	if rule.Rule == KeepNone || rule.Rule == KeepLastDays {
		cutoff := v.Created.AddDate(0, 0, -rule.Days)
		var gone []Version
		err := entryVer.Scan(tx, n.ID+"/", func(k string, _ string) error {
			id := k[len(n.ID)+1:]
			if id == v.ID {
				return nil
			}
			old, err := versions.Get(tx, id)
			if err != nil {
				return err
			}
			if rule.Rule == KeepNone || old.Created.Before(cutoff) {
				gone = append(gone, old)
			}
			return nil
		})
		if err != nil {
			return n, existed, drop, err
		}
		for _, g := range gone {
			if err := dropVersion(tx, set, n.ID, g); err != nil {
				return n, existed, drop, err
			}
			n.Versions--
			drop.Records = append(drop.Records, g.ID)
		}
	}
	if err := putNode(tx, n); err != nil {
		return n, existed, drop, err
	}
	if len(drop.Records) > 0 {
		drop.ID, drop.Op, drop.Created = newID(s.now()), "drop", s.now().UTC()
		if err := intents.Put(tx, drop.ID, drop); err != nil {
			return n, existed, drop, err
		}
	}
	return n, existed, drop, intents.Delete(tx, in.ID)
}

// dropVersion removes a version from the manager (not its content).
func dropVersion(tx *storage.Tx, set *storage.FileSet, entry string, v Version) error {
	if err := versions.Delete(tx, v.ID); err != nil {
		return err
	}
	if err := entryVer.Delete(tx, entry+"/"+v.ID); err != nil {
		return err
	}
	removeFile(set, v.ID, v.Hash, v.Size)
	return nil
}

// finishDrop removes records from the fileserver, with their chunks when no
// other record uses them, then clears the intent. Records already gone are
// skipped, so finishing twice changes nothing.
func (s *Service) finishDrop(ctx context.Context, in Intent) error {
	const batch = 256
	for i := 0; i < len(in.Records); i += batch {
		part := in.Records[i:min(i+batch, len(in.Records))]
		if err := s.dropRecords(part); err != nil {
			return err
		}
		if err := s.step("drop:batch"); err != nil {
			return err
		}
	}
	// The intent goes only once the File Server has forgotten the records
	// durably; otherwise a power cut brings them back unknown to the
	// Manager.
	if err := s.syncServer(); err != nil {
		return err
	}
	return s.mgr.Update(func(tx *storage.Tx) error { return intents.Delete(tx, in.ID) })
}

func (s *Service) dropRecords(ids []string) error {
	err := s.fs.Update(func(tx *storage.Tx) error {
		set, err := tx.FileSet()
		if err != nil {
			return err
		}
		for _, id := range ids {
			rec, err := records.Get(tx, id)
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			sum, err := sums.Get(tx, id)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
			for _, c := range rec.Chunks {
				n, err := refs.Get(tx, c)
				if err != nil && !errors.Is(err, storage.ErrNotFound) {
					return err
				}
				if n <= 1 {
					if err := forgetChunk(tx, c); err != nil {
						return err
					}
					continue
				}
				if err := refs.Put(tx, c, n-1); err != nil {
					return err
				}
			}
			if err := records.Delete(tx, id); err != nil {
				return err
			}
			if err := sums.Delete(tx, id); err != nil {
				return err
			}
			removeFile(&set, id, sum.Hash, sum.Size)
		}
		return tx.SetFileSet(set)
	})
	if err != nil {
		return fmt.Errorf("remove contents from the file server: %w", err)
	}
	return nil
}

// Recover finishes or undoes every two-store change that a crash
// interrupted, then cuts from the packs what no committed file uses. Run it at start,
// before anything else writes.
func (s *Service) Recover(ctx context.Context) error {
	s.gate.Lock()
	defer s.gate.Unlock()
	var pending []Intent
	err := s.mgr.View(func(tx *storage.Tx) (err error) {
		pending, err = intents.List(tx, "")
		return err
	})
	if err != nil {
		return fmt.Errorf("read pending changes: %w", err)
	}
	// What the File Server replayed after a crash may still be only in
	// the page cache; the Manager commits below rely on it.
	if err := s.syncServer(); err != nil {
		return err
	}
	rule, err := s.Versioning(ctx)
	if err != nil {
		return err
	}
	for _, in := range pending {
		if err := s.recoverOne(ctx, in, rule); err != nil {
			return fmt.Errorf("finish interrupted change %s of %q: %w", in.Op, in.Name, err)
		}
	}
	if len(pending) > 0 {
		s.log.Info("finished interrupted changes", "count", len(pending))
	}
	n, err := s.tidyPacks(ctx)
	if n > 0 {
		s.log.Info("removed packs no file uses", "count", n)
	}
	return err
}

func (s *Service) recoverOne(ctx context.Context, in Intent, rule Versioning) error {
	switch in.Op {
	case "add":
		var onServer bool
		err := s.fs.View(func(tx *storage.Tx) (err error) { onServer, err = records.Has(tx, in.Version.ID); return err })
		if err != nil {
			return err
		}
		if !onServer { // the content never arrived: as if the upload had not begun
			return s.mgr.Update(func(tx *storage.Tx) error { return intents.Delete(tx, in.ID) })
		}
		_, _, err = s.finishAdd(ctx, in, rule)
		if errors.Is(err, ErrExists) || errors.Is(err, ErrNotFound) {
			// The folder changed under the crashed upload: keep the
			// content consistent by dropping it from the server.
			return s.finishDrop(ctx, Intent{ID: in.ID, Op: "drop", Records: []string{in.Version.ID}})
		}
		return err
	case "drop":
		return s.finishDrop(ctx, in)
	case "deltree":
		return s.deleteTree(ctx, in)
	case "repath":
		return s.repath(ctx, in)
	}
	return fmt.Errorf("unknown change %q", in.Op)
}

// forgetChunk removes a chunk nobody uses from the index; its bytes in the
// pack become garbage that compaction reclaims.
func forgetChunk(tx *storage.Tx, c string) error {
	loc, err := chunks.Get(tx, c)
	if err == nil {
		pi, err := packs.Get(tx, packKey(loc.Pack))
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		pi.Live -= loc.Len + entryOverhead
		if err := packs.Put(tx, packKey(loc.Pack), pi); err != nil {
			return err
		}
	} else if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if err := refs.Delete(tx, c); err != nil {
		return err
	}
	return chunks.Delete(tx, c)
}

// entryOverhead is the header before each chunk in a pack.
const entryOverhead = 4 + 32

// tidyPacks cuts what a crash left after each pack's committed size and
// removes packs that hold nothing any file uses. Run with nothing writing.
func (s *Service) tidyPacks(ctx context.Context) (int, error) {
	b := s.fs.Blobs()
	onDisk, err := b.Packs()
	if err != nil {
		return 0, err
	}
	known := map[uint32]PackInfo{}
	err = s.fs.View(func(tx *storage.Tx) error {
		return packs.Scan(tx, "", func(k string, pi PackInfo) error {
			var id uint32
			if _, err := fmt.Sscanf(k, "%d", &id); err == nil {
				known[id] = pi
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	removed := 0
	for id, size := range onDisk {
		pi, ok := known[id]
		switch {
		case !ok || pi.Live <= 0:
			if err := b.Remove(id); err != nil {
				return removed, fmt.Errorf("remove pack %d, which no file uses any more: %w", id, plainFS(err))
			}
			removed++
		case size > pi.Size:
			if err := b.Truncate(id, pi.Size); err != nil {
				return removed, fmt.Errorf("cut pack %d back to what was committed: %w", id, plainFS(err))
			}
		}
	}
	return removed, s.fs.Update(func(tx *storage.Tx) error {
		for id, pi := range known {
			if _, ok := onDisk[id]; !ok || pi.Live <= 0 {
				if err := packs.Delete(tx, packKey(id)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Pending counts the two-store changes not yet finished.
func (s *Service) Pending(ctx context.Context) (int, error) {
	var n int
	err := s.mgr.View(func(tx *storage.Tx) (err error) { n, err = intents.Count(tx, ""); return err })
	return n, err
}

// nowUTC is the service clock in UTC.
func (s *Service) nowUTC() time.Time { return s.now().UTC() }
