package app

import (
	"os"
	"runtime/debug"
	"sync"
)

// baseMemoryLimit is the soft limit on the Go heap unless GOMEMLIMIT says
// otherwise: the collector works harder near it instead of letting garbage
// (Badger's 32 MB stream buffers, compression windows) pile up, so backups
// stay well under 200 MB of memory on the office server. Work that must
// hold more — a large design file being synchronized — reserves it first
// and the limit rises by that much while it runs.
const baseMemoryLimit = 160 << 20

var memLimit struct {
	sync.Mutex
	on    bool
	extra int64
}

// SetMemoryLimit applies the soft memory limit; main calls it first.
func SetMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	memLimit.Lock()
	defer memLimit.Unlock()
	memLimit.on = true
	debug.SetMemoryLimit(baseMemoryLimit + memLimit.extra)
}

// reserveMemory raises the soft limit by n bytes until release is called.
func reserveMemory(n int64) (release func()) {
	memLimit.Lock()
	defer memLimit.Unlock()
	memLimit.extra += n
	if memLimit.on {
		debug.SetMemoryLimit(baseMemoryLimit + memLimit.extra)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			memLimit.Lock()
			defer memLimit.Unlock()
			memLimit.extra -= n
			if memLimit.on {
				debug.SetMemoryLimit(baseMemoryLimit + memLimit.extra)
			}
		})
	}
}
