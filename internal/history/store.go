package history

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// Store is the history store. See the package documentation for the design.
//
// Lock order: closeMu, then flushMu, then a symbol's fileMu, then mu. Apply
// takes only mu; queries take closeMu (read), one symbol's fileMu (read) at
// a time and mu (read) briefly; the flusher takes flushMu, each dirty
// symbol's fileMu and mu briefly.
type Store struct {
	dir   string
	opts  Options
	cal   calendar
	log   *slog.Logger
	files *fileCache
	dirf  *os.File // the store directory, for syncfs and directory fsyncs

	// closeMu is held (read) by every query and (write) by Close, so Close
	// never closes a file under a running query.
	closeMu sync.RWMutex
	closing chan struct{}
	closeMx sync.Mutex
	closed  bool // under closeMx; queries also see it through mu
	closeEr error

	// flushMu serialises flushes (Run's ticks and Close) and owns the
	// flusher-only state below it.
	flushMu    sync.Mutex
	ckDays     []int32    // days named in the checkpoint on disk
	flushDC    dayCache   // the flusher's day cache
	jobs       []symJob   // reused between flushes
	syncFail   error      // sticky: a failed sync freezes AppliedSeq
	scratch    []byte     // write buffer
	runScratch []runEntry // closed runs of a tick write
	stopped    bool       // after Close: flushes are no-ops
	ckSize     int64      // the checkpoint file's size

	testCrashBeforeCheckpoint bool // tests: see errTestCrash

	// mu guards the in-memory state: the symbol table and every symState
	// field documented as "under Store.mu".
	mu       sync.RWMutex
	syms     [numSpaces]map[string]*symState
	symList  [numSpaces][]string // sorted names; nil when a symbol was added since
	dirty    []*symState
	spare    []*symState // the previous dirty slice, reused
	lastSeq  uint64      // highest Seq applied (durable or not)
	applyDC  dayCache
	dropped  uint64 // events of storable kinds whose symbol cannot be stored
	isClosed bool
	upgrades []upgrade // version 1 tick files queries found slow, to upgrade
	pending  int64     // Stats.PendingBytes
	nHidden  int       // symbols with hidden set

	// hasIEX says the iex namespace holds IEX quotes or bars (not only
	// trades printed on IEX): the record has an IEX view of its own.
	// Written under mu; read without it by HasIEX.
	hasIEX atomic.Bool

	applied    atomic.Uint64 // AppliedSeq: durable and checkpointed
	disk       atomic.Int64  // Stats.DiskBytes
	syncFailed atomic.Bool   // Stats.SyncFailed

	// infoMu guards info, the flush outcomes for Stats: its own lock, so
	// that Stats answers while a flush is stuck on a slow disk.
	infoMu sync.Mutex
	info   flushInfo
}

// flushInfo is what Stats reports about flushes.
type flushInfo struct {
	Flushes, FlushFailures uint64
	LastFlushAt            time.Time
	LastFlushDuration      time.Duration
	LastFlushError         error
	LastFlushErrorAt       time.Time
}

// space is a symbol namespace: stocks and crypto have their own symbol
// tables and directories, so a pair and a stock can share a name. iex is
// the IEX view of the stocks (see Store.IEX): the same symbols, in the
// stock record format, holding IEX's own trades, quotes and bars.
type space uint8

const (
	stocks space = iota
	crypto
	iex
	numSpaces
)

// spaceDirs are the namespaces' directories in the store's. A store
// written before a namespace existed lacks its directory; Open creates it.
var spaceDirs = [numSpaces]string{"symbols", "crypto", "iex"}

// spaceOf returns the namespace a query reads: its asset class's, or for
// a query of the IEX view the iex one (stocks only).
func spaceOf(q *Query) (space, bool) {
	switch q.Class {
	case market.ClassStocks:
		if q.iex {
			return iex, true
		}
		return stocks, true
	case market.ClassCrypto:
		if !q.iex {
			return crypto, true
		}
	}
	return 0, false
}

// symState is everything the store keeps in memory for one symbol.
type symState struct {
	name  string
	space space
	dir   string // absolute path of the symbol's directory

	// fileMu orders file access for the symbol: the flusher holds it to
	// write and to move flushed data out of memory in one step; queries
	// hold it (read) while they read files and copy the memory tail, so
	// they never see a record both on disk and in memory, nor half a write.
	fileMu sync.RWMutex

	// Under Store.mu:
	dirty     bool
	trades    tickSeries
	quotes    tickSeries
	bars      []barVal // unflushed minute bars, sorted by Time, one per minute
	daily     []barVal // unflushed daily bars, sorted by Time, one per day
	tradeDays daySet   // days with a trade file
	quoteDays daySet   // days with a quote file
	months    []int32  // months with a minute bar file, ascending
	hasDaily  bool     // daily.dat exists

	lastTrade, lastQuote [tickRecSize]byte // latest by (time, seq)
	hasTrade, hasQuote   bool
	lastBar              barVal // latest minute bar by time
	hasBar               bool
	daily0, daily1       barVal // latest daily bar and the one of the day before
	nDaily               int    // how many of daily0, daily1 are set

	hidden bool // nothing left after a prune: not in Symbols (under Store.mu)

	// Flusher-only:
	dirMade bool
}

// empty reports whether the symbol has no data at all, on disk or in
// memory (under Store.mu, or before the symbol is published).
func (sym *symState) empty() bool {
	if len(sym.tradeDays) > 0 || len(sym.quoteDays) > 0 || len(sym.months) > 0 || sym.hasDaily ||
		len(sym.bars) > 0 || len(sym.daily) > 0 {
		return false
	}
	for _, ser := range [...]*tickSeries{&sym.trades, &sym.quotes} {
		for _, t := range ser.tails {
			if len(t.buf) > 0 {
				return false
			}
		}
	}
	return true
}

// tickSeries is the unflushed tail of a symbol's trades or quotes: one
// tickTail per day that has unflushed records (normally one; two around
// midnight when late reports for yesterday still arrive).
type tickSeries struct {
	tails []*tickTail // ascending by day
}

// tickTail holds unflushed records of one day file in arrival (= Seq)
// order, encoded exactly as on disk, so the flusher writes them without
// re-encoding and queries decode memory and disk alike.
type tickTail struct {
	day int32
	buf []byte // whole records
}

func (ts *tickSeries) tail(day int32) *tickTail {
	n := len(ts.tails)
	if n > 0 && ts.tails[n-1].day == day {
		return ts.tails[n-1]
	}
	i := sort.Search(n, func(i int) bool { return ts.tails[i].day >= day })
	if i < n && ts.tails[i].day == day {
		return ts.tails[i]
	}
	t := &tickTail{day: day}
	ts.tails = slices.Insert(ts.tails, i, t)
	return t
}

// Apply stores events: trades, quotes, minute bars, updated bars (which
// replace the minute bar of their minute) and daily bars (which replace the
// daily bar of their day), of stocks and of crypto pairs. The IEX view
// (see IEX) gets the iex feed's own quotes and bars (KindIEXQuote,
// KindIEXBar, KindIEXUpdatedBar, KindIEXDailyBar) and a copy of every
// stock trade printed on IEX (Exchange market.IEXExchange), which the
// stocks keep too. Other kinds are ignored. Events must be sequenced
// (Seq > 0, increasing); an event whose Seq is not above every Seq applied
// before (a journal replay overlapping what the store already has) is
// skipped, which makes catch-up idempotent.
//
// Apply only copies into memory: it never touches disk and holds the lock
// for the length of the batch. It does not retain events.
func (s *Store) Apply(events []market.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isClosed {
		return
	}
	for i := range events {
		e := &events[i]
		if e.Seq <= s.lastSeq {
			continue
		}
		s.lastSeq = e.Seq
		var sp space
		onIEX := false
		switch e.Kind {
		case market.KindTrade:
			onIEX = e.Trade.Exchange == market.IEXExchange
		case market.KindQuote, market.KindBar, market.KindUpdatedBar, market.KindDailyBar:
		case market.KindIEXQuote, market.KindIEXBar, market.KindIEXUpdatedBar, market.KindIEXDailyBar:
			sp = iex
		case market.KindCryptoTrade, market.KindCryptoQuote, market.KindCryptoBar, market.KindCryptoUpdatedBar, market.KindCryptoDailyBar:
			sp = crypto
		default:
			continue
		}
		if !s.applyTo(sp, e) {
			s.dropped++ // a name that cannot be stored in one namespace cannot in any
			continue
		}
		if onIEX {
			s.applyTo(iex, e)
		}
		if sp == iex && !s.hasIEX.Load() {
			s.hasIEX.Store(true)
		}
	}
}

// applyTo stores e in namespace sp (under mu); false if e's symbol cannot
// be stored. An iex-feed kind is stored as the consolidated kind it
// mirrors: the iex namespace holds stock records.
func (s *Store) applyTo(sp space, e *market.Event) bool {
	sym := s.symLocked(sp, e.Symbol)
	if sym == nil {
		return false
	}
	if sym.hidden { // pruned empty, has data again
		sym.hidden, s.symList[sp] = false, nil
		s.nHidden--
	}
	minute := floorDiv(e.Time, nsPerMinute) * nsPerMinute
	switch e.Kind.Consolidated() {
	case market.KindTrade, market.KindCryptoTrade:
		t := s.appendTick(&sym.trades, e)
		if sp == crypto {
			putCryptoTrade(t, e)
		} else {
			putTrade(t, e)
		}
		if !sym.hasTrade || e.Time >= recTime(sym.lastTrade[:]) {
			copy(sym.lastTrade[:], t)
			sym.hasTrade = true
		}
	case market.KindQuote, market.KindCryptoQuote:
		t := s.appendTick(&sym.quotes, e)
		if sp == crypto {
			putCryptoQuote(t, e)
		} else {
			putQuote(t, e)
		}
		if !sym.hasQuote || e.Time >= recTime(sym.lastQuote[:]) {
			copy(sym.lastQuote[:], t)
			sym.hasQuote = true
		}
	case market.KindBar, market.KindUpdatedBar, market.KindCryptoBar, market.KindCryptoUpdatedBar:
		v := barVal{Time: minute, Seq: e.Seq, Bar: e.Bar}
		if sp == crypto {
			v = cryptoBarVal(minute, e.Seq, e.CryptoBar)
		}
		sym.bars = s.upsertBar(sym.bars, v)
		if !sym.hasBar || v.Time >= sym.lastBar.Time {
			sym.lastBar, sym.hasBar = v, true
		}
	case market.KindDailyBar, market.KindCryptoDailyBar:
		v := barVal{Time: minute, Seq: e.Seq, Bar: e.Bar}
		if sp == crypto {
			v = cryptoBarVal(minute, e.Seq, e.CryptoBar)
		}
		sym.daily = s.upsertBar(sym.daily, v)
		sym.noteDaily(v)
	}
	if !sym.dirty {
		sym.dirty = true
		s.dirty = append(s.dirty, sym)
	}
	return true
}

// appendTick reserves the next record of e's day in ts and returns it.
func (s *Store) appendTick(ts *tickSeries, e *market.Event) []byte {
	t := ts.tail(s.applyDC.day(e.Time))
	s.pending += tickRecSize
	n := len(t.buf)
	t.buf = slices.Grow(t.buf, tickRecSize)[:n+tickRecSize]
	return t.buf[n:]
}

// upsertBar inserts v into bars (sorted by Time), replacing the bar of the
// same minute. Bars nearly always come in order, so this is an append.
func (s *Store) upsertBar(bars []barVal, v barVal) []barVal {
	n := len(bars)
	if n == 0 || bars[n-1].Time < v.Time {
		s.pending += barRecSize
		return append(bars, v)
	}
	i := sort.Search(n, func(i int) bool { return bars[i].Time >= v.Time })
	if i < n && bars[i].Time == v.Time {
		bars[i] = v
		return bars
	}
	s.pending += barRecSize
	return slices.Insert(bars, i, v)
}

// noteDaily keeps the two latest daily bars (the snapshot's dailyBar and
// prevDailyBar).
func (sym *symState) noteDaily(v barVal) {
	switch {
	case sym.nDaily == 0:
		sym.daily0, sym.nDaily = v, 1
	case v.Time == sym.daily0.Time:
		sym.daily0 = v
	case v.Time > sym.daily0.Time:
		sym.daily1, sym.daily0, sym.nDaily = sym.daily0, v, 2
	case sym.nDaily == 2 && v.Time == sym.daily1.Time:
		sym.daily1 = v
	case sym.nDaily == 1 || v.Time > sym.daily1.Time:
		sym.daily1, sym.nDaily = v, 2
	}
}

// symLocked returns the state of a symbol, creating it. It returns nil for
// a symbol that cannot be a directory name.
func (s *Store) symLocked(sp space, name string) *symState {
	if sym := s.syms[sp][name]; sym != nil {
		return sym
	}
	esc, ok := escapeSymbol(name)
	if !ok {
		return nil
	}
	sym := &symState{name: name, space: sp, dir: s.symDir(sp, esc)}
	s.syms[sp][name] = sym
	s.symList[sp] = nil
	return sym
}

func (s *Store) symDir(sp space, esc string) string { return s.dir + "/" + spaceDirs[sp] + "/" + esc }

func (s *Store) lookup(sp space, name string) *symState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.syms[sp][name]
}

// kind returns the file kind of the symbol's trades, quotes, minute or
// daily bars (given as the stock kind).
func (sym *symState) kind(k fileKind) fileKind { return k.inClass(sym.space == crypto) }

// AppliedSeq returns the highest Seq whose effects are durable in the
// store's files: everything up to it was written, synced and checkpointed.
// After a restart, replay the journal from AppliedSeq()+1.
func (s *Store) AppliedSeq() uint64 { return s.applied.Load() }

// LatestTrade returns the stock's trade with the latest time (the last
// applied among equal times).
func (s *Store) LatestTrade(symbol string) (market.Event, bool) {
	return s.latestTick(stocks, symbol, false)
}

// LatestQuote returns the stock's quote with the latest time.
func (s *Store) LatestQuote(symbol string) (market.Event, bool) {
	return s.latestTick(stocks, symbol, true)
}

// LatestBar returns the stock's latest minute bar (as updated).
func (s *Store) LatestBar(symbol string) (market.Event, bool) { return s.latestBar(stocks, symbol) }

// Snapshot returns the stock's latest trade, quote, minute bar, daily bar
// and previous daily bar; false if the store has nothing for the symbol.
func (s *Store) Snapshot(symbol string) (Snapshot, bool) { return s.snapshot(stocks, symbol) }

// Symbols returns the stock symbols the store has data for, sorted.
func (s *Store) Symbols() []string { return s.symbols(stocks) }

func (s *Store) latestTick(sp space, symbol string, quotes bool) (market.Event, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var e market.Event
	sym := s.syms[sp][symbol]
	if sym == nil || (quotes && !sym.hasQuote) || (!quotes && !sym.hasTrade) {
		return e, false
	}
	if quotes {
		decodeTick(sym.kind(kindQuotes), sym.lastQuote[:], sym.name, &e)
	} else {
		decodeTick(sym.kind(kindTrades), sym.lastTrade[:], sym.name, &e)
	}
	return e, true
}

func (s *Store) latestBar(sp space, symbol string) (market.Event, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sym := s.syms[sp][symbol]
	if sym == nil || !sym.hasBar {
		return market.Event{}, false
	}
	return sym.lastBar.event(sym.name, sp == crypto), true
}

func (s *Store) snapshot(sp space, symbol string) (Snapshot, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var snap Snapshot
	sym := s.syms[sp][symbol]
	if sym == nil {
		return snap, false
	}
	c := sp == crypto
	if sym.hasTrade {
		snap.LatestTrade = new(market.Event)
		decodeTick(sym.kind(kindTrades), sym.lastTrade[:], sym.name, snap.LatestTrade)
	}
	if sym.hasQuote {
		snap.LatestQuote = new(market.Event)
		decodeTick(sym.kind(kindQuotes), sym.lastQuote[:], sym.name, snap.LatestQuote)
	}
	if sym.hasBar {
		e := sym.lastBar.event(sym.name, c)
		snap.MinuteBar = &e
	}
	if sym.nDaily > 0 {
		e := sym.daily0.event(sym.name, c)
		snap.DailyBar = &e
	}
	if sym.nDaily > 1 {
		e := sym.daily1.event(sym.name, c)
		snap.PrevDailyBar = &e
	}
	ok := snap.LatestTrade != nil || snap.LatestQuote != nil || snap.MinuteBar != nil || snap.DailyBar != nil
	return snap, ok
}

func (s *Store) symbols(sp space) []string {
	s.mu.RLock()
	l := s.symList[sp]
	s.mu.RUnlock()
	if l == nil {
		s.mu.Lock()
		if s.symList[sp] == nil {
			s.symList[sp] = make([]string, 0, len(s.syms[sp]))
			for name, sym := range s.syms[sp] {
				if !sym.hidden {
					s.symList[sp] = append(s.symList[sp], name)
				}
			}
			slices.Sort(s.symList[sp])
		}
		l = s.symList[sp]
		s.mu.Unlock()
	}
	return slices.Clone(l)
}

// Stats are the store's counters and health, for metrics and operators.
type Stats struct {
	// AppliedSeq is the durable seq, as AppliedSeq(): everything up to it
	// is written, synced and checkpointed; after a restart the journal is
	// replayed from the next one.
	AppliedSeq uint64
	// LastSeq is the highest seq applied, durable or not: what queries see.
	// LastSeq - AppliedSeq is the replay a crash would cost.
	LastSeq uint64
	// Symbols counts the symbols with data in every namespace: stocks,
	// crypto pairs and the IEX view's stocks (a stock with IEX data counts
	// once in each view).
	Symbols int
	// PendingBytes is the applied data not yet in files, at its size in
	// them: 48 bytes per trade or quote, 64 per minute or daily bar. It
	// grows without bound while flushes fail (Apply never blocks).
	PendingBytes int64
	// DiskBytes is the total size of the store's files (data, runs
	// sidecars, checkpoint): measured at Open, then kept up to date as the
	// store writes, repairs and prunes them.
	DiskBytes int64
	// Flushes counts flushes that wrote something and succeeded;
	// FlushFailures those that failed (each is retried at the next tick).
	Flushes       uint64
	FlushFailures uint64
	// LastFlushAt is when the latest successful flush ended: everything
	// applied before it began was durable then (zero before the first).
	// The store is keeping up when it is recent and after LastFlushErrorAt.
	LastFlushAt time.Time
	// LastFlushDuration is how long the latest flush that had something to
	// write took, successful or not.
	LastFlushDuration time.Duration
	// LastFlushError is the error of the latest failed flush and
	// LastFlushErrorAt when it ended; nil and zero if none failed since
	// Open. A later success does not clear them.
	LastFlushError   error
	LastFlushErrorAt time.Time
	// SyncFailed says a sync failed: AppliedSeq no longer advances until
	// the store is reopened (the kernel may have dropped the data; the
	// journal replay restores it).
	SyncFailed bool
	Dropped    uint64 // events whose symbol cannot be stored
	OpenFiles  int
}

// Stats returns the current counters. It does not wait for a running
// flush.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	st := Stats{AppliedSeq: s.applied.Load(), LastSeq: s.lastSeq, Symbols: -s.nHidden, Dropped: s.dropped,
		PendingBytes: s.pending}
	for _, m := range s.syms {
		st.Symbols += len(m)
	}
	s.mu.RUnlock()
	s.infoMu.Lock()
	in := s.info
	s.infoMu.Unlock()
	st.Flushes, st.FlushFailures = in.Flushes, in.FlushFailures
	st.LastFlushAt, st.LastFlushDuration = in.LastFlushAt, in.LastFlushDuration
	st.LastFlushError, st.LastFlushErrorAt = in.LastFlushError, in.LastFlushErrorAt
	st.SyncFailed = s.syncFailed.Load()
	st.DiskBytes = s.disk.Load()
	st.OpenFiles = s.files.openCount()
	return st
}

// Run is the flusher: every FlushInterval it writes what Apply buffered,
// syncs and advances AppliedSeq. It returns after a final flush when ctx is
// done (nil, or the final flush's error) or at once when the store is
// closed. A failed flush is logged and retried at the next tick; the data
// stays in memory meanwhile.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return s.flush()
		case <-s.closing:
			return nil
		case <-t.C:
			if err := s.flush(); err != nil {
				s.log.Error("history: flush failed; will retry", "err", err)
			}
		}
	}
}

// Flush writes everything applied so far, syncs it and advances
// AppliedSeq, as Run does at each tick.
func (s *Store) Flush() error { return s.flush() }

// Close flushes, syncs and closes the store. It is idempotent; queries
// after it return ErrClosed and Apply ignores its input.
func (s *Store) Close() error {
	s.closeMx.Lock()
	defer s.closeMx.Unlock()
	if s.closed {
		return s.closeEr
	}
	s.closed = true
	close(s.closing)
	s.closeMu.Lock() // wait for running queries
	defer s.closeMu.Unlock()
	err := s.flush()
	s.flushMu.Lock()
	s.stopped = true
	s.flushMu.Unlock()
	s.mu.Lock()
	s.isClosed = true
	s.mu.Unlock()
	s.files.closeAll()
	if cerr := s.dirf.Close(); err == nil {
		err = cerr
	}
	s.closeEr = err
	return err
}
