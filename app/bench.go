package app

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/filesync"
)

// cmdBench measures the file server against its targets in a scratch data
// folder and prints a table. It never touches the real data folder.
func cmdBench(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("bench")
	sizeMiB := fs.Int("size-mib", 1024, "size of the file imported (MiB)")
	entries := fs.Int("entries", 100_000, "files in the drift and diff checks")
	syncN := fs.Int("sync", 10_000, "files adopted and deleted by the synchronization")
	filesN := fs.Int("files", 10_000, "files in the office data set of bench backup")
	shape := fs.String("shape", "all", "data set of bench backup: office (many files, -size-mib, -files), large (512 MiB in about 490 files of 4 KiB–4 MiB), small (-small-files files of 200 B–8 KiB), all, or level1 (the office data set's level-1 snapshots alone)")
	smallN := fs.Int("small-files", 50_000, "small files (200 B to 8 KiB, 1,000 to a folder) imported by bench files against cp -r, and backed up by bench backup's small shape; 0 leaves them out")
	keepScratch := fs.Bool("keep", false, "keep the scratch folder (to look at what was measured)")
	dir := fs.String("dir", "", "scratch folder on the disk to measure (default: the system temp folder)")
	ifcMiB := fs.Int("ifc-mb", 200, "size of the synthetic IFC file generated for bench ifc from "+ifcWarmupSample+" (MiB, like ifcgen -mb)")
	corpusMiB := fs.String("corpus-mb", "50,200", "sizes of the IFC corpus files bench ifc makes from each sample (MiB, comma-separated)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "files" && pos[0] != "backup" && pos[0] != "ifc" {
		return usagef("bench needs what to measure: files, backup or ifc")
	}
	if *smallN < 0 {
		return usagef("--small-files must be 0 or more")
	}
	shapes := []string{ShapeLarge, ShapeSmall, ShapeOffice} // office last: it opens Plinth in this process (see benchLevel1)
	switch *shape {
	case "all":
		if *smallN == 0 {
			shapes = []string{ShapeLarge, ShapeOffice}
		}
	case ShapeOffice, ShapeLarge, ShapeSmall, ShapeLevel1:
		shapes = []string{*shape}
	default:
		return usagef("bench backup -shape is office, large, small, all or level1, not %q", *shape)
	}
	if *shape == ShapeSmall && *smallN == 0 {
		return usagef("bench backup -shape small needs -small-files above 0")
	}
	corpusSizes, err := parseSizesMiB(*corpusMiB)
	if err != nil {
		return err
	}
	scratch, err := os.MkdirTemp(*dir, "plinth-bench-")
	if err != nil {
		return fmt.Errorf("scratch folder: %w", err)
	}
	if *keepScratch {
		fmt.Fprintln(c.io.Err, "Keeping", scratch)
	} else {
		defer os.RemoveAll(scratch)
	}
	switch pos[0] {
	case "backup":
		if *shape == ShapeLevel1 {
			return benchLevel1Run(ctx, c, scratch, *sizeMiB, *filesN)
		}
		return benchBackup(ctx, c, scratch, shapeSizes{sizeMiB: *sizeMiB, files: *filesN, small: *smallN}, shapes)
	case "ifc":
		return benchIFC(ctx, c, scratch, *ifcMiB, corpusSizes)
	}
	w := c.io.Out
	fmt.Fprintf(w, "Plinth %s file-server benchmark on %d CPUs, scratch folder %s\n\n", Version, runtime.NumCPU(), scratch)
	rows := [][]string{{"MEASURE", "RESULT", "TARGET", ""}}
	row := func(what, result, target string, ok bool) {
		mark := "ok"
		if !ok {
			mark = "MISSED"
		}
		rows = append(rows, []string{what, result, target, mark})
	}

	// 1. Import of a big file against cp of the same file on the same disk.
	src := filepath.Join(scratch, "source.bin")
	size := int64(*sizeMiB) << 20
	if err := writeRandomFile(src, size); err != nil {
		return err
	}
	_ = readAll(src) // both read from a warm page cache
	// Alternate cp and import twice each and keep the best of each, so
	// that background writeback hits both alike.
	var cpTime, imTime time.Duration
	var before, after int64
	for round := range 2 {
		dst := filepath.Join(scratch, "copy.bin")
		cpStart := time.Now()
		if out, err := exec.CommandContext(ctx, "cp", src, dst).CombinedOutput(); err != nil {
			return fmt.Errorf("cp: %v %s", err, out)
		}
		syncPath(dst)
		if d := time.Since(cpStart); cpTime == 0 || d < cpTime {
			cpTime = d
		}
		_ = os.Remove(dst)

		a, master, err := benchApp(ctx, filepath.Join(scratch, fmt.Sprint("import", round)))
		if err != nil {
			return err
		}
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		if round == 0 {
			before = maxRSS()
		}
		imStart := time.Now()
		_, err = a.Files.Upload(ctx, master, files.RootID, "source.bin", f, size, nil)
		f.Close()
		if err == nil {
			err = a.FileServer.Sync()
		}
		if d := time.Since(imStart); imTime == 0 || d < imTime {
			imTime = d
		}
		after = maxRSS()
		_ = a.Close()
		_ = os.RemoveAll(filepath.Join(scratch, fmt.Sprint("import", round)))
		if err != nil {
			return err
		}
	}
	mbps := func(d time.Duration) float64 { return float64(size) / (1 << 20) / d.Seconds() }
	ratio := cpTime.Seconds() / imTime.Seconds()
	row(fmt.Sprintf("cp of a %d MiB file", *sizeMiB), fmt.Sprintf("%.2f s (%.0f MiB/s)", cpTime.Seconds(), mbps(cpTime)), "peer", true)
	row("import of the same file", fmt.Sprintf("%.2f s (%.0f MiB/s)", imTime.Seconds(), mbps(imTime)), "", true)
	row("import throughput / cp", fmt.Sprintf("%.2f", ratio), "≥ 0.70", ratio >= 0.7)
	row("peak RSS of the process", fmt.Sprintf("%d MB (%d MB before the import)", after>>20, before>>20), "< 150 MB", after < 150<<20)
	_ = os.Remove(src) // 1 GiB the rows below do not need

	// 2. Import of many small files, as a user runs it (its own process),
	// against cp -r of the same folder; restic for information.
	if *smallN > 0 {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		r, err := benchSmallFiles(ctx, self, scratch, *smallN)
		if err != nil {
			return fmt.Errorf("small files: %w", err)
		}
		smallRows(r, row)
	}

	// 3. Drift check and exact diff.
	a, master, err := benchApp(ctx, filepath.Join(scratch, "drift"))
	if err != nil {
		return err
	}
	big, err := a.Files.Create(ctx, master, files.RootID, "big", files.KindFolder)
	if err != nil {
		return err
	}
	if err := a.Files.Synthesize(ctx, big.ID, "f", *entries, files.Both); err != nil {
		return err
	}
	const reps = 200
	start := time.Now()
	for range reps {
		c, _, err := a.Sync.Detect(ctx, false)
		if err != nil || !c.Consistent {
			return fmt.Errorf("drift check on agreeing stores: %+v, %v", c, err)
		}
	}
	check := time.Since(start) / reps
	row(fmt.Sprintf("drift check, %d files, no drift", *entries), fmt.Sprintf("%.3f ms", float64(check.Microseconds())/1000), "< 10 ms", check < 10*time.Millisecond)
	_ = a.Close()

	a, master, err = benchApp(ctx, filepath.Join(scratch, "diff"))
	if err != nil {
		return err
	}
	big, _ = a.Files.Create(ctx, master, files.RootID, "big", files.KindFolder)
	missing := *entries / 100
	if err := a.Files.Synthesize(ctx, big.ID, "f", *entries-missing, files.Both); err != nil {
		return err
	}
	if err := a.Files.Synthesize(ctx, big.ID, "m", missing, files.ManagerOnly); err != nil {
		return err
	}
	start = time.Now()
	chk, _, err := a.Sync.Detect(ctx, false)
	diffTime := time.Since(start)
	if err != nil || chk.MissingOnServer != missing {
		return fmt.Errorf("diff: %+v, %v", chk, err)
	}
	row(fmt.Sprintf("exact diff, %d vs %d files", *entries, *entries-missing), fmt.Sprintf("%.0f ms", float64(diffTime.Microseconds())/1000), "< 500 ms", diffTime < 500*time.Millisecond)
	_ = a.Close()

	// 4. Full synchronization adopting and deleting.
	a, master, err = benchApp(ctx, filepath.Join(scratch, "sync"))
	if err != nil {
		return err
	}
	proj, _ := a.Files.Create(ctx, master, files.RootID, "Tower", files.KindProject)
	if err := a.Files.Synthesize(ctx, proj.ID, "gone", *syncN, files.ManagerOnly); err != nil {
		return err
	}
	if err := a.Files.Synthesize(ctx, proj.ID, "lost", *syncN, files.ServerOnly); err != nil {
		return err
	}
	start = time.Now()
	r, err := a.Sync.Synchronize(ctx, master, filesync.Plan{}, nil)
	syncTime := time.Since(start)
	_ = a.Close()
	if err != nil || r.Adopted != *syncN || r.Deleted != *syncN {
		return fmt.Errorf("synchronization: %+v, %v", r, err)
	}
	row(fmt.Sprintf("full sync, adopt %d + delete %d", *syncN, *syncN), fmt.Sprintf("%.2f s", syncTime.Seconds()), "< 3 s", syncTime < 3*time.Second)

	c.table(rows)
	return nil
}

func benchApp(ctx context.Context, dir string) (*App, account.Actor, error) {
	a, err := Open(ctx, Config{DataDir: dir})
	if err != nil {
		return nil, account.Actor{}, err
	}
	m, err := a.Accounts.Bootstrap(ctx, "benchmark password")
	if err != nil {
		_ = a.Close()
		return nil, account.Actor{}, err
	}
	return a, m, nil
}

// writeRandomFile writes size bytes of incompressible data, a MiB at a time.
func writeRandomFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	rng := rand.NewChaCha8([32]byte{1, 2, 3})
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		for i := 0; i < len(buf); i += 8 {
			binary.LittleEndian.PutUint64(buf[i:], rng.Uint64())
		}
		n := min(left, int64(len(buf)))
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readAll(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

func syncPath(path string) {
	if f, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
		_ = f.Sync()
		_ = f.Close()
	}
}

// plinthChild runs the plinth binary self with env as a child process and
// returns what it took (wall and CPU time, peak RSS) and its standard
// output; a failure carries the command and its standard error.
func plinthChild(ctx context.Context, self string, env []string) func(args ...string) (childRun, []byte, error) {
	return func(args ...string) (childRun, []byte, error) {
		cmd := exec.CommandContext(ctx, self, args...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		start := time.Now()
		err := cmd.Run()
		r := childRun{wall: time.Since(start)}
		if err != nil {
			return r, nil, fmt.Errorf("plinth %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
		}
		r.cpu, r.rss = childCPU(cmd), childRSS(cmd)
		return r, out.Bytes(), nil
	}
}

// childRunner is plinthChild for callers that want the wall time, peak
// RSS and standard output only.
func childRunner(ctx context.Context, self string, env []string) func(args ...string) (time.Duration, int64, []byte, error) {
	run := plinthChild(ctx, self, env)
	return func(args ...string) (time.Duration, int64, []byte, error) {
		r, out, err := run(args...)
		return r.wall, r.rss, out, err
	}
}
