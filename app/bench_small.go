package app

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/dustin/go-humanize"
)

// The small-file shape of bench files: what an office's data mostly is.
// A thousand files to a folder, each of 200 B to 8 KiB; every other file
// is compressible text (IFC-like lines), the others incompressible.
const (
	smallPerFolder = 1000
	smallMin       = 200
	smallMax       = 8 << 10
)

// smallFolders is how many folders genSmallFiles spreads n files over.
func smallFolders(n int) int { return max((n+smallPerFolder-1)/smallPerFolder, 1) }

// genSmallFiles writes n small files below dir, in smallFolders(n)
// folders (folder-00, folder-01, …), always the same for the same n, and
// returns their total size. The files are scratch data for a measurement,
// regenerated every run: they are written plainly, not each synced and
// renamed, and the caller syncs the disk once.
func genSmallFiles(dir string, n int) (int64, error) {
	rng := rand.New(rand.NewPCG(50, 198))
	words := []string{"IFCWALLSTANDARDCASE", "IFCSLAB", "IFCBEAM", "IFCCOLUMN", "#1042=", "IFCCARTESIANPOINT((0.,0.,3.2));",
		"'2O2Fr$t4X7Zf8NOew3FLOH'", "$,$,", "IFCPROPERTYSINGLEVALUE('FireRating',$,IFCLABEL('EI60'),$);"}
	var total int64
	buf := make([]byte, smallMax)
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("folder-%02d", i/smallPerFolder))
		if i%smallPerFolder == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return total, err
			}
		}
		b := buf[:smallMin+rng.IntN(smallMax-smallMin+1)]
		name := fmt.Sprintf("sheet-%05d.pdf", i)
		if i%2 == 0 {
			name = fmt.Sprintf("model-%05d.ifc", i)
			for pos := 0; pos < len(b); {
				pos += copy(b[pos:], words[rng.IntN(len(words))])
				if pos < len(b) {
					b[pos] = '\n'
					pos++
				}
			}
		} else {
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		}
		if err := os.WriteFile(filepath.Join(sub, name), b, 0o644); err != nil {
			return total, err
		}
		total += int64(len(b))
	}
	return total, nil
}

// smallResult is what benchSmallFiles measured: the best of each.
type smallResult struct {
	files, folders int
	bytes          int64
	cp, imp        time.Duration
	restic         time.Duration // 0: restic is not installed
	importRSS      int64
}

// benchSmallFiles generates n small files in scratch and times, best of
// two rounds that alternate, cp -r of the folder followed by sync, and a
// plinth import of it into a fresh data folder run as its own process
// (self is the plinth binary), as a user runs it; then restic backup of
// the same folder into a fresh repository, when restic is installed.
// Everything it writes in scratch is removed again before it returns.
func benchSmallFiles(ctx context.Context, self, scratch string, n int) (smallResult, error) {
	r := smallResult{files: n, folders: smallFolders(n)}
	src := filepath.Join(scratch, "small")
	defer os.RemoveAll(src)
	var err error
	if r.bytes, err = genSmallFiles(src, n); err != nil {
		return r, fmt.Errorf("generate the small files: %w", err)
	}
	_ = exec.CommandContext(ctx, "sync").Run()
	for round := range 2 {
		dst := filepath.Join(scratch, "small-copy")
		start := time.Now()
		if out, err := exec.CommandContext(ctx, "cp", "-r", src, dst).CombinedOutput(); err != nil {
			return r, fmt.Errorf("cp -r: %w: %s", err, bytes.TrimSpace(out))
		}
		_ = exec.CommandContext(ctx, "sync").Run()
		if d := time.Since(start); r.cp == 0 || d < r.cp {
			r.cp = d
		}
		_ = os.RemoveAll(dst)

		data := filepath.Join(scratch, fmt.Sprint("small-plinth", round))
		plinth := childRunner(ctx, self, append(os.Environ(), "PLINTH_DATA="+data, "PLINTH_PASSWORD=benchmark password"))
		if _, _, _, err := plinth("init"); err != nil {
			return r, err
		}
		if _, _, _, err := plinth("mkdir", "/Office", "--kind", "project"); err != nil {
			return r, err
		}
		_ = exec.CommandContext(ctx, "sync").Run()
		d, rss, out, err := plinth("import", "--to", "/Office", src)
		_ = os.RemoveAll(data)
		if err != nil {
			return r, err
		}
		if want := fmt.Sprintf("Imported %s files", humanize.Comma(int64(n))); !bytes.Contains(out, []byte(want)) {
			return r, fmt.Errorf("plinth import printed %q, not %q", bytes.TrimSpace(out), want)
		}
		if r.imp == 0 || d < r.imp {
			r.imp = d
		}
		r.importRSS = max(r.importRSS, rss)
	}
	if _, err := exec.LookPath("restic"); err != nil {
		return r, nil
	}
	repo := filepath.Join(scratch, "small-restic")
	defer os.RemoveAll(repo)
	env := append(os.Environ(), "RESTIC_PASSWORD=benchmark password", "RESTIC_REPOSITORY="+repo, "RESTIC_CACHE_DIR="+filepath.Join(repo, "cache"))
	restic := func(args ...string) (time.Duration, error) {
		cmd := exec.CommandContext(ctx, "restic", args...)
		cmd.Env = env
		var errb bytes.Buffer
		cmd.Stderr = &errb
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("restic %s: %w: %s", args[0], err, bytes.TrimSpace(errb.Bytes()))
		}
		return time.Since(start), nil
	}
	if _, err := restic("init"); err != nil {
		return r, err
	}
	args := []string{"backup", "-q"}
	if help, _ := exec.CommandContext(ctx, "restic", "backup", "--help").CombinedOutput(); bytes.Contains(help, []byte("--no-scan")) {
		args = append(args, "--no-scan")
	}
	if r.restic, err = restic(append(args, src)...); err != nil {
		return r, err
	}
	return r, nil
}

// smallRows turns what benchSmallFiles measured into rows of the bench
// files table: the cp -r peer, restic for information, the import and its
// ratio to cp -r against the target.
func smallRows(r smallResult, row func(what, result, target string, ok bool)) {
	shape := fmt.Sprintf("%s small files (%d folders, %s)", humanize.Comma(int64(r.files)), r.folders, humanize.IBytes(uint64(r.bytes)))
	rate := func(d time.Duration) string {
		return fmt.Sprintf("%.2f s (%s files/s)", d.Seconds(), humanize.Comma(int64(float64(r.files)/d.Seconds())))
	}
	row("cp -r + sync of "+shape, rate(r.cp), "peer", true)
	if r.restic > 0 {
		row("restic backup of the same folder", fmt.Sprintf("%s, %.1f × cp", rate(r.restic), r.restic.Seconds()/r.cp.Seconds()), "for information", true)
	} else {
		row("restic backup of the same folder", "restic is not installed", "for information", true)
	}
	row("import of the same files (own process)", fmt.Sprintf("%s, peak RSS %d MB", rate(r.imp), r.importRSS>>20), "", true)
	ratio := r.imp.Seconds() / r.cp.Seconds()
	row(fmt.Sprintf("import of %s small files / cp -r", humanize.Comma(int64(r.files))), fmt.Sprintf("%.2f", ratio), "≤ 5.0", ratio <= 5.0)
}
