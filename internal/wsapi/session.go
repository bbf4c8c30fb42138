package wsapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/hub"
	"github.com/tapehq/tape/internal/market"
)

// closeRequest asks the writer to close the connection once the control
// queue is flushed.
type closeRequest struct {
	code   websocket.StatusCode
	reason string
}

type session struct {
	srv   *Server
	conn  *websocket.Conn
	codec alpacawire.Codec
	log   *slog.Logger
	sub   *hub.Subscriber
	label string // for statistics: address, path, codec

	// Reader-owned state.
	key  string // the authenticated key, for the connection count
	subs alpacawire.Subscription

	authed atomic.Bool // set by the reader, read by the auth timer

	pendingHeaderAuth [2]string // key and secret from upgrade headers

	takeMu sync.Mutex // orders subscription changes with the writer's takes
	// resume holds the journal frames of a resume in progress (guarded by
	// takeMu); while it is set the writer sends them instead of live data.
	resume      chan []byte
	resumeReady chan struct{}  // capacity 1: a resume frame or its end is ready
	seq         bool           // Tape's "#" sequence extension is on
	bg          sync.WaitGroup // resume and ping goroutines, waited for by run
	stop        context.CancelFunc
	// pinging is set while a ping waits for its pong. A ping needs a
	// goroutine of its own (coder/websocket's Ping blocks until the pong);
	// starting one per ping instead of keeping a pinger per connection
	// saves a goroutine stack on every idle client.
	pinging atomic.Bool

	ctrlMu    sync.Mutex
	ctrl      [][]byte      // control frames waiting, in order
	closeReq  *closeRequest // set once
	ctrlReady chan struct{} // capacity 1
}

func newSession(srv *Server, conn *websocket.Conn, r *http.Request) *session {
	codec := alpacawire.CodecForContentType(r.Header.Get("Content-Type"))
	ss := &session{
		label:       r.RemoteAddr + " " + r.URL.Path + " " + codec.String(),
		srv:         srv,
		conn:        conn,
		codec:       codec,
		log:         srv.opts.Logger.With("remote", r.RemoteAddr, "codec", codec.String()),
		ctrlReady:   make(chan struct{}, 1),
		resumeReady: make(chan struct{}, 1),
		// Tape's sequence extension: opt in with ?tape_seq=1 or a header,
		// so unmodified Alpaca clients never see it.
		seq: r.URL.Query().Get("tape_seq") == "1" || r.Header.Get("X-Tape-Seq") == "1",
	}
	// Alpaca also accepts the key pair as headers on the upgrade; no SDK
	// uses it, but curl-style clients do.
	if key := r.Header.Get("APCA-API-KEY-ID"); key != "" {
		ss.pendingHeaderAuth = [2]string{key, r.Header.Get("APCA-API-SECRET-KEY")}
	}
	return ss
}

// run drives the session until it ends. ctx is the server's lifetime: when
// it ends the client gets close 1001 (going away).
func (ss *session) run(ctx context.Context) {
	srv := ss.srv
	ss.sub = srv.opts.Hub.Subscribe(ss.format(), ss.label)
	defer srv.opts.Hub.Remove(ss.sub)
	defer func() {
		// The reader is done: ss.subs is final. Give back its references.
		if up := srv.opts.Upstream; up != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := up.Change(ctx, alpacawire.Subscription{}, ss.subs); err != nil {
				ss.log.Debug("releasing upstream subscriptions", "err", err)
			}
		}
	}()
	defer func() {
		if ss.authed.Load() {
			srv.opts.Keys.Release(ss.key)
		}
	}()

	// The session context ends the reader and the pinger. It is not the
	// server's ctx: on shutdown the writer closes the connection politely
	// first, which in turn ends the reader.
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	ss.control(alpacawire.AppendSuccess(nil, ss.codec, "connected"))
	if h := ss.pendingHeaderAuth; h[0] != "" {
		ss.auth(h[0], h[1])
	}
	authTimer := time.AfterFunc(srv.opts.AuthTimeout, func() {
		if !ss.authed.Load() {
			ss.terminal(alpacawire.CodeAuthTimeout, websocket.StatusPolicyViolation, "auth timeout")
		}
	})
	defer authTimer.Stop()

	writerDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(writerDone)
		defer cancel()
		if err := ss.writeLoop(ctx, sctx); err != nil && !isCloseOrCancel(err) {
			ss.log.Debug("session writer ended", "err", err)
		}
	})
	ss.stop = cancel

	defer ss.bg.Wait()
	err := ss.safeReadLoop(sctx)
	if err != nil && !isCloseOrCancel(err) && !errors.Is(err, io.EOF) {
		ss.log.Debug("session reader ended", "err", err)
	}
	if errors.Is(err, errTerminal) {
		// Let the writer deliver the final error and close, but not forever.
		select {
		case <-writerDone:
		case <-time.After(srv.opts.WriteTimeout):
		}
	}
	cancel()
	wg.Wait()
	ss.conn.CloseNow()
}

// testHookRequest, when set by a test, sees every parsed request.
var testHookRequest func(*alpacawire.Request)

// errTerminal ends the reader after a terminal protocol error was queued.
var errTerminal = errors.New("wsapi: session terminated")

// safeReadLoop turns a bug in message handling into Alpaca's 500 for this
// client instead of a crash of the whole server.
func (ss *session) safeReadLoop(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			ss.log.Error("panic in stream session", "panic", r, "stack", string(debug.Stack()))
			ss.terminal(alpacawire.CodeInternal, websocket.StatusInternalError, "internal error")
			err = errTerminal
		}
	}()
	return ss.readLoop(ctx)
}

func (ss *session) readLoop(ctx context.Context) error {
	limit := int64(ss.srv.opts.MaxMessageBytes)
	for {
		typ, r, err := ss.conn.Reader(ctx)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			return err
		}
		if int64(len(data)) > limit {
			ss.terminal(alpacawire.CodeInvalidSyntax, websocket.StatusMessageTooBig, "message too big")
			return errTerminal
		}
		codec := alpacawire.JSON
		if typ == websocket.MessageBinary {
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
		ss.log.Info("stream auth failed", "key", redact(key))
		ss.terminal(alpacawire.CodeAuthFailed, websocket.StatusPolicyViolation, "auth failed")
		return false
	}
	if srv.opts.NotEntitled {
		ss.terminal(alpacawire.CodeInsufficientSub, websocket.StatusPolicyViolation, "insufficient subscription")
		return false
	}
	if srv.opts.Stream.MsgpackOnly && ss.codec != alpacawire.MsgPack {
		// Alpaca's option stream answers a JSON client's auth with 412:
		// nothing it could subscribe to can be sent to it.
		ss.terminal(alpacawire.CodeMsgpackOnly, websocket.StatusPolicyViolation, "msgpack only")
		return false
	}
	if err := srv.opts.Keys.Acquire(key); err != nil {
		// Like Alpaca we keep the socket: the Go SDK retries auth on it.
		ss.error(alpacawire.CodeConnectionLimit)
		return true
	}
	ss.key = key
	ss.authed.Store(true)
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
			ss.log.Warn("upstream subscription change failed", "err", err)
			ss.error(alpacawire.CodeInternal)
			return
		}
	}
	ss.subs = next
	// The hub starts delivering the new symbols and the echo is queued in
	// one step the writer cannot split (it takes control frames and data
	// under the same lock, and writes control first). So the client sees the
	// echo before any data it caused, and once it has the echo every later
	// event of the new symbols is on its way.
	var changes []hub.ChannelSet
	for ch, c := range changed {
		if c {
			changes = append(changes, hub.ChannelSet{Channel: market.Channel(ch), Symbols: ss.subs[ch]})
		}
	}
	ss.takeMu.Lock()
	boundary := ss.srv.opts.Hub.Update(ss.sub, changes)
	ss.control(ss.srv.opts.Stream.AppendSubscription(nil, ss.codec, &ss.subs))
	if req.HasFrom {
		// Everything after boundary reaches the queue live; the journal
		// supplies the rest, and the writer sends it first.
		ss.startResume(ctx, req, boundary)
	}
	ss.takeMu.Unlock()
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
func (ss *session) control(frame []byte) {
	ss.ctrlMu.Lock()
	if ss.closeReq == nil {
		ss.ctrl = append(ss.ctrl, frame)
	}
	ss.ctrlMu.Unlock()
	ss.signalControl()
}

func (ss *session) signalControl() {
	select {
	case ss.ctrlReady <- struct{}{}:
	default:
	}
}

func (ss *session) error(code int) {
	ss.srv.stats.errors[code].Add(1)
	ss.control(alpacawire.AppendError(nil, ss.codec, code))
}

// terminal queues a final error and asks the writer to close afterwards.
// Both happen under one lock so the writer cannot see the error without the
// close request.
func (ss *session) terminal(code int, status websocket.StatusCode, reason string) {
	ss.ctrlMu.Lock()
	if ss.closeReq == nil {
		ss.srv.stats.errors[code].Add(1)
		ss.ctrl = append(ss.ctrl, alpacawire.AppendError(nil, ss.codec, code))
		ss.closeReq = &closeRequest{code: status, reason: reason}
	}
	ss.ctrlMu.Unlock()
	ss.signalControl()
}

func (ss *session) takeControl() ([][]byte, *closeRequest) {
	ss.ctrlMu.Lock()
	defer ss.ctrlMu.Unlock()
	frames := ss.ctrl
	ss.ctrl = nil
	return frames, ss.closeReq
}

// errClosed ends the writer after it closed the connection on purpose.
var errClosed = errors.New("wsapi: connection closed by server")

// flushControl writes pending control frames and performs a requested close.
func (ss *session) flushControl(ctx context.Context) error {
	frames, req := ss.takeControl()
	return ss.writeControl(ctx, frames, req)
}

func (ss *session) writeControl(ctx context.Context, frames [][]byte, req *closeRequest) error {
	for _, f := range frames {
		if err := ss.write(ctx, f); err != nil {
			return err
		}
	}
	if req != nil {
		ss.conn.Close(req.code, req.reason)
		return errClosed
	}
	return nil
}

func (ss *session) write(ctx context.Context, frame []byte) error {
	typ := websocket.MessageText
	if ss.codec == alpacawire.MsgPack {
		typ = websocket.MessageBinary
	}
	wctx, cancel := context.WithTimeout(ctx, ss.srv.opts.WriteTimeout)
	defer cancel()
	if err := ss.conn.Write(wctx, typ, frame); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			ss.srv.stats.slowKicks.Add(1)
			ss.log.Info("disconnecting slow client: write timed out", "timeout", ss.srv.opts.WriteTimeout)
		}
		return fmt.Errorf("write: %w", err)
	}
	ss.srv.stats.frames.Add(1)
	ss.srv.stats.bytes.Add(uint64(len(frame)))
	return nil
}

func (ss *session) writeLoop(serverCtx, sctx context.Context) error {
	var msgs [][]byte
	var frame []byte
	max := ss.srv.opts.MaxFrameBytes
	pings := time.NewTicker(ss.srv.opts.PingInterval)
	defer pings.Stop()
	wait := true
	for {
		ss.takeMu.Lock()
		resume := ss.resume
		ss.takeMu.Unlock()
		if wait {
			select {
			case <-serverCtx.Done():
				ss.conn.Close(websocket.StatusGoingAway, "server shutting down")
				return errClosed
			case <-sctx.Done():
				return sctx.Err()
			case <-ss.ctrlReady:
			case <-ss.sub.Ready():
			case <-ss.resumeReady:
			case <-pings.C:
				ss.ping(sctx)
				continue
			}
		}
		wait = true
		ss.takeMu.Lock()
		frames, req := ss.takeControl()
		resume = ss.resume
		var cost int
		var err error
		if resume == nil {
			msgs, cost, err = ss.sub.Take(msgs[:0])
		}
		ss.takeMu.Unlock()
		if err := ss.writeControl(sctx, frames, req); err != nil {
			return err
		}
		if resume != nil {
			// Journal frames first; live data waits in the hub queue.
			done, err := ss.writeResume(sctx, resume)
			if err != nil {
				return err
			}
			if done {
				ss.takeMu.Lock()
				ss.resume = nil
				ss.takeMu.Unlock()
				wait = false // the live queue's wake-up may already be spent
			}
			continue
		}
		if errors.Is(err, hub.ErrSlowConsumer) {
			ss.srv.stats.slowKicks.Add(1)
			ss.log.Info("disconnecting slow client: queue full")
			ss.terminal(alpacawire.CodeSlowClient, websocket.StatusPolicyViolation, "slow client")
			// Best effort: a client this far behind may never read it.
			ctx, cancel := context.WithTimeout(sctx, time.Second)
			defer cancel()
			return ss.flushControl(ctx)
		}
		if err != nil {
			return err
		}
		for i := 0; i < len(msgs); {
			size := alpacawire.FrameOverhead(ss.codec, 1) + len(msgs[i])
			j := i + 1
			for j < len(msgs) && size+len(msgs[j])+1 <= max {
				size += len(msgs[j]) + 1
				j++
			}
			frame = alpacawire.AppendFrame(frame[:0], ss.codec, msgs[i:j])
			if err := ss.write(sctx, frame); err != nil {
				return err
			}
			ss.srv.stats.messages.Add(uint64(j - i))
			i = j
			// A subscription echo must not wait behind a long backlog.
			if err := ss.flushControl(sctx); err != nil {
				return err
			}
		}
		clear(msgs)
		ss.sub.Release(cost)
		if cap(frame) > 4*max {
			frame = nil
		}
	}
}

// writeResume writes the journal frames that are ready; done reports that
// the resume has delivered everything.
func (ss *session) writeResume(ctx context.Context, resume chan []byte) (done bool, err error) {
	for {
		select {
		case f, ok := <-resume:
			if !ok {
				return true, nil
			}
			if len(f) == 0 {
				continue
			}
			if err := ss.write(ctx, f); err != nil {
				return false, err
			}
			if err := ss.flushControl(ctx); err != nil {
				return false, err
			}
		default:
			return false, nil
		}
	}
}

// ping checks the client is alive: one ping at a time, and a ping
// unanswered for PingInterval ends the session.
func (ss *session) ping(ctx context.Context) {
	if !ss.pinging.CompareAndSwap(false, true) {
		return
	}
	ss.bg.Go(func() {
		defer ss.pinging.Store(false)
		pctx, cancel := context.WithTimeout(ctx, ss.srv.opts.PingInterval)
		defer cancel()
		if err := ss.conn.Ping(pctx); err != nil {
			if ctx.Err() == nil {
				ss.log.Info("closing unresponsive client: no pong", "err", err)
			}
			ss.stop()
		}
	})
}

// redact keeps enough of a key to tell keys apart in logs.
func redact(key string) string {
	if len(key) <= 4 {
		return "****"
	}
	return key[:4] + "****"
}
