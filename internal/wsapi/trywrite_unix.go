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

// rawWriter makes non-blocking writes. Its write function is bound once
// (a closure per call would cost three allocations per frame).
type rawWriter struct {
	b     []byte
	n     int
	err   error
	write func(fd uintptr) bool
}

func newRawWriter() *rawWriter {
	w := &rawWriter{}
	w.write = w.do
	return w
}

func (w *rawWriter) do(fd uintptr) bool {
	for {
		w.n, w.err = syscall.Write(int(fd), w.b)
		if w.err != syscall.EINTR {
			return true // done, whatever happened: never wait here
		}
	}
}

// tryWrite makes one non-blocking write(2) of b and returns how much the
// socket took: all of it unless its send buffer is full, and 0 (no error)
// when it took nothing. It never waits, so a writer serving many
// connections is never held up by one, and needs no deadline (no timer).
// The socket is already non-blocking: Go's netpoller made it so.
func (w *rawWriter) tryWrite(rc syscall.RawConn, b []byte) (int, error) {
	if rc == nil {
		return 0, nil
	}
	w.b = b
	cerr := rc.Write(w.write)
	w.b = nil
	if cerr != nil {
		return 0, cerr
	}
	if w.err == syscall.EAGAIN {
		return 0, nil
	}
	return max(w.n, 0), w.err
}
