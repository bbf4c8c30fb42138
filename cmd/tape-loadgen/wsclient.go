package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
)

// wsClient is a minimal websocket client: a TCP connection that did the
// handshake by hand and reads unmasked server frames through one buffer.
// The load generator holds thousands of them, so it avoids a general
// library's per-connection goroutines and buffers; its cost is the
// generator's, never the server's, but on a 2-core machine they share cores.
type wsClient struct {
	conn net.Conn
	br   *bufio.Reader
	buf  []byte // the current message, reused
	hdr  [14]byte
}

// dialWS connects to rawURL (ws://host:port/path) from local address laddr
// (nil: any) with the extra request headers.
func dialWS(ctx context.Context, rawURL string, laddr net.Addr, header http.Header) (*wsClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{LocalAddr: laddr}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	var key [16]byte
	rand.Read(key[:])
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", u.RequestURI(), u.Host, base64.StdEncoding.EncodeToString(key[:]))
	for k, vs := range header {
		for _, v := range vs {
			req += k + ": " + v + "\r\n"
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 32<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("handshake: HTTP %d", resp.StatusCode)
	}
	conn.SetDeadline(timeZero)
	return &wsClient{conn: conn, br: br}, nil
}

// errClosed is returned by next once the server sent a close frame.
var errClosed = errors.New("websocket closed by server")

// next returns the next data message (text or binary), reassembling
// fragments and answering pings. The slice is valid until the next call.
func (c *wsClient) next() ([]byte, error) {
	c.buf = c.buf[:0]
	for {
		if _, err := io.ReadFull(c.br, c.hdr[:2]); err != nil {
			return nil, err
		}
		fin := c.hdr[0]&0x80 != 0
		op := c.hdr[0] & 0x0f
		n := uint64(c.hdr[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(c.br, c.hdr[2:4]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(c.hdr[2:4]))
		case 127:
			if _, err := io.ReadFull(c.br, c.hdr[2:10]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(c.hdr[2:10])
		}
		if n > 1<<30 {
			return nil, fmt.Errorf("frame of %d bytes", n)
		}
		if op >= 8 { // control frame
			p := make([]byte, n)
			if _, err := io.ReadFull(c.br, p); err != nil {
				return nil, err
			}
			switch op {
			case 8:
				c.write(8, p)
				return nil, errClosed
			case 9:
				if err := c.write(10, p); err != nil {
					return nil, err
				}
			}
			continue
		}
		start := len(c.buf)
		c.buf = append(c.buf, make([]byte, n)...)
		if _, err := io.ReadFull(c.br, c.buf[start:]); err != nil {
			return nil, err
		}
		if fin {
			return c.buf, nil
		}
	}
}

// write sends one masked frame (clients must mask).
func (c *wsClient) write(op byte, p []byte) error {
	b := make([]byte, 0, len(p)+14)
	b = append(b, 0x80|op)
	switch {
	case len(p) < 126:
		b = append(b, 0x80|byte(len(p)))
	case len(p) < 1<<16:
		b = append(b, 0x80|126, byte(len(p)>>8), byte(len(p)))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(len(p)))
	}
	var mask [4]byte
	rand.Read(mask[:])
	b = append(b, mask[:]...)
	for i, x := range p {
		b = append(b, x^mask[i&3])
	}
	_, err := c.conn.Write(b)
	return err
}

func (c *wsClient) close() { c.conn.Close() }
