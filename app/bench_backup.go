package app

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// benchBackup measures backups against restic on the same generated data,
// in one run: full backup, incremental after a 1% change, restore, the
// physical bound (cp -r, tar | zstd -1), a level-1 snapshot of an
// unchanged project and a project with 200 snapshots. Plinth runs as
// child processes, so their peak memory is measured alone.
func benchBackup(ctx context.Context, c *cli, scratch string, sizeMiB, nFiles int) error {
	w := c.io.Out
	self, err := os.Executable()
	if err != nil {
		return err
	}
	data := filepath.Join(scratch, "office")
	fmt.Fprintf(w, "Generating %d files, %d MiB in all (half compressible text, half incompressible)…\n", nFiles, sizeMiB)
	if err := genOffice(data, int64(sizeMiB)<<20, nFiles); err != nil {
		return err
	}
	dataDir := filepath.Join(scratch, "plinth")
	env := append(os.Environ(), "PLINTH_PASSWORD=benchmark password", "PLINTH_DATA="+dataDir,
		"PLINTH_NEW_BACKUP_PASSPHRASE=benchmark passphrase", "PLINTH_BACKUP_PASSPHRASE=benchmark passphrase",
		"PLINTH_S3_SECRET=plinth-bench-secret-0123456789")
	plinth := childRunner(ctx, self, env)
	if _, _, _, err := plinth("init"); err != nil {
		return err
	}
	if _, _, _, err := plinth("mkdir", "/Office", "--kind", "project"); err != nil {
		return err
	}
	if _, _, _, err := plinth("import", "--to", "/Office", data); err != nil {
		return err
	}
	dataBytes := dirSize(data)

	rows := [][]string{{"MEASURE", "PLINTH", "PEER", "RATIO", "TARGET", ""}}
	row := func(what string, pl, peer time.Duration, target float64, note string) {
		ratio := pl.Seconds() / peer.Seconds()
		mark := "ok"
		if target > 0 && ratio > target {
			mark = "MISSED"
		}
		tgt := ""
		if target > 0 {
			tgt = fmt.Sprintf("≤ %.2f", target)
		}
		rows = append(rows, []string{what, fmt.Sprintf("%.2f s", pl.Seconds()), fmt.Sprintf("%.2f s%s", peer.Seconds(), note), fmt.Sprintf("%.2f", ratio), tgt, mark})
	}

	// Full backup.
	tFull, rssFull, _, err := plinth("backup", "--level", "2", "--json")
	if err != nil {
		return err
	}
	// 1% change: 1% of the files rewritten, re-imported.
	changed := filepath.Join(scratch, "changed")
	if err := changeOnePercent(data, changed); err != nil {
		return err
	}
	if _, _, _, err := plinth("import", "--to", "/Office", filepath.Join(changed, filepath.Base(data))); err != nil {
		return err
	}
	tInc, rssInc, out, err := plinth("backup", "--level", "2", "--json")
	if err != nil {
		return err
	}
	var inc struct{ ID, Type string }
	_ = json.Unmarshal(out, &inc)

	haveRestic := true
	resticRepo := filepath.Join(scratch, "restic-repo")
	renv := append(os.Environ(), "RESTIC_PASSWORD=benchmark password", "RESTIC_REPOSITORY="+resticRepo, "RESTIC_CACHE_DIR="+filepath.Join(scratch, "restic-cache"))
	restic := func(args ...string) (time.Duration, error) {
		cmd := exec.CommandContext(ctx, "restic", args...)
		cmd.Env = renv
		var errb bytes.Buffer
		cmd.Stderr = &errb
		start := time.Now()
		err := cmd.Run()
		if err != nil {
			return 0, fmt.Errorf("restic %s: %v: %s", args[0], err, errb.String())
		}
		return time.Since(start), nil
	}
	if _, err := exec.LookPath("restic"); err != nil {
		haveRestic = false
		fmt.Fprintln(w, "restic is not installed (Debian: apt-get install restic); its columns stay empty.")
	}
	// --no-scan skips restic's size estimate; restic before 0.15 has none.
	noScan := []string{"backup", "-q"}
	if help, _ := exec.Command("restic", "backup", "--help").CombinedOutput(); bytes.Contains(help, []byte("--no-scan")) {
		noScan = append(noScan, "--no-scan")
	}
	var rFull, rInc, rRestore time.Duration
	if haveRestic {
		// restic sees the same tree: the data, then the changed files over it.
		if _, err := restic("init"); err != nil {
			return err
		}
		if rFull, err = restic(append(noScan, data)...); err != nil {
			return err
		}
		if err := applyChange(changed, data); err != nil {
			return err
		}
		if rInc, err = restic(append(noScan, data)...); err != nil {
			return err
		}
		target := filepath.Join(scratch, "restic-restore")
		if rRestore, err = restic("restore", "latest", "--target", target, "-q"); err != nil {
			return err
		}
		_ = os.RemoveAll(target)
	}
	tRestore, rssRestore, _, err := plinth("restore", inc.ID, "--scope", "all", "--yes")
	if err != nil {
		return err
	}

	// Physical bounds.
	cpTarget := filepath.Join(scratch, "cp-copy")
	start := time.Now()
	if out, err := exec.CommandContext(ctx, "cp", "-r", data, cpTarget).CombinedOutput(); err != nil {
		return fmt.Errorf("cp -r: %v %s", err, out)
	}
	_ = exec.Command("sync").Run()
	tCp := time.Since(start)
	_ = os.RemoveAll(cpTarget)
	start = time.Now()
	tz := exec.CommandContext(ctx, "sh", "-c", "tar -C "+shellQuote(filepath.Dir(data))+" -cf - "+shellQuote(filepath.Base(data))+" | zstd -1 -q -T0 -o "+shellQuote(filepath.Join(scratch, "office.tar.zst")))
	if out, err := tz.CombinedOutput(); err != nil {
		return fmt.Errorf("tar | zstd: %v %s", err, out)
	}
	_ = exec.Command("sync").Run()
	tTar := time.Since(start)

	if haveRestic {
		row("level-2 full backup vs restic backup", tFull, rFull, 0.7, "")
		row("incremental after 1% change vs restic's second", tInc, rInc, 0.7, "")
		row("restore everything vs restic restore", tRestore, rRestore, 0.7, "")
	}
	row("full backup vs cp -r (physical bound)", tFull, tCp, 0, "")
	row("full backup vs tar | zstd -1", tFull, tTar, 0, "")

	// Level 1 on the same project, and 200 snapshots.
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
		return err
	}
	second, err := snapSec()
	if err != nil {
		return err
	}
	a, err := Open(ctx, Config{DataDir: dataDir})
	if err != nil {
		return err
	}
	master, err := a.Accounts.ActAs(ctx, "masteradmin")
	if err != nil {
		a.Close()
		return err
	}
	office, err := a.Files.Lookup(ctx, master, "/Office")
	if err != nil {
		a.Close()
		return err
	}
	sched := a.Backups
	var t200 time.Duration
	for i := 0; i < 200; i++ {
		s := time.Now()
		if _, err := sched.Snapshot(ctx, master, office.ID, nil); err != nil {
			a.Close()
			return err
		}
		t200 = time.Since(s)
	}
	ls := time.Now()
	snaps, err := sched.Snapshots(office.ID)
	tList := time.Since(ls)
	a.Close()
	if err != nil {
		return err
	}

	// Through a bucket (issue 14): encrypted, as restic always is, on a
	// second 1% change of the same data.
	if _, _, _, err := plinth("backup", "passphrase"); err != nil {
		return err
	}
	s3, s3err := benchBackupS3(ctx, scratch, data, plinth, func() error {
		changed2 := filepath.Join(scratch, "changed2")
		if err := changeOnePercent(data, changed2); err != nil {
			return err
		}
		if _, _, _, err := plinth("import", "--to", "/Office", filepath.Join(changed2, filepath.Base(data))); err != nil {
			return err
		}
		return applyChange(changed2, data)
	}, haveRestic)
	if s3err != nil {
		fmt.Fprintln(w, "S3 rows:", s3err)
	} else {
		rows = append(rows, s3.rows...)
	}

	c.table(rows)
	fmt.Fprintln(w)
	tail := [][]string{
		{"MEASURE", "RESULT", "TARGET", ""},
		{"data set", fmt.Sprintf("%d files, %s", nFiles, humanize.IBytes(uint64(dataBytes))), "", ""},
		{"first level-1 snapshot of the project", fmt.Sprintf("%.0f ms", first*1000), "", ""},
		{"level-1 snapshot of the unchanged project", fmt.Sprintf("%.0f ms", second*1000), "< 100 ms", okMark(second < 0.1)},
		{fmt.Sprintf("snapshot with %d snapshots kept", len(snaps)-1), fmt.Sprintf("%.0f ms", float64(t200.Microseconds())/1000), "", ""},
		{fmt.Sprintf("list %d snapshots", len(snaps)), fmt.Sprintf("%.0f ms", float64(tList.Microseconds())/1000), "", ""},
		{"peak RSS, full backup", humanize.IBytes(uint64(rssFull)), "< 200 MB", okMark(rssFull < 200e6)},
		{"peak RSS, incremental", humanize.IBytes(uint64(rssInc)), "< 200 MB", okMark(rssInc < 200e6)},
		{"peak RSS, restore", humanize.IBytes(uint64(rssRestore)), "", ""},
	}
	if s3 != nil {
		tail = append(tail, s3.rss...)
	}
	c.table(tail)
	return nil
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
	words := []string{"IFCWALL", "IFCSLAB", "IFCBEAM", "IFCCOLUMN", "#12=", "IFCCARTESIANPOINT((0.,0.,0.));", "'2O2Fr$t4X7Zf8NOew3FLOH'", "$,$,", "IFCPROPERTYSINGLEVALUE"}
	for i := range n {
		var sz int64
		if i < large {
			sz = largeBytes / int64(large)
		} else {
			sz = smallBytes / int64(n-large)
		}
		sub := filepath.Join(dir, fmt.Sprintf("project-%02d", i%20), fmt.Sprintf("folder-%02d", (i/20)%25))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		buf := make([]byte, sz)
		ext := ".pdf"
		if i%2 == 0 {
			ext = ".ifc"
			pos := 0
			for pos < len(buf) {
				pos += copy(buf[pos:], words[rng.IntN(len(words))])
				if pos < len(buf) {
					buf[pos] = '\n'
					pos++
				}
			}
		} else {
			for j := 0; j+8 <= len(buf); j += 8 {
				binary.LittleEndian.PutUint64(buf[j:], rng.Uint64())
			}
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("file-%05d%s", i, ext)), buf, 0o644); err != nil {
			return err
		}
	}
	return nil
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
