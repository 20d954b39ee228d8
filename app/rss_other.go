//go:build !unix

package app

import "os/exec"

// maxRSS is not measured on this system.
func maxRSS() int64 { return 0 }

// childRSS is not measured on this system.
func childRSS(*exec.Cmd) int64 { return 0 }
