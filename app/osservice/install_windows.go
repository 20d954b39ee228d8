package osservice

import (
	"fmt"

	"golang.org/x/sys/windows/svc/mgr"
)

// afterInstall counts a stop with an error as a failure too, not only a
// crash, so that the OnFailure action restarts a service whose serve
// failed (it stops itself with serve's error: see endService).
func afterInstall(name string) error {
	m, err := mgr.Connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("restart service %s after a failure: %w", name, err)
	}
	return nil
}
