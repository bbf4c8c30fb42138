package wsapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/auth"
	"github.com/tapehq/tape/internal/hub"
)

// Options configures a Server. Zero fields take the documented defaults.
type Options struct {
	// Hub delivers the events; its Formats must be indexed by
	// alpacawire.Codec (JSON at 0, msgpack at 1). Required.
	Hub *hub.Hub
	// Keys authenticates clients; nil accepts any key (loopback only).
	Keys *auth.Keys
	// Logger; nil discards.
	Logger *slog.Logger

	// AuthTimeout is how long a client has to authenticate (error 404).
	// Default 10 s, as at Alpaca.
	AuthTimeout time.Duration
	// MaxSymbols bounds the distinct symbols one connection may subscribe
	// to across channels, "*" not counted (error 405). Default 10,000;
	// negative means unlimited.
	MaxSymbols int
	// MaxMessageBytes bounds one client message after reassembly of
	// fragments (error 400, then close 1009). Default 1 MiB, which holds a
	// subscribe for every listed US stock.
	MaxMessageBytes int
	// MaxFrameBytes is the size at which outgoing data frames are cut.
	// Default 128 KiB: large enough to batch, small enough for clients
	// with a 1 MiB read limit (the Python websockets default).
	MaxFrameBytes int
	// WriteTimeout bounds how long a client may leave its socket full: the
	// writers never wait on a socket, and what it did not take waits in a
	// flush that gives up after WriteTimeout and disconnects the client as
	// slow (sooner once it is over its queue bound: 407). Default 10 s.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings a client to detect dead
	// peers; a ping unanswered for another PingInterval closes the session.
	// One watchdog goroutine does it for every session, checking at most
	// every second. Default 20 s. Clients ping too (the SDKs every 10 s); pongs are
	// answered automatically.
	PingInterval time.Duration
	// MaxConns bounds concurrent sessions; beyond it upgrades get HTTP 503.
	// Default 10,000.
	MaxConns int
	// MaxUnauthConns bounds the sessions that have not authenticated yet.
	// When it is reached, a new connection evicts the oldest of them that
	// has had at least a second (error 404, as if its auth timed out), so
	// that connections which never authenticate cannot lock legitimate
	// clients out; if none is that old, the upgrade gets HTTP 503. Default
	// 1,000; negative means unlimited.
	MaxUnauthConns int
	// MaxUnauthConnsPerAddr bounds the unauthenticated sessions of one
	// peer (an IPv4 address, or an IPv6 /64); beyond it upgrades from that
	// peer get HTTP 503, so one peer cannot take the MaxUnauthConns slots.
	// SDKs authenticate right after connecting, so even many clients behind
	// one NAT rarely have more than a few unauthenticated at once. Default
	// 64; negative means unlimited.
	MaxUnauthConnsPerAddr int
	// Writers is the number of goroutines that write to every connection
	// (writer.go). Default GOMAXPROCS.
	Writers int
	// Stream is the stream family this endpoint serves: it names the
	// channels of subscribe messages and echoes, and sets the stream's
	// rules (options: msgpack only, error 412 for a JSON client; no "*" on
	// quotes, error 413). Default alpacawire.StreamStocks. One Server
	// serves one stream; the hub may be shared between streams, since each
	// stream's channels are distinct.
	Stream *alpacawire.Stream
	// Journal, when set, serves Tape's resume extension: a subscribe with
	// "tape_from_seq" or "tape_from_time" first gets the journal's records
	// from there, then live data, with no gap and no duplicate. The hub must
	// then be built with HubFormats.
	Journal Journal
	// Upstream, when set, is told about every subscription change (the
	// Alpaca upstream feed keeps its subscription the union of all
	// clients'); a refusal it returns (*streamclient.ProtocolError, e.g. 405
	// or 409 from Alpaca) is sent to the client that caused it, whose
	// subscription then stays as it was.
	Upstream Upstream
	// NotEntitled makes every successful auth answer 409 (insufficient
	// subscription) and close, as Alpaca does for a feed the plan lacks;
	// Tape uses it for stock feeds the operator disabled.
	NotEntitled bool
	// IEXView, when set and true for the request path at a session's
	// authentication, makes the session a client of the iex feed: its
	// stock channels are the IEX ones (market.Channel.IEX: trades printed
	// on IEX, IEX quotes and IEX bars), live and in a resume. It is asked
	// once per session, so that a session's subscriptions always name the
	// channels it subscribed to. Tape answers true for /v2/iex when the
	// record has an IEX view of its own (the simulator's); a record of one
	// received feed serves that feed on every stock path.
	IEXView func(path string) bool
}

func (o *Options) setDefaults() {
	if o.AuthTimeout <= 0 {
		o.AuthTimeout = 10 * time.Second
	}
	if o.MaxSymbols == 0 {
		o.MaxSymbols = 10_000
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 1 << 20
	}
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = 128 << 10
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 20 * time.Second
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 10_000
	}
	if o.MaxUnauthConns == 0 {
		o.MaxUnauthConns = 1_000
	}
	if o.MaxUnauthConnsPerAddr == 0 {
		o.MaxUnauthConnsPerAddr = 64
	}
	if o.Writers <= 0 {
		o.Writers = runtime.GOMAXPROCS(0)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stream == nil {
		o.Stream = alpacawire.StreamStocks
	}
}

// Upstream learns what clients subscribe to.
type Upstream interface {
	Change(ctx context.Context, add, remove alpacawire.Subscription) error
}

// Server is an http.Handler serving the stream protocol for one hub.
type Server struct {
	opts Options
	pool *writerPool

	wg       sync.WaitGroup // one per running session
	mu       sync.Mutex
	closed   bool
	sessions map[*session]struct{}
	unauth   int            // sessions not authenticated (counted)
	perPeer  map[string]int // of which per peer
	stopDog  chan struct{}
	dogDone  chan struct{}

	nsessions atomic.Int64
	stats     counters
}

type counters struct {
	accepted     atomic.Uint64
	rejected     atomic.Uint64 // upgrades refused (limits, shutdown)
	evicted      atomic.Uint64 // unauthenticated sessions evicted for newer ones
	authFailures atomic.Uint64
	slowKicks    atomic.Uint64
	frames       atomic.Uint64
	messages     atomic.Uint64
	bytes        atomic.Uint64
	errors       [600]atomic.Uint64 // by protocol error code
}

// New returns a Server. Its writer goroutines and its watchdog (pings,
// pong deadlines) run until Close.
func New(opts Options) *Server {
	if opts.Hub == nil {
		panic("wsapi: Options.Hub is required")
	}
	opts.setDefaults()
	s := &Server{opts: opts, sessions: make(map[*session]struct{}), perPeer: make(map[string]int),
		stopDog: make(chan struct{}), dogDone: make(chan struct{})}
	s.pool = newWriterPool(opts.Writers)
	go s.watchdog()
	return s
}

// evictAge is how long an unauthenticated session is safe from eviction
// (a variable for tests):
// the SDKs authenticate within a round trip, so only a connection that
// has no intention to is ever this old.
var evictAge = time.Second

// ServeHTTP upgrades the request and starts the session, which then runs
// on its own goroutine (owned by the Server, waited for by Close): the
// handler returns at once, so net/http's goroutine and buffers are not kept
// for the life of the connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if code, msg := checkUpgrade(r); code != 0 {
		if code == http.StatusBadRequest {
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		http.Error(w, msg, code)
		return
	}
	peer := peerKey(r.RemoteAddr)
	ss, victim, refused := s.admit(peer)
	if refused != "" {
		s.stats.rejected.Add(1)
		w.Header().Set("Retry-After", "1")
		http.Error(w, refused, http.StatusServiceUnavailable)
		return
	}
	if victim != nil {
		s.stats.evicted.Add(1)
		victim.terminal(alpacawire.CodeAuthTimeout, closePolicyViolation, "auth timeout")
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		s.unregister(ss)
		http.Error(w, "websocket upgrade failed", http.StatusInternalServerError)
		return
	}
	conn.SetDeadline(time.Time{})
	var pre []byte
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		pre = slices.Clone(b)
	}
	if _, err := conn.Write(appendSwitching(nil, r.Header.Get("Sec-WebSocket-Key"))); err != nil {
		conn.Close()
		s.unregister(ss)
		return
	}
	s.stats.accepted.Add(1)
	ss.init(s, conn, r)
	ss.pre = pre
	s.mu.Lock()
	ss.upgraded = true // from now on the watchdog and Close see it
	closing := s.closed
	s.mu.Unlock()
	if closing { // Close ran during the upgrade and did not see it
		ss.closeWith(closeGoingAway, "server shutting down")
	}
	go ss.run()
}

// admit registers a new session for peer under the limits, or says why
// not. victim, if set, is an unauthenticated session evicted to make room.
func (s *Server) admit(peer string) (ss *session, victim *session, refused string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := &s.opts
	switch {
	case s.closed:
		return nil, nil, "shutting down"
	case len(s.sessions) >= o.MaxConns:
		return nil, nil, "too many connections"
	case o.MaxUnauthConnsPerAddr > 0 && s.perPeer[peer] >= o.MaxUnauthConnsPerAddr:
		return nil, nil, "too many unauthenticated connections from your address"
	}
	if o.MaxUnauthConns > 0 && s.unauth >= o.MaxUnauthConns {
		now := time.Now()
		for c := range s.sessions {
			if c.upgraded && c.counted && now.Sub(c.start) >= evictAge && (victim == nil || c.start.Before(victim.start)) {
				victim = c
			}
		}
		if victim == nil {
			return nil, nil, "too many unauthenticated connections"
		}
		s.uncountLocked(victim)
	}
	// The session is filled in after the upgrade; it is registered now so
	// that the limits see it.
	ss = &session{peer: peer, start: time.Now(), counted: true}
	s.sessions[ss] = struct{}{}
	s.unauth++
	s.perPeer[peer]++
	s.nsessions.Add(1)
	s.wg.Add(1)
	return ss, victim, ""
}

func (s *Server) uncountLocked(ss *session) {
	if !ss.counted {
		return
	}
	ss.counted = false
	s.unauth--
	if s.perPeer[ss.peer]--; s.perPeer[ss.peer] <= 0 {
		delete(s.perPeer, ss.peer)
	}
}

// authenticated moves ss out of the unauthenticated counts.
func (s *Server) authenticated(ss *session) {
	s.mu.Lock()
	s.uncountLocked(ss)
	s.mu.Unlock()
}

// unregister removes a finished session.
func (s *Server) unregister(ss *session) {
	s.mu.Lock()
	s.uncountLocked(ss)
	delete(s.sessions, ss)
	s.mu.Unlock()
	s.nsessions.Add(-1)
	s.wg.Done()
}

// peerKey is the admission key of a remote address: the IP, or the /64 of
// an IPv6 address (one host usually has a whole /64).
func peerKey(remote string) string {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return remote
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func (s *Server) authTimeout() time.Duration { return s.opts.AuthTimeout }

// watchdog pings every session each PingInterval and closes those whose
// pong is later than another PingInterval. One goroutine for all sessions,
// so an idle connection has no timer and no pinger of its own.
func (s *Server) watchdog() {
	defer close(s.dogDone)
	every := min(time.Second, s.opts.PingInterval/4)
	t := time.NewTicker(every)
	defer t.Stop()
	var list []*session
	for {
		select {
		case <-s.stopDog:
			return
		case <-t.C:
		}
		s.mu.Lock()
		list = list[:0]
		for ss := range s.sessions {
			if ss.upgraded {
				list = append(list, ss)
			}
		}
		s.mu.Unlock()
		now := time.Now().UnixNano()
		iv := int64(s.opts.PingInterval)
		for _, ss := range list {
			if sent := ss.pingSent.Load(); sent != 0 {
				if now-sent > iv {
					ss.logger().Info("closing unresponsive client: no pong")
					ss.abort()
				}
				continue
			}
			if ss.nextPing == 0 {
				ss.nextPing = ss.start.UnixNano() + iv
			}
			if now >= ss.nextPing {
				ss.nextPing = now + iv
				ss.pingSent.Store(now)
				ss.controlFrame(opPing, nil)
			}
		}
		clear(list)
	}
}

// Close disconnects every session (close code 1001, going away) and waits
// for their goroutines, then stops the writers. New upgrades are refused
// from the first call.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.closed = true
	var list []*session
	for ss := range s.sessions {
		if ss.upgraded {
			list = append(list, ss)
		}
	}
	s.mu.Unlock()
	for _, ss := range list {
		ss.closeWith(closeGoingAway, "server shutting down")
		ss.conn.SetReadDeadline(time.Now().Add(closeWait + time.Second))
	}
	s.wg.Wait()
	close(s.stopDog)
	<-s.dogDone
	s.pool.close()
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	Sessions     int64
	Accepted     uint64
	Rejected     uint64 // upgrades refused: limits or shutdown
	Evicted      uint64 // unauthenticated sessions closed to admit newer ones
	AuthFailures uint64
	SlowKicks    uint64
	Frames       uint64
	Messages     uint64
	Bytes        uint64
	Errors       map[int]uint64 // protocol errors sent, by code
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Sessions:     s.nsessions.Load(),
		Accepted:     s.stats.accepted.Load(),
		Rejected:     s.stats.rejected.Load(),
		Evicted:      s.stats.evicted.Load(),
		AuthFailures: s.stats.authFailures.Load(),
		SlowKicks:    s.stats.slowKicks.Load(),
		Frames:       s.stats.frames.Load(),
		Messages:     s.stats.messages.Load(),
		Bytes:        s.stats.bytes.Load(),
		Errors:       make(map[int]uint64),
	}
	for code := range s.stats.errors {
		if n := s.stats.errors[code].Load(); n > 0 {
			st.Errors[code] = n
		}
	}
	return st
}

var _ http.Handler = (*Server)(nil)
