package app

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/ifc/ifcgen"
	"codeberg.org/plinth/plinth/core/imodel"
)

// The targets of issue 15 (the re-sync one is issue 6's).
const (
	ifcRatioTarget   = 0.35  // Plinth's time / web-ifc's, on the real-model-derived files
	ifcMBpsTarget    = 300.0 // MB/s reading a corpus file
	ifcRSSTarget     = 250e6 // bytes, Plinth's peak RSS reading a 200 MiB file
	ifcRSSTargetMiB  = 200   // the size from which the RSS target applies
	ifcSyncTarget    = 1500 * time.Millisecond
	ifcSyncRSSTarget = 400e6 // bytes, the first full sync's peak RSS
	ifcResyncTarget  = 50 * time.Millisecond
	ifcRounds        = 3 // best of
	ifcSeed          = 1 // ifcgen's default, so `ifcgen -mb N` writes the same file
	ifcWarmupSample  = "example.ifc"
	ifcSamplesFolder = "testdata/ifc/samples"
	webIFCFolder     = "scripts/webifc"
)

// ifcCorpusFile is one file of the benchmark corpus: a sample's DATA
// section repeated to about size bytes by ifcgen.
type ifcCorpusFile struct {
	sample     string // the sample's path
	size       int64  // bytes asked of ifcgen
	name       string // the file's name in the scratch folder
	synthetic  bool   // the --ifc-mb file (gen<N>.ifc)
	corpusToo  bool   // synthetic, and the same bytes as a corpus file
	corpusName string // that corpus file's name
}

// real tells whether the file is a corpus file, made from a real sample
// at one of the corpus sizes: what the ratio target judges.
func (f ifcCorpusFile) real() bool { return !f.synthetic || f.corpusToo }

// label is the file's name in the tables.
func (f ifcCorpusFile) label() string {
	switch {
	case f.corpusToo:
		return fmt.Sprintf("%s (synthetic, = %s)", f.name, f.corpusName)
	case f.synthetic:
		return fmt.Sprintf("%s (synthetic, from %s)", f.name, filepath.Base(f.sample))
	}
	return f.name
}

// generate writes the file into dir and returns its path.
func (f ifcCorpusFile) generate(dir string) (string, error) {
	path := filepath.Join(dir, f.name)
	return path, generateIFC(f.sample, path, f.size)
}

// ifcCorpus plans the corpus: for each sample, one file per size (in
// bytes), named after the sample and the size. A sample that ifcgen
// cannot replicate is left out with one line on w saying why.
func ifcCorpus(w io.Writer, samples []string, sizes []int64) []ifcCorpusFile {
	var out []ifcCorpusFile
	for _, s := range samples {
		b, err := os.ReadFile(s)
		if err == nil {
			_, err = ifcgen.Generate(io.Discard, b, 0, ifcSeed) // one copy: does it replicate?
		}
		if err != nil {
			fmt.Fprintf(w, "Leaving %s out of the corpus: %v.\n", filepath.Base(s), err)
			continue
		}
		stem := strings.TrimSuffix(filepath.Base(s), filepath.Ext(s))
		for _, size := range sizes {
			out = append(out, ifcCorpusFile{sample: s, size: size, name: fmt.Sprintf("%s-%s.ifc", stem, sizeName(size))})
		}
	}
	return out
}

// sizeName is "50MiB" for 50 MiB, "1536KiB" for 1.5 MiB.
func sizeName(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// parseSizesMiB reads a comma-separated list of sizes in MiB.
func parseSizesMiB(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, usagef("--corpus-mb needs sizes in MiB separated by commas, like 50,200; not %q", s)
		}
		out = append(out, int64(n)<<20)
	}
	return out, nil
}

// ifcFileResult is one file's line of the reader table.
type ifcFileResult struct {
	file      ifcCorpusFile
	bytes     int64
	instances int
	plinth    float64 // seconds, best of the rounds
	plinthRSS int64   // bytes, the largest peak of the rounds
	web       float64 // seconds, best of the rounds; 0 when not measured
	webRSS    int64
	webInst   int
}

func (r ifcFileResult) mbps() float64 { return float64(r.bytes) / 1e6 / r.plinth }

// ratio is Plinth's time over web-ifc's, 0 when web-ifc was not measured.
func (r ifcFileResult) ratio() float64 {
	if r.web == 0 {
		return 0
	}
	return r.plinth / r.web
}

func (r ifcFileResult) mismatch() bool { return r.web > 0 && r.webInst != r.instances }

// rssJudged tells whether the RSS target applies: files of 200 MiB or more.
func (r ifcFileResult) rssJudged() bool { return r.file.size >= ifcRSSTargetMiB<<20 }

// missed lists the targets the file misses.
func (r ifcFileResult) missed() []string {
	var m []string
	if q := r.ratio(); q > ifcRatioTarget {
		m = append(m, "ratio")
	}
	if r.mbps() < ifcMBpsTarget {
		m = append(m, "MB/s")
	}
	if r.rssJudged() && float64(r.plinthRSS) > ifcRSSTarget {
		m = append(m, "RSS")
	}
	return m
}

// webIFCLine is what scripts/webifc/bench.mjs prints for a file.
type webIFCLine struct {
	File       string  `json:"file"`
	Bytes      int64   `json:"bytes"`
	Instances  int     `json:"instances"`
	OpenMs     float64 `json:"openMs"`
	AllLinesMs float64 `json:"allLinesMs"`
	TotalMs    float64 `json:"totalMs"`
	RssMB      float64 `json:"rssMB"`
	MaxRssMB   float64 `json:"maxRssMB"`
}

// ifcSyncResult is what syncing one file into a new iModel measured.
type ifcSyncResult struct {
	name                    string
	size                    int64 // bytes asked of ifcgen
	inserted                int
	fullRun                 float64 // seconds, the run's own (connection report)
	fullWall, againWall     time.Duration
	fullRSS, againRSS       int64
	againRun                float64
	againUnchanged          int
	resyncFirst, resyncBest time.Duration
}

// benchIFC measures Plinth's IFC reader against web-ifc on a corpus made
// from the sample files (each repeated by ifcgen to every size of
// corpusSizes, in bytes) and on the synthetic file of ifcMiB MiB, then
// syncs the synthetic file and the worst sample's largest file into
// iModels through the CLI in a scratch data folder. Plinth runs as child
// processes, so their peak memory is measured alone. Each corpus file is
// generated, measured and removed before the next, so the scratch folder
// holds at most the synthetic file and one other.
func benchIFC(ctx context.Context, c *cli, scratch string, ifcMiB int, corpusSizes []int64) error {
	w := c.io.Out
	self, err := os.Executable()
	if err != nil {
		return err
	}
	root, err := repoRoot(self)
	if err != nil {
		return err
	}
	samplesDir := filepath.Join(root, ifcSamplesFolder)
	samples, err := filepath.Glob(filepath.Join(samplesDir, "*.ifc"))
	if err != nil || len(samples) == 0 {
		return fmt.Errorf("no sample files in %s", samplesDir)
	}
	fmt.Fprintf(w, "Plinth %s IFC benchmark on %d CPUs, scratch folder %s\n", Version, runtime.NumCPU(), scratch)

	// The synthetic file, in a folder of its own: a connection's source.
	warm := filepath.Join(samplesDir, ifcWarmupSample)
	gen := ifcCorpusFile{sample: warm, size: int64(ifcMiB) << 20, name: fmt.Sprintf("gen%d.ifc", ifcMiB), synthetic: true}
	genDir := filepath.Join(scratch, "ifc")
	if err := os.MkdirAll(genDir, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(w, "Generating %s (%d MiB) from %s with ifcgen, seed %d…\n", gen.name, ifcMiB, ifcWarmupSample, ifcSeed)
	genPath, err := gen.generate(genDir)
	if err != nil {
		return err
	}
	corpus := ifcCorpus(w, samples, corpusSizes)
	// The warm-up sample at the synthetic size would be the same bytes.
	corpus = slices.DeleteFunc(corpus, func(f ifcCorpusFile) bool {
		if f.sample == gen.sample && f.size == gen.size {
			fmt.Fprintf(w, "%s would be the same bytes as %s: its row is %s's.\n", f.name, gen.name, gen.name)
			gen.corpusToo, gen.corpusName = true, f.name
			return true
		}
		return false
	})

	dataDir := filepath.Join(scratch, "plinth")
	env := append(os.Environ(), "PLINTH_PASSWORD=benchmark password", "PLINTH_DATA="+dataDir)
	plinth := childRunner(ctx, self, env)
	webDir := filepath.Join(root, webIFCFolder)
	haveWeb := webIFCReady(ctx, c, webDir)

	// 1. Reading the files: plinth ifc stats and web-ifc, best of the rounds.
	fmt.Fprintf(w, "Reading %d files with plinth ifc stats", len(corpus)+1)
	if haveWeb {
		fmt.Fprint(w, " and web-ifc (OpenModel + GetAllLines)")
	}
	fmt.Fprintf(w, ", best of %d…\n", ifcRounds)
	corpusDir := filepath.Join(scratch, "corpus")
	if err := os.MkdirAll(corpusDir, 0o755); err != nil {
		return err
	}
	results := make([]ifcFileResult, 0, len(corpus)+1)
	for _, f := range append([]ifcCorpusFile{gen}, corpus...) {
		path := genPath
		if !f.synthetic {
			if path, err = f.generate(corpusDir); err != nil {
				return err
			}
		}
		r, err := measureIFC(ctx, c, plinth, haveWeb, webDir, warm, f, path)
		if !f.synthetic {
			_ = os.Remove(path)
		}
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	// Worst first: the highest ratio, or without web-ifc the lowest MB/s.
	slices.SortStableFunc(results, func(a, b ifcFileResult) int {
		if qa, qb := a.ratio(), b.ratio(); qa != qb {
			return cmp.Compare(qb, qa)
		}
		return cmp.Compare(a.mbps(), b.mbps())
	})

	// 2. Syncing the synthetic file, and the largest file of the worst
	// sample, each into an iModel of its own.
	if _, _, _, err := plinth("init"); err != nil {
		return err
	}
	if _, _, _, err := plinth("mkdir", "/Office", "--kind", "project"); err != nil {
		return err
	}
	syncs := []ifcCorpusFile{gen}
	if worst, ok := worstRealIFC(results); ok && !worst.synthetic {
		syncs = append(syncs, worst)
	}
	var synced []ifcSyncResult
	for i, f := range syncs {
		dir := genDir
		if !f.synthetic {
			dir = filepath.Join(scratch, "worst")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			if _, err := f.generate(dir); err != nil {
				return err
			}
		}
		fmt.Fprintf(w, "Syncing %s into an iModel…\n", f.name)
		s, err := syncIFC(ctx, plinth, dataDir, fmt.Sprintf("Model%d", i+1), dir, f.name)
		if err != nil {
			return err
		}
		s.size = f.size
		synced = append(synced, s)
	}

	// The tables.
	fmt.Fprintln(w)
	printIFCReadTable(c, results)
	for _, s := range synced {
		fmt.Fprintln(w)
		printIFCSyncTable(c, s)
	}
	fmt.Fprintln(w)
	printIFCVerdicts(c, results, synced, corpusSizes)
	return nil
}

// measureIFC reads one file with plinth ifc stats and, when haveWeb,
// web-ifc, each best of ifcRounds.
func measureIFC(ctx context.Context, c *cli, plinth func(...string) (time.Duration, int64, []byte, error), haveWeb bool, webDir, warm string, f ifcCorpusFile, path string) (ifcFileResult, error) {
	r := ifcFileResult{file: f}
	st, err := os.Stat(path)
	if err != nil {
		return r, err
	}
	r.bytes = st.Size()
	for range ifcRounds {
		_, rss, out, err := plinth("ifc", "stats", path, "--json")
		if err != nil {
			return r, err
		}
		var s struct {
			Instances int     `json:"instances"`
			Seconds   float64 `json:"seconds"`
		}
		if err := json.Unmarshal(out, &s); err != nil {
			return r, fmt.Errorf("plinth ifc stats %s: %w", f.name, err)
		}
		r.instances = s.Instances
		if r.plinth == 0 || s.Seconds < r.plinth {
			r.plinth = s.Seconds
		}
		r.plinthRSS = max(r.plinthRSS, rss)
	}
	// web-ifc, one node process per round, warmed up on a sample first:
	// Node start-up, the wasm Init and the warm-up are not timed.
	if haveWeb {
		for range ifcRounds {
			line, err := runWebIFC(ctx, webDir, warm, path)
			if err != nil {
				fmt.Fprintf(c.io.Out, "web-ifc on %s: %v; its cells stay empty.\n", f.name, err)
				r.web, r.webRSS = 0, 0
				break
			}
			if sec := line.TotalMs / 1000; r.web == 0 || sec < r.web {
				r.web = sec
			}
			r.webRSS = max(r.webRSS, int64(line.MaxRssMB*(1<<20)))
			r.webInst = line.Instances
		}
	}
	fmt.Fprintf(c.io.Out, "  %s: %.3f s", f.name, r.plinth)
	if r.web > 0 {
		fmt.Fprintf(c.io.Out, ", web-ifc %.3f s", r.web)
	}
	fmt.Fprintln(c.io.Out)
	return r, nil
}

// worstRealIFC picks the file to sync besides the synthetic one: the
// largest file of the sample whose largest file came first in results
// (sorted worst first). It may be the synthetic file itself.
func worstRealIFC(results []ifcFileResult) (ifcCorpusFile, bool) {
	var largest int64
	for _, r := range results {
		if r.file.real() {
			largest = max(largest, r.file.size)
		}
	}
	for _, r := range results {
		if r.file.real() && r.file.size == largest {
			return r.file, true
		}
	}
	return ifcCorpusFile{}, false
}

// syncIFC creates an iModel named model in /Office, connects it to file in
// srcDir and syncs it twice through the CLI (full, then unchanged), then
// times unchanged re-syncs in this process.
func syncIFC(ctx context.Context, plinth func(...string) (time.Duration, int64, []byte, error), dataDir, model, srcDir, file string) (ifcSyncResult, error) {
	res := ifcSyncResult{name: file}
	imodelPath, connName := "/Office/"+model, "Generated"
	for _, args := range [][]string{
		{"imodel", "create", "/Office", model},
		{"connection", "add", imodelPath, connName, "--source", srcDir, "--map", file},
	} {
		if _, _, _, err := plinth(args...); err != nil {
			return res, err
		}
	}
	type syncOut struct {
		Result string `json:"result"`
		Files  []struct {
			Inserted  int    `json:"inserted"`
			Unchanged int    `json:"unchanged"`
			Error     string `json:"error"`
		} `json:"files"`
	}
	syncChild := func() (wall time.Duration, rss int64, out syncOut, run float64, err error) {
		wall, rss, b, err := plinth("connection", "sync", imodelPath, connName, "--json")
		if err != nil {
			return 0, 0, out, 0, err
		}
		if err := json.Unmarshal(b, &out); err != nil || len(out.Files) != 1 {
			return 0, 0, out, 0, fmt.Errorf("plinth connection sync: unexpected output %q: %w", b, err)
		}
		if out.Files[0].Error != "" {
			return 0, 0, out, 0, fmt.Errorf("plinth connection sync: %s", out.Files[0].Error)
		}
		// The run's own times, from its report: the sync without the
		// process start-up, the login and opening the stores.
		_, _, b, err = plinth("connection", "report", imodelPath, connName)
		if err != nil {
			return 0, 0, out, 0, err
		}
		var rep struct {
			Started, Finished time.Time
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			return 0, 0, out, 0, fmt.Errorf("plinth connection report: %w", err)
		}
		return wall, rss, out, rep.Finished.Sub(rep.Started).Seconds(), nil
	}
	var full, again syncOut
	var err error
	if res.fullWall, res.fullRSS, full, res.fullRun, err = syncChild(); err != nil {
		return res, err
	}
	res.inserted = full.Files[0].Inserted
	if res.againWall, res.againRSS, again, res.againRun, err = syncChild(); err != nil {
		return res, err
	}
	res.againUnchanged = again.Files[0].Unchanged
	// The re-sync in this process: only the Sync call is timed.
	res.resyncFirst, res.resyncBest, err = resyncInProcess(ctx, dataDir, imodelPath, connName, ifcRounds)
	return res, err
}

func printIFCReadTable(c *cli, results []ifcFileResult) {
	const mb = 1e6
	rows := [][]string{{"FILE", "MB", "INSTANCES", "PLINTH S", "MB/S", "PEAK RSS", "WEB-IFC S", "PLINTH/WEB-IFC", "PEAK RSS WEB-IFC", "TARGET", ""}}
	for _, r := range results {
		inst := fmt.Sprint(r.instances)
		if r.mismatch() {
			inst = fmt.Sprintf("%d MISMATCH: web-ifc %d", r.instances, r.webInst)
		}
		web, ratio, webRSS := "", "", ""
		if r.web > 0 {
			web, ratio, webRSS = fmt.Sprintf("%.3f", r.web), fmt.Sprintf("%.2f", r.ratio()), fmt.Sprintf("%.0f MB", float64(r.webRSS)/mb)
		}
		target := fmt.Sprintf("≤ %.2f×, ≥ %.0f MB/s", ifcRatioTarget, ifcMBpsTarget)
		if r.rssJudged() {
			target += fmt.Sprintf(", RSS ≤ %.0f MB", ifcRSSTarget/mb)
		}
		mark := "ok"
		if m := r.missed(); len(m) > 0 {
			mark = "MISSED " + strings.Join(m, ", ")
		}
		rows = append(rows, []string{r.file.label(), fmt.Sprintf("%.2f", float64(r.bytes)/mb), inst, fmt.Sprintf("%.3f", r.plinth),
			fmt.Sprintf("%.0f", r.mbps()), fmt.Sprintf("%.0f MB", float64(r.plinthRSS)/mb), web, ratio, webRSS, target, mark})
	}
	c.table(rows)
}

// judged tells whether the sync targets apply: files of 200 MiB or more.
func (s ifcSyncResult) judged() bool { return s.size >= ifcRSSTargetMiB<<20 }

func printIFCSyncTable(c *cli, s ifcSyncResult) {
	const mb = 1e6
	timeTarget, timeMark := "", ""
	rssTarget, rssMark := "", ""
	if s.judged() {
		timeTarget, timeMark = fmt.Sprintf("≤ %.1f s", ifcSyncTarget.Seconds()), okMark(s.fullRun <= ifcSyncTarget.Seconds())
		rssTarget, rssMark = fmt.Sprintf("≤ %.0f MB", ifcSyncRSSTarget/mb), okMark(float64(s.fullRSS) <= ifcSyncRSSTarget)
	}
	c.table([][]string{
		{"MEASURE", "RESULT", "TARGET", ""},
		{fmt.Sprintf("first full sync of %s, the run", s.name), fmt.Sprintf("%.2f s, %d elements inserted, %.0f elements/s", s.fullRun, s.inserted, float64(s.inserted)/s.fullRun),
			timeTarget, timeMark},
		{"first full sync, wall time of the child command", fmt.Sprintf("%.2f s", s.fullWall.Seconds()), "", ""},
		{"peak RSS, first full sync", fmt.Sprintf("%.0f MB", float64(s.fullRSS)/mb), rssTarget, rssMark},
		{fmt.Sprintf("re-sync unchanged, the Sync call in-process (best of %d)", ifcRounds), fmtMs(s.resyncBest), "< 50 ms", okMark(s.resyncBest < ifcResyncTarget)},
		{"re-sync unchanged, the first Sync call in-process", fmtMs(s.resyncFirst), "< 50 ms", okMark(s.resyncFirst < ifcResyncTarget)},
		{"re-sync unchanged, the run in a child (report)", fmtMs(time.Duration(s.againRun * float64(time.Second))), "", ""},
		{"re-sync unchanged, wall time of the child command", fmtMs(s.againWall), "", ""},
		{"peak RSS, re-sync unchanged", fmt.Sprintf("%.0f MB", float64(s.againRSS)/mb), "", ""},
	})
	if s.againUnchanged != s.inserted {
		fmt.Fprintf(c.io.Out, "The re-sync of %s saw %d unchanged elements, not %d.\n", s.name, s.againUnchanged, s.inserted)
	}
}

// printIFCVerdicts prints one line per target.
func printIFCVerdicts(c *cli, results []ifcFileResult, synced []ifcSyncResult, corpusSizes []int64) {
	w := c.io.Out
	for _, r := range results {
		if r.mismatch() {
			fmt.Fprintf(w, "MISMATCH on %s: Plinth read %d instances, web-ifc listed %d.\n", r.file.name, r.instances, r.webInst)
		}
	}
	// Ratio, on the real-model-derived files of the largest size.
	var big []ifcFileResult
	largest := slices.Max(corpusSizes)
	for _, r := range results {
		if r.file.real() && r.file.size == largest {
			big = append(big, r)
		}
	}
	what := fmt.Sprintf("Plinth/web-ifc ≤ %.2f× on the real-model-derived %s files", ifcRatioTarget, sizeName(largest))
	switch {
	case len(big) == 0:
		fmt.Fprintf(w, "%s: not measured (no corpus file).\n", what)
	case big[0].web == 0: // sorted worst first, a missing ratio last
		fmt.Fprintf(w, "%s: not measured (no web-ifc).\n", what)
	default:
		worst := big[0]
		ok := worst.ratio() <= ifcRatioTarget
		for _, r := range big {
			ok = ok && r.web > 0
		}
		fmt.Fprintf(w, "%s: %s (worst %.2f×, %s).\n", what, okMark(ok), worst.ratio(), worst.file.name)
	}
	slowest := slices.MinFunc(results, func(a, b ifcFileResult) int { return cmp.Compare(a.mbps(), b.mbps()) })
	fmt.Fprintf(w, "≥ %.0f MB/s reading every file: %s (slowest %.0f MB/s, %s).\n", ifcMBpsTarget, okMark(slowest.mbps() >= ifcMBpsTarget), slowest.mbps(), slowest.file.name)
	var judged []ifcFileResult
	for _, r := range results {
		if r.rssJudged() {
			judged = append(judged, r)
		}
	}
	if len(judged) == 0 {
		fmt.Fprintf(w, "Plinth peak RSS ≤ %.0f MB on %d MiB files: not measured (no such file; --corpus-mb, --ifc-mb).\n", ifcRSSTarget/1e6, ifcRSSTargetMiB)
	} else {
		fat := slices.MaxFunc(judged, func(a, b ifcFileResult) int { return cmp.Compare(a.plinthRSS, b.plinthRSS) })
		fmt.Fprintf(w, "Plinth peak RSS ≤ %.0f MB on %d MiB files: %s (largest %.0f MB, %s).\n", ifcRSSTarget/1e6, ifcRSSTargetMiB, okMark(float64(fat.plinthRSS) <= ifcRSSTarget), float64(fat.plinthRSS)/1e6, fat.file.name)
	}
	for _, s := range synced {
		if s.judged() {
			fmt.Fprintf(w, "First full sync of %s ≤ %.1f s, ≤ %.0f MB: %s (%.2f s, %.0f MB).\n", s.name, ifcSyncTarget.Seconds(), ifcSyncRSSTarget/1e6,
				okMark(s.fullRun <= ifcSyncTarget.Seconds() && float64(s.fullRSS) <= ifcSyncRSSTarget), s.fullRun, float64(s.fullRSS)/1e6)
		}
		fmt.Fprintf(w, "Re-sync of the unchanged %s < 50 ms: %s warm (best of %d: %s), %s on the first call after opening the stores (%s).\n",
			s.name, okMark(s.resyncBest < ifcResyncTarget), ifcRounds, fmtMs(s.resyncBest), okMark(s.resyncFirst < ifcResyncTarget), fmtMs(s.resyncFirst))
	}
}

func fmtMs(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// repoRoot finds the folder holding the IFC samples: the working folder
// or one above it, else the one above the executable (bin/plinth).
func repoRoot(self string) (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	starts = append(starts, filepath.Dir(self))
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, ifcSamplesFolder, ifcWarmupSample)); err == nil {
				return dir, nil
			}
			up := filepath.Dir(dir)
			if up == dir {
				break
			}
			dir = up
		}
	}
	return "", fmt.Errorf("%s not found: run bench ifc in the repository", ifcSamplesFolder)
}

// generateIFC writes a file of about size bytes replicating sample.
func generateIFC(sample, out string, size int64) error {
	b, err := os.ReadFile(sample)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := ifcgen.Generate(f, b, size, ifcSeed); err != nil {
		f.Close()
		return fmt.Errorf("generate %s: %w", filepath.Base(out), err)
	}
	return f.Close()
}

// webIFCReady tells whether node and web-ifc are there, running npm ci
// once in dir when web-ifc is not installed.
func webIFCReady(ctx context.Context, c *cli, dir string) bool {
	w := c.io.Out
	if _, err := exec.LookPath("node"); err != nil {
		fmt.Fprintln(w, "node is not installed (Node 20+ is needed), so the web-ifc columns stay empty.")
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "web-ifc")); err == nil {
		return true
	}
	fmt.Fprintf(w, "web-ifc is not installed: running npm ci in %s…\n", dir)
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if s := strings.TrimSpace(string(out)); s != "" {
		fmt.Fprintln(w, s)
	}
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "web-ifc"))
	}
	if err != nil {
		fmt.Fprintf(w, "npm ci failed (%v), so the web-ifc columns stay empty.\n", err)
		return false
	}
	return true
}

// runWebIFC runs bench.mjs on the warm-up file then on file, in one node
// process, and returns file's line.
func runWebIFC(ctx context.Context, dir, warm, file string) (webIFCLine, error) {
	cmd := exec.CommandContext(ctx, "node", "bench.mjs", warm, file)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	var lines []webIFCLine
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var l webIFCLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.File != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 {
		if runErr == nil {
			runErr = errors.New("no result")
		}
		return webIFCLine{}, fmt.Errorf("%w: %s", runErr, strings.TrimSpace(errb.String()))
	}
	return lines[1], nil
}

// resyncInProcess opens the data folder and times n syncs of the
// connection, only the Sync call, returning the first and the best.
func resyncInProcess(ctx context.Context, dataDir, imodelPath, connName string, n int) (first, best time.Duration, err error) {
	a, err := Open(ctx, Config{DataDir: dataDir, MustExist: true})
	if err != nil {
		return 0, 0, err
	}
	defer a.Close()
	master, err := a.Accounts.ActAs(ctx, account.MasterAdmin)
	if err != nil {
		return 0, 0, err
	}
	m, err := a.IModels.Get(ctx, master, imodelPath)
	if err != nil {
		return 0, 0, err
	}
	conn, err := a.IModels.FindConnection(ctx, master, m.ID, connName)
	if err != nil {
		return 0, 0, err
	}
	for i := range n {
		start := time.Now()
		r, err := a.IModels.Sync(ctx, master, conn.ID, imodel.TriggerManual, nil)
		d := time.Since(start)
		if err != nil {
			return 0, 0, fmt.Errorf("re-sync: %w", err)
		}
		if len(r.Files) != 1 || r.Files[0].State != imodel.StateUnchanged {
			return 0, 0, fmt.Errorf("re-sync of an unchanged file: %+v", r.Files)
		}
		if i == 0 {
			first = d
		}
		if best == 0 || d < best {
			best = d
		}
	}
	return first, best, nil
}
