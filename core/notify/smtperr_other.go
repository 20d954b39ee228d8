//go:build !windows

package notify

import "syscall"

// The system's error numbers for what can go wrong on a connection.
var (
	errnoRefused     = []error{syscall.ECONNREFUSED}
	errnoUnreachable = []error{syscall.EHOSTUNREACH, syscall.ENETUNREACH}
	errnoTimeout     = []error{syscall.ETIMEDOUT}
	errnoClosed      = []error{syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE}
)
