package filesync

import (
	"context"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/files"
)

// The full synchronization of the file-server issue's target: adopt 10,000
// files the Manager lost and delete 10,000 entries whose content is gone.
func BenchmarkSynchronize10kAdopt10kDelete(b *testing.B) {
	for range b.N {
		b.StopTimer()
		o := newOffice(&testing.T{})
		ctx := context.Background()
		proj, err := o.files.Create(ctx, o.master, files.RootID, "Tower", files.KindProject)
		if err != nil {
			b.Fatal(err)
		}
		if err := o.files.Synthesize(ctx, proj.ID, "gone", 10_000, files.ManagerOnly); err != nil {
			b.Fatal(err)
		}
		if err := o.files.Synthesize(ctx, proj.ID, "lost", 10_000, files.ServerOnly); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		r, err := o.sync.Synchronize(ctx, o.master, nil)
		if err != nil || r.Adopted != 10_000 || r.Deleted != 10_000 {
			b.Fatalf("%+v %v", r, err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/sync")
		b.StopTimer()
		o.close()
	}
}
