package app

import (
	"context"
	"path/filepath"
	"time"

	"codeberg.org/plinth/plinth/core/health"
)

// HealthReport is the health report as of now, with what only the running
// program knows: which jobs run in this process, and whether Plinth starts
// by itself.
func (a *App) HealthReport(ctx context.Context) (health.Report, error) {
	now := time.Now()
	if a.clock != nil {
		now = a.clock.Now()
	}
	in := health.Inputs{Autostart: a.startsByItself}
	if a.stopBackground != nil { // the scheduler runs here (StartBackground)
		in.Jobs = a.Scheduler.Jobs()
	}
	return a.Health.Report(ctx, now, in)
}

// startsByItself says whether Plinth runs scheduled work while nobody
// opens it: it starts at login with this data folder, or an installed
// Plinth service serves this folder.
func (a *App) startsByItself() (bool, error) {
	on, err := autostartSetting(a.DataDir).Enabled()
	if err != nil || on {
		return on, err
	}
	svc, err := serviceAt(a.DataDir)
	if err != nil {
		return false, nil // no service manager here: only start at login counts
	}
	st, err := state(svc, a.DataDir)
	if err != nil || !st.Installed {
		return false, nil
	}
	return filepath.Clean(st.DataFolder) == filepath.Clean(a.DataDir), nil
}
