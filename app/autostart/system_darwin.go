package autostart

import "os"

func system() (place, error) { return launchAgentPlace(os.Getenv) }
