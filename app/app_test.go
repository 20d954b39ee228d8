package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/schedule"
	"codeberg.org/plinth/plinth/storage/fsys/disktest"
)

// The window's background jobs are on the scheduler, run, and stop with
// Close; Close releases the folder for the next process.
func TestBackgroundJobsAndCloseOrder(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	a, err := Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.StartBackground(nil); err != nil {
		t.Fatal(err)
	}
	jobs := a.Scheduler.Jobs()
	specs := map[string]string{}
	for _, j := range jobs {
		specs[j.Name] = j.Spec
	}
	want := map[string]string{
		"disk.space": "Every hour", "filesync.detect": "Every hour", "files.maintenance": "Daily at 03:30",
		"maintenance.gc.manager": "Every hour", "maintenance.gc.fileserver": "Every hour",
		"backup.level1": "Every 15 minutes", "backup.level2": "Daily at 02:00", "backup.copy": "Every hour", "backup.verify": "Weekly on Sunday at 04:00",
		"backup.level3": "Manually", "imodel.tokens": "Daily at 08:00",
	}
	if fmt.Sprint(specs) != fmt.Sprint(want) {
		t.Fatalf("jobs = %v\nwant   %v", specs, want)
	}
	for _, j := range jobs {
		if j.Spec != "Every hour" {
			continue
		}
		if j.Spec != "Every hour" || time.Until(j.NextRun) < 59*time.Minute || time.Until(j.NextRun) > time.Hour {
			t.Errorf("job %s: spec %q next run in %v", j.Title, j.Spec, time.Until(j.NextRun))
		}
		if err := a.Scheduler.RunNow(ctx, j.Name); err != nil && !errors.Is(err, schedule.ErrBusy) {
			t.Errorf("run %s: %v", j.Title, err)
		}
	}
	if _, err := Open(ctx, Config{DataDir: dir}); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Open while open: %v, want ErrAlreadyRunning", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	defer b.Close()
	for _, j := range b.Scheduler.Jobs() {
		t.Errorf("a fresh Open has job %s before StartBackground", j.Name)
	}
	st, err := b.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Manager.Identity != a.Manager.Identity().ID {
		t.Error("the manager store changed identity across a close and open")
	}
}

func TestInitOnFullDisk(t *testing.T) {
	disk := disktest.Mount(t, "size=2m")
	disktest.Fill(t, disk)
	dir := filepath.Join(disk, "plinth")
	r := run(t, dir, master, "", "init")
	want := "The disk holding folder " + dir + " is full; free some space and try again\n"
	if r.code != 1 || r.err != want {
		t.Fatalf("init on a full disk = %+v, want exit 1 and %q", r, want)
	}
	if strings.Contains(r.err, "panic") || strings.Contains(r.err, "goroutine") {
		t.Fatal("stack trace on a full disk")
	}
}

func TestLowDiskSpaceNotifiesOnce(t *testing.T) {
	a, done := openInit(t)
	defer done()
	ctx := context.Background()
	old := lowDiskBytes
	lowDiskBytes = 1 << 62 // every disk is "low" now
	defer func() { lowDiskBytes = old }()
	for range 2 {
		if err := a.checkDiskSpace(ctx); err != nil {
			t.Fatal(err)
		}
	}
	master, _ := a.Accounts.ActAs(ctx, "masteradmin")
	l, _ := a.Notify.List(ctx, master, false)
	// Everything is on one disk here: one notice naming all four, once.
	if len(l) != 1 || l[0].Text[:len("Low disk space on the disk holding the Manager store, the File Server store, the full backup target and the snapshot target:")] !=
		"Low disk space on the disk holding the Manager store, the File Server store, the full backup target and the snapshot target:" {
		t.Fatalf("notifications: %+v", l)
	}
}

func openInit(t *testing.T) (*App, func()) {
	t.Helper()
	a, err := Open(context.Background(), Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Accounts.Bootstrap(context.Background(), "master password"); err != nil {
		t.Fatal(err)
	}
	return a, func() { _ = a.Close() }
}
