package server

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/backfill"
	"github.com/tapehq/tape/internal/cluster"
	"github.com/tapehq/tape/internal/datadir"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/feed/alpaca"
	"github.com/tapehq/tape/internal/feed/poll"
	"github.com/tapehq/tape/internal/feed/replay"
	"github.com/tapehq/tape/internal/feed/sim"
	"github.com/tapehq/tape/internal/ingest"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/streamclient"
)

// sourceKind is --feed, resolved once in New: every later decision (does
// the core derive bars? journal? which endpoints proxy upstream?) asks the
// source, never the flag string.
type sourceKind uint8

const (
	srcSim    sourceKind = iota // the simulator
	srcAlpaca                   // Alpaca's streams, one upstream connection each
	srcPoll                     // Alpaca's REST API, polled
	srcReplay                   // the journal's recording of a period
	srcCustom                   // Options.Source (tests, embedders)
	srcEdge                     // another Tape's record, from NATS JetStream
)

var sourceNames = [...]string{"sim", "alpaca", "poll", "replay", "custom", "nats"}

func (k sourceKind) String() string { return sourceNames[k] }

// resolveSource maps the options to a source kind.
func resolveSource(o *Options) (sourceKind, error) {
	if o.Source != nil {
		return srcCustom, nil
	}
	switch o.Feed {
	case "sim":
		return srcSim, nil
	case "alpaca":
		return srcAlpaca, nil
	case "poll":
		return srcPoll, nil
	case "replay":
		return srcReplay, nil
	case "nats":
		return srcEdge, nil
	}
	return 0, fmt.Errorf("unknown feed %q: choose sim, alpaca, poll, replay or nats", o.Feed)
}

// derivesBars reports whether the core builds bars from the source's
// trades. Alpaca sends its own bars (and updated and daily bars; polled,
// its latest minute bars): they pass through rather than a second set
// being derived. A replay publishes the bars as they were recorded.
func (k sourceKind) derivesBars() bool { return k == srcSim || k == srcCustom }

// journals reports whether the source's events are new to the record. A
// replay publishes the journal's own records, with their sequence numbers.
func (k sourceKind) journals() bool { return k != srcReplay }

// restFeeds maps a stream feed to the REST feed its history is under.
var restFeeds = map[string]string{"iex": "iex", "sip": "sip", "delayed_sip": "sip", "otc": "otc", "boats": "boats"}

// gapFill is the stock stream's gap filler: Alpaca's REST API at
// --alpaca-data-url, on the stream's feed. nil when off, or when the feed
// has no REST history (test, overnight) or resume makes it needless.
func (s *Server) gapFill() (*alpaca.GapFill, error) {
	o := &s.opts
	feed, ok := restFeeds[o.AlpacaFeed]
	if o.NoGapFill || o.UpstreamResume || !ok {
		return nil, nil
	}
	c, err := backfill.New(backfill.Options{BaseURL: o.AlpacaDataURL, Key: o.AlpacaKey, Secret: o.AlpacaSecret,
		Timeout: 30 * time.Second, UserAgent: "tape/" + Version, Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("--alpaca-data-url: %w", err)
	}
	return &alpaca.GapFill{Client: c, Feed: feed, Logger: s.log.With("gapfill", o.AlpacaFeed)}, nil
}

// newPollClient is the REST client of --feed poll. It does not retry on
// its own: a retry would hold up the whole poll, and the feed backs off by
// itself.
func newPollClient(o *Options) (*backfill.Client, error) {
	c, err := backfill.New(backfill.Options{BaseURL: o.AlpacaDataURL, Key: o.AlpacaKey, Secret: o.AlpacaSecret,
		Timeout: max(10*time.Second, 2*o.PollInterval), MaxRetries: -1, UserAgent: "tape/" + Version, Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("--alpaca-data-url: %w", err)
	}
	return c, nil
}

// source is the resolved source, built once the data directory is open
// (the simulator resumes from the record, a replay reads the journal, the
// poller seeds from history).
type source struct {
	kind  sourceKind
	main  feed.Feed
	alpha *alpaca.Feed // the stock upstream (srcAlpaca), for wsapi
	// upstreams are the other Alpaca streams proxied with --feed alpaca.
	upstreams []*upstream
	// local are the other streams served from the core without an
	// upstream (crypto from the simulator); their feed is nil.
	local []*upstream
	// simStart is where a simulator begins (srcSim).
	simStart time.Time
	// past is the synthetic past a fresh record starts with (srcSim), played
	// before the live simulator; nil otherwise.
	past *sim.Past
}

// ErrRecordAhead is wrapped by the error for a --sim-start before the end
// of what the data directory already holds.
var ErrRecordAhead = errors.New("the record already goes beyond --sim-start")

// buildSource builds the feeds of kind k over the open data directory d.
func (s *Server) buildSource(k sourceKind, d *datadir.Dir) (*source, error) {
	src := &source{kind: k}
	o := &s.opts
	switch k {
	case srcCustom:
		src.main = o.Source
	case srcSim:
		start, err := simStart(o.SimStart, d)
		if err != nil {
			return nil, err
		}
		src.simStart = start
		resume := simResume(d.State, append(slices.Clone(o.Symbols), o.CryptoSymbols...), start)
		news := max(o.News, 0)
		if d.Journal.Last() == 0 && !o.NoPast {
			// A fresh record starts with a synthetic past that ends where
			// the live simulator begins.
			past, err := sim.NewPast(sim.PastOptions{Symbols: o.Symbols, CryptoSymbols: o.CryptoSymbols, Seed: o.Seed,
				Rate: o.Rate, End: start, Days: o.PastDays, MinuteDays: o.PastMinuteDays, News: news})
			if err != nil {
				return nil, fmt.Errorf("simulator's past: %w", err)
			}
			src.past, resume = past, past.Resume()
		}
		f, err := sim.New(sim.Options{Symbols: o.Symbols, CryptoSymbols: o.CryptoSymbols, Seed: o.Seed, Rate: o.Rate,
			Speed: o.Speed, Start: start, Resume: resume, Sessions: sim.NYSESessions, News: news})
		if err != nil {
			return nil, fmt.Errorf("simulator: %w", err)
		}
		src.main = f
	case srcAlpaca:
		var always alpacawire.Subscription
		for _, ch := range []market.Channel{market.ChanTrades, market.ChanQuotes, market.ChanBars,
			market.ChanUpdatedBars, market.ChanDailyBars, market.ChanStatuses, market.ChanLULDs} {
			always[ch] = o.Symbols
		}
		gf, err := s.gapFill()
		if err != nil {
			return nil, err
		}
		up, err := alpaca.New(alpaca.Options{URL: strings.TrimSuffix(o.AlpacaStreamURL, "/") + "/" + o.AlpacaFeed,
			Key: o.AlpacaKey, Secret: o.AlpacaSecret, Always: always, Logger: s.log.With("upstream", o.AlpacaFeed),
			Client: streamclient.Options{Resume: o.UpstreamResume}, GapFill: gf})
		if err != nil {
			return nil, err
		}
		src.main, src.alpha = up, up
		if src.upstreams, err = s.newUpstreams(); err != nil {
			return nil, err
		}
	case srcPoll:
		h := d.History
		// What the store already holds seeds the poller, so a restart does
		// not publish the same latest values again.
		known := func(sym string) []market.Event {
			var out []market.Event
			if e, ok := h.LatestTrade(sym); ok {
				out = append(out, e)
			}
			if e, ok := h.LatestQuote(sym); ok {
				out = append(out, e)
			}
			if e, ok := h.LatestBar(sym); ok {
				out = append(out, e)
			}
			return out
		}
		var err error
		src.main, err = poll.New(poll.Options{Client: s.pollClient, Symbols: o.Symbols, Feed: o.AlpacaFeed, Interval: o.PollInterval,
			Logger: s.log.With("feed", "poll"), Known: known})
		if err != nil {
			return nil, err
		}
	case srcEdge:
		ef := cluster.NewEdgeFeed(s.link.nc, cluster.EdgeOptions{Stream: s.link.stream, Journal: d.Journal,
			Logger: s.log.With("nats", "edge")})
		s.link.edge.Store(ef)
		src.main = ef
	case srcReplay:
		speed := o.Speed
		if math.IsInf(speed, 1) {
			speed = 0 // "max": no pacing
		}
		f, err := replay.New(replay.Options{Source: d.Journal, From: o.ReplayFrom, To: o.ReplayTo,
			Speed: speed, Loop: o.ReplayLoop, Backlog: s.hub.MaxBacklog,
			MaxBacklog: o.ClientQueueBytes / 4, WaitFor: s.hub.Subscribed, Logger: s.log})
		if err != nil {
			return nil, err
		}
		src.main = f
	}
	return src, nil
}

// simStart is where the simulator begins: after the end of the record, so
// journal time never goes backwards, and no earlier than now. An explicit
// --sim-start before the record's end is refused.
func simStart(asked time.Time, d *datadir.Dir) (time.Time, error) {
	var end int64
	if st := d.State; st != nil {
		end = max(st.Clock, st.FeedNow)
	}
	after := time.Unix(0, end).Add(time.Millisecond).Truncate(time.Millisecond)
	if !asked.IsZero() {
		if end != 0 && !asked.After(time.Unix(0, end)) {
			return time.Time{}, fmt.Errorf("%w: the record in %s ends at %s (New York %s), and --sim-start %s is not after it. "+
				"Time never goes backwards in a record: start after %s, leave --sim-start out to continue where it ends, "+
				"or start a fresh record in another directory (--data DIR, or move %s aside)",
				ErrRecordAhead, d.Path, time.Unix(0, end).UTC().Format(time.RFC3339Nano),
				time.Unix(0, end).In(market.NewYork).Format("2006-01-02 15:04:05"), asked.UTC().Format(time.RFC3339),
				after.UTC().Format(time.RFC3339Nano), d.Path)
		}
		return asked, nil
	}
	now := time.Now().Truncate(time.Second)
	if end != 0 && !now.After(after) {
		return after, nil
	}
	return now, nil
}

// simResume is what the record holds last of each simulated symbol, so a
// restarted simulator continues its prices, quotes and trade IDs.
func simResume(st *ingest.State, symbols []string, start time.Time) map[string]sim.SymbolState {
	if st == nil {
		return nil
	}
	out := make(map[string]sim.SymbolState)
	for _, sym := range symbols {
		y := st.Symbol(sym)
		if y == nil {
			continue
		}
		out[sym] = sim.SymbolState{LastTradeID: y.MaxTradeID, LastPrice: y.LastPrice, LastTime: min(y.LastTime, start.UnixNano()),
			BidPrice: y.BidPrice, AskPrice: y.AskPrice, BidSize: uint32(y.BidSize), AskSize: uint32(y.AskSize)}
	}
	return out
}
