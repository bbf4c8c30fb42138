// Package streamclient is a client of Alpaca's market data stream protocol:
// Alpaca itself, or another Tape. `tape watch` uses it to print a stream,
// and the Alpaca upstream feed builds on it.
//
// Run keeps one connection alive for as long as its context lives: it
// dials, authenticates, subscribes, hands every decoded frame to the caller,
// and on any failure reconnects with exponential backoff and full jitter
// (so a fleet of clients never reconnects in lockstep) and resubscribes. A
// watchdog treats a socket that delivers neither data nor pongs for
// SilenceTimeout as dead: "connected but mute" is the commonest failure of
// long-lived market data sockets. Errors that retrying cannot fix end Run:
// Alpaca's 402 (auth failed), 409 (insufficient subscription) and 410/411
// as a *ProtocolError; a handshake answered with plain HTTP other than 429
// and 5xx (a 404, a web page: not a stream) or a websocket that does not
// speak the protocol as a *HandshakeError. IsFatal tells them apart from
// the rest (refused connections, 5xx, 429, drops), which are retried.
package streamclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/market"
)

// ProtocolError is an error message from the server.
type ProtocolError struct {
	Code int
	Msg  string
}

func (e *ProtocolError) Error() string { return fmt.Sprintf("stream error %d: %s", e.Code, e.Msg) }

// ProtocolCode is the Alpaca error code, so that callers can relay the
// error without importing this package.
func (e *ProtocolError) ProtocolCode() int { return e.Code }

// Fatal reports whether reconnecting cannot help.
func (e *ProtocolError) Fatal() bool {
	switch e.Code {
	case alpacawire.CodeAuthFailed, alpacawire.CodeInsufficientSub, alpacawire.CodeInvalidSubscribe,
		alpacawire.CodeInsufficientScope, alpacawire.CodeMsgpackOnly, alpacawire.CodeStarOptionQuotes:
		return true
	}
	return false
}

// State is the connection state, for health reporting.
type State int32

// Connection states.
const (
	StateConnecting State = iota
	StateConnected
	StateBackoff
	StateFailed
	StateStopped
)

func (s State) String() string {
	return [...]string{"connecting", "connected", "reconnecting", "failed", "stopped"}[s]
}

// Options configures a Client.
type Options struct {
	// URL of the stream endpoint, e.g. ws://127.0.0.1:8080/v2/iex. Required.
	URL string
	// Key and Secret authenticate.
	Key, Secret string
	// JSON asks for JSON instead of msgpack, which every official SDK uses
	// (and the only codec the options stream allows).
	JSON bool
	// codec is the one in use, from JSON.
	codec alpacawire.Codec
	// Subscription is subscribed after every (re)connect.
	Subscription alpacawire.Subscription
	// Stream is the stream family of the endpoint (it decides what the
	// shared message letters mean); default alpacawire.StreamStocks.
	Stream *alpacawire.Stream
	// MaxFrameBytes bounds one frame from the server; a bigger one drops the
	// connection (and Run reconnects). Default 64 MiB.
	MaxFrameBytes int64
	// Resume is for an upstream that is another Tape: the client asks for
	// sequence numbers (?tape_seq=1) and, after a reconnect, resubscribes
	// from the number after the last one it received (tape_from_seq), so
	// nothing is lost or repeated across the reconnect. Alpaca itself knows
	// neither extension: leave it off for Alpaca.
	Resume bool
	// Logger; nil discards.
	Logger *slog.Logger

	// DialTimeout bounds the websocket handshake; default 10 s.
	DialTimeout time.Duration
	// ReplyTimeout bounds each handshake reply (connected, auth,
	// subscription); default 10 s.
	ReplyTimeout time.Duration
	// MinBackoff and MaxBackoff bound the reconnect delay, which doubles per
	// consecutive failure with full jitter; defaults 250 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// PingInterval is how often to ping; default 10 s (as the SDKs).
	PingInterval time.Duration
	// SilenceTimeout declares the connection dead when nothing (data or
	// pong) arrived for that long; default 3 × PingInterval. Negative
	// disables the watchdog.
	SilenceTimeout time.Duration
	// Sleep waits between reconnects; tests inject a fake clock here.
	// Default: a timer honouring ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a float in [0,1) for jitter; default math/rand/v2.
	Rand func() float64
}

func (o *Options) setDefaults() {
	o.codec = alpacawire.MsgPack
	if o.JSON {
		o.codec = alpacawire.JSON
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stream == nil {
		o.Stream = alpacawire.StreamStocks
	}
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = maxFrame
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.ReplyTimeout <= 0 {
		o.ReplyTimeout = 10 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 250 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 10 * time.Second
	}
	if o.SilenceTimeout == 0 {
		o.SilenceTimeout = 3 * o.PingInterval
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Handler receives the messages of each frame, in order. The slice and the
// messages are reused after it returns.
type Handler func(msgs []alpacawire.Message)

// Client is a reconnecting stream client.
type Client struct {
	opts  Options
	state atomic.Int32

	changeMu sync.Mutex // one subscription change at a time, as at Alpaca
	mu       sync.Mutex // guards sub, conn, pending
	// sub is the subscription to (re)establish: Options.Subscription, then
	// the server's echo after every change.
	sub     alpacawire.Subscription
	conn    *websocket.Conn // the live connection, nil between sessions
	pending chan changeResult

	connects   atomic.Uint64
	reconnects atomic.Uint64
	badFrames  atomic.Uint64
	lastSeq    atomic.Uint64 // with Resume: the highest sequence number received
	drop       atomic.Pointer[websocket.Conn]
	lastErr    atomic.Pointer[string]
}

// maxFrame bounds one frame from the server.
const maxFrame = 64 << 20

// Disconnect drops the live connection, if any; Run reconnects as after any
// other failure (with Resume, from where it stopped). Tests and operators
// use it to exercise reconnects on purpose.
func (c *Client) Disconnect() {
	if conn := c.drop.Swap(nil); conn != nil {
		conn.CloseNow()
	}
}

// BadFrames counts frames that did not decode completely.
func (c *Client) BadFrames() uint64 { return c.badFrames.Load() }

// New returns a client; it connects when Run is called.
func New(opts Options) (*Client, error) {
	if opts.URL == "" {
		return nil, errors.New("streamclient: no URL")
	}
	if err := CheckURL(opts.URL); err != nil {
		return nil, fmt.Errorf("streamclient: %w", err)
	}
	opts.setDefaults()
	return &Client{opts: opts, sub: opts.Subscription}, nil
}

type changeResult struct {
	err  error
	echo *alpacawire.Subscription
}

// ErrNotConnected is returned by Change when there is no live connection;
// the change still applies at the next (re)connect.
var ErrNotConnected = errors.New("streamclient: not connected")

// Subscription returns the subscription the client holds (the server's
// last echo) or will establish on the next connect.
func (c *Client) Subscription() alpacawire.Subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out alpacawire.Subscription
	for ch := range c.sub {
		out[ch] = slices.Clone(c.sub[ch])
	}
	return out
}

// Change subscribes to (or, with subscribe false, unsubscribes from) the
// channels and symbols in delta, waiting for the server's echo. A refusal
// (405 symbol limit, 409 insufficient subscription, 410, 413 ...) comes
// back as a *ProtocolError and leaves the subscription as it was. Without a
// live connection the change is recorded for the next connect and
// ErrNotConnected is returned.
func (c *Client) Change(ctx context.Context, subscribe bool, delta alpacawire.Subscription) error {
	c.changeMu.Lock()
	defer c.changeMu.Unlock()
	c.mu.Lock()
	conn := c.conn
	if conn == nil {
		c.sub = applyDelta(c.sub, subscribe, &delta)
		c.mu.Unlock()
		return ErrNotConnected
	}
	res := make(chan changeResult, 1)
	c.pending = res
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.pending = nil
		c.mu.Unlock()
	}()

	typ := websocket.MessageText
	if c.opts.codec == alpacawire.MsgPack {
		typ = websocket.MessageBinary
	}
	wctx, cancel := context.WithTimeout(ctx, c.opts.ReplyTimeout)
	defer cancel()
	if err := conn.Write(wctx, typ, alpacawire.AppendSubscribe(nil, c.opts.codec, subscribe, &delta)); err != nil {
		// The session is failing; the next one subscribes the union.
		c.mu.Lock()
		c.sub = applyDelta(c.sub, subscribe, &delta)
		c.mu.Unlock()
		return fmt.Errorf("subscribe: %w", err)
	}
	select {
	case r := <-res:
		if r.err != nil {
			return r.err
		}
		c.mu.Lock()
		c.sub = *r.echo
		c.mu.Unlock()
		return nil
	case <-wctx.Done():
		return fmt.Errorf("subscribe: no reply: %w", wctx.Err())
	}
}

// applyDelta adds or removes delta's symbols channel by channel.
func applyDelta(s alpacawire.Subscription, subscribe bool, delta *alpacawire.Subscription) alpacawire.Subscription {
	var out alpacawire.Subscription
	for ch := range s {
		cur := slices.Clone(s[ch])
		for _, sym := range delta[ch] {
			i := slices.Index(cur, sym)
			switch {
			case subscribe && i < 0:
				cur = append(cur, sym)
			case !subscribe && i >= 0:
				cur = slices.Delete(cur, i, i+1)
			}
		}
		out[ch] = cur
	}
	return out
}

// deliverChange hands a reply to a waiting Change; it reports whether one
// was waiting.
func (c *Client) deliverChange(r changeResult) bool {
	c.mu.Lock()
	p := c.pending
	c.pending = nil
	c.mu.Unlock()
	if p == nil {
		return false
	}
	p <- r
	return true
}

// State returns the current connection state.
func (c *Client) State() State { return State(c.state.Load()) }

// Stats returns connection counters and the last error.
func (c *Client) Stats() (connects, reconnects uint64, lastErr string) {
	if p := c.lastErr.Load(); p != nil {
		lastErr = *p
	}
	return c.connects.Load(), c.reconnects.Load(), lastErr
}

// Run connects and delivers frames to h until ctx ends (returning
// ctx.Err()) or an error reconnecting cannot fix (see IsFatal: a
// *ProtocolError or a *HandshakeError).
func (c *Client) Run(ctx context.Context, h Handler) error {
	defer func() {
		// A fatal stop stays visible as "failed".
		c.state.CompareAndSwap(int32(StateConnecting), int32(StateStopped))
		c.state.CompareAndSwap(int32(StateConnected), int32(StateStopped))
		c.state.CompareAndSwap(int32(StateBackoff), int32(StateStopped))
	}()
	failures := 0
	for {
		c.state.Store(int32(StateConnecting))
		healthy, err := c.session(ctx, h)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := err.Error()
		c.lastErr.Store(&msg)
		if IsFatal(err) {
			c.state.Store(int32(StateFailed))
			// Returned, not logged: the caller says it, once.
			c.opts.Logger.Debug("stream failed for good", "url", c.opts.URL, "err", err)
			return err
		}
		if healthy {
			failures = 0
		}
		failures++
		d := c.backoff(failures)
		c.reconnects.Add(1)
		c.state.Store(int32(StateBackoff))
		c.opts.Logger.Warn("stream disconnected; reconnecting", "url", c.opts.URL, "err", err, "in", d.Round(time.Millisecond))
		if err := c.opts.Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// backoff returns the delay before attempt n (1-based): full jitter over an
// exponentially growing cap.
func (c *Client) backoff(n int) time.Duration {
	ceil := c.opts.MinBackoff << min(n-1, 20)
	if ceil > c.opts.MaxBackoff || ceil <= 0 {
		ceil = c.opts.MaxBackoff
	}
	// Never below MinBackoff, so a failing server is not hammered.
	return c.opts.MinBackoff + time.Duration(c.opts.Rand()*float64(ceil-c.opts.MinBackoff))
}

// session runs one connection. healthy reports that it got past the
// handshake, which resets the backoff.
func (c *Client) session(ctx context.Context, h Handler) (healthy bool, err error) {
	o := &c.opts
	dctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	ct := "application/json"
	if o.codec == alpacawire.MsgPack {
		ct = "application/msgpack"
	}
	url := o.URL
	if o.Resume {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		url += sep + "tape_seq=1"
	}
	conn, resp, err := websocket.Dial(dctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Content-Type": {ct}}})
	cancel()
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			// The server answered, with plain HTTP: its status says
			// whether trying again can help (see HandshakeError.Fatal).
			var body []byte
			if resp.Body != nil {
				body, _ = io.ReadAll(resp.Body) // coder/websocket kept its first KiB
			}
			return false, &HandshakeError{URL: o.URL, Status: resp.StatusCode, Excerpt: Excerpt(body, 60), Err: err}
		}
		return false, dialError(o.URL, err)
	}
	defer conn.CloseNow()
	// Frames are batched by the server; 64 MiB bounds a broken or hostile
	// one (coder/websocket closes the connection past it, and we reconnect).
	conn.SetReadLimit(o.MaxFrameBytes)

	dec := alpacawire.NewDecoderFor(o.Stream)
	var msgs []alpacawire.Message
	read := func(ctx context.Context) ([]alpacawire.Message, error) {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return nil, err
		}
		codec := alpacawire.JSON
		if typ == websocket.MessageBinary {
			codec = alpacawire.MsgPack
		}
		msgs, err = dec.DecodeFrame(codec, data, msgs[:0])
		if err != nil {
			// A malformed frame costs only its undecodable rest: the
			// messages before the fault are kept, the error is counted and
			// logged, and the connection goes on.
			c.badFrames.Add(1)
			o.Logger.Warn("malformed frame from the stream; skipped its rest", "err", err, "kept", len(msgs))
		}
		return msgs, nil
	}
	write := func(frame []byte) error {
		wctx, cancel := context.WithTimeout(ctx, o.ReplyTimeout)
		defer cancel()
		typ := websocket.MessageText
		if o.codec == alpacawire.MsgPack {
			typ = websocket.MessageBinary
		}
		return conn.Write(wctx, typ, frame)
	}
	// expect reads one handshake reply; it must be a single control message.
	expect := func(want string) (*alpacawire.Message, error) {
		rctx, cancel := context.WithTimeout(ctx, o.ReplyTimeout)
		defer cancel()
		m, err := read(rctx)
		if err != nil {
			return nil, fmt.Errorf("waiting for %s: %w", want, err)
		}
		if len(m) == 0 {
			return nil, &notStreamError{want: want, first: "a frame that is not Alpaca JSON or msgpack"}
		}
		if m[0].Type == "error" {
			return nil, &ProtocolError{Code: m[0].Code, Msg: m[0].Msg}
		}
		if m[0].Type != want && m[0].Msg != want {
			return nil, &notStreamError{want: want, first: fmt.Sprintf("%q %q", m[0].Type, m[0].Msg)}
		}
		return &m[0], nil
	}

	if _, err := expect("connected"); err != nil {
		var ne *notStreamError
		if errors.As(err, &ne) {
			// A websocket, but not Alpaca's protocol: no reconnect fixes it.
			return false, &HandshakeError{URL: o.URL, Status: http.StatusSwitchingProtocols, Excerpt: ne.first, Err: err}
		}
		return false, err
	}
	if err := write(alpacawire.AppendAuth(nil, o.codec, o.Key, o.Secret)); err != nil {
		return false, fmt.Errorf("auth: %w", err)
	}
	if _, err := expect("authenticated"); err != nil {
		return false, err
	}
	// Subscription changes wait while the session (re)establishes the
	// current set, so nothing is lost between the two.
	c.changeMu.Lock()
	c.mu.Lock()
	sub := c.sub
	c.mu.Unlock()
	if !empty(&sub) {
		msg := alpacawire.AppendSubscribe(nil, o.codec, true, &sub)
		if last := c.lastSeq.Load(); o.Resume && last > 0 {
			msg = alpacawire.AppendSubscribeFrom(nil, o.codec, &sub, last+1)
		}
		if err := write(msg); err != nil {
			c.changeMu.Unlock()
			return false, fmt.Errorf("subscribe: %w", err)
		}
		m, err := expect("subscription")
		var pe *ProtocolError
		switch {
		case errors.As(err, &pe) && !pe.Fatal():
			// The server refused the set (405 symbol limit, 409 plan...).
			// Reconnecting would only be refused again: stay connected with
			// nothing subscribed, say so, and keep the wanted set for the
			// next changes and reconnects.
			msg := "subscription refused: " + pe.Error()
			c.lastErr.Store(&msg)
			o.Logger.Error("upstream refused the subscription; connected without it", "err", pe)
		case err != nil:
			c.changeMu.Unlock()
			return false, err
		case m.Sub != nil:
			c.mu.Lock()
			c.sub = *m.Sub
			c.mu.Unlock()
		}
	}
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
	c.changeMu.Unlock()
	c.drop.Store(conn)
	defer func() {
		c.mu.Lock()
		c.conn = nil
		c.mu.Unlock()
		c.deliverChange(changeResult{err: errors.New("streamclient: connection lost")})
	}()
	c.connects.Add(1)
	c.state.Store(int32(StateConnected))
	o.Logger.Info("stream connected", "url", o.URL)

	// The watchdog: every frame or pong moves lastSeen; a session quiet for
	// SilenceTimeout is cancelled, which closes the socket.
	sctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var lastSeen atomic.Int64
	lastSeen.Store(time.Now().UnixNano())
	done := make(chan struct{})
	defer func() { <-done }()
	defer stop(nil)
	go func() {
		defer close(done)
		c.keepalive(sctx, conn, &lastSeen, stop)
	}()

	for {
		m, err := read(sctx)
		if err != nil {
			if cause := context.Cause(sctx); cause != nil && ctx.Err() == nil {
				return true, cause
			}
			return true, fmt.Errorf("read: %w", err)
		}
		lastSeen.Store(time.Now().UnixNano())
		for i := range m {
			switch m[i].Type {
			case "subscription":
				if m[i].Sub != nil {
					c.deliverChange(changeResult{echo: m[i].Sub})
				}
			case "error":
				pe := &ProtocolError{Code: m[i].Code, Msg: m[i].Msg}
				switch pe.Code {
				case alpacawire.CodeSlowClient, alpacawire.CodeInternal, alpacawire.CodeAuthFailed, alpacawire.CodeInsufficientScope:
					h(m)
					return true, pe
				}
				// Anything else answers the change in flight (405, 409, 410,
				// 413, 400 ...): the requester gets it, the connection stays.
				c.deliverChange(changeResult{err: pe})
			}
		}
		if o.Resume {
			for i := range m {
				if seq := m[i].Event.Seq; seq > c.lastSeq.Load() {
					c.lastSeq.Store(seq)
				}
			}
		}
		h(m)
	}
}

// notStreamError is a handshake reply other than the one expected.
type notStreamError struct{ want, first string }

func (e *notStreamError) Error() string {
	return fmt.Sprintf("waiting for %s: got %s", e.want, e.first)
}

// errSilent is the watchdog's verdict.
var errSilent = errors.New("connection silent: no data and no pong")

func (c *Client) keepalive(ctx context.Context, conn *websocket.Conn, lastSeen *atomic.Int64, stop context.CancelCauseFunc) {
	o := &c.opts
	t := time.NewTicker(o.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, o.PingInterval)
		if err := conn.Ping(pctx); err == nil {
			lastSeen.Store(time.Now().UnixNano())
		}
		cancel()
		if o.SilenceTimeout > 0 && time.Since(time.Unix(0, lastSeen.Load())) > o.SilenceTimeout {
			stop(fmt.Errorf("%w for %v", errSilent, o.SilenceTimeout))
			return
		}
	}
}

func empty(s *alpacawire.Subscription) bool {
	for c := range market.NumChannels {
		if len(s[c]) > 0 {
			return false
		}
	}
	return true
}
