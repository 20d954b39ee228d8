package notify

import "golang.org/x/sys/windows"

// Winsock's error numbers for what can go wrong on a connection (syscall's
// ECONNREFUSED and friends are not what Windows returns).
var (
	errnoRefused     = []error{windows.WSAECONNREFUSED}
	errnoUnreachable = []error{windows.WSAEHOSTUNREACH, windows.WSAENETUNREACH}
	errnoTimeout     = []error{windows.WSAETIMEDOUT}
	errnoClosed      = []error{windows.WSAECONNRESET, windows.WSAECONNABORTED, windows.WSAESHUTDOWN}
)
