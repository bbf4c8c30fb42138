package wsapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

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
	// WriteTimeout bounds one frame write; a client that cannot take a frame
	// in that time is disconnected as slow. Default 10 s.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings a client to detect dead
	// peers; a ping unanswered for another PingInterval closes the session.
	// Default 20 s. Clients ping too (the SDKs every 10 s); pongs are
	// answered automatically.
	PingInterval time.Duration
	// MaxConns bounds concurrent sessions; beyond it upgrades get HTTP 503.
	// Default 10,000.
	MaxConns int
	// Compression enables permessage-deflate when the client offers it. Off
	// by default: on loopback it costs CPU and saves nothing.
	Compression bool
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

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // one per running session
	mu     sync.Mutex
	closed bool

	sessions atomic.Int64
	stats    counters
}

type counters struct {
	accepted     atomic.Uint64
	rejected     atomic.Uint64 // upgrades refused (limit, shutdown)
	authFailures atomic.Uint64
	slowKicks    atomic.Uint64
	frames       atomic.Uint64
	messages     atomic.Uint64
	bytes        atomic.Uint64
	errors       [600]atomic.Uint64 // by protocol error code
}

// New returns a Server.
func New(opts Options) *Server {
	if opts.Hub == nil {
		panic("wsapi: Options.Hub is required")
	}
	opts.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{opts: opts, ctx: ctx, cancel: cancel}
}

// SetJournal enables the resume extension once the journal is open (the
// server builds its stream endpoint before it opens the journal). Call it
// before serving.
func (s *Server) SetJournal(j Journal) { s.opts.Journal = j }

// ServeHTTP upgrades the request and runs the session until either side
// closes it or the server shuts down.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed || s.sessions.Load() >= int64(s.opts.MaxConns) {
		s.mu.Unlock()
		s.stats.rejected.Add(1)
		http.Error(w, "too many connections or shutting down", http.StatusServiceUnavailable)
		return
	}
	s.sessions.Add(1)
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.sessions.Add(-1)
		s.wg.Done()
	}()

	mode := websocket.CompressionDisabled
	if s.opts.Compression {
		mode = websocket.CompressionContextTakeover
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: mode})
	if err != nil {
		s.opts.Logger.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	// We enforce our own message limit so we can answer with Alpaca's
	// error before closing, which the library's limit would not let us do.
	conn.SetReadLimit(-1)
	s.stats.accepted.Add(1)

	sess := newSession(s, conn, r)
	sess.run(s.ctx)
}

// Close disconnects every session (close code 1001, going away) and waits
// for their goroutines. New upgrades are refused from the first call.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	Sessions     int64
	Accepted     uint64
	Rejected     uint64
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
		Sessions:     s.sessions.Load(),
		Accepted:     s.stats.accepted.Load(),
		Rejected:     s.stats.rejected.Load(),
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

func isCloseOrCancel(err error) bool {
	return errors.Is(err, context.Canceled) || websocket.CloseStatus(err) != -1
}

var _ http.Handler = (*Server)(nil)
