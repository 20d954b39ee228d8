//go:build !windows && !darwin

package autostart

import "os"

func system() (place, error) { return xdgPlace(os.Getenv) }
