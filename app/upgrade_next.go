//go:build plinth_next

package app

import "os"

// In the test build of the synthetic next format, PLINTH_UPGRADE_KILL
// names a point of the upgrade (upgrade.Plan.Points) at which this
// process kills itself, as a power cut or SIGKILL would stop it there.
func init() {
	upgradeHook = func(point string) {
		if os.Getenv("PLINTH_UPGRADE_KILL") != point {
			return
		}
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Kill()
		}
		select {}
	}
}
