//go:build unix

package wsapi

import (
	"net"
	"syscall"
)

// rawConn returns the connection's raw file descriptor access, or nil when
// it has none (a TLS connection, a pipe in a test).
func rawConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// tryWrite makes one non-blocking write(2) of b and returns how much the
// socket took: all of it unless its send buffer is full, and 0 (no error)
// when it took nothing. It never waits, so a writer serving many
// connections is never held up by one, and needs no deadline (no timer).
// The socket is already non-blocking: Go's netpoller made it so.
func tryWrite(rc syscall.RawConn, b []byte) (int, error) {
	if rc == nil {
		return 0, nil
	}
	var n int
	var err error
	cerr := rc.Write(func(fd uintptr) bool {
		for {
			n, err = syscall.Write(int(fd), b)
			if err != syscall.EINTR {
				return true // done, whatever happened: never wait here
			}
		}
	})
	if cerr != nil {
		return 0, cerr
	}
	if err == syscall.EAGAIN {
		return 0, nil
	}
	return max(n, 0), err
}
