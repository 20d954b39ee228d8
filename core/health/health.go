// Package health answers the admin's question "is my data safe?" with one
// report: a state (safe, needs attention, at risk), one sentence per
// reason with the page that fixes it, and the last few events. The
// overview page, the tray icon and `plinth status` show this one report.
//
// The report is computed from what the stores, the backup targets and the
// job history say, each time it is asked for; it keeps no state of its own
// and never writes. A source that cannot be read is a reason of its own
// ("Plinth could not read …", at risk), never taken for an empty one.
package health

import (
	"cmp"
	"context"
	"slices"
	"time"

	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/core/filesync"
	"codeberg.org/plinth/plinth/core/imodel"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/schedule"
	"codeberg.org/plinth/plinth/storage"
)

// State is how safe the data is.
type State string

// The states, from best to worst.
const (
	Safe      State = "safe"
	Attention State = "attention"
	AtRisk    State = "at-risk"
)

// Label is the state as the admin reads it: "Safe", "Needs attention",
// "At risk".
func (s State) Label() string {
	switch s {
	case Attention:
		return "Needs attention"
	case AtRisk:
		return "At risk"
	}
	return "Safe"
}

func (s State) rank() int {
	switch s {
	case Attention:
		return 1
	case AtRisk:
		return 2
	}
	return 0
}

// The pages a reason's button opens, as the window's ShowTarget reads
// them (the notifications' targets, plus the Servers page itself).
const (
	PageBackups    = notify.TargetBackups
	PageFileServer = notify.TargetFileServerSettings
	PageEmail      = notify.TargetEmailSettings
	PageIModels    = notify.TargetIModels
	PageServers    = "servers"
)

// Reason is one thing that keeps the data from being safe.
type Reason struct {
	// Code names the rule, stable across versions ("backup.none").
	Code  string `json:"code"`
	State State  `json:"state"`
	// Sentence says what is wrong, for an admin who is not a database
	// expert.
	Sentence string `json:"sentence"`
	// Page is the page (or panel) that fixes it: "backups",
	// "servers/fileserver", …
	Page string `json:"page"`
	// Action is the label of the button that opens Page ("Back up now").
	Action string `json:"action,omitempty"`
}

// Event is something that happened to the data: a backup, a
// verification, a restore, a file synchronization, an upgrade.
type Event struct {
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"`
	Sentence string    `json:"sentence"`
	OK       bool      `json:"ok"`
}

// Report is the answer.
type Report struct {
	// State is the worst of the reasons' states; Safe without reasons.
	State   State    `json:"state"`
	Reasons []Reason `json:"reasons"`
	// Summary is one line of what is known to be well ("Last full backup
	// today at 02:00, verified Sunday at 04:00; the Manager and the File
	// Server agree."), to show under the state.
	Summary string `json:"summary"`
	// Running lists the work under way now (a job, a synchronization).
	Running []Event `json:"running,omitempty"`
	// Events are the last few events, newest first.
	Events  []Event   `json:"events"`
	Checked time.Time `json:"checked"`
}

// MaxEvents is how many events a report carries.
const MaxEvents = 5

// What the report reads, declared here, where it is used.
type (
	backups interface {
		Level2() (backup.Level2Settings, error)
		Level3() (backup.Level3Settings, error)
		List() ([]backup.Manifest, error)
		Records() ([]backup.Record, error)
		BackupTargets() ([]backup.TargetConfig, error)
	}
	stores interface {
		Stores() (manager, fileserver *storage.Store)
		Healthy() error
		Digests() (manager, fileserver storage.FileSet, err error)
	}
	drift interface {
		LastAgreed() (filesync.Peer, error)
		Runs() ([]filesync.Run, error)
		Running() bool
	}
	connections interface {
		AllConnections() ([]imodel.Connection, error)
		LastRuns() (map[string]imodel.Run, error)
	}
	mail interface {
		SMTPSettings(ctx context.Context) (notify.SMTP, error)
		EmailReady(ctx context.Context) (bool, string)
		EmailWanted(ctx context.Context) ([]string, error)
		Pending(ctx context.Context) ([]notify.Outgoing, error)
	}
	jobStates interface {
		States() ([]schedule.State, error)
	}
)

// Service computes health reports.
type Service struct {
	backups backups
	files   stores
	sync    drift
	imodels connections
	mail    mail
	jobs    jobStates

	// LowSpace says whether a disk of total bytes with free bytes free
	// runs low; nil is DefaultLow. The app passes the rule its disk
	// space notifications use.
	LowSpace func(total, free uint64) bool

	diskOf func(dir string) (string, error)                 // which disk holds dir (tests replace it)
	space  func(dir string) (total, free uint64, err error) // storage.Space
}

// NewService returns the health service over the core services (the app
// passes *backup.Service, *files.Service, *filesync.Service,
// *imodel.Service, *notify.Service and *schedule.Scheduler).
func NewService(b backups, f stores, sy drift, im connections, n mail, jobs jobStates) *Service {
	return &Service{backups: b, files: f, sync: sy, imodels: im, mail: n, jobs: jobs, diskOf: diskOf, space: storage.Space}
}

// DefaultLow is low disk space: under 10% or under 5 GiB free.
func DefaultLow(total, free uint64) bool {
	return total > 0 && (float64(free) < 0.10*float64(total) || free < 5<<30)
}

// Inputs are what only the running program knows.
type Inputs struct {
	// Jobs is the live scheduler's view, when a scheduler runs in this
	// process (the window, plinth serve): which jobs are running now. A
	// one-shot command runs none and leaves it nil; overdue jobs are
	// judged from the stored job history either way.
	Jobs []schedule.Status
	// Autostart says whether Plinth starts by itself (at login, or as a
	// service), so that scheduled jobs run while nobody opens it; nil
	// where that cannot be set up.
	Autostart func() (bool, error)
}

// Report computes the report as of now. It fails only when ctx ends;
// everything else it could not read is a reason in the report.
func (s *Service) Report(ctx context.Context, now time.Time, in Inputs) (Report, error) {
	c := &check{s: s, now: now, in: in, covered: map[string]bool{}}
	for _, step := range []func(context.Context){c.stores, c.backups, c.space, c.connections, c.jobs, c.email, c.autostart, c.events} {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		step(ctx)
	}
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	return c.report(), nil
}

// check is one computation of a report: the reasons found so far and
// what one step reads for the next.
type check struct {
	s   *Service
	now time.Time
	in  Inputs

	reasons []Reason
	past    []Event // events, in no order yet
	running []Event
	// covered names the jobs a specific reason already speaks for, so
	// that their failure is not told twice.
	covered map[string]bool

	// Read by one step, used by later ones.
	target   string            // the full backups' folder; "" when unknown
	listed   bool              // the full backups could be listed
	mine     []backup.Manifest // this Plinth's full backups, newest first
	offsite  string            // how the newest backup's copy stands, for the summary
	records  []backup.Record   // the backup history, newest first
	verified *backup.Record    // the newest verification, if any
	due      []dueJob          // scheduled jobs whose missed runs to look for
	agree    *bool             // whether the stores agree; nil when not compared
}

// dueJob is a scheduled job whose missed runs the report looks for.
type dueJob struct {
	name, title string
	spec        schedule.Spec
	since       time.Time // when it was set up, if the job history does not say
	page        string
	action      string
}

func (c *check) add(r Reason) { c.reasons = append(c.reasons, r) }

// unreadable is the reason for a source that could not be read: never
// taken for an empty one.
func (c *check) unreadable(code, what, page string, err error) {
	c.add(Reason{Code: code, State: AtRisk, Page: page, Action: openLabel(page),
		Sentence: "Plinth could not read " + what + ": " + phrase(err) + "."})
}

func (c *check) report() Report {
	r := Report{State: Safe, Reasons: c.reasons, Running: c.running, Checked: c.now.UTC()}
	if r.Reasons == nil {
		r.Reasons = []Reason{}
	}
	slices.SortStableFunc(r.Reasons, func(a, b Reason) int { return cmp.Compare(b.State.rank(), a.State.rank()) })
	if len(r.Reasons) > 0 {
		r.State = r.Reasons[0].State
	}
	slices.SortStableFunc(c.past, func(a, b Event) int { return b.At.Compare(a.At) })
	r.Events = c.past[:min(len(c.past), MaxEvents)]
	if r.Events == nil {
		r.Events = []Event{}
	}
	r.Summary = c.summary()
	return r
}

// summary is one line of what is known.
func (c *check) summary() string {
	var line string
	switch {
	case !c.listed:
		line = "The full backups could not be read"
	case len(c.mine) == 0:
		line = "No full backup yet"
	default:
		line = "Last full backup " + when(c.mine[0].Created, c.now)
		switch {
		case c.verified == nil:
			line += ", not verified yet"
		case c.verified.VerifyOK:
			line += ", verified " + when(c.verified.Verified, c.now)
		default:
			line += ", the last verification failed"
		}
	}
	if c.offsite != "" {
		line += "; " + c.offsite
	}
	switch {
	case c.agree == nil:
	case *c.agree:
		line += "; the Manager and the File Server agree"
	default:
		line += "; the Manager and the File Server disagree"
	}
	return line + "."
}
