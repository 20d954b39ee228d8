// Package upgrade is the one place that lists every format Plinth writes
// and reads — the data folder and its two stores, backup manifests and
// snapshot archives, snapshot repositories and the control files beside
// the stores — and the migration steps between them. It runs those steps
// once, in order, when Plinth starts on a data folder of an older format,
// under a journal that lets the next start finish an upgrade a crash cut
// short; and it refuses, in one sentence, data of a newer format than this
// Plinth knows, without changing a byte of it.
//
// Formats only ever go up, one whole number at a time. Format 1 is what
// Plinth wrote before it recorded formats: a store without a format
// record, a data folder without format.json.
package upgrade

import (
	"slices"

	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// The formats this Plinth writes.
const (
	// Data is the format of the data folder and of both stores: the
	// records they hold and the files beside them. Each store records
	// its own (a store restored alone from an old backup is older than
	// the folder until it is upgraded).
	Data = 2 + next
	// Manifest is the format of backup manifests, level 1 and level 2,
	// and so of snapshot archives, whose first member is the snapshot's
	// manifest. It was 2 from the first release.
	Manifest = 2
	// SnapshotRepo is the format of a level-1 target folder (the
	// snapshots of every project and library, and their chunks), kept in
	// its format.json. Format 3 appends new chunks to packs (packs/)
	// instead of writing one file per chunk; the loose chunks of formats
	// 1 and 2 stay readable beside them.
	SnapshotRepo = 3
	// Control is the format of the small JSON files beside the stores
	// (backup-targets.json, the restore and upgrade journals).
	Control = 1
)

// Oldest formats this Plinth still reads (and upgrades on the way in).
const (
	OldestData         = 1
	OldestManifest     = 2
	OldestSnapshotRepo = 1
)

// Format says what this Plinth writes and reads of one kind of data.
type Format struct {
	Name   string `json:"name"`
	Writes int    `json:"writes"`
	Reads  []int  `json:"reads"`
}

// Formats lists every kind of data with its formats, for 'plinth version'.
func Formats() []Format {
	span := func(from, to int) []int {
		var l []int
		for v := from; v <= to; v++ {
			l = append(l, v)
		}
		return l
	}
	return []Format{
		{"data folder and stores", Data, span(OldestData, Data)},
		{"backup manifests and snapshot archives", Manifest, span(OldestManifest, Manifest)},
		{"snapshot repositories", SnapshotRepo, span(OldestSnapshotRepo, SnapshotRepo)},
		{"control files", Control, span(1, Control)},
	}
}

// Step is one migration step: a small named function that brings one
// part of the data from the format before To to To.
type Step struct {
	// Name says what the step does, as Plinth announces it and History
	// keeps it.
	Name string
	// To is the data format the step belongs to.
	To int
	// Store is the store the step changes. Store steps of one store and
	// one format run in a single transaction that also records To in the
	// store, so a store is never half upgraded. Empty for a step on the
	// data folder's own files.
	Store storage.Kind
	// Tx changes the store's records (Store steps).
	Tx func(tx *storage.Tx) error
	// Dir changes files in the data folder (folder steps). It must be
	// safe to run again after a crash part-way: the journal records a
	// step only once it has finished.
	Dir func(fs fsys.FS, dataDir string) error
}

// steps is every migration step, oldest format first.
var steps = slices.Concat([]Step{
	// Format 2: formats are recorded. Stores of format 1 get their
	// format record (in the transaction that runs their steps), the
	// data folder its format.json (written when every step is done).
	{Name: "record the data format in the Manager store", To: 2, Store: storage.Manager, Tx: noChange},
	{Name: "record the data format in the File Server store", To: 2, Store: storage.FileServer, Tx: noChange},
	{Name: "record the format of the list of backup targets", To: 2, Dir: stampTargets},
}, nextSteps)

// Steps returns every migration step, oldest format first.
func Steps() []Step { return slices.Clone(steps) }

// noChange is a store step whose only change is the format record the
// transaction writes.
func noChange(*storage.Tx) error { return nil }
