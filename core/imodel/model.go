// Package imodel keeps iModels — model stores inside projects, holding
// elements keyed by IFC GlobalId with a changeset history — and the
// connections that synchronize design files into them: mapping, schedule,
// owner and sync token, runs with per-file status and reports, and the
// sync engine that compares each element by GlobalId and content checksum
// and applies each file's changes atomically.
//
// Connection settings, runs and file status live in the Manager store;
// elements, changesets and each file's applied state live in the File
// Server store beside the file contents (DESIGN.md, "Two stores").
package imodel

import (
	"strings"
	"time"

	"codeberg.org/plinth/plinth/core/ifc"
	"codeberg.org/plinth/plinth/core/schedule"
	"codeberg.org/plinth/plinth/storage"
)

// Limits, as in iTwin.
const (
	MaxConnections = 100 // per iModel
	MaxMappedFiles = 250 // across the connections of one iModel
	TokenLifetime  = 30 * 24 * time.Hour
	TokenRefresh   = 10 * 24 * time.Hour // refreshed in its last 10 days
	ShortestEvery  = 4 * time.Hour
)

// SourceKind says where a connection's design files come from.
type SourceKind string

// The kinds of source.
const (
	SourceDisk       SourceKind = "disk"       // a folder on disk or a network share
	SourceFileServer SourceKind = "fileserver" // a folder on Plinth's own file server
)

// Source is a connection's data source.
type Source struct {
	Kind SourceKind `json:"kind"`
	Path string     `json:"path"` // a folder: absolute on disk, or "/Project/folder" on the file server
}

// Composite is a mapped design file with its reference files; paths are
// relative to the source folder, "/"-separated.
type Composite struct {
	Main string   `json:"main"`
	Refs []string `json:"refs,omitempty"`
}

// Files lists the composite's files, main first.
func (c Composite) Files() []string { return append([]string{c.Main}, c.Refs...) }

// Token is the owner's sync token: scheduled runs need a valid one.
type Token struct {
	Owner   string    `json:"owner"`
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires"`
	// Notified: the owner was told it expires soon / has expired.
	WarnedExpiring bool `json:"warnedExpiring,omitempty"`
	WarnedExpired  bool `json:"warnedExpired,omitempty"`
}

// Connection brings design files from a source into an iModel.
type Connection struct {
	ID        string        `json:"id"`
	IModel    string        `json:"imodel"` // the iModel's node id
	Name      string        `json:"name"`
	Source    Source        `json:"source"`
	Mapped    []Composite   `json:"mapped"`
	Schedule  schedule.Spec `json:"schedule"`
	Owner     string        `json:"owner"`
	Token     Token         `json:"token"`
	Created   time.Time     `json:"created"`
	CreatedBy string        `json:"createdBy"`
	// Running is the id of the run in progress, if any.
	Running string `json:"running,omitempty"`
	// Paused is set when Plinth stopped during a run of this connection
	// (it crashed, was killed, or the power went): its scheduled runs do
	// not start, not even the catch-up at start, until a manual Sync now
	// succeeds, so that a design file that crashes Plinth cannot do so at
	// every start.
	Paused *Pause `json:"paused,omitempty"`
}

// Pause says which run Plinth stopped during.
type Pause struct {
	Run   string    `json:"run"`
	File  string    `json:"file,omitempty"` // the file it was reading, when known
	Since time.Time `json:"since"`          // when that run started
}

// MappedFiles lists every mapped file.
func (c Connection) MappedFiles() []string {
	var out []string
	for _, m := range c.Mapped {
		out = append(out, m.Files()...)
	}
	return out
}

// File states, as the connection status shows them.
const (
	StateNotSynced   = "not synced"
	StateQueued      = "queued"
	StateRunning     = "running"
	StateSucceeded   = "succeeded"
	StateWarnings    = "succeeded with warnings"
	StateFailed      = "failed"
	StateUnchanged   = "unchanged"
	StateCancelled   = "cancelled"
	StateInterrupted = "interrupted"
)

// Run results, as in iTwin's reports.
const (
	ResultSuccess        = "Success"
	ResultPartialSuccess = "PartialSuccess"
	ResultFailed         = "Failed"
)

// Error categories in reports.
const (
	CategoryFile           = "InvalidFile"    // the design file cannot be read as IFC
	CategorySource         = "SourceMissing"  // the file or folder is not there
	CategoryAuthentication = "Authentication" // the owner's token expired
	CategoryPermission     = "Permission"     // the owner may no longer change the iModel
	CategoryInternal       = "Internal"       // Plinth could not store the result
	CategoryCancelled      = "Cancelled"
)

// ReportError is one error of a run.
type ReportError struct {
	File        string `json:"file,omitempty"`
	Line        int    `json:"line,omitempty"`
	Category    string `json:"category"`
	Message     string `json:"message"`
	UserFixable bool   `json:"userFixable"`
}

// FileReport is what a run did with one file.
type FileReport struct {
	File      string        `json:"file"`
	State     string        `json:"state"`
	Inserted  int           `json:"inserted"`
	Updated   int           `json:"updated"`
	Deleted   int           `json:"deleted"`
	Unchanged int           `json:"unchanged"`
	Warnings  []ifc.Warning `json:"warnings,omitempty"`
	Errors    []ReportError `json:"errors,omitempty"`
	Seconds   float64       `json:"seconds"`
}

// Run is one synchronization of a connection.
type Run struct {
	ID         string        `json:"id"`
	Connection string        `json:"connection"`
	ConnName   string        `json:"connectionName"`
	IModel     string        `json:"imodel"`
	By         string        `json:"by"`
	Trigger    string        `json:"trigger"` // "manual", "scheduled", "unmap", "delete"
	Started    time.Time     `json:"started"`
	Finished   time.Time     `json:"finished,omitzero"`
	State      string        `json:"state"` // "running", "finished", "cancelled", "interrupted"
	Result     string        `json:"result,omitempty"`
	Changeset  int64         `json:"changeset,omitempty"`
	Files      []FileReport  `json:"files"`
	Errors     []ReportError `json:"errors,omitempty"` // of the run as a whole
}

// FirstError is the run's first error in one phrase: an error of the run
// as a whole, else the first file's, led by the file's name unless the
// message names it already; "" when there is none.
func (r Run) FirstError() string {
	if len(r.Errors) > 0 {
		return r.Errors[0].Message
	}
	for _, f := range r.Files {
		if len(f.Errors) > 0 {
			msg := f.Errors[0].Message
			if !strings.Contains(msg, f.File) {
				msg = f.File + ": " + msg
			}
			return msg
		}
	}
	return ""
}

// FileStatus is a mapped file's state as the connection shows it.
type FileStatus struct {
	File    string    `json:"file"`
	State   string    `json:"state"`
	Reason  string    `json:"reason,omitempty"`
	Run     string    `json:"run,omitempty"`
	Updated time.Time `json:"updated,omitzero"`
}

// Manager-store collections.
var (
	connections = storage.NewCollection[Connection]("imconn")  // <conn id>
	runs        = storage.NewCollection[Run]("imrun")          // <conn id>/<run id>
	statuses    = storage.NewCollection[FileStatus]("imfstat") // <conn id>/<file key>
	members     = storage.NewCollection[Member]("immember")    // <imodel>/<user>
)

// Member records that a user has interacted with an iModel (created or
// synced a connection, changed its mapping); ownership can go to them.
type Member struct {
	User string    `json:"user"`
	Last time.Time `json:"last"`
}

// Stored element: what a sync compares and the iModels page searches.
type Element struct {
	GlobalID    string `json:"g"`
	Type        string `json:"t"`
	Name        string `json:"n,omitempty"`
	ObjectType  string `json:"o,omitempty"`
	Tag         string `json:"tag,omitempty"`
	Description string `json:"d,omitempty"`
	Checksum    string `json:"c"`
	Changeset   int64  `json:"cs"`
	// Where it comes from (filled in on read).
	Connection string `json:"-"`
	File       string `json:"-"`
}

// Scope is one (connection, file)'s applied state in the File Server
// store, beside its elements.
type Scope struct {
	IModel     string    `json:"imodel"`
	Connection string    `json:"connection"`
	File       string    `json:"file"`
	Size       int64     `json:"size"`
	ModTime    time.Time `json:"modTime"`
	Hash       string    `json:"hash"`
	Elements   int       `json:"elements"`
	Changeset  int64     `json:"changeset"`
	// Pending is a change staged but not yet merged: Committed says the
	// file's change is decided (merge it); otherwise it is thrown away.
	Pending *Pending `json:"pending,omitempty"`
}

// Pending is a file change being applied.
type Pending struct {
	Stage     string `json:"stage"` // staging key prefix
	Committed bool   `json:"committed"`
	Remove    bool   `json:"remove,omitempty"` // the scope goes once merged (a delete job)
	// Direct: the scope had no elements, so the new ones were written in
	// place, not staged; until the commit clears the mark they are hidden,
	// and dropping the change deletes every element of the scope.
	Direct bool `json:"direct,omitempty"`
}

// Changeset is one sync run's change to an iModel.
type Changeset struct {
	Seq        int64     `json:"seq"`
	IModel     string    `json:"imodel"`
	Time       time.Time `json:"time"`
	By         string    `json:"by"`
	Connection string    `json:"connection"`
	ConnName   string    `json:"connectionName"`
	Run        string    `json:"run"`
	Files      []string  `json:"files"`
	Inserted   int       `json:"inserted"`
	Updated    int       `json:"updated"`
	Deleted    int       `json:"deleted"`
	Note       string    `json:"note,omitempty"` // e.g. "unmapped files deleted"
}

// Stats is an iModel's element counts, kept in step with every change.
type Stats struct {
	Elements   int            `json:"elements"`
	ByType     map[string]int `json:"byType"`
	Changesets int64          `json:"changesets"`
}

// Geo is the iModel's geographic coordinate system and the connection
// and file that defined it.
type Geo struct {
	Connection string           `json:"connection"`
	File       string           `json:"file"`
	Reference  ifc.GeoReference `json:"reference"`
}

// File Server-store collections.
var (
	elements   = storage.NewCollection[Element]("imel")   // <imodel>/<conn>/<file key>/<globalId>
	staged     = storage.NewCollection[stagedEl]("imstg") // <stage>/<globalId>
	scopes     = storage.NewCollection[Scope]("imscope")  // <imodel>/<conn>/<file key>
	changesets = storage.NewCollection[Changeset]("imcs") // <imodel>/<seq, 12 digits>
	stats      = storage.NewCollection[Stats]("imstats")  // <imodel>
	geos       = storage.NewCollection[Geo]("imgeo")      // <imodel>
)

// stagedEl is a staged insert/update (El set) or delete (El nil).
type stagedEl struct {
	El *Element `json:"e,omitempty"`
	// Old type, for the counts by type of an update or delete.
	OldType string `json:"ot,omitempty"`
}
