//go:build !unix

package wsapi

import (
	"net"
	"syscall"
)

func rawConn(net.Conn) syscall.RawConn { return nil }

type rawWriter struct{}

func newRawWriter() *rawWriter { return &rawWriter{} }

// tryWrite takes nothing where non-blocking writes are not available: every
// turn's bytes then go through the blocking flush (writer.go), correct but
// a goroutine per busy connection.
func (*rawWriter) tryWrite(syscall.RawConn, []byte) (int, error) { return 0, nil }
