// Package datadir says where Plinth keeps its data folder by default on
// each OS, and moves a data folder from where older Plinths kept it to
// there, once, on the first start:
//
//   - Windows: %LOCALAPPDATA%\Plinth, not the roaming profile (stores of
//     many gigabytes must not roam);
//   - macOS: ~/Library/Application Support/Plinth (where it always was);
//   - Linux and the BSDs: $XDG_DATA_HOME/plinth, ~/.local/share/plinth
//     when XDG_DATA_HOME is unset or not an absolute path.
//
// Older Plinths kept it in the per-user configuration folder
// (os.UserConfigDir, "Plinth" inside it): on Linux ~/.config/Plinth, on
// Windows %AppData%\Plinth, which roams.
package datadir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
)

// Name is the data folder's name on Windows and macOS; Linux and the BSDs
// name it in lower case, as the XDG folders are.
const Name = "Plinth"

// Default returns the data folder Plinth uses when neither -data nor
// PLINTH_DATA names one. When the OS does not say where the user's
// folders are (no HOME, no LOCALAPPDATA), it is a folder of the working
// directory, as before.
func Default() string { return defaultFor(runtime.GOOS, os.Getenv) }

// defaultFor is Default for an OS and an environment, so that every OS's
// rule can be tested on any OS. getenv looks up an environment variable.
func defaultFor(goos string, getenv func(string) string) string {
	switch goos {
	case "windows":
		base := getenv("LOCALAPPDATA")
		if base == "" {
			// What LOCALAPPDATA is on every Windows since Vista.
			if home := getenv("USERPROFILE"); home != "" {
				base = join(goos, home, "AppData", "Local")
			}
		}
		if base == "" {
			return Name
		}
		return join(goos, base, Name)
	case "darwin", "ios":
		home := getenv("HOME")
		if home == "" {
			return Name
		}
		return join(goos, home, "Library", "Application Support", Name)
	}
	name := strings.ToLower(Name)
	// The XDG spec: a relative path in XDG_DATA_HOME is invalid and is
	// ignored.
	if d := getenv("XDG_DATA_HOME"); d != "" && path.IsAbs(d) {
		return join(goos, d, name)
	}
	if home := getenv("HOME"); home != "" {
		return join(goos, home, ".local", "share", name)
	}
	return name
}

// join is filepath.Join for goos: the OS's own when it is the one
// running, Windows' separator otherwise (tests).
func join(goos string, elem ...string) string {
	if goos == runtime.GOOS {
		return filepath.Join(elem...)
	}
	if goos != "windows" {
		return path.Join(elem...)
	}
	for i, e := range elem {
		elem[i] = strings.TrimRight(e, `\/`)
	}
	return strings.Join(elem, `\`)
}

// Old returns the data folder older Plinths used by default: "Plinth" in
// os.UserConfigDir. It is "" when the OS does not say where that is (they
// then used a folder of the working directory, which is not moved).
func Old() string {
	base, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(base, Name)
}

// osName names the running OS for the sentence that says where the data
// folder went.
func osName(goos string) string {
	switch goos {
	case "windows":
		return "Windows"
	case "darwin", "ios":
		return "macOS"
	case "linux", "android":
		return "Linux"
	case "freebsd":
		return "FreeBSD"
	case "openbsd":
		return "OpenBSD"
	case "netbsd":
		return "NetBSD"
	case "dragonfly":
		return "DragonFly BSD"
	}
	return "this system"
}

// Sentinel errors of MoveOld; each comes as one sentence naming the
// folders and what to do.
var (
	// ErrBothHaveData means the old and the new data folder both hold
	// Plinth data: which one is wanted only the admin knows.
	ErrBothHaveData = errors.New("both the old and the new data folder hold Plinth data")
	// ErrNewNotEmpty means the new data folder holds files that are not
	// Plinth's: a data folder is moved only into a missing or empty one.
	ErrNewNotEmpty = errors.New("the new data folder holds other files")
	// ErrOldInUse means another Plinth holds the old data folder.
	ErrOldInUse = errors.New("another Plinth is using the old data folder")
)

// refusal is a refusal to move: one sentence, and its sentinel.
type refusal struct {
	msg string
	is  error
}

func (e *refusal) Error() string        { return e.msg }
func (e *refusal) Is(target error) bool { return target == e.is }

func bothHaveData(from, to string) error {
	return &refusal{fmt.Sprintf("Plinth found data in both its old data folder %s and its new one %s, and left both untouched: "+
		"move away or remove the one you no longer need (Plinth uses %s from now on), or start Plinth with -data %s to keep using the old one",
		from, to, to, from), ErrBothHaveData}
}

func newNotEmpty(from, to string) error {
	return &refusal{fmt.Sprintf("Plinth would move its data folder from %s to %s, but %s already holds other files and Plinth does not mix them with its data: "+
		"move those files away, or start Plinth with -data %s to keep using the old folder",
		from, to, to, from), ErrNewNotEmpty}
}

func oldInUse(from, to string) error {
	return &refusal{fmt.Sprintf("another Plinth is running with the data folder %s, which this Plinth would move to %s: quit that Plinth and start this one again",
		from, to), ErrOldInUse}
}

// MoveOld moves the data folder from where older Plinths kept it (Old) to
// where this one keeps it (Default), once, and returns the sentence that
// says so; "" when there was nothing to move. Call it at start, before
// the data folder is opened, and only when neither -data nor PLINTH_DATA
// names a folder: the old folder is the old default, nothing else.
//
// Nothing is moved when the old folder holds no Plinth data (no store,
// no format.json), or is the new one (macOS). A refusal leaves both
// folders as they were, and is one sentence naming both and what to do:
// the new folder holds Plinth data too (ErrBothHaveData) or other files
// (ErrNewNotEmpty), or another Plinth holds the old one (ErrOldInUse;
// the new folder is looked at only once the old one is held, so this
// comes first).
//
// A refusal, like any other error, is meant to stop Plinth: starting on
// the new folder would set up an empty Plinth there, and an admin would
// find no users and no projects while the data sits unused in the old
// folder; and the next start would find data in both places. Telling
// them, with the two folders named, costs one restart.
//
// The move is a rename when both folders are on one disk. Across disks
// the folder is copied into a hidden folder beside the new one (every
// file written atomically, with its permission and time, sizes checked,
// fsynced), which is then renamed into place, and only then is the old
// folder removed; a failure on the way removes the copy and leaves the
// old folder whole. announce, when not nil, is told in one sentence
// before such a copy starts (it can take minutes).
func MoveOld(ctx context.Context, announce func(msg string)) (string, error) {
	from, to := Old(), Default()
	if from == "" || from == to || !filepath.IsAbs(to) {
		return "", nil
	}
	m := &mover{fs: osFS, announce: announce, where: osName(runtime.GOOS)}
	return m.move(ctx, from, to)
}

// Rebase returns where a path that lay in the data folder from lies once
// the folder moved to to: the same place inside to, and true. A path
// outside from is returned as it is, with false. Settings that hold an
// absolute path into the data folder (a backup target chosen as
// <data>/backups/full, say) go through it after a move.
func Rebase(p, from, to string) (string, bool) {
	rel, err := filepath.Rel(filepath.Clean(from), filepath.Clean(p))
	if err != nil || !filepath.IsAbs(p) || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return p, false
	}
	return filepath.Join(to, rel), true
}
