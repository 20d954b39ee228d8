package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/storage/fsys/disktest"
)

// dataWithFiles sets up a data folder through the binary: masteradmin, the
// project /Tower with three files, and a full backup. It returns the folder
// and the backup's id.
func dataWithFiles(t *testing.T) (string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	env := []string{"PLINTH_PASSWORD=master password"}
	src := filepath.Join(t.TempDir(), "Data")
	if err := os.MkdirAll(src, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"plan.txt", "section.txt", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(src, n), []byte("the content of "+n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run := mustRun(t, dir, env)
	run("init")
	run("mkdir", "/Tower", "--kind", "project")
	run("import", "--to", "/Tower", src)
	id := regexp.MustCompile(`\d{8}-\d{6}-[0-9a-f]{6}`).FindString(run("backup", "--level", "2").out)
	return dir, id
}

// oneSentence fails the test unless p failed with exit 1 and exactly one
// line on stderr, without a panic or a stack dump.
func oneSentence(t *testing.T, what string, p proc) {
	t.Helper()
	if p.code != 1 || strings.Count(p.stderr, "\n") != 1 || strings.Contains(p.stderr, "panic") ||
		strings.Contains(p.stderr, "goroutine") || strings.Contains(p.stderr, "SIGBUS") {
		t.Fatalf("%s = exit %d, stderr %q; want exit 1 and one sentence", what, p.code, p.stderr)
	}
}

func lastTable(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(m) == 0 {
		t.Fatalf("no table in %s", dir)
	}
	sort.Strings(m)
	return m[len(m)-1]
}

// Damaged stores through the real binary: one sentence, exit 1, the store
// named, the newest backup named, and never "removed in the meantime".
func TestDamagedStoresThroughTheBinary(t *testing.T) {
	base, id := dataWithFiles(t)
	env := []string{"PLINTH_PASSWORD=master password"}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string
	}{
		{"MANIFEST cut to 20 bytes", func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, "manager", "MANIFEST"), 20); err != nil {
				t.Fatal(err)
			}
		}, "The Manager store in DIR/manager is damaged: its MANIFEST file is cut short"},
		{"value-log header garbled", func(t *testing.T, dir string) {
			m, _ := filepath.Glob(filepath.Join(dir, "fileserver", "*.vlog"))
			if err := os.WriteFile(m[0], []byte("garbage garbage garb"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "The File Server store in DIR/fileserver is damaged: its file "},
		{"8 bytes flipped in a Manager table", func(t *testing.T, dir string) {
			f, err := os.OpenFile(lastTable(t, filepath.Join(dir, "manager")), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := f.Stat()
			_, _ = f.WriteAt([]byte{0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef}, fi.Size()/3)
			_ = f.Close()
		}, "The Manager store in DIR/manager is damaged: its table "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if out, err := exec.Command("cp", "-a", base, dir).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v %s", err, out)
			}
			tt.damage(t, dir)
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			for _, args := range [][]string{{"status"}, {"status", "--json"}, {"ls", "/Tower/Data"}, {"init"}} {
				p := plinth(t, env, "", append([]string{"-data", dir}, args...)...)
				oneSentence(t, strings.Join(args, " "), p)
				if !strings.HasPrefix(p.stderr, want) || !strings.Contains(p.stderr, "restore it from a backup: the newest is "+id) ||
					strings.Contains(p.stderr, "removed") || p.out != "" {
					t.Fatalf("plinth %s = %+v\nwant %s…; restore it from a backup: the newest is %s…", strings.Join(args, " "), p, want, id)
				}
			}
		})
	}
}

// With plinth.lock deleted under a running Plinth, a second one is still
// refused, and does not clean up the first one's restore staging folder.
func TestDeletedLockFileThroughTheBinary(t *testing.T) {
	dir, _ := dataWithFiles(t)
	// The first Plinth opens the folder and then waits for its password.
	first := exec.Command(binary, "-data", dir, "-password-stdin", "user", "list")
	first.Env = append(os.Environ(), "LANG=C.UTF-8", "PLINTH_PASSWORD=")
	stdin, err := first.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	first.Stdout, first.Stderr = &out, &out
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = first.Process.Kill(); _ = first.Wait() }()
	lock := filepath.Join(dir, "plinth.lock")
	// It has the folder, and has finished what an open does before its
	// stores are open (an interrupted restore's leftovers go then): Badger
	// has its LOCK file in the Manager's folder only while open. Under a
	// loaded machine the test got in between and the first Plinth swept
	// the staging folder made below.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, opened := os.Stat(filepath.Join(dir, "manager", "LOCK"))
		if b, _ := os.ReadFile(lock); strings.TrimSpace(string(b)) == strconv.Itoa(first.Process.Pid) && opened == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first Plinth did not take the folder: %s", out.String())
		}
	}
	staged := filepath.Join(dir, ".manager.restoring-20261202-144532")
	if err := os.MkdirAll(staged, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(staged, "MANIFEST"), []byte("being restored"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	p := plinth(t, nil, "", "-data", dir, "status")
	oneSentence(t, "second status", p)
	if !strings.HasPrefix(p.stderr, "Plinth is already running with data folder "+dir+", and it did not answer") {
		t.Fatalf("second status = %+v", p)
	}
	if _, err := os.Stat(filepath.Join(staged, "MANIFEST")); err != nil {
		t.Fatalf("the second Plinth removed the running restore's staging folder: %v", err)
	}
	if _, err := io.WriteString(stdin, "master password\n"); err != nil {
		t.Fatal(err)
	}
	_ = stdin.Close()
	if err := first.Wait(); err != nil || !strings.Contains(out.String(), "masteradmin") {
		t.Fatalf("the first Plinth: %v\n%s", err, out.String())
	}
}

// A full disk: read-only commands work, write commands say one sentence
// and exit 1; nothing dies of SIGBUS in Badger's memory-mapped writes.
func TestFullDiskThroughTheBinary(t *testing.T) {
	disk := disktest.Mount(t, "size=30m")
	base, id := dataWithFiles(t)
	dir := filepath.Join(disk, "data")
	if out, err := exec.Command("cp", "-a", base, dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	disktest.Fill(t, disk)
	src := filepath.Join(t.TempDir(), "more")
	_ = os.MkdirAll(src, 0o700)
	_ = os.WriteFile(filepath.Join(src, "new.txt"), []byte("new"), 0o600)
	export := filepath.Join(t.TempDir(), "plan.txt")
	env := []string{"PLINTH_PASSWORD=master password", "PLINTH_NEW_PASSWORD=a new password"}

	for _, tt := range []struct {
		args []string
		out  string
	}{
		{[]string{"status"}, "so Plinth opened its data read-only"},
		{[]string{"ls", "/Tower/Data"}, "plan.txt"},
		{[]string{"export", "/Tower/Data/plan.txt", export}, "Exported 1 file"},
		{[]string{"versions", "/Tower/Data/plan.txt"}, "masteradmin"},
		{[]string{"check"}, "agree"},
		{[]string{"backups"}, id},
		{[]string{"user", "list"}, "masteradmin"},
		{[]string{"notifications"}, "finished"},
	} {
		p := plinth(t, env, "", append([]string{"-data", dir}, tt.args...)...)
		if p.code != 0 || p.stderr != "" || !strings.Contains(p.out, tt.out) {
			t.Fatalf("plinth %s on a full disk = %+v, want exit 0 and %q", strings.Join(tt.args, " "), p, tt.out)
		}
	}
	if b, err := os.ReadFile(export); err != nil || string(b) != "the content of plan.txt" {
		t.Fatalf("exported %q, %v", b, err)
	}
	for _, args := range [][]string{
		{"import", "--to", "/Tower", src},
		{"mkdir", "/Other"},
		{"rm", "/Tower/Data/notes.txt"},
		{"backup", "--level", "2"},
		{"user", "add", "bob", "--role", "none"},
	} {
		p := plinth(t, env, "", append([]string{"-data", dir}, args...)...)
		oneSentence(t, strings.Join(args, " "), p)
		if !strings.Contains(p.stderr, "free") {
			t.Fatalf("plinth %s on a full disk = %+v, want a sentence about free space", strings.Join(args, " "), p)
		}
	}
	// Nothing was changed: the data reads back as before.
	p := plinth(t, env, "", "-data", dir, "ls", "/Tower/Data")
	if p.code != 0 || !strings.Contains(p.out, "notes.txt") || strings.Contains(p.out, "new.txt") {
		t.Fatalf("after the refused writes: %+v", p)
	}
}
