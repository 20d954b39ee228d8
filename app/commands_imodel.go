package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/ifc"
	"codeberg.org/plinth/plinth/core/imodel"
	"codeberg.org/plinth/plinth/core/schedule"
	"codeberg.org/plinth/plinth/core/text"
)

// imodelCommands manage iModels, their connections and IFC files.
var imodelCommands = []command{
	{"imodel create", "PROJECT NAME", "create an iModel in a project", cmdIModelCreate},
	{"imodel ls", "[--json]", "list the iModels with their element counts", cmdIModelList},
	{"imodel stats", "IMODEL [--json]", "element counts by type and the number of changesets", cmdIModelStats},
	{"imodel changesets", "IMODEL [--json]", "the iModel's changesets, newest first", cmdIModelChangesets},
	{"imodel search", "IMODEL TEXT [--json]", "find elements by GlobalId or name", cmdIModelSearch},
	{"imodel sync", "IMODEL [--json]", "sync every connection of the iModel now", cmdIModelSync},
	{"connection add", "IMODEL NAME (--source DIR | --source-plinth FOLDER) --map FILE[,REF…]… [--schedule SPEC]", "add a connection that syncs design files into the iModel", cmdConnAdd},
	{"connection ls", "IMODEL [--json]", "the iModel's connections with each file's status", cmdConnList},
	{"connection sync", "IMODEL NAME [--json]", "sync a connection now", cmdConnSync},
	{"connection runs", "IMODEL NAME [--json]", "a connection's past runs", cmdConnRuns},
	{"connection report", "IMODEL NAME [RUN] [--csv]", "a run's report (the newest by default) as JSON or CSV", cmdConnReport},
	{"connection rename", "IMODEL NAME NEWNAME", "rename a connection", cmdConnRename},
	{"connection rm", "IMODEL NAME --keep-elements|--delete-elements", "delete a connection", cmdConnRemove},
	{"connection schedule", "IMODEL NAME manual|every-4h|daily HH:MM|weekly DAY HH:MM", "when a connection syncs by itself", cmdConnSchedule},
	{"connection owner", "IMODEL NAME USER", "give a connection to a user who has worked with the iModel", cmdConnOwner},
	{"connection map", "IMODEL NAME FILE[,REF…]", "map a design file with its reference files", cmdConnMap},
	{"connection unmap", "IMODEL NAME FILE --keep-elements|--delete-elements", "unmap a design file with its references", cmdConnUnmap},
	{"ifc stats", "FILE [--json]", "read an IFC file: schema, instances, elements, time", cmdIFCStats},
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func cmdIModelCreate(ctx context.Context, c *cli, args []string) error {
	pos, err := parse(newFlags("imodel create"), args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("give the project and the iModel's name")
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	m, err := a.IModels.Create(ctx, actor, pos[0], pos[1])
	if err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "iModel %s created.\n", m.Path)
	return nil
}

func cmdIModelList(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("imodel ls")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	all, err := a.IModels.List(ctx, actor)
	if err != nil {
		return err
	}
	if *asJSON {
		type item struct {
			Path       string `json:"path"`
			Elements   int    `json:"elements"`
			Changesets int64  `json:"changesets"`
		}
		out := []item{}
		for _, m := range all {
			out = append(out, item{m.Path, m.Stats.Elements, m.Stats.Changesets})
		}
		return c.printJSON(struct {
			IModels []item `json:"imodels"`
		}{out})
	}
	rows := [][]string{{"IMODEL", "ELEMENTS", "CHANGESETS"}}
	for _, m := range all {
		rows = append(rows, []string{m.Path, strconv.Itoa(m.Stats.Elements), strconv.FormatInt(m.Stats.Changesets, 10)})
	}
	c.table(rows)
	return nil
}

// withIModel logs in and finds the iModel named by the first argument.
func withIModel(ctx context.Context, c *cli, fs *flag.FlagSet, args []string, want int, usage string,
	run func(a *App, actor account.Actor, m imodel.IModel, pos []string) error) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < want || len(pos) > want+1 && want >= 0 {
		return usagef("%s", usage)
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	m, err := a.IModels.Get(ctx, actor, pos[0])
	if err != nil {
		return err
	}
	return run(a, actor, m, pos[1:])
}

func cmdIModelStats(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("imodel stats")
	asJSON := fs.Bool("json", false, "print JSON")
	return withIModel(ctx, c, fs, args, 1, "give the iModel, e.g. /Tower/Coordination", func(a *App, _ account.Actor, m imodel.IModel, _ []string) error {
		if *asJSON {
			return c.printJSON(struct {
				Elements   int            `json:"elements"`
				ByType     map[string]int `json:"byType"`
				Changesets int64          `json:"changesets"`
			}{m.Stats.Elements, m.Stats.ByType, m.Stats.Changesets})
		}
		fmt.Fprintf(c.io.Out, "%s: %s, %s.\n", m.Path, text.Count(m.Stats.Elements, "element"), text.Count(int(m.Stats.Changesets), "changeset"))
		types := make([]string, 0, len(m.Stats.ByType))
		for t := range m.Stats.ByType {
			types = append(types, t)
		}
		sort.Slice(types, func(i, j int) bool {
			a, b := m.Stats.ByType[types[i]], m.Stats.ByType[types[j]]
			return a > b || a == b && types[i] < types[j]
		})
		rows := [][]string{{"TYPE", "ELEMENTS"}}
		for _, t := range types {
			rows = append(rows, []string{t, strconv.Itoa(m.Stats.ByType[t])})
		}
		c.table(rows)
		if g, ok, _ := a.IModels.GeoOf(m.ID); ok {
			fmt.Fprintf(c.io.Out, "Geographic coordinates: %s (from %s).\n", g.Reference.String(), g.File)
		}
		return nil
	})
}

func cmdIModelChangesets(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("imodel changesets")
	asJSON := fs.Bool("json", false, "print JSON")
	return withIModel(ctx, c, fs, args, 1, "give the iModel", func(a *App, actor account.Actor, m imodel.IModel, _ []string) error {
		cs, err := a.IModels.Changesets(ctx, actor, m.ID)
		if err != nil {
			return err
		}
		if *asJSON {
			if cs == nil {
				cs = []imodel.Changeset{}
			}
			return c.printJSON(struct {
				Changesets []imodel.Changeset `json:"changesets"`
			}{cs})
		}
		rows := [][]string{{"#", "WHEN", "BY", "CONNECTION", "INSERTED", "UPDATED", "DELETED", "FILES"}}
		for _, x := range cs {
			rows = append(rows, []string{strconv.FormatInt(x.Seq, 10), x.Time.Local().Format("2006-01-02 15:04"), x.By, x.ConnName,
				strconv.Itoa(x.Inserted), strconv.Itoa(x.Updated), strconv.Itoa(x.Deleted), strings.Join(x.Files, ", ")})
		}
		c.table(rows)
		return nil
	})
}

func cmdIModelSearch(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("imodel search")
	asJSON := fs.Bool("json", false, "print JSON")
	return withIModel(ctx, c, fs, args, 2, "give the iModel and what to look for", func(a *App, actor account.Actor, m imodel.IModel, pos []string) error {
		found, err := a.IModels.Search(ctx, actor, m.ID, pos[0], 500)
		if err != nil {
			return err
		}
		if *asJSON {
			type el struct {
				GlobalID string `json:"globalId"`
				Type     string `json:"type"`
				Name     string `json:"name"`
				File     string `json:"file"`
			}
			out := []el{}
			for _, e := range found {
				out = append(out, el{e.GlobalID, e.Type, e.Name, e.File})
			}
			return c.printJSON(struct {
				Elements []el `json:"elements"`
			}{out})
		}
		rows := [][]string{{"GLOBALID", "TYPE", "NAME", "FILE"}}
		for _, e := range found {
			rows = append(rows, []string{e.GlobalID, e.Type, e.Name, e.File})
		}
		c.table(rows)
		return nil
	})
}

// parseSchedule reads manual | every-4h (or every-Nh, N ≥ 4) | daily HH:MM
// | weekly DAY HH:MM.
func parseSchedule(words []string) (schedule.Spec, error) {
	if len(words) == 0 {
		return schedule.Spec{Kind: schedule.Manual}, nil
	}
	hm := func(s string) (int, int, error) {
		t, err := time.Parse("15:04", s)
		if err != nil {
			return 0, 0, fmt.Errorf("%q is not a time like 02:00", s)
		}
		return t.Hour(), t.Minute(), nil
	}
	switch w := strings.ToLower(words[0]); {
	case w == "manual" || w == "manually":
		return schedule.Spec{Kind: schedule.Manual}, nil
	case strings.HasPrefix(w, "every-") && strings.HasSuffix(w, "h"):
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(w, "every-"), "h"))
		if err != nil {
			return schedule.Spec{}, fmt.Errorf("%q is not a schedule; use every-4h", words[0])
		}
		return schedule.EveryInterval(time.Duration(n) * time.Hour), nil
	case w == "daily" && len(words) == 2:
		h, m, err := hm(words[1])
		return schedule.DailyAt(h, m), err
	case w == "weekly" && len(words) == 3:
		h, m, err := hm(words[2])
		if err != nil {
			return schedule.Spec{}, err
		}
		for d := time.Sunday; d <= time.Saturday; d++ {
			if strings.EqualFold(words[1], d.String()) || strings.EqualFold(words[1], d.String()[:3]) {
				return schedule.WeeklyAt(d, h, m), nil
			}
		}
		return schedule.Spec{}, fmt.Errorf("%q is not a day of the week", words[1])
	}
	return schedule.Spec{}, fmt.Errorf("%q is not a schedule: use manual, every-4h, daily HH:MM or weekly DAY HH:MM", strings.Join(words, " "))
}

func parseComposite(s string) imodel.Composite {
	parts := strings.Split(s, ",")
	return imodel.Composite{Main: parts[0], Refs: parts[1:]}
}

func cmdConnAdd(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("connection add")
	src := fs.String("source", "", "a folder on disk or a network share")
	srcPlinth := fs.String("source-plinth", "", "a folder on Plinth's file server, e.g. /Tower/IFC")
	sched := fs.String("schedule", "manual", "manual, every-4h, \"daily HH:MM\" or \"weekly DAY HH:MM\"")
	var maps stringList
	fs.Var(&maps, "map", "a design file (relative to the source) and its reference files, comma-separated; repeat for more")
	return withIModel(ctx, c, fs, args, 2, "give the iModel and the connection's name", func(a *App, actor account.Actor, m imodel.IModel, pos []string) error {
		nc := imodel.NewConnection{Name: pos[0]}
		switch {
		case *src != "" && *srcPlinth == "":
			abs, err := filepath.Abs(c.path(*src))
			if err != nil {
				return err
			}
			nc.Source = imodel.Source{Kind: imodel.SourceDisk, Path: abs}
		case *srcPlinth != "" && *src == "":
			nc.Source = imodel.Source{Kind: imodel.SourceFileServer, Path: *srcPlinth}
		default:
			return usagef("give the source: --source DIR or --source-plinth FOLDER")
		}
		if len(maps) == 0 {
			return usagef("map at least one design file with --map FILE[,REF…]")
		}
		for _, mp := range maps {
			nc.Mapped = append(nc.Mapped, parseComposite(mp))
		}
		var err error
		if nc.Schedule, err = parseSchedule(strings.Fields(*sched)); err != nil {
			return usagef("%v", err)
		}
		conn, err := a.IModels.AddConnection(ctx, actor, m.ID, nc)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.io.Out, "Connection %q added to %s with %s; it syncs %s. Run 'plinth connection sync %s %q' to sync now.\n",
			conn.Name, m.Path, text.Count(len(conn.MappedFiles()), "file"), strings.ToLower(conn.Schedule.String()), m.Path, conn.Name)
		return nil
	})
}

// withConn finds the connection named by the second argument.
func withConn(ctx context.Context, c *cli, fs *flag.FlagSet, args []string, want int, usage string,
	run func(a *App, actor account.Actor, m imodel.IModel, conn imodel.Connection, pos []string) error) error {
	return withIModel(ctx, c, fs, args, want, usage, func(a *App, actor account.Actor, m imodel.IModel, pos []string) error {
		conn, err := a.IModels.FindConnection(ctx, actor, m.ID, pos[0])
		if err != nil {
			return err
		}
		return run(a, actor, m, conn, pos[1:])
	})
}

func cmdConnList(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("connection ls")
	asJSON := fs.Bool("json", false, "print JSON")
	return withIModel(ctx, c, fs, args, 1, "give the iModel", func(a *App, actor account.Actor, m imodel.IModel, _ []string) error {
		conns, err := a.IModels.Connections(ctx, actor, m.ID)
		if err != nil {
			return err
		}
		type item struct {
			imodel.Connection
			Files []imodel.FileStatus `json:"files"`
		}
		var out []item
		for _, conn := range conns {
			st, err := a.IModels.FileStatuses(ctx, actor, conn.ID)
			if err != nil {
				return err
			}
			out = append(out, item{conn, st})
		}
		if *asJSON {
			if out == nil {
				out = []item{}
			}
			return c.printJSON(struct {
				Connections []item `json:"connections"`
			}{out})
		}
		for _, x := range out {
			fmt.Fprintf(c.io.Out, "%s — owner %s, %s, token until %s, source %s\n", x.Name, x.Owner, strings.ToLower(x.Schedule.String()),
				x.Token.Expires.Local().Format("2006-01-02"), x.Source.Path)
			if p := x.Paused; p != nil {
				fmt.Fprintf(c.io.Out, "  Scheduled syncs are paused: Plinth stopped during the sync of %s. Run 'plinth connection sync %s %q' to resume them.\n",
					p.Since.Local().Format("2006-01-02 15:04"), m.Path, x.Name)
			}
			rows := [][]string{}
			for _, f := range x.Files {
				rows = append(rows, []string{"  " + f.File, f.State, f.Reason})
			}
			c.table(rows)
		}
		return nil
	})
}

func cmdConnSync(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("connection sync")
	asJSON := fs.Bool("json", false, "print JSON")
	return withConn(ctx, c, fs, args, 2, "give the iModel and the connection's name", func(a *App, actor account.Actor, m imodel.IModel, conn imodel.Connection, _ []string) error {
		out, err := syncConnection(ctx, c, a, actor, m, conn, !*asJSON)
		if out.Run == "" {
			return err
		}
		if *asJSON {
			if jerr := c.printJSON(out); jerr != nil {
				return jerr
			}
		}
		return err
	})
}

// cmdIModelSync syncs every connection of an iModel in turn, as
// `connection sync` does one.
func cmdIModelSync(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("imodel sync")
	asJSON := fs.Bool("json", false, "print JSON")
	return withIModel(ctx, c, fs, args, 1, "give the iModel, e.g. /Tower/Coordination", func(a *App, actor account.Actor, m imodel.IModel, _ []string) error {
		conns, err := a.IModels.Connections(ctx, actor, m.ID)
		if err != nil {
			return err
		}
		if len(conns) == 0 {
			return fmt.Errorf("%s has no connection yet; add one with 'plinth connection add'", m.Path)
		}
		all := struct {
			Connections []connSyncJSON `json:"connections"`
		}{[]connSyncJSON{}}
		var errs []error
		for _, conn := range conns {
			if !*asJSON {
				fmt.Fprintf(c.io.Out, "%s:\n", conn.Name)
			}
			out, err := syncConnection(ctx, c, a, actor, m, conn, !*asJSON)
			if err != nil {
				errs = append(errs, err)
			}
			if out.Run != "" {
				all.Connections = append(all.Connections, out)
			}
		}
		if *asJSON {
			if err := c.printJSON(all); err != nil {
				return err
			}
		}
		switch len(errs) {
		case 0:
			return nil
		case 1:
			return errs[0]
		}
		return fmt.Errorf("%d of %s did not sync fully; the first: %w", len(errs), text.Count(len(conns), "connection"), errs[0])
	})
}

// connSyncJSON is what `connection sync --json` prints.
type connSyncJSON struct {
	Connection string         `json:"connection"`
	Result     string         `json:"result"`
	Run        string         `json:"run"`
	Files      []fileSyncJSON `json:"files"`
}

type fileSyncJSON struct {
	File      string `json:"file"`
	State     string `json:"state"`
	Inserted  int    `json:"inserted"`
	Updated   int    `json:"updated"`
	Deleted   int    `json:"deleted"`
	Unchanged int    `json:"unchanged"`
	Warnings  int    `json:"warnings"`
	Error     string `json:"error,omitempty"`
}

// syncConnection runs one connection now; with lines it prints a line per
// file and the result. The error says which file failed (the files that
// did sync stay applied), so scripts notice.
func syncConnection(ctx context.Context, c *cli, a *App, actor account.Actor, m imodel.IModel, conn imodel.Connection, lines bool) (connSyncJSON, error) {
	r, err := a.IModels.Sync(ctx, actor, conn.ID, imodel.TriggerManual, c.bar())
	if err != nil && r.ID == "" {
		return connSyncJSON{}, err
	}
	out := connSyncJSON{Connection: conn.Name, Result: r.Result, Run: r.ID, Files: []fileSyncJSON{}}
	failed := 0
	for _, f := range r.Files {
		x := fileSyncJSON{f.File, f.State, f.Inserted, f.Updated, f.Deleted, f.Unchanged, len(f.Warnings), ""}
		line := fmt.Sprintf("%s: %s — %d inserted, %d updated, %d deleted, %d unchanged", f.File, f.State, f.Inserted, f.Updated, f.Deleted, f.Unchanged)
		if len(f.Warnings) > 0 {
			line += ", " + text.Count(len(f.Warnings), "warning")
		}
		if len(f.Errors) > 0 {
			x.Error = f.Errors[0].Message
			line += ": " + f.Errors[0].Message
			failed++
		}
		out.Files = append(out.Files, x)
		if lines {
			fmt.Fprintln(c.io.Out, line)
		}
	}
	if lines {
		fmt.Fprintf(c.io.Out, "Result: %s.\n", r.Result)
		if conn.Paused != nil && r.State == "finished" && r.Result != imodel.ResultFailed {
			fmt.Fprintf(c.io.Out, "Scheduled syncs of %q resume.\n", conn.Name)
		}
	}
	switch {
	case len(r.Errors) > 0:
		return out, errors.New(r.Errors[0].Message)
	case failed > 0:
		return out, fmt.Errorf("%d of %s of %q did not sync (%s); see 'plinth connection report %s %q'", failed, text.Count(len(r.Files), "file"), conn.Name, r.FirstError(), m.Path, conn.Name)
	case r.Result == imodel.ResultFailed:
		return out, fmt.Errorf("the sync of %q failed; see the report", conn.Name)
	}
	return out, nil
}

func cmdConnRuns(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("connection runs")
	asJSON := fs.Bool("json", false, "print JSON")
	return withConn(ctx, c, fs, args, 2, "give the iModel and the connection's name", func(a *App, actor account.Actor, _ imodel.IModel, conn imodel.Connection, _ []string) error {
		rs, err := a.IModels.Runs(ctx, actor, conn.ID)
		if err != nil {
			return err
		}
		if *asJSON {
			if rs == nil {
				rs = []imodel.Run{}
			}
			return c.printJSON(struct {
				Runs []imodel.Run `json:"runs"`
			}{rs})
		}
		rows := [][]string{{"RUN", "STARTED", "BY", "TRIGGER", "STATE", "RESULT"}}
		for _, r := range rs {
			rows = append(rows, []string{r.ID, r.Started.Local().Format("2006-01-02 15:04"), r.By, r.Trigger, r.State, r.Result})
		}
		c.table(rows)
		return nil
	})
}

func cmdConnReport(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("connection report")
	asCSV := fs.Bool("csv", false, "CSV instead of JSON")
	return withConn(ctx, c, fs, args, 2, "give the iModel, the connection's name and optionally the run", func(a *App, actor account.Actor, _ imodel.IModel, conn imodel.Connection, pos []string) error {
		rs, err := a.IModels.Runs(ctx, actor, conn.ID)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return fmt.Errorf("%q has not run yet", conn.Name)
		}
		r := rs[0]
		if len(pos) == 1 {
			found := false
			for _, x := range rs {
				if strings.HasPrefix(x.ID, pos[0]) {
					r, found = x, true
					break
				}
			}
			if !found {
				return fmt.Errorf("%q has no run %s", conn.Name, pos[0])
			}
		}
		format := "json"
		if *asCSV {
			format = "csv"
		}
		b, err := imodel.Report(r, format)
		if err != nil {
			return err
		}
		_, err = c.io.Out.Write(append(b, '\n'))
		return err
	})
}

func cmdConnRename(ctx context.Context, c *cli, args []string) error {
	return withConn(ctx, c, newFlags("connection rename"), args, 3, "give the iModel, the connection's name and its new name", func(a *App, actor account.Actor, _ imodel.IModel, conn imodel.Connection, pos []string) error {
		if _, err := a.IModels.Rename(ctx, actor, conn.ID, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(c.io.Out, "%q is now %q.\n", conn.Name, pos[0])
		return nil
	})
}

// keepOrDelete reads the required --keep-elements / --delete-elements choice.
func keepOrDelete(fs *flag.FlagSet) func() (bool, error) {
	keep := fs.Bool("keep-elements", false, "keep the elements already synchronized")
	del := fs.Bool("delete-elements", false, "delete them from the iModel too")
	return func() (bool, error) {
		if *keep == *del {
			return false, usagef("choose --keep-elements or --delete-elements")
		}
		return *del, nil
	}
}

func cmdConnRemove(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("connection rm")
	choice := keepOrDelete(fs)
	return withConn(ctx, c, fs, args, 2, "give the iModel and the connection's name", func(a *App, actor account.Actor, m imodel.IModel, conn imodel.Connection, _ []string) error {
		del, err := choice()
		if err != nil {
			return err
		}
		if err := a.IModels.Delete(ctx, actor, conn.ID, del); err != nil {
			return err
		}
		if del {
			fmt.Fprintf(c.io.Out, "Connection %q deleted with its elements.\n", conn.Name)
		} else {
			fmt.Fprintf(c.io.Out, "Connection %q deleted; its elements stay in %s.\n", conn.Name, m.Path)
		}
		return nil
	})
}

func cmdConnSchedule(ctx context.Context, c *cli, args []string) error {
	return withConn(ctx, c, newFlags("connection schedule"), args, -1, "give the iModel, the connection's name and the schedule", func(a *App, actor account.Actor, _ imodel.IModel, conn imodel.Connection, pos []string) error {
		sp, err := parseSchedule(pos)
		if err != nil {
			return usagef("%v", err)
		}
		if _, err := a.IModels.SetSchedule(ctx, actor, conn.ID, sp); err != nil {
			return err
		}
		fmt.Fprintf(c.io.Out, "%q syncs %s.\n", conn.Name, strings.ToLower(sp.String()))
		return nil
	})
}

func cmdConnOwner(ctx context.Context, c *cli, args []string) error {
	return withConn(ctx, c, newFlags("connection owner"), args, 3, "give the iModel, the connection's name and the new owner", func(a *App, actor account.Actor, _ imodel.IModel, conn imodel.Connection, pos []string) error {
		_, msg, err := a.IModels.SetOwner(ctx, actor, conn.ID, pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintln(c.io.Out, msg)
		return nil
	})
}

func cmdConnMap(ctx context.Context, c *cli, args []string) error {
	return withConn(ctx, c, newFlags("connection map"), args, 3, "give the iModel, the connection's name and FILE[,REF…]", func(a *App, actor account.Actor, _ imodel.IModel, conn imodel.Connection, pos []string) error {
		comp := parseComposite(pos[0])
		if _, err := a.IModels.Map(ctx, actor, conn.ID, comp); err != nil {
			return err
		}
		fmt.Fprintf(c.io.Out, "%s mapped in %q with %s.\n", comp.Main, conn.Name, text.Count(len(comp.Refs), "reference file"))
		return nil
	})
}

func cmdConnUnmap(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("connection unmap")
	choice := keepOrDelete(fs)
	return withConn(ctx, c, fs, args, 3, "give the iModel, the connection's name and the design file", func(a *App, actor account.Actor, _ imodel.IModel, conn imodel.Connection, pos []string) error {
		del, err := choice()
		if err != nil {
			return err
		}
		left, err := a.IModels.Unmap(ctx, actor, conn.ID, pos[0], del)
		if err != nil {
			return err
		}
		switch {
		case left.ID == "":
			fmt.Fprintf(c.io.Out, "%s was the last file: connection %q deleted.\n", pos[0], conn.Name)
		case del:
			fmt.Fprintf(c.io.Out, "%s unmapped; its elements were deleted from the iModel.\n", pos[0])
		default:
			fmt.Fprintf(c.io.Out, "%s unmapped; its elements stay, and future syncs leave it out.\n", pos[0])
		}
		return nil
	})
}

func cmdIFCStats(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("ifc stats")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	file, err := oneArg(pos, "IFC file")
	if err != nil {
		return err
	}
	size, err := ifc.Size(file)
	if err != nil {
		return err
	}
	start := time.Now()
	r, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("%s cannot be read: %w", file, err)
	}
	defer r.Close()
	m, err := ifc.Read(ctx, file, r, size)
	if err != nil {
		return err
	}
	els, warns := m.Elements, m.Warnings
	secs := time.Since(start).Seconds()
	if *asJSON {
		return c.printJSON(struct {
			Schema    string  `json:"schema"`
			Instances int     `json:"instances"`
			Elements  int     `json:"elements"`
			Warnings  int     `json:"warnings"`
			Seconds   float64 `json:"seconds"`
		}{m.SchemaID, m.Instances, len(els), len(warns), secs})
	}
	fmt.Fprintf(c.io.Out, "%s: %s, %s, %s, %s in %.3f s (%s/s).\n", filepath.Base(file), m.SchemaID, text.Count(m.Instances, "instance"),
		text.Count(len(els), "element"), humanize.IBytes(uint64(m.Bytes)), secs, humanize.IBytes(uint64(float64(m.Bytes)/secs)))
	for i, w := range warns {
		if i == 10 {
			fmt.Fprintf(c.io.Out, "… and %d more warnings.\n", len(warns)-10)
			break
		}
		fmt.Fprintln(c.io.Out, "warning:", w)
	}
	return nil
}
