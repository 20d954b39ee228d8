package autostart

import (
	"errors"
	"io/fs"
	"path/filepath"

	"codeberg.org/plinth/plinth/storage/fsys"
)

// filePlace keeps the entry in one file: the XDG desktop entry or the
// launch agent. The file is written through fsys (temp, fsync, rename)
// and its folder made when missing.
type filePlace struct {
	path    string
	dirPerm fs.FileMode // the folder's permission when it has to be made
	perm    fs.FileMode
	render  func(argv []string) ([]byte, error)
	parse   func(data []byte) (*found, error)
}

// maxEntry is the largest entry file read back; ours are a few hundred
// bytes.
const maxEntry = 64 << 10

func (p filePlace) where() string { return p.path }

func (p filePlace) read() (*found, error) {
	data, err := fsys.ReadFileLimit(fsys.OS, p.path, maxEntry)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		if errors.Is(err, fsys.ErrTooLarge) {
			return nil, badEntry{err}
		}
		return nil, err
	}
	f, err := p.parse(data)
	if err != nil {
		return nil, badEntry{err}
	}
	return f, nil
}

func (p filePlace) write(argv []string) error {
	data, err := p.render(argv)
	if err != nil {
		return err
	}
	if err := fsys.OS.MkdirAll(filepath.Dir(p.path), p.dirPerm); err != nil {
		return err
	}
	return fsys.WriteFile(fsys.OS, p.path, data, fsys.Options{Perm: p.perm})
}

func (p filePlace) remove() error {
	err := fsys.OS.Remove(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return fsys.OS.SyncDir(filepath.Dir(p.path))
}

// xdgPlace is the autostart entry of Linux and the BSDs:
// $XDG_CONFIG_HOME/autostart/org.plinth.console.desktop, ~/.config when
// XDG_CONFIG_HOME is unset or not absolute (XDG Base Directory spec).
func xdgPlace(getenv func(string) string) (filePlace, error) {
	base := getenv("XDG_CONFIG_HOME")
	if base == "" || !filepath.IsAbs(base) {
		home := getenv("HOME")
		if home == "" {
			return filePlace{}, errors.New("neither XDG_CONFIG_HOME nor HOME is set, so there is no autostart folder")
		}
		base = filepath.Join(home, ".config")
	}
	return filePlace{
		path:    filepath.Join(base, "autostart", ID+".desktop"),
		dirPerm: 0o700, // the Base Directory spec's permission for folders it makes
		perm:    0o644,
		render:  DesktopEntry,
		parse:   parseDesktop,
	}, nil
}

// launchAgentPlace is the macOS launch agent:
// ~/Library/LaunchAgents/org.plinth.console.plist.
func launchAgentPlace(getenv func(string) string) (filePlace, error) {
	home := getenv("HOME")
	if home == "" {
		return filePlace{}, errors.New("HOME is not set, so there is no LaunchAgents folder")
	}
	return filePlace{
		path:    filepath.Join(home, "Library", "LaunchAgents", ID+".plist"),
		dirPerm: 0o755,
		perm:    0o644, // launchd refuses agents that others may write
		render:  LaunchAgent,
		parse:   parseLaunchAgent,
	}, nil
}
