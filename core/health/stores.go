package health

import (
	"context"
	"fmt"
	"time"

	"codeberg.org/plinth/plinth/core/text"
	"codeberg.org/plinth/plinth/storage"
)

// stores: both stores open and readable, and agreeing. The agreement is
// judged from the set digests (O(1) at any size, DESIGN.md "Two stores"),
// not by a new drift detection.
func (c *check) stores(ctx context.Context) {
	if c.s.sync.Running() {
		c.running = append(c.running, Event{At: c.now, Kind: "sync", OK: true,
			Sentence: "The full file synchronization is running."})
	}
	if err := c.s.files.Healthy(); err != nil {
		c.add(Reason{Code: "stores.unhealthy", State: AtRisk, Page: PageBackups, Action: "Restore…",
			Sentence: sentence(err.Error()) + " Restore it from a full backup."})
		return
	}
	m, f, err := c.settledDigests(ctx)
	if err != nil {
		c.unreadable("stores.unreadable", "what the Manager and the File Server hold", PageFileServer, err)
		return
	}
	agree := m == f
	c.agree = &agree
	if agree {
		return
	}
	s := fmt.Sprintf("The Manager and the File Server disagree: the Manager lists %s, the File Server holds %s",
		text.Count(int(m.Count), "file"), text.Count(int(f.Count), "file"))
	if m.Count == f.Count {
		s = "The Manager and the File Server disagree about which files they hold"
	}
	if p, err := c.s.sync.LastAgreed(); err != nil {
		c.unreadable("sync.unreadable", "when the Manager and the File Server last agreed", PageFileServer, err)
	} else if !p.Agreed.IsZero() {
		s += "; they last agreed " + when(p.Agreed, c.now)
	}
	c.add(Reason{Code: "stores.disagree", State: AtRisk, Page: PageFileServer, Action: "Synchronize files…",
		Sentence: s + ". This happens after one of them was restored from a backup; the full file synchronization repairs it."})
}

// settledDigests reads both stores' set digests. A two-store change (an
// upload, a delete) commits the File Server a moment before the Manager,
// so digests that differ are read again, twice, a moment apart: only a
// difference that lasts is a disagreement. It does not wait for the
// files service's gate as a drift detection does: an upload holds it
// for as long as its content streams in, and the report must not wait
// for that.
func (c *check) settledDigests(ctx context.Context) (m, f storage.FileSet, err error) {
	for try := 0; ; try++ {
		m, f, err = c.s.files.Digests()
		if err != nil || m == f || try == 2 {
			return m, f, err
		}
		select {
		case <-ctx.Done():
			return m, f, ctx.Err()
		case <-time.After(settle):
		}
	}
}

// settle is the pause between two reads of digests that differ.
const settle = 50 * time.Millisecond
