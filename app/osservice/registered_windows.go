package osservice

import (
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/mgr"

	"codeberg.org/plinth/plinth/app/autostart"
)

// registeredArgs is the command line the installed service runs: its
// binary path in the service manager, read with the rights any user has.
func registeredArgs(_, name string) []string {
	h, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT)
	if err != nil {
		return nil
	}
	m := &mgr.Mgr{Handle: h}
	defer m.Disconnect()
	sh, err := windows.OpenService(h, windows.StringToUTF16Ptr(name), windows.SERVICE_QUERY_CONFIG)
	if err != nil {
		return nil
	}
	s := &mgr.Service{Handle: sh, Name: name}
	defer s.Close()
	cfg, err := s.Config()
	if err != nil {
		return nil
	}
	args, _ := autostart.SplitWindowsCommandLine(cfg.BinaryPathName)
	return args
}
