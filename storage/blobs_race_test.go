package storage

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// Readers of many packs at once never find their pack closed under them
// when Plinth closes handles to keep few files open (the level-1 kill loop
// met "read pack 119: file already closed" with 4 snapshot workers
// reading from more than 64 packs).
func TestConcurrentReadsOfManyPacks(t *testing.T) {
	b, err := openBlobs(nil, filepath.Join(t.TempDir(), "packs"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var locs []Loc
	for i := range 150 {
		data := []byte(fmt.Sprintf("chunk %d", i))
		loc, err := b.Append(sha256.Sum256(data), data)
		if err != nil {
			t.Fatal(err)
		}
		locs = append(locs, loc)
		b.Seal() // one pack per chunk
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for round := range 40 {
				for i := w; i < len(locs); i += 3 + round%5 {
					got, err := b.Read(locs[i])
					if err != nil {
						errs <- err
						return
					}
					if want := fmt.Sprintf("chunk %d", i); string(got) != want {
						errs <- fmt.Errorf("read %q, want %q", got, want)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
