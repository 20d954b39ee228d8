package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// plinth bench files at a small scale, through the binary: the table has
// the small-file rows as a user reads them (the cp -r peer, restic or why
// not, the import run as its own process, the ratio marked against
// ≤ 5.0), and the scratch folder is gone afterwards.
func TestBenchFilesSmallFiles(t *testing.T) {
	dir := t.TempDir()
	p := plinth(t, nil, "", "bench", "files", "--size-mib", "2", "--entries", "1000", "--sync", "100", "--small-files", "1200", "--dir", dir)
	if p.code != 0 {
		t.Fatalf("plinth bench files: exit %d: %s%s", p.code, p.stderr, p.out)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^cp -r \+ sync of 1,200 small files \(2 folders, [0-9.]+ MiB\) +[0-9.]+ s \([0-9,]+ files/s\) +peer +ok$`),
		regexp.MustCompile(`(?m)^restic backup of the same folder +([0-9.]+ s \([0-9,]+ files/s\), [0-9.]+ × cp|restic is not installed) +for information +ok$`),
		regexp.MustCompile(`(?m)^import of the same files \(own process\) +[0-9.]+ s \([0-9,]+ files/s\), peak RSS [0-9]+ MB +ok$`),
		regexp.MustCompile(`(?m)^import of 1,200 small files / cp -r +[0-9.]+ +≤ 5\.0 +(ok|MISSED)$`),
		regexp.MustCompile(`(?m)^drift check, 1000 files, no drift `),
	} {
		if !want.MatchString(p.out) {
			t.Errorf("the table has no line matching %s:\n%s", want, p.out)
		}
	}
	if strings.Count(p.out, "small files") != 2 {
		t.Errorf("the small-file shape is named %d times, want 2:\n%s", strings.Count(p.out, "small files"), p.out)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("bench files left %d entries in its --dir folder", len(left))
	}
	// --small-files 0 leaves the rows out; a negative count is bad usage.
	p = plinth(t, nil, "", "bench", "files", "--size-mib", "1", "--entries", "100", "--sync", "10", "--small-files", "0", "--dir", dir)
	if p.code != 0 || strings.Contains(p.out, "small files") {
		t.Errorf("bench files --small-files 0: exit %d:\n%s%s", p.code, p.out, p.stderr)
	}
	if p = plinth(t, nil, "", "bench", "files", "--small-files", "-1", "--dir", dir); p.code != 2 {
		t.Errorf("bench files --small-files -1: exit %d, want 2 (bad usage): %s", p.code, p.stderr)
	}
}
