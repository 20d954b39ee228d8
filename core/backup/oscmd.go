package backup

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/notify"
)

// Preset is a ready-made OS snapshot command the admin can start from.
type Preset struct {
	Name    string
	OS      string // "windows", "darwin", "linux", "any"
	Command string
	Args    []string
}

// Presets are the level-3 commands offered in the window.
var Presets = []Preset{
	{"Windows: Volume Shadow Copy of C:", "windows", "vssadmin", []string{"create", "shadow", "/for=C:"}},
	{"Windows: shadow copy with WMIC", "windows", "wmic", []string{"shadowcopy", "call", "create", "Volume=C:\\"}},
	{"Hyper-V: checkpoint of this VM", "windows", "powershell", []string{"-NoProfile", "-Command", "Checkpoint-VM -Name PlinthServer -SnapshotName \"Plinth $(Get-Date -Format s)\""}},
	{"macOS: local Time Machine snapshot", "darwin", "tmutil", []string{"localsnapshot"}},
	{"Linux: LVM snapshot", "linux", "lvcreate", []string{"--snapshot", "--size", "10G", "--name", "plinth-snap", "/dev/vg0/data"}},
	{"VirtualBox: snapshot of a VM", "any", "VBoxManage", []string{"snapshot", "PlinthServer", "take", "plinth"}},
}

// outputLimit is how much of a command's output is kept: the last 64 KB.
const outputLimit = 64 << 10

// tail keeps the last outputLimit bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - outputLimit; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// OSSnapshot runs the level-3 command once, with its timeout, and keeps
// its exit status and the last 64 KB of its output in the history. A
// failure notifies the Server Administrators. It needs every permission on
// the Servers page.
func (s *Service) OSSnapshot(ctx context.Context, actor account.Actor) (Record, error) {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.All); err != nil {
		return Record{}, err
	}
	c, err := s.Level3()
	if err != nil {
		return Record{}, err
	}
	if c.Command == "" {
		return Record{}, errors.New("no OS snapshot command is set up (Backups › Level 3)")
	}
	end, err := s.begin(3)
	if err != nil {
		return Record{}, err
	}
	defer end()
	start := s.now()
	rec := Record{ID: newID(start), Level: 3, Type: TypeOS, Started: start.UTC(), Item: c.Command}
	run, cancel := context.WithTimeout(ctx, time.Duration(c.TimeoutSeconds)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(run, c.Command, c.Args...)
	out := &tail{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	rec.Finished = s.now().UTC()
	rec.Output = out.String()
	var exit *exec.ExitError
	switch {
	case err == nil:
		rec.OK = true
	case errors.Is(run.Err(), context.DeadlineExceeded):
		rec.ExitCode = -1
		err = fmt.Errorf("the snapshot command did not finish within %d seconds and was stopped", c.TimeoutSeconds)
	case errors.As(err, &exit):
		rec.ExitCode = exit.ExitCode()
		err = fmt.Errorf("the snapshot command %s failed with exit status %d%s", c.Command, rec.ExitCode, lastLine(rec.Output))
	default:
		rec.ExitCode = -1
		err = fmt.Errorf("the snapshot command %s could not start: %w", c.Command, err)
	}
	if err != nil {
		rec.Error = err.Error()
		s.tell(ctx, notify.SnapshotFailed, notify.Error, rec.Error+".")
	}
	s.record(rec)
	return rec, err
}

func lastLine(out string) string {
	out = strings.TrimSpace(out)
	if out == "" {
		return ""
	}
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	if len(out) > 200 {
		out = out[:200] + "…"
	}
	return ": " + out
}
