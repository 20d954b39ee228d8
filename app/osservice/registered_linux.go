package osservice

import (
	"os"
	"path/filepath"
)

// registeredArgs is the command line the installed service runs: from
// its systemd unit (kardianos writes system units there).
func registeredArgs(platform, name string) []string {
	if platform != Systemd {
		return nil
	}
	unit, err := os.ReadFile(filepath.Join("/etc/systemd/system", name+".service"))
	if err != nil {
		return nil
	}
	args, _ := unitExecStart(unit)
	return args
}
