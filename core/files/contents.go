package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/text"
	"codeberg.org/plinth/plinth/storage"
)

// This file is the deep check of the File Server's contents (plinth check
// --deep, the Check contents button, and a backup's verify): every chunk
// is read back and compared with its SHA-256, and the files that use a
// damaged chunk are named.

// ContentReport is what reading every chunk back found.
type ContentReport struct {
	Chunks        int           `json:"chunks"`        // chunks read back
	Bytes         int64         `json:"bytes"`         // bytes read
	DamagedChunks int           `json:"damagedChunks"` // chunks that are unreadable, wrong or missing
	Damaged       []DamagedFile `json:"damaged"`       // the file versions that use them, by path
}

// Sound reports whether nothing is damaged.
func (r ContentReport) Sound() bool { return r.DamagedChunks == 0 && len(r.Damaged) == 0 }

// DamagedFile is one version of a file with damaged parts.
type DamagedFile struct {
	// Path is on the Projects page; for content the Manager does not
	// list, it is the path kept on the File Server and Listed is false.
	Path    string `json:"path"`
	Version string `json:"version"`
	Current bool   `json:"current"` // the file's current version, not an older one
	Listed  bool   `json:"listed"`
	Parts   []int  `json:"parts"`  // the damaged parts, counted from 1
	Of      int    `json:"of"`     // parts in all (ChunkSize each)
	Reason  string `json:"reason"` // what is wrong with the first damaged part
}

// String says it in one line: "/Tower/a.pdf (current version 18ed7cda):
// part 2 of 3 does not match its SHA-256".
func (d DamagedFile) String() string {
	which := "current version"
	if !d.Current {
		which = "older version"
	}
	if !d.Listed {
		which = "content unknown to the Manager,"
	}
	parts := make([]string, len(d.Parts))
	for i, p := range d.Parts {
		parts[i] = fmt.Sprint(p)
	}
	noun := "part"
	if len(d.Parts) > 1 {
		noun = "parts"
	}
	return fmt.Sprintf("%s (%s %.8s): %s %s of %d: %s", text.Safe(d.Path), which, d.Version, noun, strings.Join(parts, ", "), d.Of, d.Reason)
}

// ChunkUse is one file version that uses a chunk, and as which part.
type ChunkUse struct {
	Chunk   string `json:"chunk"`
	Path    string `json:"path"`
	Version string `json:"version"`
	Current bool   `json:"current"`
	Listed  bool   `json:"listed"` // the Manager lists the version
	Part    int    `json:"part"`   // counted from 1
	Of      int    `json:"of"`
}

// FilesUsing names the file versions that use any of the given chunks
// (SHA-256 in hex), by their path on the Projects page, sorted by path,
// version and part. Content the Manager does not list is named by the
// path the File Server keeps with it. It reads every record on the File
// Server once: a backup that found damaged chunks uses it to say which
// files they hurt.
func (s *Service) FilesUsing(ctx context.Context, chunkIDs []string) ([]ChunkUse, error) {
	want := make(map[string]bool, len(chunkIDs))
	for _, c := range chunkIDs {
		want[c] = true
	}
	return s.uses(ctx, func(c string) bool { return want[c] })
}

// uses lists the uses of every chunk for which hit is true.
func (s *Service) uses(ctx context.Context, hit func(chunk string) bool) ([]ChunkUse, error) {
	type found struct {
		rec   Record
		parts []int
	}
	var hits []found
	err := s.fs.View(func(tx *storage.Tx) error {
		n := 0
		return records.Scan(tx, "", func(_ string, rec Record) error {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			var parts []int
			for i, c := range rec.Chunks {
				if hit(c) {
					parts = append(parts, i+1)
				}
			}
			if len(parts) > 0 {
				hits = append(hits, found{rec, parts})
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read the File Server's records: %w", err)
	}
	var out []ChunkUse
	err = s.mgr.View(func(tx *storage.Tx) error {
		for _, h := range hits {
			u := ChunkUse{Version: h.rec.ID, Path: joinPath(h.rec.Path, h.rec.Name), Of: len(h.rec.Chunks)}
			if v, err := versions.Get(tx, h.rec.ID); err == nil {
				if n, err := getNode(tx, v.Entry); err == nil {
					if dir, err := pathOf(tx, n.Parent); err == nil {
						u.Path, u.Listed, u.Current = joinPath(dir, n.Name), true, n.Version == v.ID
					}
				}
			} else if !errors.Is(err, storage.ErrNotFound) {
				return err
			}
			for _, p := range h.parts {
				u.Part, u.Chunk = p, h.rec.Chunks[p-1]
				out = append(out, u)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the Manager: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Version != b.Version {
			return a.Version > b.Version // newest first
		}
		return a.Part < b.Part
	})
	return out, nil
}

// CheckContentsReport reads every chunk the File Server holds back
// against its SHA-256, and lists the files that use a damaged one, with
// the damaged parts: plinth check --deep
// and the Check contents button. It needs View item on the Servers page.
// Compaction waits while it runs; uploads do not. Progress counts bytes.
// Cancelled, it returns what it found so far with the context's error.
func (s *Service) CheckContentsReport(ctx context.Context, actor account.Actor, prog progress.Func) (ContentReport, error) {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.View); err != nil {
		return ContentReport{}, err
	}
	return s.checkContents(ctx, prog)
}

// CheckContents is CheckContentsReport for a store no one uses, such as a
// backup restored into a scratch folder to verify it (no permission is
// checked): it returns how many chunks it read, and an ErrDamaged error
// that names the damaged files when there are any.
func (s *Service) CheckContents(ctx context.Context) (int, error) {
	r, err := s.checkContents(ctx, nil)
	if err != nil {
		return r.Chunks, err
	}
	return r.Chunks, r.Problem(5)
}

// Problem says in one sentence what is damaged, naming at most most of
// the damaged file versions, or returns nil when the contents are sound.
// It matches ErrDamaged.
func (r ContentReport) Problem(most int) error {
	if r.Sound() {
		return nil
	}
	var names []string
	for i, d := range r.Damaged {
		if i == most {
			names = append(names, fmt.Sprintf("and %d more", len(r.Damaged)-most))
			break
		}
		names = append(names, text.Safe(d.Path))
	}
	if len(names) == 0 {
		return refuse(ErrDamaged, "%s on the File Server %s damaged, but no file uses them",
			text.Count(r.DamagedChunks, "part"), text.Agree(r.DamagedChunks, "is", "are"))
	}
	return refuse(ErrDamaged, "%s on the File Server %s damaged content: %s; restore them from a backup or upload them again",
		text.Count(len(r.Damaged), "file version"), text.Agree(len(r.Damaged), "has", "have"), strings.Join(names, ", "))
}

func (s *Service) checkContents(ctx context.Context, prog progress.Func) (ContentReport, error) {
	unpin := s.PinPacks() // compaction moves chunks and removes packs
	defer unpin()
	type entry struct {
		id  string
		loc storage.Loc
	}
	var all []entry
	var total int64
	err := s.fs.View(func(tx *storage.Tx) error {
		return chunks.Scan(tx, "", func(id string, loc storage.Loc) error {
			all = append(all, entry{id, loc})
			total += loc.Len
			return nil
		})
	})
	if err != nil {
		return ContentReport{}, fmt.Errorf("read the File Server's chunk index: %w", err)
	}
	// Read each pack front to back.
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i].loc, all[j].loc
		if a.Pack != b.Pack {
			return a.Pack < b.Pack
		}
		return a.Off < b.Off
	})
	var r ContentReport
	bad := map[string]string{} // chunk → what is wrong
	indexed := make(map[string]bool, len(all))
	b := s.fs.Blobs()
	for _, e := range all {
		indexed[e.id] = true
		if err := ctx.Err(); err != nil {
			return r, err
		}
		data, err := b.Read(e.loc)
		switch {
		case err != nil:
			bad[e.id] = "cannot be read: " + plainFS(err).Error()
		default:
			sum := sha256.Sum256(data)
			if hex.EncodeToString(sum[:]) != e.id {
				bad[e.id] = "does not match its SHA-256"
			}
			r.Bytes += int64(len(data))
		}
		r.Chunks++
		prog.Send(progress.Report{Phase: "Checking contents", Done: r.Bytes, Total: total, Bytes: true})
	}
	// A record may also name a chunk that is not indexed at all.
	uses, err := s.uses(ctx, func(c string) bool {
		if !indexed[c] {
			if _, ok := bad[c]; !ok {
				bad[c] = "is missing from the File Server"
			}
		}
		_, ok := bad[c]
		return ok
	})
	if err != nil {
		return r, err
	}
	r.DamagedChunks = len(bad)
	r.Damaged = damagedFiles(uses, bad)
	return r, nil
}

// damagedFiles groups the uses of damaged chunks by file version.
func damagedFiles(uses []ChunkUse, bad map[string]string) []DamagedFile {
	var out []DamagedFile
	for _, u := range uses {
		if n := len(out); n > 0 && out[n-1].Version == u.Version {
			out[n-1].Parts = append(out[n-1].Parts, u.Part)
			continue
		}
		out = append(out, DamagedFile{Path: u.Path, Version: u.Version, Current: u.Current, Listed: u.Listed,
			Parts: []int{u.Part}, Of: u.Of, Reason: bad[u.Chunk]})
	}
	return out
}
