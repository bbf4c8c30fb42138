package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/auth"
	"github.com/tapehq/tape/internal/backfill"
	"github.com/tapehq/tape/internal/bars"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/feed/alpaca"
	"github.com/tapehq/tape/internal/feed/poll"
	"github.com/tapehq/tape/internal/feed/sim"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/hub"
	"github.com/tapehq/tape/internal/ingest"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/streamclient"
	"github.com/tapehq/tape/internal/webui"
	"github.com/tapehq/tape/internal/wsapi"
)

// Server is a running Tape.
type Server struct {
	opts     Options
	log      *slog.Logger
	keys     *auth.Keys
	hub      *hub.Hub
	pipeline *ingest.Pipeline
	bars     *bars.Builder
	journal  *journal.File
	history  *history.Store
	rest     *lazyHandler // the REST API, ready once the store is open
	feed     feed.Feed
	// upstreams are the non-stock Alpaca streams proxied with --feed alpaca.
	upstreams []*upstream
	stream    *wsapi.Server // enabled stock feeds
	denied    *wsapi.Server // disabled stock feeds: 409
	mux       *http.ServeMux

	started time.Time
	addr    atomic.Pointer[net.TCPAddr]
	ready   chan struct{}
}

// New builds a Server from opts; nothing runs until Run.
func New(opts Options) (*Server, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Logger, ready: make(chan struct{})}
	s.keys = auth.NewKeys(opts.Keys)
	s.keys.MaxConnsPerKey = opts.MaxConnsPerKey

	s.hub = hub.New(hub.Options{
		Formats:       wsapi.HubFormats,
		MaxQueueBytes: opts.ClientQueueBytes,
	})
	s.bars = bars.New(bars.Options{})

	s.feed = opts.Source
	if s.feed == nil && opts.Feed == "sim" {
		simFeed, err := sim.New(sim.Options{Symbols: opts.Symbols, Seed: opts.Seed, Rate: opts.Rate,
			Speed: opts.Speed, Start: opts.SimStart})
		if err != nil {
			return nil, fmt.Errorf("simulator: %w", err)
		}
		s.feed = simFeed
	}

	wsOpts := wsapi.Options{Hub: s.hub, Keys: s.keys, Logger: s.log, MaxSymbols: opts.MaxSymbols}
	if opts.Feed == "alpaca" && opts.Source == nil {
		var always alpacawire.Subscription
		for _, ch := range []market.Channel{market.ChanTrades, market.ChanQuotes, market.ChanBars,
			market.ChanUpdatedBars, market.ChanDailyBars, market.ChanStatuses, market.ChanLULDs} {
			always[ch] = opts.Symbols
		}
		up, err := alpaca.New(alpaca.Options{URL: strings.TrimSuffix(opts.AlpacaStreamURL, "/") + "/" + opts.AlpacaFeed,
			Key: opts.AlpacaKey, Secret: opts.AlpacaSecret, Always: always, Logger: s.log.With("upstream", opts.AlpacaFeed),
			Client: streamclient.Options{Resume: opts.UpstreamResume}})
		if err != nil {
			return nil, err
		}
		s.feed = up
		wsOpts.Upstream = up
		if err := s.addUpstreams(wsOpts); err != nil {
			return nil, err
		}
	}
	if opts.Feed == "poll" && opts.Source == nil {
		pf, err := s.newPollFeed()
		if err != nil {
			return nil, err
		}
		s.feed = pf
	}
	s.stream = wsapi.New(wsOpts)
	wsOpts.Upstream = nil
	wsOpts.NotEntitled = true
	s.denied = wsapi.New(wsOpts)
	s.mux = s.routes()
	return s, nil
}

func (s *Server) routes() *http.ServeMux {
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
	for _, u := range s.upstreams {
		for _, p := range u.paths {
			mux.Handle(p, u.ws)
		}
	}
	s.rest = &lazyHandler{}
	mux.Handle("/v2/stocks/", s.rest)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /tape/v1/status", s.handleStatus)
	mux.Handle("GET /metrics", s.metricsHandler())
	// The dashboard is the fallback: "/" rather than "GET /", which would
	// conflict with the method-less stream patterns; it answers GET and
	// HEAD only and 404s any path it does not serve.
	mux.Handle("/", webui.Handler())
	return mux
}

// Handler returns the HTTP handler of everything Tape serves.
func (s *Server) Handler() http.Handler { return s.mux }

// Addr returns the address Tape listens on once Ready is closed.
func (s *Server) Addr() *net.TCPAddr { return s.addr.Load() }

// Ready is closed once Tape listens and its pipeline runs.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Hub exposes the stock hub (for tests and benchmarks).
func (s *Server) Hub() *hub.Hub { return s.hub }

// Run serves until ctx is cancelled, then shuts down in order and returns.
// It returns an error if Tape cannot start or a component fails.
func (s *Server) Run(ctx context.Context) error {
	if err := os.MkdirAll(s.opts.DataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	unlock, err := lockDir(s.opts.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.openJournal(ctx); err != nil {
		return err
	}
	defer func() {
		if err := s.journal.Close(); err != nil {
			s.log.Error("closing the journal", "err", err)
		}
	}()
	if err := s.openHistory(ctx); err != nil {
		return err
	}
	defer func() {
		if err := s.history.Close(); err != nil {
			s.log.Error("closing the history store", "err", err)
		}
	}()

	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.addr.Store(ln.Addr().(*net.TCPAddr))
	if s.keys.Open() {
		s.log.Warn("no API keys configured: accepting any key and secret (allowed on loopback only)")
	}
	attrs := []any{"addr", ln.Addr().String(), "feed", s.opts.Feed, "data", s.opts.DataDir}
	switch {
	case s.opts.Source != nil:
	case s.opts.Feed == "alpaca":
		attrs = append(attrs, "upstream", strings.TrimSuffix(s.opts.AlpacaStreamURL, "/")+"/"+s.opts.AlpacaFeed, "always", s.opts.Symbols)
	case s.opts.Feed == "poll":
		attrs = append(attrs, "data_url", s.opts.AlpacaDataURL, "alpaca_feed", s.opts.AlpacaFeed, "symbols", len(s.opts.Symbols),
			"poll_interval", s.opts.PollInterval)
	case s.opts.Feed == "replay":
		attrs = append(attrs, "from", s.opts.ReplayFrom, "to", s.opts.ReplayTo, "speed", s.opts.Speed)
	default:
		attrs = append(attrs, "symbols", len(s.opts.Symbols), "seed", s.opts.Seed, "rate", s.opts.Rate, "speed", s.opts.Speed)
	}
	s.log.Info("tape serving", attrs...)

	httpSrv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	batches := make(chan feed.Batch, 64)

	// The core outlives the HTTP side: it stops only after clients are gone.
	coreCtx, stopCore := context.WithCancel(context.Background())
	defer stopCore()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := s.feed.Run(coreCtx, batches)
		if err != nil && !errors.Is(err, context.Canceled) {
			if _, ok := s.feed.(*alpaca.Feed); ok {
				// 402, 409, 410, 411: fatal for the endpoint, not for Tape.
				// History, the other streams and the dashboard go on; the
				// log, /healthz, /tape/v1/status and /metrics say why.
				s.log.Error("upstream stopped for good", "feed", s.opts.AlpacaFeed, "err", err)
				return nil
			}
			return fmt.Errorf("feed %s: %w", s.opts.Feed, err)
		}
		return nil
	})
	for _, u := range s.upstreams {
		g.Go(func() error {
			err := u.feed.Run(coreCtx, batches)
			if err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error("upstream stopped for good", "stream", u.name, "err", err)
			}
			return nil
		})
	}
	g.Go(func() error {
		err := s.history.Run(coreCtx)
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("history: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		err := s.pipeline.Run(coreCtx, batches)
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("ingest: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		if err := httpSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
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
		s.stream.Close()
		s.denied.Close()
		for _, u := range s.upstreams {
			u.ws.Close()
		}
		stopCore()
		return err
	})
	s.started = time.Now()
	close(s.ready)
	err = g.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	s.log.Info("stopped")
	return nil
}

// newPollFeed builds the REST polling feed (--feed poll). Its client does
// not retry on its own: a retry would hold up the whole poll, and the feed
// backs off by itself. What the history store already holds seeds the
// feed, so a restart does not publish the same latest values again.
func (s *Server) newPollFeed() (*poll.Feed, error) {
	c, err := backfill.New(backfill.Options{BaseURL: s.opts.AlpacaDataURL, Key: s.opts.AlpacaKey, Secret: s.opts.AlpacaSecret,
		Timeout: max(10*time.Second, 2*s.opts.PollInterval), MaxRetries: -1, UserAgent: "tape/" + Version, Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("--alpaca-data-url: %w", err)
	}
	return poll.New(poll.Options{Client: c, Symbols: s.opts.Symbols, Feed: s.opts.AlpacaFeed, Interval: s.opts.PollInterval,
		Logger: s.log.With("feed", "poll"), Known: s.latestKnown})
}

// latestKnown is what the history store holds last of a symbol; the poll
// feed calls it from Run, after the store is open.
func (s *Server) latestKnown(sym string) []market.Event {
	var out []market.Event
	if e, ok := s.history.LatestTrade(sym); ok {
		out = append(out, e)
	}
	if e, ok := s.history.LatestQuote(sym); ok {
		out = append(out, e)
	}
	if e, ok := s.history.LatestBar(sym); ok {
		out = append(out, e)
	}
	return out
}

type health struct {
	Status      string       `json:"status"`
	Feed        string       `json:"feed"`
	Uptime      float64      `json:"uptime_seconds"`
	Events      uint64       `json:"events"`
	LastSeq     uint64       `json:"last_seq"`
	FeedTime    time.Time    `json:"feed_time"`
	Subscribers int          `json:"subscribers"`
	Upstreams   []FeedStatus `json:"upstreams,omitempty"`
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	st := s.pipeline.Stats()
	h := health{Status: "ok", Feed: s.opts.Feed, Uptime: time.Since(s.started).Seconds(), Events: st.Events + st.Derived,
		LastSeq: st.LastSeq, Subscribers: s.hub.Stats().Subscribers}
	if st.FeedNow != 0 {
		h.FeedTime = time.Unix(0, st.FeedNow).UTC()
	}
	// An upstream that stopped for good (402 auth failed, 409 plan, ...)
	// makes Tape unhealthy: it still serves history and the dashboard, but
	// a load balancer or an operator must know its live data is gone.
	code := http.StatusOK
	for _, f := range s.feedStatuses() {
		h.Upstreams = append(h.Upstreams, f)
		if f.State == "failed" {
			h.Status = "failed"
			code = http.StatusServiceUnavailable
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(h)
}

// feedStatuses lists the feeds that have a connection state: the main
// feed (Alpaca stream or poller) and the other proxied streams.
func (s *Server) feedStatuses() []FeedStatus {
	var out []FeedStatus
	if fs, ok := s.feed.(feedStater); ok {
		state, lastErr := fs.FeedState()
		out = append(out, FeedStatus{Name: s.opts.Feed, State: state, LastError: lastErr})
	}
	for _, u := range s.upstreams {
		state, lastErr := u.feed.FeedState()
		out = append(out, FeedStatus{Name: u.name, State: state, LastError: lastErr})
	}
	return out
}
