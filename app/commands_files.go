package app

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/schollz/progressbar/v3"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/filesync"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/text"
)

// fileCommands are the commands of the file server, its drift check and
// synchronization, and backups.
var fileCommands = []command{
	{"mkdir", "PATH [--kind folder|project|library|imodel]", "create a folder (and any missing parents), project, library or iModel", safe(cmdMkdir)},
	{"import", "[--to FOLDER] [--json] PATH...", "upload files and folders (recursively) from disk", safe(cmdImport)},
	{"ls", "[FOLDER] [--json]", "list a folder on the Projects page", safe(cmdLs)},
	{"export", "PATH DEST", "download a file or a whole folder to disk", safe(cmdExport)},
	{"rm", "PATH", "delete a file or a folder with everything in it", safe(cmdRm)},
	{"versions", "PATH [--json]", "list the versions of a file", safe(cmdVersions)},
	{"check", "[--deep] [--json]", "compare the Manager and the File Server; --deep also reads every file's content back against its checksum", safe(cmdCheck)},
	{"sync-files", "[--yes] [--json]", "full file synchronization (masteradmin only)", safe(cmdSyncFiles)},
	{"sync-history", "[--json]", "past full file synchronizations", safe(cmdSyncHistory)},
	{"bench", "files|backup|ifc [--size-mib N] [--entries N] [--files N] [--ifc-mb N]", "measure the file server, backups, or the IFC reader and iModel sync (docs/BENCHMARKS.md)", cmdBench},
}

// safe makes a command's error printable: file names in it, which come
// from the stores and from disk, may hold terminal escapes and
// text-direction characters (text.Safe).
func safe(run func(ctx context.Context, c *cli, args []string) error) func(ctx context.Context, c *cli, args []string) error {
	return func(ctx context.Context, c *cli, args []string) error {
		if err := run(ctx, c, args); err != nil {
			return &safeError{err}
		}
		return nil
	}
}

type safeError struct{ err error }

func (e *safeError) Error() string { return text.Safe(e.err.Error()) }
func (e *safeError) Unwrap() error { return e.err }

// bar shows progress on a terminal; elsewhere it stays silent.
func (c *cli) bar() progress.Func {
	if !c.io.ErrTerminal {
		return nil
	}
	var pb *progressbar.ProgressBar
	var phase string
	return func(r progress.Report) {
		if pb == nil || r.Phase != phase {
			if pb != nil {
				_ = pb.Finish()
			}
			phase = r.Phase
			opts := []progressbar.Option{progressbar.OptionSetDescription(r.Phase), progressbar.OptionSetWriter(c.io.Err),
				progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100 * time.Millisecond)}
			if r.Bytes {
				opts = append(opts, progressbar.OptionShowBytes(true))
			}
			pb = progressbar.NewOptions64(max(r.Total, -1), opts...)
		}
		_ = pb.Set64(r.Done)
	}
}

// onNode logs in, finds the node at path on the Projects page and runs fn
// with it.
func (c *cli) onNode(ctx context.Context, path string, fn func(a *App, actor account.Actor, n files.Node) error) error {
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	n, err := a.Files.Lookup(ctx, actor, path)
	if err != nil {
		return err
	}
	return fn(a, actor, n)
}

func oneArg(pos []string, what string) (string, error) {
	if len(pos) != 1 {
		return "", usagef("give exactly one %s", what)
	}
	return pos[0], nil
}

func cmdMkdir(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("mkdir")
	kind := fs.String("kind", "folder", "folder, project, library or imodel")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	path, err := oneArg(pos, "path")
	if err != nil {
		return err
	}
	k, err := files.ParseKind(*kind)
	if err != nil || k == files.KindFile {
		return usagef("unknown kind %q: use folder, project, library or imodel", *kind)
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	dir, name := filepath.Split(filepath.ToSlash(strings.TrimRight(path, "/")))
	parent, err := a.Files.MkdirAll(ctx, actor, dir)
	if err != nil {
		return err
	}
	if k == files.KindFolder {
		_, err = a.Files.MkdirAll(ctx, actor, path)
	} else {
		_, err = a.Files.Create(ctx, actor, parent.ID, name, k)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "Created %s %s.\n", k, text.Safe(displayPath(path)))
	return nil
}

func cmdImport(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("import")
	to := fs.String("to", "/", "folder on the Projects page to import into")
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("import needs at least one file or folder")
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	dest, err := a.Files.MkdirAll(ctx, actor, *to)
	if err != nil {
		return err
	}
	start := time.Now()
	for i := range pos {
		pos[i] = c.path(pos[i])
	}
	total, err := a.Files.ImportPaths(ctx, actor, dest.ID, pos, c.bar())
	for _, s := range total.Skipped {
		fmt.Fprintf(c.io.Err, "Skipped %s: %s\n", text.Safe(s.Path), text.Safe(s.Reason))
	}
	if err != nil {
		if total.Files > 0 {
			fmt.Fprintf(c.io.Err, "%s\n", importSummary(total, *to, true))
		}
		return err
	}
	if *asJSON {
		if err := c.printJSON(struct {
			files.ImportStats
			Seconds float64 `json:"seconds"`
		}{total, time.Since(start).Seconds()}); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(c.io.Out, importSummary(total, *to, false))
	}
	if len(total.Skipped) > 0 {
		return fmt.Errorf("%s not imported; see the reasons above", text.Count(len(total.Skipped), "item"))
	}
	return nil
}

// importSummary says what an import stored: "Imported 11 files (1.2 MiB)
// in 1 folder into /Tower; 2 of them are new versions of files that were
// there before." After a failure it says what was stored before it.
func importSummary(st files.ImportStats, to string, failed bool) string {
	what := fmt.Sprintf("%s (%s)", text.Count(st.Files, "file"), humanize.IBytes(uint64(st.Bytes)))
	if st.Folders > 0 {
		what += " in " + text.Count(st.Folders, "folder")
	}
	what += " into " + text.Safe(displayPath(to))
	msg := "Imported " + what
	if failed {
		msg = "Stopped after importing " + what
	}
	switch {
	case st.Versions == 1 && st.Files == 1:
		msg += "; it is a new version of a file that was there before"
	case st.Versions == 1:
		msg += "; 1 of them is a new version of a file that was there before"
	case st.Versions > 1 && st.Versions == st.Files:
		msg += "; all are new versions of files that were there before"
	case st.Versions > 1:
		msg += fmt.Sprintf("; %s of them are new versions of files that were there before", humanize.Comma(int64(st.Versions)))
	}
	return msg + "."
}

func displayPath(p string) string { return "/" + strings.Trim(filepath.ToSlash(p), "/") }

type lsEntry struct {
	Name     string    `json:"name"`
	Kind     string    `json:"kind"`
	Size     int64     `json:"size,omitempty"`
	Modified time.Time `json:"modified"`
	Versions int       `json:"versions,omitempty"`
	Hash     string    `json:"hash,omitempty"`
	ID       string    `json:"id"`
}

func cmdLs(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("ls")
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("ls takes at most one folder")
	}
	path := "/"
	if len(pos) == 1 {
		path = pos[0]
	}
	var list []files.Node
	err = c.onNode(ctx, path, func(a *App, actor account.Actor, dir files.Node) (err error) {
		list, err = a.Files.List(ctx, actor, dir.ID)
		return err
	})
	if err != nil {
		return err
	}
	out := make([]lsEntry, len(list))
	for i, n := range list {
		out[i] = lsEntry{Name: n.Name, Kind: n.Kind.String(), Size: n.Size, Modified: n.Modified, Versions: n.Versions, ID: n.ID}
		if n.Kind == files.KindFile {
			out[i].Hash = n.Hash.String()
		}
	}
	if *asJSON {
		return c.printJSON(struct {
			Folder  string    `json:"folder"`
			Entries []lsEntry `json:"entries"`
		}{displayPath(path), out})
	}
	rows := [][]string{}
	for _, e := range out {
		size := ""
		if e.Kind == "file" {
			size = humanize.IBytes(uint64(e.Size))
		}
		name := text.Safe(e.Name)
		if e.Kind != "file" {
			name += "/"
		}
		rows = append(rows, []string{name, e.Kind, size, e.Modified.Local().Format("2006-01-02 15:04")})
	}
	c.table(rows)
	return nil
}

func cmdExport(ctx context.Context, c *cli, args []string) error {
	pos, err := parse(newFlags("export"), args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("export needs a path on the Projects page and a destination on disk")
	}
	var count int
	err = c.onNode(ctx, pos[0], func(a *App, actor account.Actor, n files.Node) (err error) {
		count, err = a.Files.Export(ctx, actor, n.ID, c.path(pos[1]), c.bar())
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "Exported %s to %s.\n", text.Count(count, "file"), text.Safe(pos[1]))
	return nil
}

func cmdRm(ctx context.Context, c *cli, args []string) error {
	pos, err := parse(newFlags("rm"), args)
	if err != nil {
		return err
	}
	path, err := oneArg(pos, "path")
	if err != nil {
		return err
	}
	err = c.onNode(ctx, path, func(a *App, actor account.Actor, n files.Node) error {
		return a.Files.Delete(ctx, actor, n.ID, c.bar())
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "Deleted %s.\n", text.Safe(displayPath(path)))
	return nil
}

func cmdVersions(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("versions")
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	path, err := oneArg(pos, "path")
	if err != nil {
		return err
	}
	var vs []files.Version
	err = c.onNode(ctx, path, func(a *App, actor account.Actor, n files.Node) (err error) {
		vs, err = a.Files.Versions(ctx, actor, n.ID)
		return err
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(struct {
			Versions []files.Version `json:"versions"`
		}{vs})
	}
	rows := [][]string{{"VERSION", "CREATED", "SIZE", "BY"}}
	for _, v := range vs {
		rows = append(rows, []string{v.ID[:16], v.Created.Local().Format("2006-01-02 15:04:05"), humanize.IBytes(uint64(v.Size)), text.Safe(v.By)})
	}
	c.table(rows)
	return nil
}

func cmdCheck(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("check")
	asJSON := fs.Bool("json", false, "print one JSON object")
	deep := fs.Bool("deep", false, "also read every chunk back against its SHA-256 and list the damaged files")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	chk, _, err := a.Sync.Detect(ctx, true)
	if err != nil {
		return err
	}
	var contents files.ContentReport
	if *deep {
		if contents, err = a.Files.CheckContentsReport(ctx, actor, c.bar()); err != nil {
			return err
		}
	}
	if *asJSON {
		var out any = chk
		if *deep {
			out = struct {
				filesync.Check
				Contents files.ContentReport `json:"contents"`
			}{chk, contents}
		}
		if err := c.printJSON(out); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(c.io.Out, chk.String())
		if !chk.Consistent {
			fmt.Fprintln(c.io.Out, "Run 'plinth sync-files' as masteradmin to synchronize.")
		}
		if *deep {
			printContents(c, contents)
		}
	}
	if *deep && !contents.Sound() {
		return fmt.Errorf("the File Server holds %s with damaged content; restore them from a backup (plinth restore) or upload them again",
			text.Count(len(contents.Damaged), "file version"))
	}
	return nil
}

// printContents prints what the deep check found.
func printContents(c *cli, r files.ContentReport) {
	w := c.io.Out
	if r.Sound() {
		fmt.Fprintf(w, "Read %s (%s) back; every one matches its SHA-256.\n", text.Count(r.Chunks, "chunk"), humanize.IBytes(uint64(r.Bytes)))
		return
	}
	fmt.Fprintf(w, "Read %s (%s) back; %s damaged, in %s:\n", text.Count(r.Chunks, "chunk"), humanize.IBytes(uint64(r.Bytes)),
		text.Count(r.DamagedChunks, "chunk"), text.Count(len(r.Damaged), "file version"))
	for _, d := range r.Damaged {
		fmt.Fprintf(w, "  %s\n", d) // DamagedFile.String escapes the path
	}
}

func cmdSyncFiles(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("sync-files")
	yes := fs.Bool("yes", false, "synchronize without asking")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	plan, err := a.Sync.Plan(ctx, actor)
	if err != nil {
		return err
	}
	if !*yes {
		if plan.Empty() {
			fmt.Fprintln(c.io.Out, "The Manager and the File Server agree; there is nothing to synchronize.")
			return nil
		}
		printPlan(c, plan)
		if c.io.Prompt == nil {
			return usagef("add --yes to synchronize without asking")
		}
		fmt.Fprint(c.io.Err, "Synchronize now? [y/N] ")
		answer, _ := c.stdin.ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return fmt.Errorf("nothing was changed")
		}
	}
	r, err := a.Sync.Synchronize(ctx, actor, plan, c.bar())
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(struct {
			Deleted int    `json:"deleted"`
			Adopted int    `json:"adopted"`
			Updated int    `json:"updated"`
			Folder  string `json:"folder"`
			Run     string `json:"run"`
		}{r.Deleted, r.Adopted, r.Updated, r.Folder, r.ID})
	}
	fmt.Fprintf(c.io.Out, "Synchronized: %d deleted, %d adopted, %d updated.\n", r.Deleted, r.Adopted, r.Updated)
	if r.Folder != "" {
		fmt.Fprintf(c.io.Out, "Adopted files are in /%s.\n", text.Safe(r.Folder))
	}
	return nil
}

func printPlan(c *cli, p filesync.Plan) {
	w := c.io.Out
	for _, l := range strings.Split(p.Warning(), "\n") {
		fmt.Fprintln(w, text.Safe(l))
	}
	const most = 20
	show := func(what string, es []files.Entry) {
		for i, e := range es {
			if i == most {
				fmt.Fprintf(w, "  … and %d more\n", len(es)-most)
				break
			}
			fmt.Fprintf(w, "  %s %s\n", what, text.Safe(e.Path))
		}
	}
	show("delete ", p.MissingOnServer)
	show("adopt  ", p.UnknownToManager)
	show("update ", p.Differing)
}

func cmdSyncHistory(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("sync-history")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	runs, err := a.Sync.History(ctx, actor)
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(struct {
			Runs []filesync.Run `json:"runs"`
		}{runs})
	}
	rows := [][]string{{"FINISHED", "BY", "DELETED", "ADOPTED", "UPDATED", "FOLDER"}}
	for _, r := range runs {
		rows = append(rows, []string{r.Finished.Local().Format("2006-01-02 15:04:05"), text.Safe(r.By),
			fmt.Sprint(r.Deleted), fmt.Sprint(r.Adopted), fmt.Sprint(r.Updated), text.Safe(r.Folder)})
	}
	c.table(rows)
	return nil
}
