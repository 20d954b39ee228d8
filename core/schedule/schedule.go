// Package schedule runs every timed job of Plinth (backups, connection
// syncs, token checks, drift checks, store maintenance) on one gocron
// scheduler. It adds what gocron leaves out: each job's last run and result
// are stored in the manager store, a job that was missed while Plinth was
// closed runs once on start, a job never overlaps itself, and a failed or
// panicking run is recorded instead of lost.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"

	"codeberg.org/plinth/plinth/storage"
)

// Job is a timed task.
type Job struct {
	// Name identifies the job across restarts, e.g. "maintenance.gc.manager".
	Name string
	// Title is how the window names the job, e.g. "Reclaim disk space".
	Title string
	Spec  Spec
	// CatchUp runs the job once on start when a run was missed while
	// Plinth was closed.
	CatchUp bool
	// Run does the work; ctx is cancelled when Plinth shuts down.
	Run func(ctx context.Context) error
}

// State is what is stored about a job between runs.
type State struct {
	Name string `json:"name"`
	// Title is the job's title when it was last added (empty in states
	// stored before titles were), so that a command that runs no
	// scheduler can still name the job.
	Title       string    `json:"title,omitempty"`
	Registered  time.Time `json:"registered"`
	LastStart   time.Time `json:"lastStart,omitzero"`
	LastEnd     time.Time `json:"lastEnd,omitzero"`
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
	Runs        int       `json:"runs"`
	Failures    int       `json:"failures"`
	// CatchUp says the run started at LastStart was a catch-up at start.
	// One that never ended (LastEnd before LastStart: Plinth stopped
	// during it) is not caught up again: if the job is what stops Plinth,
	// it would do so at every start.
	CatchUp bool `json:"catchUp,omitempty"`
}

// Status is a job as the window shows it.
type Status struct {
	State
	Title   string    `json:"title"`
	Spec    string    `json:"spec"`
	NextRun time.Time `json:"nextRun,omitzero"`
	Running bool      `json:"running"`
}

var states = storage.NewCollection[State]("job")

// ErrUnknownJob means no job has that name.
var ErrUnknownJob = errors.New("no such scheduled job")

// Scheduler owns the gocron scheduler and the jobs' stored state.
type Scheduler struct {
	cron  gocron.Scheduler
	clock clockwork.Clock
	store *storage.Store
	log   *slog.Logger

	mu      sync.Mutex
	jobs    map[string]*entry
	started bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stop    sync.Once
	stopErr error
}

type entry struct {
	job     Job
	cronJob gocron.Job // nil for Manual
	running sync.Mutex // held while the job runs: no overlap, even with RunNow
	busy    bool
}

// New makes a scheduler that stores job state in the manager store. A nil
// clock means the real one; tests pass clockwork.NewFakeClock().
func New(manager *storage.Store, clock clockwork.Clock, log *slog.Logger) (*Scheduler, error) {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cron, err := gocron.NewScheduler(
		gocron.WithClock(clock),
		gocron.WithLocation(time.Local),
		gocron.WithStopTimeout(30*time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("new scheduler: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Scheduler{cron: cron, clock: clock, store: manager, log: log,
		jobs: map[string]*entry{}, ctx: ctx, cancel: cancel}, nil
}

// Add registers a job, or replaces the job of the same name (for a changed
// schedule). Jobs added after Start are scheduled at once.
func (s *Scheduler) Add(job Job) error {
	if job.Name == "" || job.Run == nil {
		return errors.New("add job: name and run function are required")
	}
	if err := job.Spec.Validate(); err != nil {
		return fmt.Errorf("schedule %s: %w", job.Title, err)
	}
	if err := s.register(job.Name, job.Title); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.jobs[job.Name]; ok && old.cronJob != nil {
		if err := s.cron.RemoveJob(old.cronJob.ID()); err != nil && !errors.Is(err, gocron.ErrJobNotFound) {
			return fmt.Errorf("replace job %s: %w", job.Name, err)
		}
	}
	e := &entry{job: job}
	if def := job.Spec.definition(); def != nil {
		cj, err := s.cron.NewJob(def,
			gocron.NewTask(func() { s.runEntry(e) }),
			gocron.WithName(job.Name),
			gocron.WithSingletonMode(gocron.LimitModeReschedule),
		)
		if err != nil {
			return fmt.Errorf("schedule job %s: %w", job.Name, err)
		}
		e.cronJob = cj
	}
	s.jobs[job.Name] = e
	if s.started && job.CatchUp {
		s.catchUp(e)
	}
	return nil
}

// Remove unschedules a job and forgets its state.
func (s *Scheduler) Remove(name string) error {
	s.mu.Lock()
	e, ok := s.jobs[name]
	delete(s.jobs, name)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%s: %w", name, ErrUnknownJob)
	}
	if e.cronJob != nil {
		_ = s.cron.RemoveJob(e.cronJob.ID())
	}
	return s.store.Update(func(tx *storage.Tx) error { return states.Delete(tx, name) })
}

// register records when a job was first known, so that catch-up does not
// run a brand-new job for a time before it existed, and its title.
func (s *Scheduler) register(name, title string) error {
	return s.store.Update(func(tx *storage.Tx) error {
		st, err := states.Get(tx, name)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			st = State{Name: name, Registered: s.clock.Now().UTC()}
		case err != nil:
			return err
		case st.Title == title:
			return nil
		}
		st.Title = title
		return states.Put(tx, name, st)
	})
}

// Start begins scheduling and runs, once each, the jobs that missed a run
// while Plinth was closed.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started = true
	s.cron.Start()
	for _, e := range s.jobs {
		if e.job.CatchUp {
			s.catchUp(e)
		}
	}
}

// catchUp runs e in the background if it is overdue, unless Plinth
// stopped during its last catch-up. Called with s.mu held.
func (s *Scheduler) catchUp(e *entry) {
	st, err := s.state(e.job.Name)
	if err != nil {
		s.log.Error("read job state", "job", e.job.Name, "err", err)
		return
	}
	if !e.job.Spec.Overdue(st.LastSuccess, st.Registered, s.clock.Now()) {
		return
	}
	if st.CatchUp && st.LastStart.After(st.LastEnd) {
		s.log.Warn("not catching up: Plinth stopped during this job's catch-up at the last start", "job", e.job.Name, "lastStart", st.LastStart)
		s.update(e.job.Name, func(st *State) {
			st.LastError = "Plinth stopped during this job's catch-up at the last start; it runs at its next scheduled time, not at start"
		})
		return
	}
	s.log.Info("catching up a missed run", "job", e.job.Name, "lastSuccess", st.LastSuccess)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.run(s.ctx, e, false, true)
	}()
}

// RunNow runs a job at once and waits for it. When the job is already
// running it returns ErrBusy instead of starting a second run.
func (s *Scheduler) RunNow(ctx context.Context, name string) error {
	s.mu.Lock()
	e, ok := s.jobs[name]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%s: %w", name, ErrUnknownJob)
	}
	return s.run(ctx, e, true, false)
}

// RunSoon starts a job in the background now, unless it is running
// already. Stop waits for it.
func (s *Scheduler) RunSoon(name string) error {
	s.mu.Lock()
	e, ok := s.jobs[name]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%s: %w", name, ErrUnknownJob)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.runEntry(e)
	}()
	return nil
}

// ErrBusy means the job is running already.
var ErrBusy = errors.New("the job is running already")

func (s *Scheduler) runEntry(e *entry) { _ = s.run(s.ctx, e, false, false) }

// run runs e once, recording its start (and whether it is a catch-up)
// before the job's work and its end after.
func (s *Scheduler) run(ctx context.Context, e *entry, explicit, catchUp bool) (err error) {
	if !e.running.TryLock() {
		if explicit {
			return fmt.Errorf("%s: %w", e.job.Title, ErrBusy)
		}
		return nil // a scheduled or catch-up run while one runs: skip it
	}
	defer e.running.Unlock()
	s.setBusy(e, true)
	defer s.setBusy(e, false)

	// A run ends when Plinth shuts down even if the caller's ctx lives on.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	start := s.clock.Now()
	s.update(e.job.Name, func(st *State) { st.LastStart, st.CatchUp = start.UTC(), catchUp })
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("job %s crashed: %v", e.job.Title, r)
			s.log.Error("job panicked", "job", e.job.Name, "panic", r, "stack", string(debug.Stack()))
		}
		end := s.clock.Now()
		s.update(e.job.Name, func(st *State) {
			st.LastEnd = end.UTC()
			st.Runs++
			if err != nil {
				st.Failures++
				st.LastError = err.Error()
			} else {
				st.LastSuccess = start.UTC()
				st.LastError = ""
			}
		})
		if err != nil {
			s.log.Warn("job failed", "job", e.job.Name, "err", err)
		} else {
			s.log.Info("job done", "job", e.job.Name, "took", end.Sub(start))
		}
	}()
	return e.job.Run(ctx)
}

func (s *Scheduler) setBusy(e *entry, busy bool) {
	s.mu.Lock()
	e.busy = busy
	s.mu.Unlock()
}

func (s *Scheduler) update(name string, change func(*State)) {
	err := s.store.Update(func(tx *storage.Tx) error {
		st, err := states.Get(tx, name)
		if errors.Is(err, storage.ErrNotFound) {
			st = State{Name: name, Registered: s.clock.Now().UTC()}
		} else if err != nil {
			return err
		}
		change(&st)
		return states.Put(tx, name, st)
	})
	if err != nil {
		s.log.Error("record job state", "job", name, "err", err)
	}
}

func (s *Scheduler) state(name string) (State, error) {
	var st State
	err := s.store.View(func(tx *storage.Tx) (err error) {
		st, err = states.Get(tx, name)
		return err
	})
	return st, err
}

// States returns what is stored about every job known to this data
// folder, by name: also the jobs of a Plinth that is not running (a
// one-shot command adds none), for the health report.
func (s *Scheduler) States() ([]State, error) {
	var out []State
	err := s.store.View(func(tx *storage.Tx) (err error) { out, err = states.List(tx, ""); return err })
	if err != nil {
		return nil, fmt.Errorf("read the scheduled jobs: %w", err)
	}
	return out, nil
}

// Jobs lists every job with its schedule, next run and last result, by title.
func (s *Scheduler) Jobs() []Status {
	s.mu.Lock()
	entries := make([]*entry, 0, len(s.jobs))
	busy := map[string]bool{}
	for _, e := range s.jobs {
		entries = append(entries, e)
		busy[e.job.Name] = e.busy
	}
	s.mu.Unlock()
	out := make([]Status, 0, len(entries))
	for _, e := range entries {
		st, _ := s.state(e.job.Name)
		status := Status{State: st, Title: e.job.Title, Spec: e.job.Spec.String(), Running: busy[e.job.Name]}
		if e.cronJob != nil {
			status.NextRun, _ = e.cronJob.NextRun()
		}
		out = append(out, status)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Title < out[j].Title })
	return out
}

// Stop cancels running jobs, waits for them (at most 30 s) and stops the
// scheduler. It is safe to call twice.
func (s *Scheduler) Stop() error {
	s.stop.Do(func() {
		s.cancel()
		err := s.cron.Shutdown()
		s.wg.Wait()
		if err != nil && !errors.Is(err, gocron.ErrStopSchedulerTimedOut) {
			s.stopErr = fmt.Errorf("stop scheduler: %w", err)
		}
	})
	return s.stopErr
}
