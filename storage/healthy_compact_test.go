package storage

import (
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"
)

// The hourly health check reads every table of a running store while
// Badger compacts it. Badger empties a table file before it removes it;
// a check that read tables through a memory map then died with SIGBUS
// (the sync-files kill loop met it). The check must go on, and the store
// stay healthy.
func TestHealthyWhileCompacting(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about 200 MB")
	}
	s, err := Open(t.TempDir(), FileServer, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		val := make([]byte, 512)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			err := s.Update(func(tx *Tx) error {
				for j := range 500 {
					_, _ = rand.Read(val[:16])
					if err := tx.Set([]byte(fmt.Sprintf("k/%08d", (i*500+j)%400000)), val); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
		}
	})
	checks := 0
	for deadline := time.Now().Add(4 * time.Second); time.Now().Before(deadline); checks++ {
		if err := s.Healthy(); err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("check %d: %v", checks, err)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d health checks while writing", checks)
}
