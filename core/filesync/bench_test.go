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
		r, err := o.sync.Synchronize(ctx, o.master, Plan{}, nil)
		if err != nil || r.Adopted != 10_000 || r.Deleted != 10_000 {
			b.Fatalf("%+v %v", r, err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/sync")
		b.StopTimer()
		o.close()
	}
}

func benchOffice(b *testing.B, both, managerOnly int) *office {
	b.Helper()
	o := newOffice(&testing.T{})
	ctx := context.Background()
	dir, err := o.files.Create(ctx, o.master, files.RootID, "big", files.KindFolder)
	if err != nil {
		b.Fatal(err)
	}
	if err := o.files.Synthesize(ctx, dir.ID, "f", both, files.Both); err != nil {
		b.Fatal(err)
	}
	if managerOnly > 0 {
		if err := o.files.Synthesize(ctx, dir.ID, "m", managerOnly, files.ManagerOnly); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(o.close)
	return o
}

// The hourly drift check when nothing drifted: a digest comparison.
// Target: < 10 ms at 100,000 files.
func BenchmarkDetectNoDrift100k(b *testing.B) {
	o := benchOffice(b, 100_000, 0)
	b.ResetTimer()
	for range b.N {
		c, _, err := o.sync.Detect(context.Background(), false)
		if err != nil || !c.Consistent {
			b.Fatal(c, err)
		}
	}
}

// The exact difference of 100,000 listed files against 99,000 on the
// server. Target: < 0.5 s.
func BenchmarkDiff100kVs99k(b *testing.B) {
	o := benchOffice(b, 99_000, 1_000)
	b.ResetTimer()
	for range b.N {
		c, _, err := o.sync.Detect(context.Background(), false)
		if err != nil || c.MissingOnServer != 1_000 {
			b.Fatal(c, err)
		}
	}
}
