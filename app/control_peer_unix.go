//go:build linux || darwin

package app

import (
	"fmt"
	"net"
	"os"
)

// samePeer refuses a connection from another user: the socket's
// permissions already keep others out; the kernel's word on who
// connected (peerUID, per OS) makes sure.
func samePeer(conn net.Conn) error {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("not a Unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var uid int
	var cerr error
	if err := raw.Control(func(fd uintptr) { uid, cerr = peerUID(int(fd)) }); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("peer credentials: %w", cerr)
	}
	if uid != os.Getuid() {
		return fmt.Errorf("user id %d is not the folder's owner %d", uid, os.Getuid())
	}
	return nil
}
