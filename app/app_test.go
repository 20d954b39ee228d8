package app

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/schedule"
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
	if len(jobs) != 5 {
		t.Fatalf("jobs = %+v, want the disk check, drift check, file maintenance and the two value-log GC jobs", jobs)
	}
	for _, j := range jobs {
		if j.Name == "files.maintenance" {
			if j.Spec != "Daily at 03:30" {
				t.Errorf("file maintenance runs %q", j.Spec)
			}
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
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	disk := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", disk).Run() })
	f, err := os.Create(filepath.Join(disk, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for buf := make([]byte, 64<<10); ; {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	_ = f.Close()
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
	// Manager, File Server and backup target, each told once.
	if len(l) != 3 || !strings.HasPrefix(l[0].Text, "Low disk space for ") {
		t.Fatalf("notifications: %+v", l)
	}
}
