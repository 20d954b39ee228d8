//go:build unix

package osservice

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// Account is the OS user the service of the data folder dir runs as: the
// folder's owner, so that what the service writes stays that user's and
// the folder's control endpoint answers that user's commands (it refuses
// other users). name, when given, must be that owner.
func Account(dir, name string) (string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("data folder %s: %w", dir, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", fmt.Errorf("data folder %s: its owner cannot be read", dir)
	}
	uid := strconv.FormatUint(uint64(st.Uid), 10)
	owner := uid
	if u, err := user.LookupId(uid); err == nil {
		owner = u.Username
	}
	if name == "" {
		if owner == uid {
			return "", fmt.Errorf("data folder %s belongs to user id %s, which has no user name here; give one with --user", dir, uid)
		}
		return owner, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return "", fmt.Errorf("there is no user %q on this computer", name)
	}
	if u.Uid != uid {
		return "", fmt.Errorf("data folder %s belongs to %s, so the service must run as %s to use it; leave out --user, or make %s the folder's owner first", dir, owner, owner, name)
	}
	return u.Username, nil
}

// IsAdmin says whether this process may register services: it runs as root.
func IsAdmin() bool { return os.Geteuid() == 0 }
