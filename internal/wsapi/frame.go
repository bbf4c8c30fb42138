package wsapi

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// The server side of RFC 6455, written for this package rather than taken
// from coder/websocket, which the package used before (it is still the
// clients' library in the tests). The library's per-connection costs were
// what kept Tape from its targets: a goroutine wake-up, a write-deadline
// timer and writes through net/http's 4 KB bufio.Writer per frame, and
// 15 KB of bufio buffers plus a second goroutine kept by every idle
// connection. Here frames are built in a writer's scratch buffer and
// written to the socket with one non-blocking syscall (writer.go); an idle
// connection holds one goroutine blocked in a 2-byte read and no buffer.
// tape-loadgen measured it against the library version in one run
// (scripts/bench.sh -b <commit before>, 2 shared cores, 1,000 clients in a
// separate process): idle memory per connection at 10,000 connections
// 48.8 -> 14.2 KB, server CPU per million single-message deliveries at
// 200k/s 3.40 -> 2.31 s (5.46 -> 2.62 in another run; what remains is
// mostly the write syscall itself), saturated fan-out 3.3 -> 4.7-6.8 M
// deliveries/s. Only what Alpaca's clients use is implemented: no
// extensions (permessage-deflate is declined, as the handshake allows) and
// no subprotocols.

// Frame opcodes.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// closeCode is a websocket close code.
type closeCode int

// The close codes the server sends.
const (
	closeNormal          closeCode = 1000
	closeGoingAway       closeCode = 1001
	closeProtocolError   closeCode = 1002
	closePolicyViolation closeCode = 1008
	closeMessageTooBig   closeCode = 1009
	closeInternalError   closeCode = 1011
)

// maxHeader is the longest server frame header (no mask).
const maxHeader = 10

// appendHeader appends the header of a final, unmasked frame of n bytes.
func appendHeader(dst []byte, op byte, n int) []byte {
	switch {
	case n < 126:
		return append(dst, 0x80|op, byte(n))
	case n < 1<<16:
		return append(dst, 0x80|op, 126, byte(n>>8), byte(n))
	}
	dst = append(dst, 0x80|op, 127)
	return binary.BigEndian.AppendUint64(dst, uint64(n))
}

// appendFrame appends a whole frame.
func appendFrame(dst []byte, op byte, payload []byte) []byte {
	return append(appendHeader(dst, op, len(payload)), payload...)
}

// appendClose appends a close frame; the reason is cut to fit a control
// frame's 125 bytes.
func appendClose(dst []byte, code closeCode, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	dst = appendHeader(dst, opClose, 2+len(reason))
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...)
}

// frameHeader is a client frame's header.
type frameHeader struct {
	fin  bool
	op   byte
	n    int64
	mask [4]byte
}

// errProtocol is a violation of RFC 6455 by the client (close 1002).
var errProtocol = errors.New("wsapi: websocket protocol error")

// readHeader reads a client frame header from r into scratch (14 bytes,
// the caller's, so that an idle connection waits in a 2-byte read without
// a buffer of its own) and validates it: clients must mask, no extension
// is negotiated, control frames are short and whole.
func readHeader(r io.Reader, scratch *[14]byte) (frameHeader, error) {
	b := scratch[:]
	if _, err := io.ReadFull(r, b[:2]); err != nil {
		return frameHeader{}, err
	}
	h := frameHeader{fin: b[0]&0x80 != 0, op: b[0] & 0x0f}
	if b[0]&0x70 != 0 {
		return h, fmt.Errorf("%w: reserved bits set", errProtocol)
	}
	if b[1]&0x80 == 0 {
		return h, fmt.Errorf("%w: unmasked client frame", errProtocol)
	}
	n := int64(b[1] & 0x7f)
	ext := 0
	switch n {
	case 126:
		ext = 2
	case 127:
		ext = 8
	}
	if _, err := io.ReadFull(r, b[2:2+ext+4]); err != nil {
		return h, err
	}
	switch ext {
	case 2:
		n = int64(binary.BigEndian.Uint16(b[2:4]))
	case 8:
		u := binary.BigEndian.Uint64(b[2:10])
		if u > 1<<62 {
			return h, fmt.Errorf("%w: frame length %d", errProtocol, u)
		}
		n = int64(u)
	}
	h.n = n
	copy(h.mask[:], b[2+ext:])
	switch h.op {
	case opContinuation, opText, opBinary:
	case opClose, opPing, opPong:
		if !h.fin || n > 125 {
			return h, fmt.Errorf("%w: fragmented or long control frame", errProtocol)
		}
	default:
		return h, fmt.Errorf("%w: opcode %d", errProtocol, h.op)
	}
	return h, nil
}

// unmask XORs p with the mask, p being the frame's payload from its first
// byte.
func unmask(p []byte, mask [4]byte) {
	for i := range p {
		p[i] ^= mask[i&3]
	}
}

// websocketGUID is RFC 6455's magic for Sec-WebSocket-Accept.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// checkUpgrade validates a websocket upgrade request and returns the
// HTTP status and message to refuse it with (0 when it is acceptable).
// Like coder/websocket's Accept it refuses cross-origin requests from
// browsers: the dashboard is served from the same host.
func checkUpgrade(r *http.Request) (int, string) {
	if r.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, "websocket upgrade needs GET"
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		return http.StatusUpgradeRequired, "this endpoint speaks websocket"
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return http.StatusBadRequest, "unsupported websocket version (want 13)"
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return http.StatusBadRequest, "bad Sec-WebSocket-Key"
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return http.StatusForbidden, "cross-origin websocket refused"
		}
	}
	return 0, ""
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h[http.CanonicalHeaderKey(name)] {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// appendSwitching appends the 101 response accepting the upgrade.
func appendSwitching(dst []byte, key string) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, acceptKey(key)...)
	return append(dst, "\r\n\r\n"...)
}
