package osservice

import (
	"os"
	"path/filepath"
)

// registeredArgs is the command line the installed service runs: from
// its launch daemon's property list.
func registeredArgs(platform, name string) []string {
	if platform != Launchd {
		return nil
	}
	plist, err := os.ReadFile(filepath.Join("/Library/LaunchDaemons", name+".plist"))
	if err != nil {
		return nil
	}
	args, _ := plistArguments(plist)
	return args
}
