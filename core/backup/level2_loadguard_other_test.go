//go:build !windows

package backup

// osDiskFull are the errors only Windows gives for a full disk.
var osDiskFull []error
