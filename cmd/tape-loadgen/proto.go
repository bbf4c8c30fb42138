package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/market"
)

// protocol is what differs between Tape (Alpaca's stream protocol) and
// nats-server (NATS over websocket) for the clients and the publisher.
type protocol interface {
	// header is sent with the websocket upgrade.
	header() http.Header
	// setup subscribes the freshly opened connection to topic and returns
	// once the server confirmed it.
	setup(c *wsClient, topic string) error
	// newReader returns the per-connection parser of data messages.
	newReader() msgReader
}

// msgReader counts the deliveries in one websocket message and, when lat
// is not nil, appends each delivery's latency (receive time minus the
// trade's timestamp) to it.
type msgReader interface {
	deliveries(msg []byte, lat *[]int64) (int, error)
}

// The published message: one trade of AAPL, encoded exactly as Tape sends
// it to an msgpack client (a one-element array); nats-server carries the
// same bytes as its payload, so both deliver the same 56-ish bytes.
func tradeFrame(dst []byte, id int64, now int64) []byte {
	e := market.Event{Kind: market.KindTrade, Symbol: "AAPL", Time: now,
		Trade: market.Trade{ID: id, Price: 100.25, Size: 100, Exchange: 'V', Tape: 'C'}}
	var one [1][]byte
	var scratch [128]byte
	one[0] = alpacawire.AppendMsgpack(scratch[:0], &e)
	return alpacawire.AppendFrame(dst, alpacawire.MsgPack, one[:])
}

// decodeLatencies decodes an Alpaca msgpack frame and appends now minus
// each trade's timestamp.
func decodeLatencies(dec *alpacawire.Decoder, frame []byte, scratch *[]alpacawire.Message, lat *[]int64) {
	now := time.Now().UnixNano()
	msgs, _ := dec.DecodeFrame(alpacawire.MsgPack, frame, (*scratch)[:0])
	*scratch = msgs
	for i := range msgs {
		if msgs[i].Event.Kind == market.KindTrade {
			*lat = append(*lat, now-msgs[i].Event.Time)
		}
	}
}

// --- Tape: Alpaca's protocol, msgpack like every official SDK ---

type tapeProto struct{}

func (tapeProto) header() http.Header {
	return http.Header{"Content-Type": {"application/msgpack"}}
}

func (tapeProto) setup(c *wsClient, topic string) error {
	var sub alpacawire.Subscription
	sub[market.ChanTrades] = []string{topic}
	if err := c.write(2, alpacawire.AppendAuth(nil, alpacawire.MsgPack, "bench", "bench")); err != nil {
		return err
	}
	if err := c.write(2, alpacawire.AppendSubscribe(nil, alpacawire.MsgPack, true, &sub)); err != nil {
		return err
	}
	dec := alpacawire.NewDecoder()
	for {
		msg, err := c.next()
		if err != nil {
			return err
		}
		msgs, err := dec.DecodeFrame(alpacawire.MsgPack, msg, nil)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			switch m.Type {
			case "subscription":
				return nil
			case "error":
				return fmt.Errorf("tape error %d %s", m.Code, m.Msg)
			}
		}
	}
}

func (tapeProto) newReader() msgReader { return &tapeReader{dec: alpacawire.NewDecoder()} }

type tapeReader struct {
	dec     *alpacawire.Decoder
	scratch []alpacawire.Message
}

// deliveries reads the count from the frame's array header; every data
// message in this benchmark is a trade, which it checks on the first one
// (an error such as 407 arrives as a frame of one error message).
func (r *tapeReader) deliveries(msg []byte, lat *[]int64) (int, error) {
	if len(msg) < 8 {
		return 0, fmt.Errorf("short frame %q", msg)
	}
	var n, i int
	switch b := msg[0]; {
	case b&0xf0 == 0x90:
		n, i = int(b&0x0f), 1
	case b == 0xdc:
		n, i = int(msg[1])<<8|int(msg[2]), 3
	case b == 0xdd:
		n, i = int(msg[1])<<24|int(msg[2])<<16|int(msg[3])<<8|int(msg[4]), 5
	default:
		return 0, fmt.Errorf("not an array: %x", msg[:8])
	}
	// map header, "T", then the type: 0xa1 't' for a trade.
	if len(msg) < i+5 || !bytes.Equal(msg[i+1:i+5], []byte{0xa1, 'T', 0xa1, 't'}) {
		msgs, _ := r.dec.DecodeFrame(alpacawire.MsgPack, msg, nil)
		if len(msgs) > 0 && msgs[0].Type == "error" {
			return 0, fmt.Errorf("tape error %d %s", msgs[0].Code, msgs[0].Msg)
		}
		return 0, nil
	}
	if lat != nil {
		decodeLatencies(r.dec, msg, &r.scratch, lat)
	}
	return n, nil
}

// --- nats-server: NATS protocol over its websocket listener ---

type natsProto struct{}

func (natsProto) header() http.Header { return nil }

func (natsProto) setup(c *wsClient, topic string) error {
	subj := "trades." + topic // "trades.*" for every symbol
	cmds := `CONNECT {"verbose":false,"pedantic":false,"protocol":1,"echo":false}` + "\r\nSUB " + subj + " 1\r\nPING\r\n"
	if err := c.write(2, []byte(cmds)); err != nil {
		return err
	}
	var acc []byte
	for {
		msg, err := c.next()
		if err != nil {
			return err
		}
		acc = append(acc, msg...)
		if bytes.Contains(acc, []byte("-ERR")) {
			return fmt.Errorf("nats: %s", acc)
		}
		if bytes.Contains(acc, []byte("PONG\r\n")) {
			return nil
		}
	}
}

func (natsProto) newReader() msgReader { return &natsReader{dec: alpacawire.NewDecoder()} }

// natsReader parses the server's side of the NATS protocol: a MSG may be
// split across websocket messages, so an incomplete tail is carried over.
type natsReader struct {
	carry   []byte
	dec     *alpacawire.Decoder
	scratch []alpacawire.Message
	pongs   int // PINGs seen; the reader loop answers them
}

var errNeedPong = errors.New("nats ping")

func (r *natsReader) deliveries(msg []byte, lat *[]int64) (int, error) {
	b := msg
	if len(r.carry) > 0 {
		r.carry = append(r.carry, msg...)
		b = r.carry
	}
	n := 0
	for {
		eol := bytes.Index(b, []byte("\r\n"))
		if eol < 0 {
			break
		}
		line := b[:eol]
		if bytes.HasPrefix(line, []byte("MSG ")) {
			sp := bytes.LastIndexByte(line, ' ')
			size, err := strconv.Atoi(string(line[sp+1:]))
			if err != nil {
				return n, fmt.Errorf("nats: bad MSG line %q", line)
			}
			end := eol + 2 + size + 2
			if len(b) < end {
				break
			}
			if lat != nil {
				decodeLatencies(r.dec, b[eol+2:eol+2+size], &r.scratch, lat)
			}
			n++
			b = b[end:]
			continue
		}
		if bytes.HasPrefix(line, []byte("PING")) {
			r.pongs++
		}
		if bytes.HasPrefix(line, []byte("-ERR")) {
			return n, fmt.Errorf("nats: %s", line)
		}
		b = b[eol+2:]
	}
	r.carry = append(r.carry[:0], b...)
	return n, nil
}

// natsPublisher publishes trades to nats-server over its plain TCP port.
type natsPublisher struct {
	conn net.Conn
	bw   *bufio.Writer
	buf  []byte
	id   int64
}

func dialNATS(ctx context.Context, addr string) (*natsPublisher, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &natsPublisher{conn: conn, bw: bufio.NewWriterSize(conn, 64<<10)}
	p.bw.WriteString(`CONNECT {"verbose":false,"pedantic":false,"protocol":1}` + "\r\n")
	// Discard whatever the server says (INFO, PINGs are answered below).
	go func() {
		br := bufio.NewReader(conn)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if len(line) >= 4 && line[:4] == "PING" {
				// Written from this goroutine only while the publisher
				// is not writing would need a lock; nats-server pings
				// every 2 minutes, longer than a benchmark run.
				_ = line
			}
		}
	}()
	return p, p.bw.Flush()
}

// publish sends n trades stamped now, then flushes.
func (p *natsPublisher) publish(n int) error {
	now := time.Now().UnixNano()
	for range n {
		p.id++
		p.buf = tradeFrame(p.buf[:0], p.id, now)
		p.bw.WriteString("PUB trades.AAPL ")
		p.bw.WriteString(strconv.Itoa(len(p.buf)))
		p.bw.WriteString("\r\n")
		p.bw.Write(p.buf)
		p.bw.WriteString("\r\n")
	}
	return p.bw.Flush()
}

func (p *natsPublisher) close() { p.conn.Close() }
