package app

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"codeberg.org/plinth/plinth/storage/fsys"
)

// A data set of bench backup.
const (
	ShapeOffice = "office" // 10,000 files (-files), 1 GiB (-size-mib), mixed sizes
	ShapeLarge  = "large"  // 512 MiB in about 490 files of 4 KiB–4 MiB
	ShapeSmall  = "small"  // 50,000 files (-small-files) of 200 B–8 KiB, 1,000 to a folder
)

// shapeSizes are the sizes bench backup's flags give its data sets.
type shapeSizes struct {
	sizeMiB, files int // office: MiB in all, files
	small          int // small: files
}

// fullTarget is issue 15's target for a shape's full backup, as a ratio
// to restic's wall time.
func fullTarget(shape string) float64 {
	if shape == ShapeSmall {
		return 0.5
	}
	return 0.35
}

// largeShape is the second data set: few, larger files.
const (
	largeShapeBytes = 512 << 20
	largeMin        = 4 << 10
	largeMax        = 4 << 20
)

// benchBackup measures level-2 backups against restic (and borg, when it
// is installed) on each data set of shapes, in one run: full backup,
// incremental after a 1% change, restore, the physical bound (cp -r,
// tar | zstd -1); on the office shape also a level-1 snapshot of an
// unchanged project, a project with 200 snapshots, and the rows through
// an S3 bucket. Plinth runs as child processes, so their peak memory is
// measured alone. Each data set is removed once it was measured.
func benchBackup(ctx context.Context, c *cli, scratch string, sz shapeSizes, shapes []string) error {
	w := c.io.Out
	self, err := os.Executable()
	if err != nil {
		return err
	}
	p := benchPeers(ctx)
	for _, line := range p.missing {
		fmt.Fprintln(w, line)
	}
	type result struct{ rows, tail [][]string }
	var results []result
	for _, shape := range shapes {
		dir := filepath.Join(scratch, shape)
		rows, tail, err := benchBackupShape(ctx, c, dir, self, p, shape, sz)
		if err != nil {
			return fmt.Errorf("bench backup, %s shape: %w", shape, err)
		}
		results = append(results, result{rows, tail})
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	for _, r := range results {
		c.table(r.rows)
		fmt.Fprintln(w)
		c.table(r.tail)
		fmt.Fprintln(w)
	}
	return nil
}

// peers says which other backup programs bench backup compares with.
type peers struct {
	restic, borg bool
	resticNoScan bool     // restic has --no-scan (0.15 and later)
	missing      []string // one line for each that is not installed
}

func benchPeers(ctx context.Context) peers {
	var p peers
	if _, err := exec.LookPath("restic"); err != nil {
		p.missing = append(p.missing, "restic is not installed (Debian: apt-get install restic); its columns stay empty.")
	} else {
		p.restic = true
		help, _ := exec.CommandContext(ctx, "restic", "backup", "--help").CombinedOutput()
		p.resticNoScan = bytes.Contains(help, []byte("--no-scan"))
	}
	if _, err := exec.LookPath("borg"); err != nil {
		p.missing = append(p.missing, "borg is not installed (Debian: apt-get install borgbackup); its columns stay empty.")
	} else {
		p.borg = true
	}
	return p
}

// childRun is what one child process took.
type childRun struct {
	wall, cpu time.Duration // cpu: user + system
	rss       int64
}

// peerRunner runs a peer's command with env (in dir, when not "") and
// returns what it took; a failure carries its standard error.
func peerRunner(ctx context.Context, name string, env []string) func(dir string, args ...string) (childRun, error) {
	return func(dir string, args ...string) (childRun, error) {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env, cmd.Dir = env, dir
		var errb bytes.Buffer
		cmd.Stderr = &errb
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return childRun{}, fmt.Errorf("%s %s: %w: %s", name, args[0], err, strings.TrimSpace(errb.String()))
		}
		return childRun{wall: time.Since(start), cpu: childCPU(cmd), rss: childRSS(cmd)}, nil
	}
}

func childCPU(cmd *exec.Cmd) time.Duration {
	if cmd.ProcessState == nil {
		return 0
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// benchBackupShape measures one data set in dir and returns its two
// tables.
func benchBackupShape(ctx context.Context, c *cli, dir, self string, p peers, shape string, sz shapeSizes) (rows, tail [][]string, err error) {
	w := c.io.Out
	data := filepath.Join(dir, "office")
	switch shape {
	case ShapeLarge:
		sizes := largeSizes(largeShapeBytes)
		fmt.Fprintf(w, "Generating %d files of 4 KiB–4 MiB, %d MiB in all (half compressible text, half incompressible)…\n", len(sizes), largeShapeBytes>>20)
		err = genLarge(data, sizes)
	case ShapeSmall:
		fmt.Fprintf(w, "Generating %d files of 200 B–8 KiB in %d folders (half compressible text, half incompressible)…\n", sz.small, smallFolders(sz.small))
		_, err = genSmallFiles(data, sz.small)
		_ = exec.CommandContext(ctx, "sync").Run() // genSmallFiles leaves syncing to its caller
	default:
		fmt.Fprintf(w, "Generating %d files, %d MiB in all (half compressible text, half incompressible)…\n", sz.files, sz.sizeMiB)
		err = genOffice(data, int64(sz.sizeMiB)<<20, sz.files)
	}
	if err != nil {
		return nil, nil, err
	}
	dataDir := filepath.Join(dir, "plinth")
	env := append(os.Environ(), "PLINTH_PASSWORD=benchmark password", "PLINTH_DATA="+dataDir,
		"PLINTH_NEW_BACKUP_PASSPHRASE=benchmark passphrase", "PLINTH_BACKUP_PASSPHRASE=benchmark passphrase",
		"PLINTH_S3_SECRET=plinth-bench-secret-0123456789")
	child := plinthChild(ctx, self, env)
	plinth := func(args ...string) (time.Duration, int64, []byte, error) {
		r, out, err := child(args...)
		return r.wall, r.rss, out, err
	}
	var imp childRun // the import, for information
	for _, args := range [][]string{{"init"}, {"mkdir", "/Office", "--kind", "project"}, {"import", "--to", "/Office", data}} {
		if imp, _, err = child(args...); err != nil {
			return nil, nil, err
		}
	}
	dataBytes, nData := dirSize(data), dirFiles(data)

	// Full backup, then 1% of the files rewritten and re-imported, then
	// the incremental.
	full, _, err := child("backup", "--level", "2", "--json")
	if err != nil {
		return nil, nil, err
	}
	changed := filepath.Join(dir, "changed")
	if err := changeOnePercent(data, changed); err != nil {
		return nil, nil, err
	}
	if _, _, err := child("import", "--to", "/Office", filepath.Join(changed, filepath.Base(data))); err != nil {
		return nil, nil, err
	}
	inc, out, err := child("backup", "--level", "2", "--json")
	if err != nil {
		return nil, nil, err
	}
	var incID struct{ ID string }
	_ = json.Unmarshal(out, &incID)

	// The peers see the same tree: the data, then the changed files over
	// it. restic always encrypts; borg is asked not to, like Plinth's
	// local level-2 backups here (the S3 rows compare encrypted backups).
	restic := peerRunner(ctx, "restic", append(os.Environ(), "RESTIC_PASSWORD=benchmark password",
		"RESTIC_REPOSITORY="+filepath.Join(dir, "restic-repo"), "RESTIC_CACHE_DIR="+filepath.Join(dir, "restic-cache")))
	borgRepo := filepath.Join(dir, "borg-repo")
	borg := peerRunner(ctx, "borg", append(os.Environ(), "BORG_BASE_DIR="+filepath.Join(dir, "borg-base"),
		"BORG_CACHE_DIR="+filepath.Join(dir, "borg-cache"), "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes",
		"BORG_RELOCATED_REPO_ACCESS_IS_OK=yes", "BORG_PASSPHRASE="))
	resticBackup := []string{"backup", "-q"}
	if p.resticNoScan {
		resticBackup = append(resticBackup, "--no-scan") // restic before 0.15 has no size estimate to skip
	}
	var rFull, rInc, rRestore, bFull, bInc, bRestore childRun
	if p.restic {
		if _, err := restic("", "init"); err != nil {
			return nil, nil, err
		}
		if rFull, err = restic("", append(resticBackup, data)...); err != nil {
			return nil, nil, err
		}
	}
	if p.borg {
		if _, err := borg("", "init", "--encryption=none", borgRepo); err != nil {
			return nil, nil, err
		}
		if bFull, err = borg("", "create", "--compression", "lz4", borgRepo+"::full", data); err != nil {
			return nil, nil, err
		}
	}
	if err := applyChange(changed, data); err != nil {
		return nil, nil, err
	}
	if p.restic {
		if rInc, err = restic("", append(resticBackup, data)...); err != nil {
			return nil, nil, err
		}
		target := filepath.Join(dir, "restic-restore")
		if rRestore, err = restic("", "restore", "latest", "--target", target, "-q"); err != nil {
			return nil, nil, err
		}
		_ = os.RemoveAll(target)
	}
	if p.borg {
		if bInc, err = borg("", "create", "--compression", "lz4", borgRepo+"::incremental", data); err != nil {
			return nil, nil, err
		}
		target := filepath.Join(dir, "borg-restore")
		if err := os.MkdirAll(target, 0o700); err != nil {
			return nil, nil, err
		}
		if bRestore, err = borg(target, "extract", borgRepo+"::incremental"); err != nil {
			return nil, nil, err
		}
		_ = os.RemoveAll(target)
	}
	restore, _, err := child("restore", incID.ID, "--scope", "all", "--yes")
	if err != nil {
		return nil, nil, err
	}

	// Physical bounds.
	cpTarget := filepath.Join(dir, "cp-copy")
	start := time.Now()
	if out, err := exec.CommandContext(ctx, "cp", "-r", data, cpTarget).CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("cp -r: %w %s", err, out)
	}
	_ = exec.Command("sync").Run()
	tCp := time.Since(start)
	_ = os.RemoveAll(cpTarget)
	start = time.Now()
	tz := exec.CommandContext(ctx, "sh", "-c", "tar -C "+shellQuote(filepath.Dir(data))+" -cf - "+shellQuote(filepath.Base(data))+" | zstd -1 -q -T0 -o "+shellQuote(filepath.Join(dir, "office.tar.zst")))
	if out, err := tz.CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("tar | zstd: %w %s", err, out)
	}
	_ = exec.Command("sync").Run()
	tTar := time.Since(start)

	title := fmt.Sprintf("%s: %d files, %s", shape, nData, humanize.IBytes(uint64(dataBytes)))
	rows = [][]string{{strings.ToUpper(title), "PLINTH", "CPU", "RESTIC", "CPU", "RATIO", "TARGET", "", "BORG", "CPU", "RATIO"}}
	secs := func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
	row := func(what string, pl, restic, borg childRun, target float64) {
		r := []string{what, secs(pl.wall), secs(pl.cpu), "", "", "", "", "", "", "", ""}
		if target > 0 {
			r[6] = fmt.Sprintf("≤ %.2f", target)
		}
		if p.restic {
			ratio := pl.wall.Seconds() / restic.wall.Seconds()
			r[3], r[4], r[5] = secs(restic.wall), secs(restic.cpu), fmt.Sprintf("%.2f", ratio)
			if target > 0 {
				r[7] = okMark(ratio <= target)
			}
		}
		if p.borg {
			r[8], r[9], r[10] = secs(borg.wall), secs(borg.cpu), fmt.Sprintf("%.2f", pl.wall.Seconds()/borg.wall.Seconds())
		}
		rows = append(rows, r)
	}
	row("level-2 full backup", full, rFull, bFull, fullTarget(shape))
	row("incremental after 1% change", inc, rInc, bInc, 0.15)
	row("restore everything", restore, rRestore, bRestore, 0.35)
	rows = append(rows,
		[]string{"full backup vs cp -r (physical bound)", secs(full.wall), "", secs(tCp), "", fmt.Sprintf("%.2f", full.wall.Seconds()/tCp.Seconds())},
		[]string{"full backup vs tar | zstd -1 -T0", secs(full.wall), "", secs(tTar), "", fmt.Sprintf("%.2f", full.wall.Seconds()/tTar.Seconds())})

	tail = [][]string{
		{strings.ToUpper(shape) + ": MEASURE", "RESULT", "TARGET", ""},
		{"import into Plinth (before the backups, not compared)", fmt.Sprintf("%s, CPU %s, peak RSS %s", secs(imp.wall), secs(imp.cpu), humanize.IBytes(uint64(imp.rss))), "", ""},
		{"peak RSS, full backup", humanize.IBytes(uint64(full.rss)), "< 200 MB", okMark(full.rss < 200e6)},
		{"peak RSS, incremental", humanize.IBytes(uint64(inc.rss)), "< 200 MB", okMark(inc.rss < 200e6)},
		{"peak RSS, restore", humanize.IBytes(uint64(restore.rss)), "", ""},
	}
	if p.restic {
		tail = append(tail, []string{"peak RSS, restic full / incremental / restore", fmt.Sprintf("%s / %s / %s",
			humanize.IBytes(uint64(rFull.rss)), humanize.IBytes(uint64(rInc.rss)), humanize.IBytes(uint64(rRestore.rss))), "", ""})
	}
	if p.borg {
		tail = append(tail, []string{"peak RSS, borg full / incremental / restore", fmt.Sprintf("%s / %s / %s",
			humanize.IBytes(uint64(bFull.rss)), humanize.IBytes(uint64(bInc.rss)), humanize.IBytes(uint64(bRestore.rss))), "", ""})
	}
	if shape != ShapeOffice {
		return rows, tail, nil
	}

	// Through a bucket (issue 14): encrypted, as restic always is, on a
	// second 1% change of the same data.
	if _, _, err := child("backup", "passphrase"); err != nil {
		return nil, nil, err
	}
	s3, s3err := benchBackupS3(ctx, dir, data, plinth, func() error {
		changed2 := filepath.Join(dir, "changed2")
		if err := changeOnePercent(data, changed2); err != nil {
			return err
		}
		if _, _, err := child("import", "--to", "/Office", filepath.Join(changed2, filepath.Base(data))); err != nil {
			return err
		}
		return applyChange(changed2, data)
	}, p.restic)
	if s3err != nil {
		fmt.Fprintln(w, "S3 rows:", s3err)
	} else {
		for _, r := range s3.rows {
			// MEASURE, PLINTH, PEER, RATIO, TARGET, mark → this table's columns
			rows = append(rows, []string{r[0], r[1], "", r[2], "", r[3], r[4], r[5]})
		}
		tail = append(tail, s3.rss...)
	}

	// Level 1 on the same project, and 200 snapshots, last: they open
	// Plinth in this process, and a child's peak RSS as the kernel counts
	// it is at least this process's peak (a child starts as a copy of it).
	l1, err := benchLevel1(ctx, dataDir, plinth)
	if err != nil {
		return nil, nil, err
	}
	return rows, append(tail, l1...), nil
}

// benchLevel1 measures level-1 snapshots of /Office: the first, one of
// the unchanged project, one with 200 kept, and listing them.
func benchLevel1(ctx context.Context, dataDir string, plinth func(args ...string) (time.Duration, int64, []byte, error)) ([][]string, error) {
	snapSec := func() (float64, error) {
		_, _, out, err := plinth("backup", "--level", "1", "--item", "/Office", "--json")
		if err != nil {
			return 0, err
		}
		var r struct{ Seconds float64 }
		_ = json.Unmarshal(out, &r)
		return r.Seconds, nil
	}
	first, err := snapSec()
	if err != nil {
		return nil, err
	}
	second, err := snapSec()
	if err != nil {
		return nil, err
	}
	a, err := Open(ctx, Config{DataDir: dataDir})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	master, err := a.Accounts.ActAs(ctx, "masteradmin")
	if err != nil {
		return nil, err
	}
	office, err := a.Files.Lookup(ctx, master, "/Office")
	if err != nil {
		return nil, err
	}
	var t200 time.Duration
	for i := 0; i < 200; i++ {
		s := time.Now()
		if _, err := a.Backups.Snapshot(ctx, master, office.ID, nil); err != nil {
			return nil, err
		}
		t200 = time.Since(s)
	}
	ls := time.Now()
	snaps, err := a.Backups.Snapshots(office.ID)
	tList := time.Since(ls)
	if err != nil {
		return nil, err
	}
	return [][]string{
		{"first level-1 snapshot of the project", fmt.Sprintf("%.0f ms", first*1000), "≤ 2.5 s", okMark(first <= 2.5)},
		{"level-1 snapshot of the unchanged project", fmt.Sprintf("%.0f ms", second*1000), "< 100 ms", okMark(second < 0.1)},
		{fmt.Sprintf("snapshot with %d snapshots kept", len(snaps)-1), fmt.Sprintf("%.0f ms", float64(t200.Microseconds())/1000), "", ""},
		{fmt.Sprintf("list %d snapshots", len(snaps)), fmt.Sprintf("%.0f ms", float64(tList.Microseconds())/1000), "", ""},
	}, nil
}

func okMark(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// genOffice writes n files totalling size bytes: a few large ones and many
// small, half compressible text (like IFC), half random (like PDFs).
func genOffice(dir string, size int64, n int) error {
	rng := rand.New(rand.NewPCG(7, 11))
	large := max(n/100, 1)
	largeBytes := size * 6 / 10
	smallBytes := size - largeBytes
	for i := range n {
		var sz int64
		if i < large {
			sz = largeBytes / int64(large)
		} else {
			sz = smallBytes / int64(n-large)
		}
		if err := writeMixed(rng, filepath.Join(dir, fmt.Sprintf("project-%02d", i%20), fmt.Sprintf("folder-%02d", (i/20)%25)), i, sz); err != nil {
			return err
		}
	}
	return nil
}

// writeMixed writes file i of a generated data set into folder sub: sz
// bytes, IFC-like text when i is even, random (like PDFs) when it is odd.
func writeMixed(rng *rand.Rand, sub string, i int, sz int64) error {
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return err
	}
	buf := make([]byte, sz)
	ext := ".pdf"
	if i%2 == 0 {
		ext = ".ifc"
		fillText(rng, buf)
	} else {
		fillRandom(rng, buf)
	}
	name := filepath.Join(sub, fmt.Sprintf("file-%05d%s", i, ext))
	return fsys.WriteFile(nil, name, buf, fsys.Options{NoDirSync: true, Perm: 0o644})
}

// largeSizes returns the file sizes of the large shape for total bytes:
// between 4 KiB and 4 MiB each, drawn (from a fixed seed) evenly on a
// scale that favours the larger ones, so that 512 MiB make about 490
// files; the last is cut to make total exactly.
func largeSizes(total int64) []int64 {
	rng := rand.New(rand.NewPCG(13, 17))
	var sizes []int64
	var sum int64
	for sum < total {
		s := int64(float64(largeMin) * math.Pow(float64(largeMax)/largeMin, math.Sqrt(rng.Float64())))
		s = min(max(s, largeMin), largeMax, total-sum)
		if left := total - sum - s; left > 0 && left < largeMin {
			s -= largeMin - left // leave room for one more of the smallest
		}
		sizes = append(sizes, s)
		sum += s
	}
	return sizes
}

// genLarge writes one file of each size into dir, in 10 projects of 5
// folders, every second one compressible text (like IFC), the others
// random (like PDFs and images).
func genLarge(dir string, sizes []int64) error {
	rng := rand.New(rand.NewPCG(19, 23))
	for i, sz := range sizes {
		if err := writeMixed(rng, filepath.Join(dir, fmt.Sprintf("project-%02d", i%10), fmt.Sprintf("folder-%02d", (i/10)%5)), i, sz); err != nil {
			return err
		}
	}
	return nil
}

var benchWords = []string{"IFCWALL", "IFCSLAB", "IFCBEAM", "IFCCOLUMN", "#12=", "IFCCARTESIANPOINT((0.,0.,0.));", "'2O2Fr$t4X7Zf8NOew3FLOH'", "$,$,", "IFCPROPERTYSINGLEVALUE"}

// fillText fills buf with lines of IFC-like words.
func fillText(rng *rand.Rand, buf []byte) {
	pos := 0
	for pos < len(buf) {
		pos += copy(buf[pos:], benchWords[rng.IntN(len(benchWords))])
		if pos < len(buf) {
			buf[pos] = '\n'
			pos++
		}
	}
}

// fillRandom fills buf with incompressible bytes.
func fillRandom(rng *rand.Rand, buf []byte) {
	for j := 0; j+8 <= len(buf); j += 8 {
		binary.LittleEndian.PutUint64(buf[j:], rng.Uint64())
	}
}

// changeOnePercent writes new contents for 1% of the files into out, at
// the same relative paths.
func changeOnePercent(data, out string) error {
	var all []string
	_ = filepath.Walk(data, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			all = append(all, p)
		}
		return nil
	})
	rng := rand.New(rand.NewPCG(3, 5))
	for i := 0; i < max(len(all)/100, 1); i++ {
		p := all[rng.IntN(len(all))]
		rel, _ := filepath.Rel(filepath.Dir(data), p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for j := 0; j < len(b); j += 4096 {
			b[j] ^= 0x5a
		}
		dst := filepath.Join(out, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// applyChange copies the changed files over the data, for restic's view.
func applyChange(changed, data string) error {
	return filepath.Walk(changed, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(changed, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(filepath.Dir(data), rel), b, 0o644)
	})
}

func dirFiles(dir string) int {
	var n int
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}
