package alpaca

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapehq/tape/internal/backfill"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/market"
)

// GapFill fetches from Alpaca's REST API what the stream missed while its
// connection was down (F10): the trades, quotes and minute bars of the
// filled symbols between the last event before the drop and the first
// after the reconnect. Filled events are flagged market.FlagGapFill and
// join the record like any other: journaled (at the record clock, flagged
// late), stored in history in time order, and streamed to Tape-aware
// clients only (plain Alpaca clients never see old events out of order;
// they find them in history).
//
// Nothing is stored twice: trades are matched by (symbol, ID, exchange)
// against those the stream delivered around the gap, quotes are taken
// only strictly inside it, and a minute bar only if the stream did not
// deliver one for that minute.
type GapFill struct {
	// Client is the REST client (the stream's own keys; its base URL
	// Alpaca's data API). Required.
	Client *backfill.Client
	// Feed is the REST feed to ask (iex, sip); default iex.
	Feed string
	// Symbols returns the symbols to fill: the stream's explicit
	// subscription (a "*" subscription cannot be filled by symbol).
	Symbols func() []string
	// Lateness is how far before the gap trades are fetched too, for late
	// reports sent during the outage; default 30 s.
	Lateness time.Duration
	// MaxGap bounds what one fill fetches: a longer outage is filled for
	// its last MaxGap (and the log says so). Default 1 h.
	MaxGap time.Duration
	// Quotes fetches quotes too (they can be many); default true via
	// NoQuotes false.
	NoQuotes bool
	Logger   *slog.Logger
}

func (g *GapFill) withDefaults() {
	if g.Feed == "" {
		g.Feed = "iex"
	}
	if g.Lateness <= 0 {
		g.Lateness = 30 * time.Second
	}
	if g.MaxGap <= 0 {
		g.MaxGap = time.Hour
	}
	if g.Logger == nil {
		g.Logger = slog.New(slog.DiscardHandler)
	}
}

// GapStats count gap fills.
type GapStats struct {
	Gaps      uint64 // reconnects after which a fill ran
	Filled    uint64 // events filled (not delivered by the stream)
	Failures  uint64 // fills that failed (the gap stays, and is logged)
	LastFrom  time.Time
	LastTo    time.Time
	LastError string
}

// tradeKey identifies a trade across the stream and the REST API.
type tradeKey struct {
	sym  string
	id   int64
	exch byte
}

type barKey struct {
	sym string
	t   int64
}

// seen remembers what the stream delivered recently, by event time, so a
// fill can leave it out. Entries older than the horizon are dropped.
type seen struct {
	mu     sync.Mutex
	trades map[tradeKey]int64
	bars   map[barKey]struct{}
	last   int64 // the latest event time delivered
}

func newSeen() *seen {
	return &seen{trades: make(map[tradeKey]int64), bars: make(map[barKey]struct{})}
}

// claim records a filled trade as delivered, unless the stream delivered
// it first (false).
func (s *seen) claim(e *market.Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := tradeKey{e.Symbol, e.Trade.ID, e.Trade.Exchange}
	if _, ok := s.trades[k]; ok {
		return false
	}
	s.trades[k] = e.Time
	return true
}

// note records a frame's events (the stream's reader goroutine) and
// removes, in place, trades a fill already recorded. It returns the
// events left.
func (s *seen) note(evs []market.Event, keep time.Duration) []market.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := evs[:0]
	for i := range evs {
		e := &evs[i]
		switch e.Kind {
		case market.KindTrade:
			k := tradeKey{e.Symbol, e.Trade.ID, e.Trade.Exchange}
			if _, dup := s.trades[k]; dup {
				continue // filled already (or a duplicate from the upstream)
			}
			s.trades[k] = e.Time
		case market.KindBar:
			s.bars[barKey{e.Symbol, e.Time}] = struct{}{}
		}
		if e.Kind == market.KindTrade || e.Kind == market.KindQuote {
			s.last = max(s.last, e.Time)
		}
		out = append(out, *e)
	}
	// Forget what no fill can overlap any more (amortised: only when the
	// maps have grown).
	if len(s.trades) > 1<<16 {
		cut := s.last - int64(2*keep)
		for k, t := range s.trades {
			if t < cut {
				delete(s.trades, k)
			}
		}
		for k := range s.bars {
			if k.t < cut {
				delete(s.bars, k)
			}
		}
	}
	return out
}

// delivered reports whether the stream delivered the trade.
func (s *seen) delivered(e *market.Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.trades[tradeKey{e.Symbol, e.Trade.ID, e.Trade.Exchange}]
	return ok
}

// hasBar reports whether the stream delivered sym's bar of minute t.
func (s *seen) hasBar(sym string, t int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.bars[barKey{sym, t}]
	return ok
}

// prime records what a record holds last (see Feed.PrimeGap).
func (s *seen) prime(last int64, recent []market.Event) {
	s.note(recent, time.Hour)
	s.mu.Lock()
	s.last = max(s.last, last)
	s.mu.Unlock()
}

func (s *seen) lastTime() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// gapFiller runs fills for a Feed.
type gapFiller struct {
	opts  GapFill
	seen  *seen
	wg    sync.WaitGroup
	stats struct {
		gaps, filled, failures atomic.Uint64
		mu                     sync.Mutex
		from, to               time.Time
		lastErr                string
	}
}

// fill fetches (from, to) and sends what the stream missed to out as one
// batch in time order. It runs on its own goroutine, owned by the feed.
func (g *gapFiller) fill(ctx context.Context, from, to int64, out chan<- feed.Batch) {
	o := &g.opts
	began := time.Now()
	if d := time.Duration(to - from); d > o.MaxGap {
		o.Logger.Warn("upstream gap longer than the fill's limit: filling its end only", "gap", d.Round(time.Second), "max", o.MaxGap)
		from = to - int64(o.MaxGap)
	}
	syms := o.Symbols()
	g.stats.gaps.Add(1)
	g.stats.mu.Lock()
	g.stats.from, g.stats.to = time.Unix(0, from).UTC(), time.Unix(0, to).UTC()
	g.stats.mu.Unlock()
	if len(syms) == 0 {
		o.Logger.Warn("upstream gap not filled: no explicit symbols are subscribed (a \"*\" subscription cannot be filled by symbol)",
			"from", time.Unix(0, from).UTC(), "to", time.Unix(0, to).UTC())
		return
	}
	var got []market.Event
	fetch := func(kind backfill.Kind, start, end int64, keep func(*market.Event) bool) error {
		req := backfill.Request{Kind: kind, Symbols: syms, Start: time.Unix(0, start), End: time.Unix(0, end), Feed: o.Feed}
		if kind == backfill.Bars {
			req.Timeframe = "1Min"
		}
		_, err := o.Client.Fetch(ctx, req, func(_ string, page []market.Event) error {
			for i := range page {
				if keep(&page[i]) {
					page[i].Flags |= market.FlagGapFill
					got = append(got, page[i])
				}
			}
			return nil
		})
		return err
	}
	err := fetch(backfill.Trades, from-int64(o.Lateness), to, func(e *market.Event) bool { return !g.seen.delivered(e) })
	if err == nil && !o.NoQuotes {
		err = fetch(backfill.Quotes, from+1, to-1, func(e *market.Event) bool { return e.Time > from && e.Time < to })
	}
	if err == nil {
		// A minute bar goes out once its minute has closed: the stream
		// missed the bars of minutes that closed during the gap.
		err = fetch(backfill.Bars, from-int64(time.Minute), to, func(e *market.Event) bool {
			end := e.Time + int64(time.Minute)
			return end > from && end <= to && !g.seen.hasBar(e.Symbol, e.Time)
		})
	}
	if err != nil {
		g.stats.failures.Add(1)
		g.stats.mu.Lock()
		g.stats.lastErr = err.Error()
		g.stats.mu.Unlock()
		o.Logger.Error("upstream gap fill failed: the gap stays in the record", "from", time.Unix(0, from).UTC(),
			"to", time.Unix(0, to).UTC(), "err", err)
		return
	}
	// The stream kept delivering while this fetched: drop what it has
	// delivered since (a late trade), and tell it to drop what is filled
	// here should it come later, so no trade is recorded twice.
	got = slices.DeleteFunc(got, func(e market.Event) bool {
		if e.Kind != market.KindTrade {
			return false
		}
		return !g.seen.claim(&e)
	})
	// In time order, bars at their end (when they would have been sent).
	slices.SortStableFunc(got, func(a, b market.Event) int { return cmp.Compare(sendTime(&a), sendTime(&b)) })
	counts := map[market.Kind]int{}
	for i := range got {
		counts[got[i].Kind]++
	}
	if len(got) > 0 {
		select {
		case out <- feed.Batch{Events: got, Now: time.Now().UnixNano()}:
		case <-ctx.Done():
			return
		}
	}
	g.stats.filled.Add(uint64(len(got)))
	o.Logger.Info("upstream gap filled from the REST API", "from", time.Unix(0, from).UTC(), "to", time.Unix(0, to).UTC(),
		"symbols", len(syms), "trades", counts[market.KindTrade], "quotes", counts[market.KindQuote], "bars", counts[market.KindBar],
		"took", time.Since(began).Round(time.Millisecond))
}

func sendTime(e *market.Event) int64 {
	if e.Kind == market.KindBar {
		return e.Time + int64(time.Minute)
	}
	return e.Time
}

// Stats returns the gap fill counters.
func (g *gapFiller) Stats() GapStats {
	g.stats.mu.Lock()
	defer g.stats.mu.Unlock()
	return GapStats{Gaps: g.stats.gaps.Load(), Filled: g.stats.filled.Load(), Failures: g.stats.failures.Load(),
		LastFrom: g.stats.from, LastTo: g.stats.to, LastError: g.stats.lastErr}
}

func (g *gapFiller) String() string { return fmt.Sprintf("gapfill(%s)", g.opts.Feed) }
