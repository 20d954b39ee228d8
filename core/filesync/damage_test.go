package filesync

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/storage"
)

// tablesOffice is an office whose stores hold their files in tables on
// disk (a close flushes the memtables): 2,000 files on both sides and 10
// the File Server lacks, so the digests differ.
func tablesOffice(t *testing.T) *office {
	t.Helper()
	o := newOffice(t)
	ctx := context.Background()
	dir, err := o.files.Create(ctx, o.master, files.RootID, "big", files.KindFolder)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.files.Synthesize(ctx, dir.ID, "f", 2_000, files.Both); err != nil {
		t.Fatal(err)
	}
	if err := o.files.Synthesize(ctx, dir.ID, "m", 10, files.ManagerOnly); err != nil {
		t.Fatal(err)
	}
	o.close()
	o.open()
	return o
}

// damageTables overwrites 8 bytes in the middle of every table of a store,
// as a failing disk would under a running Plinth.
func damageTables(t *testing.T, dir string) {
	t.Helper()
	ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(ssts) == 0 {
		t.Fatalf("no tables in %s", dir)
	}
	for _, path := range ssts {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		_, err = f.WriteAt([]byte{0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef}, fi.Size()/2)
		_ = f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// When the digests differ, Detect reads every table of both stores before
// it lists the difference: Badger skips a block that fails its checksum
// while scanning, so without that check a damaged File Server would show
// as files missing on it (and a synchronization planned from it would
// delete their entries).
func TestDetectRefusesDamagedStoreBeforeDiff(t *testing.T) {
	o := tablesOffice(t)
	ctx := context.Background()
	if c, _, err := o.sync.Detect(ctx, false); err != nil || c.MissingOnServer != 10 || c.UnknownToManager != 0 || c.Differing != 0 {
		t.Fatalf("Detect before the damage = %+v, %v; want 10 missing on the File Server", c, err)
	}
	damageTables(t, filepath.Join(o.dir, "fileserver"))
	c, d, err := o.sync.Detect(ctx, false)
	if !errors.Is(err, storage.ErrDamaged) {
		t.Fatalf("Detect with damaged File Server tables = %+v (%d missing listed), %v; want ErrDamaged", c, len(d.MissingOnServer), err)
	}
	if _, err := o.sync.Plan(ctx, o.master); !errors.Is(err, storage.ErrDamaged) {
		t.Fatalf("Plan with damaged File Server tables = %v, want ErrDamaged", err)
	}
}

// Agreeing digests answer without the check of every table (the drift
// check costs O(1) at any size: here, a MANIFEST garbled on disk, which
// only that check reads while the store is open, goes unseen), and a
// store that check found damaged is refused from then on.
func TestDetectAgreeingDigestsSkipTheTableCheck(t *testing.T) {
	o := tablesOffice(t)
	ctx := context.Background()
	if _, err := o.sync.Synchronize(ctx, o.master, Plan{}, nil); err != nil {
		t.Fatal(err)
	}
	if c, _, err := o.sync.Detect(ctx, false); err != nil || !c.Consistent {
		t.Fatalf("Detect on agreeing stores = %+v, %v", c, err)
	}
	manifest := filepath.Join(o.dir, "manager", "MANIFEST")
	f, err := os.OpenFile(manifest, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt([]byte("not a manifest"), 0)
	_ = f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if c, _, err := o.sync.Detect(ctx, false); err != nil || !c.Consistent {
		t.Fatalf("Detect on agreeing stores = %+v, %v; want them to agree without the table check", c, err)
	}
	if err := o.files.Healthy(); !errors.Is(err, storage.ErrDamaged) {
		t.Fatalf("Healthy with a garbled Manager MANIFEST = %v, want ErrDamaged", err)
	}
	if _, _, err := o.sync.Detect(ctx, false); !errors.Is(err, storage.ErrDamaged) {
		t.Fatalf("Detect after Healthy found the Manager damaged = %v, want ErrDamaged", err)
	}
}
