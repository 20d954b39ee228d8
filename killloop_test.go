package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/ifc/ifcgen"
)

// Kill the real binary with SIGKILL at random moments of imports and
// deletions; after each kill the next start must find both stores
// consistent, and every file that is listed must export byte-identical.
// `make test` runs a few rounds; `make stress` sets PLINTH_KILL_ROUNDS=50.
func TestKillLoopKeepsStoresConsistent(t *testing.T) {
	rounds := 4
	if v, err := strconv.Atoi(os.Getenv("PLINTH_KILL_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	dir := filepath.Join(t.TempDir(), "data")
	src := t.TempDir()
	want := map[string][]byte{}
	for i := range 60 {
		size := 1000 + mrand.IntN(20000)
		if i%10 == 0 {
			size = 3<<20 + mrand.IntN(6<<20) // some multi-chunk files
		}
		b := make([]byte, size)
		_, _ = rand.Read(b)
		rel := fmt.Sprintf("set/d%d/file-%02d.bin", i%4, i)
		want["/"+rel] = b
		p := filepath.Join(src, rel)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"PLINTH_PASSWORD=master password"}
	if p := plinth(t, env, "", "-data", dir, "init"); p.code != 0 {
		t.Fatalf("init: %+v", p)
	}
	for round := range rounds {
		// Import into a new folder, or delete an earlier one.
		args := []string{"-data", dir, "import", "--to", fmt.Sprintf("/run%d", round), filepath.Join(src, "set")}
		if round%3 == 2 {
			args = []string{"-data", dir, "rm", fmt.Sprintf("/run%d", round-1)}
		}
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(30+mrand.IntN(700)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()

		// The next start finishes or undoes what was cut off.
		p := plinth(t, env, "", "-data", dir, "check", "--json")
		var c struct {
			Consistent                                   bool
			MissingOnServer, UnknownToManager, Differing int
		}
		if p.code != 0 || json.Unmarshal([]byte(p.out), &c) != nil || !c.Consistent {
			t.Fatalf("round %d (%s): after SIGKILL the stores disagree: %+v %s", round, args[2], c, p.stderr)
		}
	}
	// Whatever is listed reads back exactly as it was imported.
	out := t.TempDir()
	if p := plinth(t, env, "", "-data", dir, "export", "/", out); p.code != 0 {
		t.Fatalf("export: %+v", p)
	}
	checked := 0
	_ = filepath.Walk(filepath.Join(out, "Projects"), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(path, filepath.Join(out, "Projects")))
		// rel is /runN/set-relative path
		parts := strings.SplitN(strings.TrimPrefix(rel, "/"), "/", 2)
		got, _ := os.ReadFile(path)
		if w, ok := want["/"+parts[1]]; !ok || !bytes.Equal(got, w) {
			t.Errorf("%s: exported bytes differ from what was imported", rel)
		}
		checked++
		return nil
	})
	t.Logf("%d rounds, %d files verified byte for byte", rounds, checked)
}

// SIGKILL during backups, prunes and restores: every backup that remains
// verifies, and the live stores agree and hold whole files only.
// Each round kills one of each; `make stress` sets PLINTH_KILL_ROUNDS=50.
func TestKillLoopBackupPruneRestore(t *testing.T) {
	rounds := 2
	if v, err := strconv.Atoi(os.Getenv("PLINTH_KILL_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	dir := filepath.Join(t.TempDir(), "data")
	src := t.TempDir()
	contents := map[string]bool{}
	for i := range 12 {
		b := make([]byte, 2<<20+mrand.IntN(3<<20))
		_, _ = rand.Read(b)
		contents[string(b)] = true
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%02d.bin", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"PLINTH_PASSWORD=master password"}
	run := func(args ...string) proc {
		t.Helper()
		return plinth(t, env, "", append([]string{"-data", dir}, args...)...)
	}
	if p := run("init"); p.code != 0 {
		t.Fatal(p)
	}
	if p := run("import", "--to", "/a", src); p.code != 0 {
		t.Fatal(p)
	}
	if p := run("backup", "--level", "2"); p.code != 0 {
		t.Fatal(p)
	}
	ids := func() []string {
		p := run("backups", "--json")
		var l struct{ Backups []struct{ ID string } }
		_ = json.Unmarshal([]byte(p.out), &l)
		var out []string
		for _, b := range l.Backups {
			out = append(out, b.ID)
		}
		return out
	}
	for round := range 3 * rounds {
		var args []string
		switch round % 3 {
		case 0:
			// Change something so the backup has work, then back up.
			if p := run("import", "--to", fmt.Sprintf("/r%d", round), src); p.code != 0 {
				t.Fatal(p)
			}
			args = []string{"backup", "--level", "2"}
		case 1:
			args = []string{"prune"}
		case 2:
			all := ids()
			args = []string{"restore", all[mrand.IntN(len(all))], "--scope", "all", "--yes"}
		}
		cmd := exec.Command(binary, append([]string{"-data", dir}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+mrand.IntN(600)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()

		for _, id := range ids() {
			if p := run("verify", id); p.code != 0 {
				t.Fatalf("round %d (%s killed): backup %s no longer verifies: %s", round, args[0], id, p.stderr)
			}
		}
		p := run("check", "--json")
		var c struct{ Consistent bool }
		if p.code != 0 || json.Unmarshal([]byte(p.out), &c) != nil || !c.Consistent {
			t.Fatalf("round %d (%s killed): live stores disagree: %s %s", round, args[0], p.out, p.stderr)
		}
	}
	out := t.TempDir()
	if p := run("export", "/", out); p.code != 0 {
		t.Fatalf("export: %+v", p)
	}
	n := 0
	_ = filepath.Walk(out, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		if !contents[string(b)] {
			t.Errorf("%s holds bytes that were never imported", path)
		}
		n++
		return nil
	})
	t.Logf("%d rounds: backup, prune and restore killed %d times each; %d files read back whole", rounds, rounds, n)
}

// SIGKILL during connection syncs that replace every element of a
// design file: after each kill the iModel holds exactly one of the two
// versions (never a mix), the cut-off run shows as interrupted, and the
// next sync brings the current version in whole.
// `make stress` sets PLINTH_KILL_ROUNDS=50.
func TestKillLoopConnectionSync(t *testing.T) {
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("PLINTH_KILL_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
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
	dir := filepath.Join(t.TempDir(), "data")
	src := t.TempDir()
	env := []string{"PLINTH_PASSWORD=master password"}
	run := func(args ...string) proc {
		t.Helper()
		return plinth(t, env, "", append([]string{"-data", dir}, args...)...)
	}
	type stats struct {
		Elements int
		ByType   map[string]int
	}
	statsNow := func() stats {
		t.Helper()
		var s stats
		p := run("imodel", "stats", "/P/M", "--json")
		if p.code != 0 || json.Unmarshal([]byte(p.out), &s) != nil {
			t.Fatalf("imodel stats: %+v", p)
		}
		return s
	}
	put := func(v int) {
		if err := os.WriteFile(filepath.Join(src, "model.ifc"), versions[v], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init"}, {"mkdir", "/P", "--kind", "project"}, {"imodel", "create", "/P", "M"},
		{"connection", "add", "/P/M", "C", "--source", src, "--map", "model.ifc"}} {
		if args[0] == "connection" {
			put(0)
		}
		if p := run(args...); p.code != 0 {
			t.Fatalf("%v: %+v", args, p)
		}
	}
	// The state each version gives, from uninterrupted syncs.
	want := make([]stats, 2)
	for _, v := range []int{0, 1} {
		put(v)
		if p := run("connection", "sync", "/P/M", "C"); p.code != 0 {
			t.Fatalf("sync: %+v", p)
		}
		want[v] = statsNow()
	}
	if want[0].Elements == want[1].Elements || want[0].Elements == 0 {
		t.Fatalf("the two versions should differ: %+v", want)
	}
	same := func(a, b stats) bool { return a.Elements == b.Elements && fmt.Sprint(a.ByType) == fmt.Sprint(b.ByType) }
	cur, interrupted := 1, 0
	for round := range rounds {
		next := 1 - cur
		put(next)
		cmd := exec.Command(binary, "-data", dir, "connection", "sync", "/P/M", "C")
		cmd.Env = append(os.Environ(), env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(40+mrand.IntN(600)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()

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
		if p := run("connection", "runs", "/P/M", "C", "--json"); p.code != 0 || json.Unmarshal([]byte(p.out), &runs) != nil || len(runs.Runs) == 0 {
			t.Fatalf("connection runs: %+v", p)
		}
		last := runs.Runs[0]
		if last.State == "running" {
			t.Fatalf("round %d: the killed run still shows as running", round)
		}
		if last.State == "interrupted" {
			interrupted++
		}
		// And the next sync finishes the job.
		if p := run("connection", "sync", "/P/M", "C"); p.code != 0 {
			t.Fatalf("round %d: sync after the kill: %+v", round, p)
		}
		if got := statsNow(); !same(got, want[next]) {
			t.Fatalf("round %d: after the next sync %+v, want %+v", round, got, want[next])
		}
		cur = next
	}
	t.Logf("%d rounds, %d runs cut off mid-way and shown as interrupted", rounds, interrupted)
}
