//go:build unix

package datadir

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A Plinth of today locks the folder itself (package app's lockDir); the
// lock belongs to an open file, so the test holds it through one of its
// own.
func TestMoveRefusesLockedFolder(t *testing.T) {
	from, to := folders(t)
	fakeData(t, from, "old")
	before := tree(t, from)
	d, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	msg, err := plainMover().move(context.Background(), from, to)
	if !errors.Is(err, ErrOldInUse) || msg != "" {
		t.Fatalf("move = %q, %v; want ErrOldInUse", msg, err)
	}
	sameTree(t, "old folder", tree(t, from), before)
	absent(t, to)
	absent(t, filepath.Dir(to))

	// Across disks too: the folder is locked before the copy starts.
	m, _ := crossDisk(to)
	m.announce = func(msg string) { t.Errorf("announced %q", msg) }
	if _, err := m.move(context.Background(), from, to); !errors.Is(err, ErrOldInUse) {
		t.Fatalf("move across disks = %v; want ErrOldInUse", err)
	}
	sameTree(t, "old folder", tree(t, from), before)
}

// An old data folder that is a link to a folder elsewhere (a larger
// disk): the new one links there too, with an absolute target, and the
// data stays where it is, on one disk or across two.
func TestMoveLinkedFolder(t *testing.T) {
	for _, across := range []bool{false, true} {
		from, to := folders(t)
		real := filepath.Join(filepath.Dir(filepath.Dir(from)), "big disk", "plinth data")
		fakeData(t, real, "old")
		before := tree(t, real)
		if err := os.MkdirAll(filepath.Dir(from), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..", "big disk", "plinth data"), from); err != nil {
			t.Fatal(err)
		}
		m := plainMover()
		if across {
			m, _ = crossDisk(to)
		}
		msg, err := m.move(context.Background(), from, to)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(msg, "It is a link to "+real+", as the old one was.") {
			t.Errorf("move = %q, want it to say the link", msg)
		}
		absent(t, from)
		if got, err := os.Readlink(to); err != nil || got != real {
			t.Errorf("new folder links to %q, %v; want %q", got, err, real)
		}
		sameTree(t, "linked folder", tree(t, real), before)
	}
}

// A control endpoint left by a Plinth that died is not copied (a socket
// cannot be), and is no reason to refuse.
func TestMoveAcrossDisksLeavesSocket(t *testing.T) {
	from, to := folders(t)
	fakeData(t, from, "old")
	before := tree(t, from)
	ln, err := net.Listen("unix", filepath.Join(from, "plinth.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = ln.Close()
	m, _ := crossDisk(to)
	if _, err := m.move(context.Background(), from, to); err != nil {
		t.Fatal(err)
	}
	absent(t, from)
	absent(t, filepath.Join(to, "plinth.sock"))
	sameTree(t, "copied folder", tree(t, to), before)
}
