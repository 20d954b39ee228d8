package app

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The small-file shape of bench files: 1,000 files to a folder, 200 B to
// 8 KiB each, half compressible text and half random, the same bytes for
// the same count; 50,000 files make the 50 folders.
func TestGenSmallFilesShape(t *testing.T) {
	if got := smallFolders(50_000); got != 50 {
		t.Errorf("50,000 files go into %d folders, want 50", got)
	}
	const n = 2_500
	dir := filepath.Join(t.TempDir(), "small")
	total, err := genSmallFiles(dir, n)
	if err != nil {
		t.Fatal(err)
	}
	folders, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantPer := []int{1000, 1000, 500}
	if len(folders) != smallFolders(n) || len(folders) != len(wantPer) {
		t.Fatalf("%d folders, want %d", len(folders), len(wantPer))
	}
	var sum int64
	files, text := 0, 0
	digest := sha256.New()
	for i, f := range folders {
		ents, err := os.ReadDir(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != wantPer[i] {
			t.Errorf("%s holds %d files, want %d", f.Name(), len(ents), wantPer[i])
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, f.Name(), e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if len(b) < smallMin || len(b) > smallMax {
				t.Errorf("%s is %d bytes, want %d to %d", e.Name(), len(b), smallMin, smallMax)
			}
			if strings.HasSuffix(e.Name(), ".ifc") {
				text++
				if bytes.ContainsFunc(b, func(r rune) bool { return r < '\n' || r > '~' }) {
					t.Errorf("%s is not text", e.Name())
				}
			}
			sum += int64(len(b))
			files++
			digest.Write(b)
		}
	}
	if files != n || text != n/2 {
		t.Errorf("%d files of which %d text, want %d and %d", files, text, n, n/2)
	}
	if sum != total {
		t.Errorf("genSmallFiles said %d bytes, the files hold %d", total, sum)
	}
	// 50,000 files of this mix are about 198 MB (4.1 KB on average).
	if mean := sum / int64(n); mean < 3_900 || mean > 4_400 {
		t.Errorf("files average %d bytes, want about 4,100", mean)
	}
	// The same count gives the same files.
	again := filepath.Join(t.TempDir(), "again")
	if _, err := genSmallFiles(again, n); err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(filepath.Join(dir, "folder-02", "sheet-02499.pdf"))
	b2, err := os.ReadFile(filepath.Join(again, "folder-02", "sheet-02499.pdf"))
	if err != nil || !bytes.Equal(b1, b2) {
		t.Errorf("two runs wrote different files (%v)", err)
	}
}

// The rows a user reads: the peer, restic or why it is missing, the
// import, and the ratio marked against ≤ 5.0.
func TestSmallRows(t *testing.T) {
	for _, c := range []struct {
		name   string
		r      smallResult
		want   []string
		missed bool
	}{
		{"within", smallResult{files: 50_000, folders: 50, bytes: 198 << 20, cp: 2 * time.Second, imp: 8 * time.Second, restic: 5 * time.Second, importRSS: 200 << 20},
			[]string{"cp -r + sync of 50,000 small files (50 folders, 198 MiB)|2.00 s (25,000 files/s)|peer|ok",
				"restic backup of the same folder|5.00 s (10,000 files/s), 2.5 × cp|for information|ok",
				"import of the same files (own process)|8.00 s (6,250 files/s), peak RSS 200 MB||ok",
				"import of 50,000 small files / cp -r|4.00|≤ 5.0|ok"}, false},
		{"missed, no restic", smallResult{files: 600, folders: 1, bytes: 2 << 20, cp: time.Second, imp: 6 * time.Second},
			[]string{"restic backup of the same folder|restic is not installed|for information|ok",
				"import of 600 small files / cp -r|6.00|≤ 5.0|MISSED"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			smallRows(c.r, func(what, result, target string, ok bool) {
				mark := "ok"
				if !ok {
					mark = "MISSED"
				}
				got = append(got, strings.Join([]string{what, result, target, mark}, "|"))
			})
			all := strings.Join(got, "\n")
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("rows lack %q:\n%s", w, all)
				}
			}
			if strings.Contains(all, "MISSED") != c.missed {
				t.Errorf("rows:\n%s\nwant MISSED: %v", all, c.missed)
			}
		})
	}
}
