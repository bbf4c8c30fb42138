package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/auth"
	"github.com/tapehq/tape/internal/backfill"
	"github.com/tapehq/tape/internal/calendar"
	"github.com/tapehq/tape/internal/datadir"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/feed/sim"
	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/hub"
	"github.com/tapehq/tape/internal/ingest"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/webui"
	"github.com/tapehq/tape/internal/wsapi"
)

// Server is a running Tape.
//
// New resolves the options (the feed above all) without touching the data
// directory; Run listens at once, answering 503 "starting" while it opens
// the data directory (repair, history catch-up, record state), then builds
// every component with complete options and serves.
type Server struct {
	opts Options
	log  *slog.Logger
	keys *auth.Keys
	hub  *hub.Hub
	kind sourceKind
	// pollClient is --feed poll's REST client, made (and its URL checked)
	// in New.
	pollClient *backfill.Client

	// Built by Run once the data directory is open, before the handler
	// that reads them is installed (and before built is closed).
	dir      *datadir.Dir
	src      *source
	pipeline atomic.Pointer[ingest.Pipeline] // swapped when a cluster node changes role
	stream   *wsapi.Server                   // enabled stock feeds
	denied   *wsapi.Server                   // disabled stock feeds: 409
	mux      *http.ServeMux
	built    chan struct{}

	handler atomic.Pointer[handlerBox] // "starting" until built, then mux
	down    downSince                  // feeds not connected, for health
	grace   struct{ reconnect, stall time.Duration }
	httpm   *httpMetrics
	certs   *certReloader // nil without TLS
	keep    *datadir.Retention
	link    *natsLink // nil without --nats; set in Run before build
	started time.Time
	addr    atomic.Pointer[net.TCPAddr]
	ready   chan struct{}
}

type handlerBox struct{ h http.Handler }

// New validates opts and returns a Server; nothing runs, and nothing is
// opened, until Run.
func New(opts Options) (*Server, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	kind, err := resolveSource(&opts)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Logger, kind: kind, ready: make(chan struct{}), built: make(chan struct{})}
	if kind == srcPoll {
		if s.pollClient, err = newPollClient(&s.opts); err != nil {
			return nil, err
		}
	}
	s.keys = auth.NewKeys(opts.Keys)
	s.keys.MaxConnsPerKey = opts.MaxConnsPerKey
	s.hub = hub.New(hub.Options{
		Formats:       wsapi.HubFormats,
		MaxQueueBytes: opts.ClientQueueBytes,
	})
	s.handler.Store(&handlerBox{http.HandlerFunc(s.serveStarting)})
	s.grace.reconnect, s.grace.stall = reconnectGrace, stallAfter
	s.httpm = newHTTPMetrics()
	if opts.TLSCert != "" {
		if s.certs, err = newCertReloader(opts.TLSCert, opts.TLSKey, s.log); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// build makes every component over the open data directory, each with its
// complete options, and the routes.
func (s *Server) build(d *datadir.Dir) error {
	src, err := s.buildSource(s.kind, d)
	if err != nil {
		return err
	}
	s.dir, s.src = d, src
	if s.kind == srcReplay {
		// A replay publishes the journal's records as they are: same
		// sequence numbers, the bars as derived then, nothing journaled again.
		s.pipeline.Store(ingest.New(ingest.Options{Publish: s.hub, KeepSeq: true, Logger: s.log}))
	} else {
		s.pipeline.Store(s.newPipeline(s.kind == srcEdge))
	}

	ws := wsapi.Options{Hub: s.hub, Keys: s.keys, Logger: s.log, MaxSymbols: s.opts.MaxSymbols, Journal: d.Journal,
		IEXView: s.iexStream}
	if src.alpha != nil {
		ws.Upstream = src.alpha
	}
	s.stream = wsapi.New(ws)
	ws.Upstream, ws.NotEntitled = nil, true
	s.denied = wsapi.New(ws)
	for _, u := range src.upstreams {
		o := ws
		o.NotEntitled = false
		o.Stream, o.Upstream = u.stream, u.feed
		u.ws = wsapi.New(o)
	}
	if s.kind != srcAlpaca {
		// Crypto from the simulator (or a replay of it) on Alpaca's crypto
		// stream. The SDKs dial base+"/us" with base ".../v1beta3/crypto"
		// (DATA_CRYPTO_PROXY_WS replaces the base, hence "/us"); ccxt dials
		// the older /v1beta2/crypto, whose messages are the same.
		o := ws
		o.NotEntitled = false
		o.Stream = alpacawire.StreamCrypto
		src.local = append(src.local, &upstream{name: "crypto/us", stream: alpacawire.StreamCrypto, ws: wsapi.New(o),
			paths: []string{"/v1beta3/crypto/us", "/v1beta2/crypto", "/us"}})
		o.Stream = alpacawire.StreamNews
		src.local = append(src.local, &upstream{name: "news", stream: alpacawire.StreamNews, ws: wsapi.New(o),
			paths: []string{"/v1beta1/news", "/news"}})
	}
	ro := httpapi.Options{Store: d.History, Keys: s.keys, Logger: s.log, Now: s.feedClock,
		Crypto: cryptoStore{c: d.History.Crypto(), books: s.hub}, News: d.News,
		IEX: func() httpapi.Store {
			if s.hasIEXView() {
				return d.History.IEX()
			}
			return nil
		}}
	// Simulated options stand on a simulated record only: the simulator's,
	// or a replay or an edge of one (a record with an IEX view of its own
	// was made by a source Tape derives bars for). Beside the real market
	// they would pass made-up prices off as real ones.
	ro.SimulatedOptions = s.kind == srcSim || (s.kind == srcReplay || s.kind == srcEdge) && d.History.HasIEX()
	if syms := s.opts.Symbols; len(syms) > 0 {
		ro.StockSymbols = func() []string { return syms }
	}
	if syms := s.opts.CryptoSymbols; len(syms) > 0 {
		ro.CryptoSymbols = func() []string { return syms }
	}
	rest := httpapi.New(ro)
	s.mux = s.routes(rest)
	return nil
}

// hasIEXView reports whether the record holds an IEX view of its own —
// IEX quotes and bars beside the consolidated ones — so that the iex feed
// (stream and REST) serves IEX's market rather than the consolidated one:
// a source Tape derives bars for (the simulator) makes one; a record that
// followed or recorded such a source has one once its history holds IEX
// quotes or bars. A record of one received feed (Alpaca, polling) is that
// feed and nothing else, served on every feed's path as before.
func (s *Server) hasIEXView() bool {
	return s.kind.derivesBars() || s.dir.History.HasIEX()
}

// iexStream reports whether a stream session on path is a client of the
// iex feed's own view (wsapi.Options.IEXView).
func (s *Server) iexStream(p string) bool {
	return path.Base(p) == "iex" && s.hasIEXView()
}

// alsoPublish are the stores released events go to after the hub.
func (s *Server) alsoPublish() []ingest.Publisher {
	return s.dir.Stores()
}

// releaseSynced: with --fsync always, clients see only fsynced events.
func (s *Server) releaseSynced() bool {
	policy, _ := journal.ParseFsyncPolicy(s.opts.Fsync) // validated in New
	return policy.Mode == journal.FsyncAlways
}

// pipe is the running pipeline.
func (s *Server) pipe() *ingest.Pipeline { return s.pipeline.Load() }

// feedClock is "now" for the REST API's defaults: the feed's clock, which
// is simulated time for an accelerated simulator and recorded time for a
// replay, so the history a client asks for by default is what the feed
// has reached; before any event, where the simulator starts, or the wall
// clock.
func (s *Server) feedClock() time.Time {
	st := s.pipe().Stats()
	if t := max(st.FeedNow, st.Clock); t != 0 {
		return time.Unix(0, t+1)
	}
	if s.kind == srcSim {
		return s.src.simStart // before its first batch
	}
	return time.Now()
}

func (s *Server) routes(rest http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	enabled := make(map[string]bool)
	for _, f := range s.opts.EnabledFeeds {
		enabled[f] = true
	}
	for _, f := range StockFeeds {
		h := http.Handler(s.stream)
		if !enabled[f] {
			h = s.denied
		}
		// The SDKs dial base+"/"+feed with base ".../v2"; DATA_PROXY_WS
		// replaces "/v2", so the short form must work too. boats and
		// overnight live under /v1beta1 at Alpaca.
		mux.Handle("/v2/"+f, h)
		mux.Handle("/v1beta1/"+f, h)
		mux.Handle("/"+f, h)
	}
	for _, u := range append(slices.Clone(s.src.upstreams), s.src.local...) {
		for _, p := range u.paths {
			h := http.Handler(u.ws)
			if p == "/v1beta1/news" {
				// One path, two APIs: the news stream and news REST.
				h = upgradeOr(u.ws, s.httpm.wrap(rest))
			}
			mux.Handle(p, h)
		}
	}
	// Alpaca's REST APIs (data and the trading API's market endpoints):
	// the stream paths above are more specific and win.
	for _, p := range []string{"/v1/", "/v1beta1/", "/v1beta2/", "/v1beta3/", "/v2/", "/v3/"} {
		mux.Handle(p, s.httpm.wrap(rest))
	}
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /readyz", s.handleHealth)
	mux.HandleFunc("GET /livez", handleLive)
	mux.HandleFunc("GET /tape/v1/status", s.handleStatus)
	mux.Handle("GET /metrics", s.metricsHandler())
	if s.opts.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	// The dashboard is the fallback: "/" rather than "GET /", which would
	// conflict with the method-less stream patterns; it answers GET and
	// HEAD only and 404s any path it does not serve.
	mux.Handle("/", webui.Handler())
	return mux
}

// upgradeOr sends websocket upgrades to ws and every other request to
// rest: Alpaca serves the news stream and news REST on the same path.
func upgradeOr(ws, rest http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			ws.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
}

// ServeHTTP serves everything Tape serves: 503 "starting" until the data
// directory is open, then the full set of routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.Load().h.ServeHTTP(w, r)
}

// serveStarting answers while Run opens the data directory: the port is
// open (a load balancer sees Tape coming up), nothing is served yet.
func (s *Server) serveStarting(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/livez" {
		handleLive(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
		io.WriteString(w, `{"status":"starting","reason":"opening the data directory"}`+"\n")
		return
	}
	io.WriteString(w, `{"message":"tape is starting: opening its data directory"}`+"\n")
}

// Addr returns the address Tape listens on once Ready is closed.
func (s *Server) Addr() *net.TCPAddr { return s.addr.Load() }

// Ready is closed once Tape listens and its pipeline runs.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Hub exposes the stock hub (for tests and benchmarks).
func (s *Server) Hub() *hub.Hub { return s.hub }

// Run serves until ctx is cancelled, then shuts down in order and returns.
// It returns an error if Tape cannot start or a component fails.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.addr.Store(ln.Addr().(*net.TCPAddr))
	httpSrv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}

	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	// The core outlives the HTTP side: it stops only after clients are gone.
	coreCtx, stopCore := context.WithCancel(context.Background())
	defer stopCore()
	g, gctx := errgroup.WithContext(runCtx)
	serve := httpSrv.Serve
	if s.certs != nil {
		httpSrv.TLSConfig = s.certs.tlsConfig()
		serve = func(ln net.Listener) error { return httpSrv.ServeTLS(ln, "", "") }
	}
	g.Go(func() error {
		if err := serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		s.log.Info("shutting down")
		shCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := httpSrv.Shutdown(shCtx)
		select {
		case <-s.built:
			s.stream.Close()
			s.denied.Close()
			for _, u := range append(slices.Clone(s.src.upstreams), s.src.local...) {
				u.ws.Close()
			}
		default:
		}
		stopCore()
		return err
	})

	d, err := s.openData(gctx)
	if err != nil {
		cancelRun()
		return errors.Join(err, ignoreCanceled(g.Wait()))
	}
	defer func() {
		if err := d.Close(); err != nil {
			s.log.Error("closing the data directory", "err", err)
		}
	}()
	if s.opts.NATS != "" {
		if s.link, err = s.connectNATS(gctx); err != nil {
			cancelRun()
			return errors.Join(err, ignoreCanceled(g.Wait()))
		}
		// Closed after everything that uses it has stopped (g.Wait below),
		// before the data directory (deferred earlier, so later).
		defer s.link.close()
	}
	if err := s.build(d); err != nil {
		cancelRun()
		return errors.Join(err, ignoreCanceled(g.Wait()))
	}
	if err := s.startCluster(gctx); err != nil {
		cancelRun()
		return errors.Join(err, ignoreCanceled(g.Wait()))
	}
	s.keep = s.startRetention(d)
	close(s.built)
	g.Go(func() error {
		if err := d.RunStores(coreCtx); err != nil {
			return fmt.Errorf("stores: %w", err)
		}
		return nil
	})
	g.Go(func() error { return ignoreCanceled(s.keep.Run(coreCtx, d)) })
	if err := s.writePast(gctx); err != nil {
		cancelRun()
		return errors.Join(err, ignoreCanceled(g.Wait()))
	}
	s.logServing(ln.Addr().String())

	g.Go(func() error {
		if s.link != nil && s.link.roles != nil {
			return ignoreCanceled(s.link.roles.Run(coreCtx))
		}
		return ignoreCanceled(s.runOrigin(coreCtx, 0))
	})
	s.started = time.Now()
	s.handler.Store(&handlerBox{s.mux})
	close(s.ready)
	if err := ignoreCanceled(g.Wait()); err != nil {
		return err
	}
	s.log.Info("stopped")
	return nil
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// writePast plays a fresh record's synthetic past (see Options.NoPast)
// through the pipeline before anything is served: snapshots, charts and
// backtests have history from the first request.
func (s *Server) writePast(ctx context.Context) error {
	past := s.src.past
	if past == nil {
		return nil
	}
	began := time.Now()
	s.log.Info("writing a synthetic past into the fresh record (first start only; --no-past skips it)",
		"days", cmp.Or(s.opts.PastDays, 365), "minute_days", cmp.Or(s.opts.PastMinuteDays, 20))
	in := make(chan feed.Batch, 4)
	var feedErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		feedErr = past.Run(ctx, in)
		close(in)
	})
	err := s.pipe().Run(context.Background(), in)
	wg.Wait()
	if err = errors.Join(feedErr, err); err != nil {
		return fmt.Errorf("writing the synthetic past: %w", err)
	}
	st := s.pipe().Stats()
	s.log.Info("synthetic past written", "events", st.LastSeq, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// logSession says, when the simulation starts outside the regular
// session, what the market does then and how to get a regular session.
func (s *Server) logSession(start time.Time) {
	sess := calendar.SessionAt(start)
	if sess == calendar.Regular {
		return
	}
	next := calendar.NextOpen(start)
	attrs := []any{"session", sess.String(), "new_york", start.In(market.NewYork).Format("Mon 2006-01-02 15:04"),
		"next_open", next.Format(time.RFC3339)}
	if len(s.opts.CryptoSymbols) > 0 {
		attrs = append(attrs, "crypto", "trading around the clock on /v1beta3/crypto/us")
	}
	if all := slices.DeleteFunc(slices.Clone(s.opts.Symbols), func(sym string) bool { return !sim.AroundTheClock(sym) }); len(all) > 0 {
		attrs = append(attrs, "around_the_clock", strings.Join(all, ",")+" on every stock stream (/v2/test too)")
	}
	s.log.Info("US equities are outside their regular session now ("+sess.String()+"): stocks trade thinly or not at all. "+
		"For a regular session, start the simulated clock at an open: --sim-start "+next.Format(time.RFC3339)+
		" (with --speed 60 an hour passes in a minute)", attrs...)
}

// logServing says where Tape listens and what it serves.
func (s *Server) logServing(addr string) {
	if s.keys.Open() {
		s.log.Warn("no API keys configured: accepting any key and secret (allowed on loopback only)")
	}
	attrs := []any{"addr", addr, "feed", s.kind.String(), "data", s.opts.DataDir}
	switch s.kind {
	case srcAlpaca:
		attrs = append(attrs, "upstream", strings.TrimSuffix(s.opts.AlpacaStreamURL, "/")+"/"+s.opts.AlpacaFeed, "always", s.opts.Symbols)
	case srcPoll:
		attrs = append(attrs, "data_url", s.opts.AlpacaDataURL, "alpaca_feed", s.opts.AlpacaFeed, "symbols", len(s.opts.Symbols),
			"poll_interval", s.opts.PollInterval)
	case srcReplay:
		attrs = append(attrs, "from", s.opts.ReplayFrom, "to", s.opts.ReplayTo, "speed", s.opts.Speed)
	case srcSim:
		attrs = append(attrs, "symbols", len(s.opts.Symbols), "seed", s.opts.Seed, "rate", s.opts.Rate, "speed", s.opts.Speed,
			"sim_start", s.src.simStart.UTC().Format(time.RFC3339Nano))
	}
	s.log.Info("tape serving", attrs...)
	if s.kind == srcSim {
		s.logSession(s.src.simStart)
	}
	scheme := "http"
	if s.certs != nil {
		scheme = "https"
	}
	s.log.Info("dashboard", "url", scheme+"://"+addr+"/")
}

// feedStatuses lists the feeds that have a connection state: the main
// feed (Alpaca stream or poller) and the other proxied streams.
func (s *Server) feedStatuses() []FeedStatus {
	var out []FeedStatus
	if fs, ok := s.src.main.(feedStater); ok {
		state, lastErr := fs.FeedState()
		out = append(out, FeedStatus{Name: s.opts.Feed, State: state, LastError: lastErr})
	}
	for _, u := range s.src.upstreams {
		state, lastErr := u.feed.FeedState()
		out = append(out, FeedStatus{Name: u.name, State: state, LastError: lastErr})
	}
	return out
}
