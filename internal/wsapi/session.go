package wsapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/hub"
	"github.com/tapehq/tape/internal/market"
)

// closeRequest asks the writer to send a close frame once the control
// queue is flushed.
type closeRequest struct {
	code   closeCode
	reason string
}

// session is one client connection. Its reader is the one goroutine an
// idle connection has; writing happens in the server's writer pool
// (writer.go). Everything it holds while idle is this struct, the hub
// subscriber and the reader's small stack.
type session struct {
	srv   *Server
	conn  net.Conn
	raw   syscall.RawConn // for non-blocking writes; nil: always flush
	codec alpacawire.Codec
	sub   *hub.Subscriber
	label string // for statistics: address, path, codec
	path  string // the request path (which feed, for Options.IEXView)
	peer  string // admission key (address, or IPv6 /64)
	start time.Time
	pre   []byte // bytes the client sent before the upgrade completed

	// Reader-owned state.
	key  string                  // the authenticated key, for the connection count
	subs alpacawire.Subscription // as the client named them (stock channels for the iex feed too)
	iex  bool                    // the client's stock channels are the iex feed's (Options.IEXView)
	hdr  [14]byte                // frame header scratch

	authed atomic.Bool // set by the reader, read by the auth timer

	pendingHeaderAuth [2]string // key and secret from upgrade headers

	takeMu sync.Mutex // orders subscription changes with the writer's takes
	// resume holds the journal frames of a resume in progress (guarded by
	// takeMu); while it is set the writer sends them instead of live data.
	resume chan []byte
	seq    bool           // Tape's "#" sequence extension is on
	bg     sync.WaitGroup // resume and flush goroutines, waited for by run

	// Write state (writer.go).
	wstate    atomic.Int32
	writeDone atomic.Bool   // a close frame was written or the connection failed
	flushing  atomic.Bool   // a flush goroutine waits for the client
	closeSent chan struct{} // closed once the close frame is written or writing failed
	closeOnce sync.Once

	// Pings (the server's watchdog; pingSent is 0 when none is out).
	pingSent atomic.Int64
	nextPing int64 // watchdog-owned

	ctrlMu   sync.Mutex
	ctrl     []byte        // encoded websocket frames waiting, in order
	ctrlCost int           // charged to sub for ctrl
	closeReq *closeRequest // set once
	ended    bool          // run is finishing: no new goroutines
	counted  bool          // counted as unauthenticated (guarded by srv.mu)
	upgraded bool          // init done: the watchdog may ping it (guarded by srv.mu)
}

// init fills in an admitted session once its connection is upgraded; the
// caller then publishes it by setting srv under srv.mu.
func (ss *session) init(srv *Server, conn net.Conn, r *http.Request) {
	codec := alpacawire.CodecForContentType(r.Header.Get("Content-Type"))
	ss.label = r.RemoteAddr + " " + r.URL.Path + " " + codec.String()
	ss.path = r.URL.Path
	ss.conn = conn
	ss.raw = rawConn(conn)
	ss.codec = codec
	// Tape's sequence extension: opt in with ?tape_seq=1 or a header, so
	// unmodified Alpaca clients never see it.
	ss.seq = r.URL.Query().Get("tape_seq") == "1" || r.Header.Get("X-Tape-Seq") == "1"
	ss.closeSent = make(chan struct{})
	ss.srv = srv
	ss.sub = srv.opts.Hub.SubscribeWith(hub.SubscriberOptions{Format: ss.format(), Label: ss.label, Notify: ss.notified,
		AfterTheFact: ss.seq})
	// Alpaca also accepts the key pair as headers on the upgrade; no SDK
	// uses it, but curl-style clients do.
	if key := r.Header.Get("APCA-API-KEY-ID"); key != "" {
		ss.pendingHeaderAuth = [2]string{key, r.Header.Get("APCA-API-SECRET-KEY")}
	}
}

// logger is built when needed: a logger with attributes per idle session
// would cost every connection a few hundred bytes.
func (ss *session) logger() *slog.Logger {
	return ss.srv.opts.Logger.With("remote", ss.label)
}

// run drives the session until it ends; it is the session's reader.
func (ss *session) run() {
	srv := ss.srv
	// The session context ends a resume in progress.
	ctx, cancel := context.WithCancel(context.Background())
	ss.logger().Info("client connected")
	ss.control(alpacawire.AppendSuccess(nil, ss.codec, "connected"))
	if h := ss.pendingHeaderAuth; h[0] != "" {
		ss.auth(h[0], h[1])
	}
	authTimer := time.AfterFunc(srv.authTimeout(), func() {
		if !ss.authed.Load() {
			ss.terminal(alpacawire.CodeAuthTimeout, closePolicyViolation, "auth timeout")
		}
	})
	ss.read(ctx, cancel, authTimer)
}

// errHop ends a reader goroutine that handled a message and has nothing
// buffered: the next read continues on a fresh goroutine (see read).
var errHop = errors.New("wsapi: continue on a fresh goroutine")

// read runs the reader until the session ends. Handling a message (JSON or
// msgpack parsing, a subscription change) grows a goroutine's stack to
// 8 KB or more, and a goroutine blocked in Read keeps its stack: so after
// each message the reader hands over to a fresh goroutine, whose small
// stack is what an idle connection then keeps. The chain is one session
// for the Server's WaitGroup; the last goroutine ends the session.
func (ss *session) read(ctx context.Context, cancel context.CancelFunc, authTimer *time.Timer) {
	err := ss.safeReadLoop(ctx)
	if errors.Is(err, errHop) {
		go ss.read(ctx, cancel, authTimer)
		return
	}
	authTimer.Stop()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, errTerminal) {
		ss.logger().Debug("session reader ended", "err", err)
	}
	if errors.Is(err, errTerminal) {
		// Let the writer deliver the final error and the close frame, then
		// give the client a moment to answer it (the close handshake) so
		// that it reads the error before the connection goes.
		select {
		case <-ss.closeSent:
			ss.conn.SetReadDeadline(time.Now().Add(closeWait))
			ss.drain()
		case <-time.After(ss.srv.opts.WriteTimeout):
		}
	}
	cancel()
	delivered := ss.sub.Stats().Delivered
	ss.end()
	ss.logger().Info("client disconnected", "reason", ss.endReason(err), "key", redact(ss.key),
		"connected_for", time.Since(ss.start).Round(time.Millisecond), "delivered", delivered)
	if ss.authed.Load() {
		ss.srv.opts.Keys.Release(ss.key)
	}
	// The reader is done: ss.subs is final. Give back its references.
	if up := ss.srv.opts.Upstream; up != nil {
		uctx, ucancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ucancel()
		if err := up.Change(uctx, alpacawire.Subscription{}, ss.subs); err != nil {
			ss.logger().Debug("releasing upstream subscriptions", "err", err)
		}
	}
	ss.srv.unregister(ss) // last: Server.Close waits for this
}

// endReason says why the session ended, for the log: the close Tape
// asked for (an Alpaca error: auth timeout, slow client, ...), or how the
// client went.
func (ss *session) endReason(err error) string {
	ss.ctrlMu.Lock()
	req := ss.closeReq
	ss.ctrlMu.Unlock()
	switch {
	case req != nil && req.reason != "":
		return req.reason
	case req != nil, err == nil, errors.Is(err, io.EOF), errors.Is(err, errTerminal):
		// An empty reason is the answer to the client's own close.
		return "closed by the client"
	case errors.Is(err, net.ErrClosed):
		return "connection closed"
	}
	return err.Error()
}

// closeWait bounds the close handshake.
const closeWait = 2 * time.Second

// end releases the session: no new goroutines, the connection closed
// (which ends a blocked flush), its goroutines waited for, the subscriber
// removed.
func (ss *session) end() {
	ss.ctrlMu.Lock()
	ss.ended = true
	ss.releaseControlLocked()
	ss.ctrlMu.Unlock()
	ss.abort()
	ss.bg.Wait()
	ss.srv.opts.Hub.Remove(ss.sub)
}

// abort closes the connection now; further writes fail and the reader
// returns.
func (ss *session) abort() {
	ss.writeDone.Store(true)
	ss.conn.Close()
	ss.closeOnce.Do(func() { close(ss.closeSent) }) // nothing more will be written
}

// closeWritten records that the close frame went out: the reader now only
// waits for the client's answer.
func (ss *session) closeWritten() {
	ss.writeDone.Store(true)
	ss.conn.SetReadDeadline(time.Now().Add(closeWait))
	ss.closeOnce.Do(func() { close(ss.closeSent) })
}

// notified is the hub's Notify: data is waiting, or the subscriber was
// kicked.
func (ss *session) notified() {
	ss.wake()
	if ss.flushing.Load() && ss.sub.Err() != nil {
		ss.hurry()
	}
}

// testHookRequest, when set by a test, sees every parsed request.
var testHookRequest func(*alpacawire.Request)

// errTerminal ends the reader after a terminal protocol error was queued.
var errTerminal = errors.New("wsapi: session terminated")

// errDeadline is what a write or read past its deadline returns.
var errDeadline = os.ErrDeadlineExceeded

// safeReadLoop turns a bug in message handling into Alpaca's 500 for this
// client instead of a crash of the whole server.
func (ss *session) safeReadLoop(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			ss.logger().Error("panic in stream session", "panic", r, "stack", string(debug.Stack()))
			ss.terminal(alpacawire.CodeInternal, closeInternalError, "internal error")
			err = errTerminal
		}
	}()
	return ss.readLoop(ctx)
}

// Read reads from the bytes sent before the upgrade completed, then from
// the connection.
func (ss *session) Read(p []byte) (int, error) {
	if len(ss.pre) > 0 {
		n := copy(p, ss.pre)
		ss.pre = ss.pre[n:]
		return n, nil
	}
	return ss.conn.Read(p)
}

// readMessage reads the next data message, answering pings, noting pongs
// and the client's close on the way. The message buffer is allocated per
// message: clients send a few small ones, and an idle connection keeps no
// buffer.
func (ss *session) readMessage(limit int64) (op byte, msg []byte, err error) {
	var ctl [125]byte
	for {
		h, err := readHeader(ss, &ss.hdr)
		if err != nil {
			if errors.Is(err, errProtocol) {
				ss.closeWith(closeProtocolError, "protocol error")
				return 0, nil, errTerminal
			}
			return 0, nil, err
		}
		switch h.op {
		case opPing, opPong, opClose:
			p := ctl[:h.n]
			if _, err := io.ReadFull(ss, p); err != nil {
				return 0, nil, err
			}
			unmask(p, h.mask)
			switch h.op {
			case opPing:
				ss.controlFrame(opPong, p)
			case opPong:
				ss.pingSent.Store(0)
			case opClose:
				return 0, nil, ss.clientClosed(p)
			}
			continue
		case opContinuation:
			if msg == nil {
				ss.closeWith(closeProtocolError, "unexpected continuation")
				return 0, nil, errTerminal
			}
		default:
			if msg != nil {
				ss.closeWith(closeProtocolError, "expected continuation")
				return 0, nil, errTerminal
			}
			op = h.op
		}
		if int64(len(msg))+h.n > limit {
			ss.terminal(alpacawire.CodeInvalidSyntax, closeMessageTooBig, "message too big")
			return 0, nil, errTerminal
		}
		start := len(msg)
		msg = slices.Grow(msg, int(h.n))[:start+int(h.n)]
		if msg == nil {
			msg = []byte{} // an empty first fragment still starts a message
		}
		if _, err := io.ReadFull(ss, msg[start:]); err != nil {
			return 0, nil, err
		}
		unmask(msg[start:], h.mask)
		if h.fin {
			return op, msg, nil
		}
	}
}

// clientClosed handles the client's close frame: answer it unless ours
// went first, and end the reader.
func (ss *session) clientClosed(p []byte) error {
	ss.ctrlMu.Lock()
	ours := ss.closeReq != nil
	ss.ctrlMu.Unlock()
	if ours {
		return io.EOF
	}
	code := closeNormal
	if len(p) >= 2 {
		code = closeCode(int(p[0])<<8 | int(p[1]))
	}
	ss.closeWith(code, "")
	return errTerminal
}

// drain reads (and drops) what the client sends until its close frame, an
// error or the read deadline.
func (ss *session) drain() {
	for {
		if _, _, err := ss.readMessage(int64(ss.srv.opts.MaxMessageBytes)); err != nil {
			return
		}
	}
}

func (ss *session) readLoop(ctx context.Context) error {
	limit := int64(ss.srv.opts.MaxMessageBytes)
	for {
		op, data, err := ss.readMessage(limit)
		if err != nil {
			return err
		}
		codec := alpacawire.JSON
		if op == opBinary {
			codec = alpacawire.MsgPack
		}
		req, err := alpacawire.ParseRequest(codec, data)
		if err != nil {
			ss.error(alpacawire.CodeInvalidSyntax)
			continue
		}
		if testHookRequest != nil {
			testHookRequest(req)
		}
		switch req.Action {
		case alpacawire.ActionAuth:
			if !ss.auth(req.Key, req.Secret) {
				return errTerminal
			}
		case alpacawire.ActionSubscribe, alpacawire.ActionUnsubscribe:
			if !ss.authed.Load() {
				ss.error(alpacawire.CodeNotAuthenticated)
				continue
			}
			ss.subscribe(ctx, req)
		}
		if len(ss.pre) == 0 {
			return errHop
		}
	}
}

func (ss *session) auth(key, secret string) (keepOpen bool) {
	srv := ss.srv
	if ss.authed.Load() {
		ss.error(alpacawire.CodeAlreadyAuthenticated)
		return true
	}
	if !srv.opts.Keys.Check(key, secret) {
		srv.stats.authFailures.Add(1)
		ss.logger().Info("stream auth failed", "key", redact(key))
		ss.terminal(alpacawire.CodeAuthFailed, closePolicyViolation, "auth failed")
		return false
	}
	if srv.opts.NotEntitled {
		ss.terminal(alpacawire.CodeInsufficientSub, closePolicyViolation, "insufficient subscription")
		return false
	}
	if srv.opts.Stream.MsgpackOnly && ss.codec != alpacawire.MsgPack {
		// Alpaca's option stream answers a JSON client's auth with 412:
		// nothing it could subscribe to can be sent to it.
		ss.terminal(alpacawire.CodeMsgpackOnly, closePolicyViolation, "msgpack only")
		return false
	}
	if err := srv.opts.Keys.Acquire(key); err != nil {
		// Like Alpaca we keep the socket: the Go SDK retries auth on it.
		ss.error(alpacawire.CodeConnectionLimit)
		return true
	}
	ss.key = key
	// Name the client in the subscriber list (status, dashboard) by its
	// key, redacted as in the logs: the address alone does not say whose
	// program it is, and many share one address behind a NAT or a proxy.
	ss.sub.SetLabel(ss.label + " key " + redact(key))
	ss.iex = ss.srv.opts.IEXView != nil && ss.srv.opts.IEXView(ss.path)
	ss.authed.Store(true)
	ss.srv.authenticated(ss)
	ss.control(alpacawire.AppendSuccess(nil, ss.codec, "authenticated"))
	return true
}

// subscribe applies a subscribe or unsubscribe and echoes the full set.
// A refused request (410 unknown channel, 413 "*" where the stream forbids
// it, 405 symbol limit, an upstream refusal) changes nothing.
func (ss *session) subscribe(ctx context.Context, req *alpacawire.Request) {
	st := ss.srv.opts.Stream
	next := ss.subs
	changed := [market.NumChannels]bool{}
	for name, syms := range req.Lists {
		ch, ok := st.Channel(name)
		if !ok {
			// Mirror keys (stock corrections and cancelErrors, which come
			// with trades) are accepted and ignored, as are empty lists of
			// other streams' channels, which the Go SDK sends on every
			// subscribe.
			if st.IsMirror(name) || len(syms) == 0 {
				continue
			}
			ss.error(alpacawire.CodeInvalidSubscribe)
			return
		}
		if req.Action == alpacawire.ActionSubscribe && !st.WildcardAllowed(ch) && slices.Contains(syms, "*") {
			ss.error(alpacawire.CodeStarOptionQuotes)
			return
		}
		cur := next[ch]
		var upd []string
		if req.Action == alpacawire.ActionSubscribe {
			upd = slices.Clone(cur)
			for _, s := range syms {
				if !slices.Contains(upd, s) {
					upd = append(upd, s)
				}
			}
		} else {
			upd = make([]string, 0, len(cur))
			for _, s := range cur {
				if !slices.Contains(syms, s) {
					upd = append(upd, s)
				}
			}
		}
		if !slices.Equal(upd, cur) {
			next[ch] = upd
			changed[ch] = true
		}
	}
	if max := ss.srv.opts.MaxSymbols; max > 0 && distinctSymbols(&next) > max {
		ss.error(alpacawire.CodeSymbolLimit)
		return
	}
	if req.HasFrom && !ss.canResume() {
		return
	}
	if up := ss.srv.opts.Upstream; up != nil {
		add, remove := diff(&ss.subs, &next)
		// Within the Go SDK's 3 s wait for our echo.
		uctx, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
		err := up.Change(uctx, add, remove)
		cancel()
		var pe interface{ ProtocolCode() int }
		if errors.As(err, &pe) {
			ss.error(pe.ProtocolCode())
			return
		}
		if err != nil {
			ss.logger().Warn("upstream subscription change failed", "err", err)
			ss.error(alpacawire.CodeInternal)
			return
		}
	}
	prev := ss.subs
	ss.subs = next
	// The hub starts delivering the new symbols and the echo is queued in
	// one step the writer cannot split (it takes control frames and data
	// under the same lock, and writes control first). So the client sees the
	// echo before any data it caused, and once it has the echo every later
	// event of the new symbols is on its way.
	var changes []hub.ChannelSet
	for ch, c := range changed {
		if c {
			changes = append(changes, hub.ChannelSet{Channel: ss.hubChannel(market.Channel(ch)), Symbols: ss.subs[ch]})
		}
	}
	// Order books newly subscribed start from a full snapshot, as at
	// Alpaca: taken at the same boundary as the subscription, and sent
	// right after the echo, ahead of the updates that follow it.
	var books []string
	if ch := market.ChanCryptoOrderbooks; changed[ch] {
		for _, sym := range ss.subs[ch] {
			if !slices.Contains(prev[ch], sym) || sym == "*" && !slices.Contains(prev[ch], "*") {
				books = append(books, sym)
			}
		}
	}
	ss.takeMu.Lock()
	boundary, snaps := ss.srv.opts.Hub.UpdateWithBooks(ss.sub, changes, books)
	ss.control(ss.srv.opts.Stream.AppendSubscription(nil, ss.codec, &ss.subs))
	if len(snaps) > 0 {
		enc := ss.encoder()
		msgs := make([][]byte, len(snaps))
		for i := range snaps {
			msgs[i] = enc(nil, &snaps[i])
		}
		ss.control(alpacawire.AppendFrame(nil, ss.codec, msgs))
	}
	if req.HasFrom {
		// Everything after boundary reaches the queue live; the journal
		// supplies the rest, and the writer sends it first.
		ss.startResume(ctx, req, boundary)
	}
	ss.takeMu.Unlock()
}

// hubChannel is the hub channel that serves the client's channel ch: its
// iex twin for a client of the iex feed.
func (ss *session) hubChannel(ch market.Channel) market.Channel {
	if ss.iex {
		return ch.IEX()
	}
	return ch
}

// diff returns what next adds to and removes from cur, per channel.
func diff(cur, next *alpacawire.Subscription) (add, remove alpacawire.Subscription) {
	for ch := range market.NumChannels {
		for _, s := range next[ch] {
			if !slices.Contains(cur[ch], s) {
				add[ch] = append(add[ch], s)
			}
		}
		for _, s := range cur[ch] {
			if !slices.Contains(next[ch], s) {
				remove[ch] = append(remove[ch], s)
			}
		}
	}
	return add, remove
}

func distinctSymbols(s *alpacawire.Subscription) int {
	seen := make(map[string]struct{})
	for _, syms := range s {
		for _, sym := range syms {
			if sym != "*" {
				seen[sym] = struct{}{}
			}
		}
	}
	return len(seen)
}

// control queues a control frame ahead of all data.

// maxControlBytes bounds control replies waiting for a client that does
// not read (a client sending pings or subscribes without reading the
// answers): past it the client is treated as slow.
const maxControlBytes = 4 << 20

// control queues an Alpaca control message (a one-element array frame)
// ahead of all data.
func (ss *session) control(msg []byte) {
	op := byte(opText)
	if ss.codec == alpacawire.MsgPack {
		op = opBinary
	}
	ss.controlFrame(op, msg)
}

// controlFrame queues a websocket frame ahead of all data. Its bytes are
// charged to the subscriber until written.
func (ss *session) controlFrame(op byte, payload []byte) {
	ss.ctrlMu.Lock()
	if ss.closeReq != nil || ss.ended {
		ss.ctrlMu.Unlock()
		return
	}
	before := cap(ss.ctrl)
	ss.ctrl = appendFrame(ss.ctrl, op, payload)
	grown := cap(ss.ctrl) - before
	ss.ctrlCost += grown
	over := grown > 0 && ss.sub.Charge(grown) || len(ss.ctrl) > maxControlBytes
	ss.ctrlMu.Unlock()
	if over {
		ss.sub.Kick()
	}
	ss.wake()
}

func (ss *session) error(code int) {
	ss.srv.stats.errors[code].Add(1)
	ss.control(alpacawire.AppendError(nil, ss.codec, code))
}

// terminal queues a final error and asks the writer to close afterwards.
// Both happen under one lock so the writer cannot see the error without the
// close request.
func (ss *session) terminal(code int, status closeCode, reason string) {
	ss.ctrlMu.Lock()
	if ss.closeReq == nil && !ss.ended {
		ss.srv.stats.errors[code].Add(1)
		op := byte(opText)
		if ss.codec == alpacawire.MsgPack {
			op = opBinary
		}
		ss.ctrl = appendFrame(ss.ctrl, op, alpacawire.AppendError(nil, ss.codec, code))
		ss.closeReq = &closeRequest{code: status, reason: reason}
	}
	ss.ctrlMu.Unlock()
	ss.wake()
}

// closeWith asks the writer to close after what is queued, with no
// Alpaca error.
func (ss *session) closeWith(status closeCode, reason string) {
	ss.ctrlMu.Lock()
	if ss.closeReq == nil && !ss.ended {
		ss.closeReq = &closeRequest{code: status, reason: reason}
	}
	ss.ctrlMu.Unlock()
	ss.wake()
}

// takeControl takes the queued control frames, what they are charged, and
// a close request.
func (ss *session) takeControl() ([]byte, int, *closeRequest) {
	ss.ctrlMu.Lock()
	defer ss.ctrlMu.Unlock()
	frames, cost := ss.ctrl, ss.ctrlCost
	ss.ctrl, ss.ctrlCost = nil, 0
	return frames, cost, ss.closeReq
}

func (ss *session) releaseControlLocked() {
	if ss.ctrlCost > 0 {
		ss.sub.Release(ss.ctrlCost)
	}
	ss.ctrl, ss.ctrlCost = nil, 0
}

// redact keeps enough of a key to tell keys apart in logs.
func redact(key string) string {
	if len(key) <= 4 {
		return "****"
	}
	return key[:4] + "****"
}
