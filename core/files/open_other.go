//go:build !unix

package files

import "os"

// openSource opens a file to import for reading.
func openSource(path string) (*os.File, error) { return os.Open(path) }
