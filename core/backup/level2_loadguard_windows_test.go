package backup

import "golang.org/x/sys/windows"

// osDiskFull are the errors only Windows gives for a full disk.
var osDiskFull = []error{windows.ERROR_DISK_FULL, windows.ERROR_HANDLE_DISK_FULL}
