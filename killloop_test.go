package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"codeberg.org/plinth/plinth/core/backup/target/s3test"
	"codeberg.org/plinth/plinth/core/ifc/ifcgen"
)

// The kill loops start the real binary on a long operation, SIGKILL it at
// a random moment and then check, through the next start, what a user
// relies on: the two stores agree, every backup that remains verifies,
// and every file that is listed exports byte for byte as it went in.
//
// `make test` runs a few rounds of each; `make stress` sets
// PLINTH_KILL_ROUNDS=200. The moment of each kill is drawn from the
// operation's own duration, measured as the loop goes, so that most
// kills land while the work is under way; every loop logs how many did
// (docs/RELIABILITY.md keeps the numbers).

// killRounds is how many kills a loop makes.
func killRounds(short int) int {
	if v, err := strconv.Atoi(os.Getenv("PLINTH_KILL_ROUNDS")); err == nil && v > 0 {
		return v
	}
	return short
}

// killEnv is one data folder under a kill loop.
type killEnv struct {
	t     *testing.T
	dir   string
	env   []string
	guess time.Duration
	// Per operation (its first word): how long it takes as last seen,
	// kills that landed while it ran, runs that finished before their kill.
	est       map[string]time.Duration
	mid, done map[string]int
	// known is every content ever put in, by SHA-256: exported bytes
	// must be one of them.
	known map[[32]byte]bool
}

func newKillEnv(t *testing.T, guess time.Duration) *killEnv {
	k := &killEnv{t: t, dir: filepath.Join(t.TempDir(), "data"), env: []string{"PLINTH_PASSWORD=master password"},
		guess: guess, est: map[string]time.Duration{}, mid: map[string]int{}, done: map[string]int{}, known: map[[32]byte]bool{}}
	k.run("init")
	return k
}

// run runs a command to its end and fails the test unless it exits 0.
func (k *killEnv) run(args ...string) proc {
	k.t.Helper()
	p := plinth(k.t, k.env, "", append([]string{"-data", k.dir}, args...)...)
	if p.code != 0 {
		k.t.Fatalf("plinth %s: exit %d: %s%s", strings.Join(args, " "), p.code, p.stderr, p.out)
	}
	return p
}

// try runs a command to its end, whatever its exit.
func (k *killEnv) try(args ...string) proc {
	k.t.Helper()
	return plinth(k.t, k.env, "", append([]string{"-data", k.dir}, args...)...)
}

// kill starts the command and kills it with SIGKILL after a random part
// of the operation's duration. It reports whether the kill landed while
// the process ran.
func (k *killEnv) kill(args ...string) bool {
	k.t.Helper()
	cmd := exec.Command(binary, append([]string{"-data", k.dir}, args...)...)
	cmd.Env = append(os.Environ(), k.env...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	op := args[0]
	est, ok := k.est[op]
	if !ok {
		est = k.guess
	}
	exited := make(chan time.Duration, 1)
	go func() { _ = cmd.Wait(); exited <- time.Since(start) }()
	delay := time.Duration(mrand.Int64N(int64(est)*11/10 + 1))
	select {
	case took := <-exited:
		// It finished first: it takes about that long.
		k.est[op] = (est + took) / 2
		k.done[op]++
		return false
	case <-time.After(delay):
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	took := <-exited
	if cmd.ProcessState != nil && cmd.ProcessState.Exited() {
		k.est[op] = (est + took) / 2
		k.done[op]++
		return false
	}
	k.est[op] = max(est, took*11/10) // it would have taken longer
	k.mid[op]++
	return true
}

// put writes n files of random content under src/rel and remembers them.
func (k *killEnv) put(src, rel string, n, minSize, maxSize int) map[string][32]byte {
	k.t.Helper()
	out := map[string][32]byte{}
	for i := range n {
		b := make([]byte, minSize+mrand.IntN(maxSize-minSize+1))
		_, _ = rand.Read(b)
		name := filepath.Join(rel, fmt.Sprintf("d%d", i%3), fmt.Sprintf("file-%03d.bin", i))
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			k.t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			k.t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		k.known[sum] = true
		out[filepath.ToSlash(name)] = sum
	}
	return out
}

// consistent fails unless the stores agree.
func (k *killEnv) consistent(what string) {
	k.t.Helper()
	var c struct{ Consistent bool }
	p := k.run("check", "--json")
	if json.Unmarshal([]byte(p.out), &c) != nil || !c.Consistent {
		k.t.Fatalf("%s: the stores disagree: %s", what, p.out)
	}
}

// backupIDs lists every backup, both levels.
func (k *killEnv) backupIDs() []string {
	k.t.Helper()
	var out []string
	for _, b := range k.backups() {
		out = append(out, b.ID)
	}
	return out
}

type backupRow struct {
	ID, Parent string
	Level      int
}

func (k *killEnv) backups() []backupRow {
	k.t.Helper()
	var l struct{ Backups []backupRow }
	if err := json.Unmarshal([]byte(k.run("backups", "--json").out), &l); err != nil {
		k.t.Fatal(err)
	}
	return l.Backups
}

// verifyAll fails unless every backup verifies. Verifying an incremental
// reads and checks every file of the backups it continues, so each chain
// is verified through its newest backup.
func (k *killEnv) verifyAll(what string) { k.verifySome(what, 0) }

// verifySome verifies the newest backup and n-1 others drawn at random
// (all of them when n is 0), for loops that keep many snapshots.
func (k *killEnv) verifySome(what string, n int) {
	k.t.Helper()
	all := k.backups()
	continued := map[string]bool{}
	for _, b := range all {
		continued[b.Parent] = true
	}
	var heads []backupRow
	for _, b := range all {
		if !continued[b.ID] {
			heads = append(heads, b)
		}
	}
	sort.Slice(heads, func(i, j int) bool { return heads[i].ID > heads[j].ID })
	if n > 0 && len(heads) > n {
		rest := heads[1:]
		mrand.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		heads = heads[:n]
	}
	for _, b := range heads {
		if p := k.try("verify", b.ID); p.code != 0 {
			k.t.Fatalf("%s: backup %s no longer verifies: %s", what, b.ID, p.stderr)
		}
	}
}

// exported exports a folder and returns its files, path → SHA-256,
// checking that each holds bytes that were put in.
func (k *killEnv) exported(what, folder string) map[string][32]byte {
	k.t.Helper()
	tmp, err := os.MkdirTemp("", "plinth-export-")
	if err != nil {
		k.t.Fatal(err)
	}
	defer os.RemoveAll(tmp) // 200 rounds of exports would fill the disk
	out := filepath.Join(tmp, "x")
	k.run("export", folder, out)
	got := map[string][32]byte{}
	_ = filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			k.t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(out, p)
		if !k.known[sum] {
			k.t.Fatalf("%s: %s holds bytes that were never put in", what, rel)
		}
		got[filepath.ToSlash(rel)] = sum
		return nil
	})
	return got
}

// report logs, per operation, how many kills landed while it ran, and
// fails a long loop whose kills mostly came too late to test anything.
func (k *killEnv) report() {
	ops := make([]string, 0, len(k.est))
	for op := range k.est {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		mid, done := k.mid[op], k.done[op]
		k.t.Logf("%s: %d kills landed mid-way, %d runs finished before their kill (about %v a run)", op, mid, done, k.est[op].Round(time.Millisecond))
		if mid+done >= 20 && mid*4 < mid+done {
			k.t.Errorf("%s: only %d of %d kills landed mid-way; the loop tests too little", op, mid, mid+done)
		}
	}
}

// Imports and deletions: after each kill the stores agree and every file
// listed exports byte-identical.
func TestKillLoopImport(t *testing.T) {
	k := newKillEnv(t, 400*time.Millisecond)
	src := t.TempDir()
	want := k.put(src, "set", 40, 1000, 20000)
	for i, extra := range k.put(src, "set/big", 4, 3<<20, 9<<20) {
		want[i] = extra
	}
	rounds := killRounds(4)
	for round := range rounds {
		args := []string{"import", "--to", fmt.Sprintf("/run%d", round), filepath.Join(src, "set")}
		if round%3 == 2 {
			args = []string{"rm", fmt.Sprintf("/run%d", round-1)}
		}
		k.kill(args...)
		k.consistent(fmt.Sprintf("round %d (%s)", round, args[0]))
	}
	for rel, sum := range k.exported("after the loop", "/") {
		// runN/set/…
		parts := strings.SplitN(rel, "/", 2)
		if len(parts) != 2 || want[parts[1]] != sum {
			t.Errorf("%s: exported bytes differ from what was imported", rel)
		}
	}
	k.report()
}

// Imports of many small files (3,000), committed in groups: after each kill the
// stores agree, and what the killed import left is whole files and no
// holes — the files listed are the first ones in the order the import
// reads them (folders and names sorted), each byte-identical, because a
// group is committed whole or not at all and groups commit in order.
func TestKillLoopImportSmallFiles(t *testing.T) {
	k := newKillEnv(t, 400*time.Millisecond)
	src := t.TempDir()
	want := k.put(src, "office", 3000, 100, 3000)
	order := make([]string, 0, len(want))
	for rel := range want {
		order = append(order, strings.TrimPrefix(rel, "office/"))
	}
	sort.Strings(order)
	rounds := killRounds(4)
	for round := range rounds {
		run := fmt.Sprintf("/run%d", round)
		k.run("mkdir", run)
		k.kill("import", "--to", run, filepath.Join(src, "office"))
		what := fmt.Sprintf("round %d", round)
		k.consistent(what)
		got := k.exported(what, run)
		for i, rel := range order {
			sum, ok := got["office/"+rel]
			if ok && sum != want["office/"+rel] {
				t.Fatalf("%s: %s exports other bytes than were imported", what, rel)
			}
			if !ok && len(got) > i {
				t.Fatalf("%s: %d files are listed but %s, number %d in import order, is not: a group was committed in part", what, len(got), rel, i+1)
			}
		}
		t.Logf("%s: %d of %d files listed", what, len(got), len(order))
	}
	k.report()
}

// Full file synchronization: drift is made by restoring the File Server
// alone from an earlier backup; each round kills sync-files, and the next
// start resumes it. The end state must equal that of an uninterrupted
// run on a copy of the same data folder.
func TestKillLoopSyncFiles(t *testing.T) {
	k := newKillEnv(t, 600*time.Millisecond)
	src := t.TempDir()
	k.put(src, "base", 8, 1000, 200000)
	k.run("import", "--to", "/keep", filepath.Join(src, "base"))
	rounds := killRounds(2)
	for round := range rounds {
		// Drift both ways: /gone-N is in the backup but removed from the
		// Manager (adopted back), /new-N is in the Manager but not in the
		// restored File Server (its entries are deleted).
		k.put(src, fmt.Sprintf("gone%d", round), 120, 100, 20000)
		k.put(src, fmt.Sprintf("new%d", round), 120, 100, 20000)
		k.run("import", "--to", fmt.Sprintf("/gone-%d", round), filepath.Join(src, fmt.Sprintf("gone%d", round)))
		var b struct{ ID string }
		jsonOf(t, k.run("backup", "--level", "2", "--json"), &b)
		k.run("rm", fmt.Sprintf("/gone-%d", round))
		k.run("import", "--to", fmt.Sprintf("/new-%d", round), filepath.Join(src, fmt.Sprintf("new%d", round)))
		k.run("restore", b.ID, "--scope", "fileserver", "--yes")
		// The admin removes the safety copy the restore kept: 200 of them
		// would fill the disk.
		if err := os.RemoveAll(filepath.Join(k.dir, "safety")); err != nil {
			t.Fatal(err)
		}

		// What an uninterrupted run gives, on a copy.
		ref := filepath.Join(t.TempDir(), "ref")
		if out, err := exec.Command("cp", "-a", k.dir, ref).CombinedOutput(); err != nil {
			t.Fatalf("copy: %v %s", err, out)
		}
		refEnv := &killEnv{t: t, dir: ref, env: k.env, known: k.known}
		refEnv.run("sync-files", "--yes")
		want := normalizeSynched(refEnv.exported("reference run", "/"))
		if err := os.RemoveAll(ref); err != nil {
			t.Fatal(err)
		}

		k.kill("sync-files", "--yes")
		// The next start resumes a sync that had begun; one that had not
		// begun leaves the drift, and a new run removes it.
		var c struct{ Consistent bool }
		jsonOf(t, k.run("check", "--json"), &c)
		if !c.Consistent {
			k.run("sync-files", "--yes")
		}
		k.consistent(fmt.Sprintf("round %d", round))
		got := normalizeSynched(k.exported(fmt.Sprintf("round %d", round), "/"))
		if !sameFiles(got, want) {
			t.Fatalf("round %d: after the kill and resume the files differ from an uninterrupted run:\n got %v\nwant %v", round, keys(got), keys(want))
		}
		if round%4 == 3 {
			k.run("prune")
		}
	}
	k.verifyAll("after the loop")
	k.report()
}

var synchedFolder = regexp.MustCompile(`Synched from File Server \([0-9-]+ [0-9-]+\)`)

// normalizeSynched removes the time from the adopted folders' names.
func normalizeSynched(m map[string][32]byte) map[string][32]byte {
	out := map[string][32]byte{}
	for p, s := range m {
		out[synchedFolder.ReplaceAllString(p, "Synched from File Server (…)")] = s
	}
	return out
}

func sameFiles(a, b map[string][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for p, s := range a {
		if b[p] != s {
			return false
		}
	}
	return true
}

func keys(m map[string][32]byte) []string {
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Level-1 snapshots of a project that changes between rounds: after each
// kill every snapshot verifies, and the newest restores byte for byte.
func TestKillLoopSnapshot(t *testing.T) {
	k := newKillEnv(t, 500*time.Millisecond)
	src := t.TempDir()
	k.put(src, "p", 6, 100000, 3<<20)
	k.run("mkdir", "/P", "--kind", "project")
	k.run("import", "--to", "/P", filepath.Join(src, "p"))
	rounds := killRounds(4)
	for round := range rounds {
		k.put(src, fmt.Sprintf("r%d", round), 4, 2<<20, 8<<20)
		k.run("import", "--to", "/P", filepath.Join(src, fmt.Sprintf("r%d", round)))
		k.kill("backup", "--level", "1", "--item", "/P")
		k.consistent(fmt.Sprintf("round %d", round))
		if round%25 == 24 {
			k.verifyAll(fmt.Sprintf("round %d", round))
		} else {
			k.verifySome(fmt.Sprintf("round %d", round), 3)
		}
		if round%5 == 4 {
			k.run("prune")
		}
	}
	k.verifyAll("after the loop")
	// The newest snapshot, taken whole, restores as a new project equal
	// to /P.
	k.run("backup", "--level", "1", "--item", "/P")
	var l struct {
		Backups []struct {
			ID    string
			Level int
		}
	}
	jsonOf(t, k.run("backups", "--json"), &l)
	newest := ""
	for _, b := range l.Backups {
		if b.Level == 1 && b.ID > newest {
			newest = b.ID
		}
	}
	k.run("restore", newest, "--as-new", "Restored", "--yes")
	if a, b := k.exported("live", "/P"), k.exported("restored", "/Restored"); !sameFiles(a, b) {
		t.Fatalf("the newest snapshot restores different files:\n got %v\nwant %v", keys(b), keys(a))
	}
	k.report()
}

// Snapshot import: a killed import leaves either the whole new project or
// nothing, never half of it.
func TestKillLoopSnapshotImport(t *testing.T) {
	k := newKillEnv(t, 500*time.Millisecond)
	src := t.TempDir()
	k.put(src, "p", 10, 100000, 4<<20)
	k.run("mkdir", "/P", "--kind", "project")
	k.run("import", "--to", "/P", filepath.Join(src, "p"))
	var s struct{ ID string }
	jsonOf(t, k.run("backup", "--level", "1", "--item", "/P", "--json"), &s)
	archive := filepath.Join(t.TempDir(), "p.tar")
	k.run("snapshot-export", s.ID, archive)
	want := k.exported("source", "/P")
	rounds := killRounds(4)
	for round := range rounds {
		name := fmt.Sprintf("Copy%d", round)
		k.kill("snapshot-import", archive, "--as", name)
		k.consistent(fmt.Sprintf("round %d", round))
		var ls struct{ Entries []struct{ Name string } }
		jsonOf(t, k.run("ls", "/", "--json"), &ls)
		for _, e := range ls.Entries {
			if e.Name != name {
				continue
			}
			if got := k.exported(name, "/"+name); !sameFiles(got, want) {
				t.Fatalf("round %d: the killed import left %s with %d of %d files", round, name, len(got), len(want))
			}
		}
	}
	// How many kills cut a project off while it was being filled: the
	// next start removed it and said so.
	t.Logf("%d half-filled projects removed at the next start", k.told("was interrupted when Plinth stopped; nothing of it was kept"))
	k.report()
}

// told counts masteradmin's notifications whose text holds phrase.
func (k *killEnv) told(phrase string) int {
	k.t.Helper()
	var l struct{ Notifications []struct{ Text string } }
	jsonOf(k.t, k.run("notifications", "--json"), &l)
	n := 0
	for _, e := range l.Notifications {
		if strings.Contains(e.Text, phrase) {
			n++
		}
	}
	return n
}

// Rollbacks in place: a project goes back and forth between two
// snapshots that differ in every file (changed, added and removed ones);
// after each kill and the next start it holds exactly one of the two
// states, never a mix, and the stores agree.
func TestKillLoopRollback(t *testing.T) {
	k := newKillEnv(t, time.Second)
	// State A, then state B: most files of a/d0 and a/d1 changed, a/d2
	// gone, b added. Many files, so that most of a rollback's time goes
	// into changing them.
	srcA, srcB := t.TempDir(), t.TempDir()
	k.put(srcA, "a", 40, 20000, 600000)
	k.run("mkdir", "/P", "--kind", "project")
	k.run("import", "--to", "/P", filepath.Join(srcA, "a"))
	snapshot := func() string {
		var s struct{ ID string }
		jsonOf(t, k.run("backup", "--level", "1", "--item", "/P", "--json"), &s)
		return s.ID
	}
	ids := []string{snapshot()}
	want := []map[string][32]byte{k.exported("state A", "/P")}
	k.put(srcB, "a", 27, 20000, 600000)
	k.put(srcB, "b", 12, 20000, 600000)
	k.run("import", "--to", "/P", filepath.Join(srcB, "a"))
	k.run("import", "--to", "/P", filepath.Join(srcB, "b"))
	k.run("rm", "/P/a/d2")
	ids = append(ids, snapshot())
	want = append(want, k.exported("state B", "/P"))
	if sameFiles(want[0], want[1]) {
		t.Fatal("the two states should differ")
	}
	cur := 1
	moved := 0
	rounds := killRounds(4)
	for round := range rounds {
		next := 1 - cur
		k.kill("restore", ids[next], "--yes")
		what := fmt.Sprintf("round %d", round)
		k.consistent(what)
		switch got := k.exported(what, "/P"); {
		case sameFiles(got, want[next]):
			cur = next
			moved++
		case sameFiles(got, want[cur]):
		default:
			t.Fatalf("%s: after the kill /P holds a mix of the two states: %d files, %d and %d in the states", what, len(got), len(want[0]), len(want[1]))
		}
		if round%5 == 4 {
			k.run("prune")
			k.verifySome(what, 3)
		}
	}
	k.verifySome("after the loop", 3)
	t.Logf("%d of %d rollbacks took effect; the next start finished %d that a kill cut off part-way and put back %d", moved, rounds,
		k.told("it was finished when Plinth started again"), k.told("was put back as it was before"))
	k.report()
}

// SIGKILL during full backups, prunes and restores: every backup that
// remains verifies, and the live stores agree and hold whole files only.
func TestKillLoopBackupPruneRestore(t *testing.T) {
	k := newKillEnv(t, 600*time.Millisecond)
	src := t.TempDir()
	k.put(src, "a", 12, 2<<20, 5<<20)
	k.run("import", "--to", "/a", filepath.Join(src, "a"))
	k.run("backup", "--level", "2")
	rounds := killRounds(2)
	for round := range 3 * rounds {
		var args []string
		switch round % 3 {
		case 0:
			// Change something so the backup has work, then back up.
			k.put(src, fmt.Sprintf("r%d", round), 3, 1<<20, 3<<20)
			k.run("import", "--to", fmt.Sprintf("/r%d", round), filepath.Join(src, fmt.Sprintf("r%d", round)))
			args = []string{"backup", "--level", "2"}
		case 1:
			args = []string{"prune"}
		case 2:
			all := k.backupIDs()
			args = []string{"restore", all[mrand.IntN(len(all))], "--scope", "all", "--yes"}
		}
		k.kill(args...)
		what := fmt.Sprintf("round %d (%s killed)", round, args[0])
		k.verifyAll(what)
		k.consistent(what)
		// The admin removes the safety copies restores kept.
		if err := os.RemoveAll(filepath.Join(k.dir, "safety")); err != nil {
			t.Fatal(err)
		}
	}
	k.exported("after the loop", "/")
	k.report()
}

// SIGKILL during connection syncs that replace every element of a
// design file: after each kill the iModel holds exactly one of the two
// versions (never a mix), the cut-off run shows as interrupted, and the
// next sync brings the current version in whole.
func TestKillLoopConnectionSync(t *testing.T) {
	sample, err := os.ReadFile(filepath.Join("testdata", "ifc", "samples", "example.ifc"))
	if err != nil {
		t.Fatal(err)
	}
	// Two versions with different GlobalIds and sizes: every sync from one
	// to the other deletes all elements and inserts as many new ones.
	versions := make([][]byte, 2)
	for i, mb := range []int64{12, 16} {
		var b bytes.Buffer
		if _, err := ifcgen.Generate(&b, sample, mb<<20, int64(i+1)); err != nil {
			t.Fatal(err)
		}
		versions[i] = b.Bytes()
	}
	k := newKillEnv(t, 700*time.Millisecond)
	src := t.TempDir()
	type stats struct {
		Elements int
		ByType   map[string]int
	}
	statsNow := func() stats {
		t.Helper()
		var s stats
		jsonOf(t, k.run("imodel", "stats", "/P/M", "--json"), &s)
		return s
	}
	put := func(v int) {
		if err := os.WriteFile(filepath.Join(src, "model.ifc"), versions[v], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put(0)
	k.run("mkdir", "/P", "--kind", "project")
	k.run("imodel", "create", "/P", "M")
	k.run("connection", "add", "/P/M", "C", "--source", src, "--map", "model.ifc")
	// The state each version gives, from uninterrupted syncs.
	want := make([]stats, 2)
	for _, v := range []int{0, 1} {
		put(v)
		k.run("connection", "sync", "/P/M", "C")
		want[v] = statsNow()
	}
	if want[0].Elements == want[1].Elements || want[0].Elements == 0 {
		t.Fatalf("the two versions should differ: %+v", want)
	}
	same := func(a, b stats) bool { return a.Elements == b.Elements && fmt.Sprint(a.ByType) == fmt.Sprint(b.ByType) }
	cur, interrupted := 1, 0
	rounds := killRounds(3)
	for round := range rounds {
		next := 1 - cur
		put(next)
		k.kill("connection", "sync", "/P/M", "C")

		// The next start recovers: one version whole, never a mix.
		got := statsNow()
		switch {
		case same(got, want[next]):
			cur = next
		case same(got, want[cur]):
		default:
			t.Fatalf("round %d: after SIGKILL the iModel holds a mix: %+v, want %+v or %+v", round, got, want[cur], want[next])
		}
		var runs struct {
			Runs []struct{ State, Result string }
		}
		jsonOf(t, k.run("connection", "runs", "/P/M", "C", "--json"), &runs)
		if len(runs.Runs) == 0 {
			t.Fatal("no runs listed")
		}
		last := runs.Runs[0]
		if last.State == "running" {
			t.Fatalf("round %d: the killed run still shows as running", round)
		}
		if last.State == "interrupted" {
			interrupted++
		}
		// And the next sync finishes the job.
		k.run("connection", "sync", "/P/M", "C")
		if got := statsNow(); !same(got, want[next]) {
			t.Fatalf("round %d: after the next sync %+v, want %+v", round, got, want[next])
		}
		cur = next
	}
	t.Logf("%d rounds, %d runs cut off mid-way and shown as interrupted", rounds, interrupted)
	k.report()
}

// SIGKILL while a full backup streams straight into a bucket, while a
// copy of a local backup goes up, and while a restore reads from the
// bucket (versitygw on 127.0.0.1): after each kill the stores agree,
// every backup whose manifest is in the bucket verifies there, none is
// half listed, and the next copy finishes what a killed one began.
func TestKillLoopS3BackupAndCopy(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket("offsite", false)
	k := newKillEnv(t, 800*time.Millisecond)
	k.env = append(k.env, "PLINTH_NEW_BACKUP_PASSPHRASE=kill loop passphrase", "PLINTH_BACKUP_PASSPHRASE=kill loop passphrase",
		"PLINTH_S3_SECRET="+s3test.Secret)
	k.run("backup", "passphrase")
	k.run("target", "add", "offsite", "--s3", srv.Endpoint, "--bucket", "offsite", "--prefix", "plinth", "--access-key", s3test.Access)
	src := t.TempDir()
	k.put(src, "a", 10, 2<<20, 5<<20)
	k.run("import", "--to", "/a", filepath.Join(src, "a"))
	k.run("backup", "--level", "2", "--target", "offsite")
	inBucket := func() []string {
		var ids []string
		for o := range srv.Client().ListObjects(context.Background(), "offsite", minio.ListObjectsOptions{Prefix: "plinth/", Recursive: true}) {
			if id, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, "plinth/"), "/manifest.json"); ok && !strings.Contains(id, "/") {
				ids = append(ids, id)
			}
		}
		return ids
	}
	rounds := killRounds(2)
	for round := range 3 * rounds {
		var args []string
		switch round % 3 {
		case 0:
			k.put(src, fmt.Sprintf("r%d", round), 3, 1<<20, 3<<20)
			k.run("import", "--to", fmt.Sprintf("/r%d", round), filepath.Join(src, fmt.Sprintf("r%d", round)))
			args = []string{"backup", "--level", "2", "--target", "offsite"}
		case 1:
			k.put(src, fmt.Sprintf("r%d", round), 3, 1<<20, 3<<20)
			k.run("import", "--to", fmt.Sprintf("/r%d", round), filepath.Join(src, fmt.Sprintf("r%d", round)))
			var b struct{ ID string }
			_ = json.Unmarshal([]byte(k.run("backup", "--level", "2", "--target", "folder", "--json").out), &b)
			args = []string{"backup", "copy", b.ID, "--to", "offsite"}
		case 2:
			ids := inBucket()
			args = []string{"restore", ids[mrand.IntN(len(ids))], "--scope", "all", "--yes"}
		}
		k.kill(args...)
		what := fmt.Sprintf("round %d (%s killed)", round, strings.Join(args[:2], " "))
		// The newest in the bucket and two more at random: verifying an
		// incremental reads its whole chain, and 200 rounds must not
		// verify every backup every round.
		ids := inBucket()
		sort.Sort(sort.Reverse(sort.StringSlice(ids)))
		if len(ids) > 3 {
			rest := ids[1:]
			mrand.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
			ids = ids[:3]
		}
		for _, id := range ids {
			if p := k.try("verify", id, "--target", "offsite"); p.code != 0 {
				t.Fatalf("%s: backup %s in the bucket no longer verifies: %s", what, id, p.stderr)
			}
		}
		k.verifySome(what, 3)
		k.consistent(what)
		if err := os.RemoveAll(filepath.Join(k.dir, "safety")); err != nil {
			t.Fatal(err)
		}
	}
	// A copy cut off is finished by the next one, and then verifies.
	var b struct{ ID string }
	_ = json.Unmarshal([]byte(k.run("backup", "--level", "2", "--target", "folder", "--json").out), &b)
	k.kill("backup", "copy", b.ID, "--to", "offsite")
	k.run("backup", "copy", b.ID, "--to", "offsite")
	k.run("verify", b.ID, "--target", "offsite")
	k.exported("after the loop", "/")
	k.report()
}
