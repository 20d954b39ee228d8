package main

import (
	"os"
	"regexp"
	"testing"
)

// plinth bench backup -shape small at a small scale, through the binary:
// one table for the small shape, its full backup marked against issue
// 15's ≤ 0.50 (the other shapes' is ≤ 0.35), the import reported for
// information, and nothing left in the scratch folder. -small-files 0
// with -shape small is bad usage.
func TestBenchBackupSmallShape(t *testing.T) {
	dir := t.TempDir()
	p := plinth(t, nil, "", "bench", "backup", "-shape", "small", "-small-files", "1500", "--dir", dir)
	if p.code != 0 {
		t.Fatalf("plinth bench backup -shape small: exit %d: %s%s", p.code, p.stderr, p.out)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^SMALL: 1500 FILES, [0-9.]+ MIB +PLINTH `),
		regexp.MustCompile(`(?m)^level-2 full backup +[0-9.]+ s +[0-9.]+ s +.*≤ 0\.50`),
		regexp.MustCompile(`(?m)^incremental after 1% change +[0-9.]+ s .*≤ 0\.15`),
		regexp.MustCompile(`(?m)^restore everything +[0-9.]+ s .*≤ 0\.35`),
		regexp.MustCompile(`(?m)^import into Plinth \(before the backups, not compared\) +[0-9.]+ s, CPU [0-9.]+ s, peak RSS `),
		regexp.MustCompile(`(?m)^peak RSS, full backup +[0-9.]+ MiB +< 200 MB +(ok|MISSED)$`),
	} {
		if !want.MatchString(p.out) {
			t.Errorf("the table has no line matching %s:\n%s", want, p.out)
		}
	}
	if regexp.MustCompile(`(?m)^(LARGE|OFFICE):`).MatchString(p.out) {
		t.Errorf("-shape small measured another shape too:\n%s", p.out)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("bench backup left %d entries in its --dir folder", len(left))
	}
	if p = plinth(t, nil, "", "bench", "backup", "-shape", "small", "-small-files", "0", "--dir", dir); p.code != 2 {
		t.Errorf("bench backup -shape small -small-files 0: exit %d, want 2 (bad usage): %s", p.code, p.stderr)
	}
}
