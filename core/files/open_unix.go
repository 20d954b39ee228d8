//go:build unix

package files

import (
	"os"
	"syscall"
)

// openSource opens a file to import for reading. os.Open would first try
// to register the file with the network poller, which refuses regular
// files: five system calls for nothing, on every file of an import of
// many small files. A file opened as a descriptor is read directly.
func openSource(path string) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}
