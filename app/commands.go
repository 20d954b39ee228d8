package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/health"
	"codeberg.org/plinth/plinth/core/text"
	"codeberg.org/plinth/plinth/core/upgrade"
	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

func cmdInit(ctx context.Context, c *cli, args []string) error {
	if _, err := parse(newFlags("init"), args); err != nil {
		return err
	}
	a, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	if ok, err := a.Accounts.Initialised(ctx); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("data folder %s is already set up; log in as masteradmin", a.DataDir)
	}
	if err := a.refuseData(ctx); err != nil {
		return err
	}
	pw, err := c.newSecret("PLINTH_PASSWORD", "Choose the masteradmin password: ")
	if err != nil {
		return err
	}
	if _, err := a.Accounts.Bootstrap(ctx, pw); err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "Plinth is set up in %s; log in as masteradmin.\n", a.DataDir)
	return nil
}

// refuseData refuses to set up a data folder whose stores hold files or
// users but no masteradmin: that is a Manager store that lost its
// accounts, or another Plinth's data, and setting it up would put a new
// masteradmin over it. Stores that hold nothing yet (a window closed before
// the password was chosen) may be set up.
func (a *App) refuseData(ctx context.Context) error {
	users, err := a.Accounts.AllUsers(ctx)
	if err != nil {
		return err
	}
	mgr, fsr, err := a.Files.Digests()
	if err != nil {
		return err
	}
	if len(users) == 0 && mgr.Count == 0 && fsr.Count == 0 {
		return nil
	}
	return fmt.Errorf("data folder %s already holds %s and %s but no masteradmin account, so Plinth does not set it up anew; %s",
		a.DataDir, plural(max(mgr.Count, fsr.Count), "file"), plural(int64(len(users)), "user"), restoreAdvice(a.DataDir))
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return humanize.Comma(n) + " " + what + "s"
}

// StoreStatus describes one store for `plinth status`.
type StoreStatus struct {
	Path       string    `json:"path"`
	Identity   string    `json:"identity"`
	Generation uint64    `json:"generation"`
	Created    time.Time `json:"created"`
	Files      int64     `json:"files"`
	FileBytes  int64     `json:"fileBytes"`
	DiskBytes  int64     `json:"diskBytes"`
	Healthy    bool      `json:"healthy"`
	Problem    string    `json:"problem,omitempty"`
	// Format is the data format the store records.
	Format int `json:"format"`
}

// Status is what `plinth status` reports.
type Status struct {
	DataFolder  string `json:"dataFolder"`
	Version     string `json:"version"`
	Initialised bool   `json:"initialised"`
	// Format is the data folder's format (format.json), FormatBy the
	// Plinth that created or last upgraded it.
	Format     int         `json:"format"`
	FormatBy   string      `json:"formatBy,omitempty"`
	Manager    StoreStatus `json:"manager"`
	FileServer StoreStatus `json:"fileserver"`
	Users      int         `json:"users"`
	// ReadOnly says why the stores were opened read-only (their disk is
	// below the reserve Plinth keeps free); empty when they can be changed.
	ReadOnly string `json:"readOnly,omitempty"`
	// Health is the answer to "is my data safe?" (core/health).
	Health health.Report `json:"health"`
}

// Status reads the state of both stores.
func (a *App) Status(ctx context.Context) (Status, error) {
	st := Status{DataFolder: a.DataDir, Version: Version}
	var err error
	if st.Initialised, err = a.Accounts.Initialised(ctx); err != nil {
		return st, err
	}
	users, err := a.Accounts.AllUsers(ctx)
	if err != nil {
		return st, err
	}
	st.Users = len(users)
	fst, err := upgrade.Read(fsys.OS, a.DataDir, true)
	if err != nil {
		return st, err
	}
	st.Format, st.FormatBy = fst.Folder, fst.File.WrittenBy
	st.Manager = storeStatus(a.Manager)
	st.FileServer = storeStatus(a.FileServer)
	if err := a.ReadOnly(); err != nil {
		st.ReadOnly = sentence(err)
	}
	if st.Health, err = a.HealthReport(ctx); err != nil {
		return st, err
	}
	return st, nil
}

func storeStatus(s *storage.Store) StoreStatus {
	id := s.Identity()
	out := StoreStatus{Path: s.Dir(), Identity: id.ID, Generation: id.Generation, Created: id.Created,
		DiskBytes: s.DiskSize(), Healthy: true}
	if err := s.Healthy(); err != nil {
		out.Healthy, out.Problem = false, sentence(err)
		return out
	}
	_ = s.View(func(tx *storage.Tx) error {
		fs, err := tx.FileSet()
		out.Files, out.FileBytes = fs.Count, fs.Bytes
		if err == nil {
			out.Format, err = tx.Format()
		}
		return err
	})
	return out
}

func cmdStatus(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("status")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	a, err := c.open(ctx, true)
	if err != nil {
		return err
	}
	st, err := a.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := c.printJSON(st); err != nil {
			return err
		}
		return unhealthy(st)
	}
	// The answer first: the state, then each reason in a sentence.
	fmt.Fprintln(c.io.Out, st.Health.State.Label())
	for _, r := range st.Health.Reasons {
		fmt.Fprintln(c.io.Out, "  - "+text.Safe(r.Sentence))
	}
	if len(st.Health.Reasons) == 0 {
		fmt.Fprintln(c.io.Out, "  "+text.Safe(st.Health.Summary))
	}
	fmt.Fprintln(c.io.Out)
	store := func(s StoreStatus) string {
		health := "healthy"
		if !s.Healthy {
			health = s.Problem
		}
		return fmt.Sprintf("%s files, %s; %s on disk; id %s, generation %d; %s",
			humanize.Comma(s.Files), humanize.IBytes(uint64(s.FileBytes)), humanize.IBytes(uint64(s.DiskBytes)),
			s.Identity[:8], s.Generation, health)
	}
	setUp := "yes"
	if !st.Initialised {
		setUp = "no: the masteradmin password has not been chosen"
	}
	rows := [][]string{
		{"Data folder", st.DataFolder},
		{"Set up", setUp},
		{"Manager", store(st.Manager)},
		{"File server", store(st.FileServer)},
		{"Users", fmt.Sprint(st.Users)},
		{"Data format", fmt.Sprintf("%d (Manager %d, File Server %d); this Plinth writes %d", st.Format, st.Manager.Format, st.FileServer.Format, upgrade.Data)},
	}
	if st.ReadOnly != "" {
		rows = append(rows, []string{"Read-only", st.ReadOnly})
	}
	c.table(rows)
	return unhealthy(st)
}

// unhealthy fails status when a store is not healthy, with its problem:
// scripts that watch the exit code see a damaged store.
func unhealthy(st Status) error {
	for _, s := range []StoreStatus{st.Manager, st.FileServer} {
		if !s.Healthy {
			return errors.New(s.Problem)
		}
	}
	return nil
}

func cmdUserAdd(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("user add")
	role := fs.String("role", "", "server-admin, project-admin or none")
	email := fs.String("email", "", "e-mail address for notifications")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("user add needs exactly one user name")
	}
	if *role == "" {
		return usagef("user add needs --role")
	}
	r, err := account.ParseRole(*role)
	if err != nil {
		return usageError{err.Error()}
	}
	if err := account.CheckName(pos[0]); err != nil {
		return err
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	pw, err := c.newSecret("PLINTH_NEW_PASSWORD", fmt.Sprintf("Password for the new user %s: ", pos[0]))
	if err != nil {
		return err
	}
	if err := a.Accounts.AddUser(ctx, actor, account.NewUser{Name: pos[0], Role: r, Password: pw, Email: *email}); err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "Added %s as %s.\n", pos[0], r.Label())
	return nil
}

func cmdUserList(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("user list")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	users, err := a.Accounts.Users(ctx, actor)
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(struct {
			Users []account.Info `json:"users"`
		}{users})
	}
	rows := [][]string{{"NAME", "ROLE", "E-MAIL", "LAST LOGIN", "STATE"}}
	for _, u := range users {
		last, state := "never", ""
		if !u.LastLogin.IsZero() {
			last = u.LastLogin.Local().Format("2006-01-02 15:04")
		}
		if u.Locked {
			state = "locked"
		}
		rows = append(rows, []string{u.Name, u.RoleLabel, u.Email, last, state})
	}
	c.table(rows)
	return nil
}

func cmdUserRole(ctx context.Context, c *cli, args []string) error {
	pos, err := parse(newFlags("user role"), args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("user role needs a user name and a role")
	}
	r, err := account.ParseRole(pos[1])
	if err != nil {
		return usageError{err.Error()}
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	if err := a.Accounts.SetRole(ctx, actor, pos[0], r); err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "%s is now %s.\n", pos[0], r.Label())
	return nil
}

func cmdUserReset(ctx context.Context, c *cli, args []string) error {
	pos, err := parse(newFlags("user reset-password"), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("user reset-password needs exactly one user name")
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	pw, err := c.newSecret("PLINTH_NEW_PASSWORD", fmt.Sprintf("New password for %s: ", pos[0]))
	if err != nil {
		return err
	}
	if err := a.Accounts.ResetPassword(ctx, actor, pos[0], pw); err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "The password of %s is changed.\n", pos[0])
	return nil
}

func cmdUserRemove(ctx context.Context, c *cli, args []string) error {
	pos, err := parse(newFlags("user rm"), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("user rm needs exactly one user name")
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	if err := a.Accounts.RemoveUser(ctx, actor, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "Removed %s.\n", strings.TrimSpace(pos[0]))
	return nil
}
