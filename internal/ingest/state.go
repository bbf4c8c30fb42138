package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// LateTolerance is how far behind the record clock a market event may be
// before the sequencer flags it late (market.FlagLate), and how far ahead
// of its batch's clock an event time may pull the record clock. A second
// absorbs ordinary cross-venue skew and transport jitter; trades reported
// seconds late, imports of earlier days and gap fills exceed it.
const LateTolerance = int64(1e9)

// State is what the record holds last: the record clock (journal time) and,
// per symbol, the largest trade ID and the latest trade and quote. The
// sequencer keeps it current event by event; it is checkpointed with the
// bar builder so that a restart reads it back in constant time, and the
// simulator resumes from it (prices, quotes, trade IDs).
//
// A State belongs to the goroutine that sequences; read it only before the
// pipeline runs or after it returns.
type State struct {
	// Seq is the last sequence number observed.
	Seq uint64
	// Clock is the record clock: the running maximum of market event times
	// (each clamped to its batch clock plus LateTolerance, so one event
	// stamped far in the future cannot drag it). Every journal record is
	// stamped with the clock after its event, so journal time never goes
	// backwards.
	Clock int64
	// FeedNow is the latest batch clock (feed.Batch.Now) seen.
	FeedNow int64

	syms map[string]*SymbolState
	last *SymbolState // the symbol of the previous event: runs skip the map
}

// SymbolState is what the record holds last of one symbol (stock or crypto).
type SymbolState struct {
	Symbol      string
	MaxTradeID  int64   // the largest trade ID recorded (corrections' new IDs included)
	LastPrice   float64 // the latest trade by event time
	LastSize    float64
	LastTime    int64
	BidPrice    float64 // the latest quote (NBBO; IEX quotes aside) by event time
	AskPrice    float64
	BidSize     float64
	AskSize     float64
	QuoteTime   int64
	Trades      uint64 // trades recorded
	LastEventNs int64  // the latest event time of any kind
}

// NewState returns an empty State: a fresh record.
func NewState() *State { return &State{syms: make(map[string]*SymbolState)} }

// Symbol returns the state of sym, or nil if the record has none.
func (s *State) Symbol(sym string) *SymbolState { return s.syms[sym] }

// Symbols returns every symbol's state, sorted by symbol.
func (s *State) Symbols() []*SymbolState {
	out := make([]*SymbolState, 0, len(s.syms))
	for _, y := range s.syms {
		out = append(out, y)
	}
	slices.SortFunc(out, func(a, b *SymbolState) int {
		switch {
		case a.Symbol < b.Symbol:
			return -1
		case a.Symbol > b.Symbol:
			return 1
		}
		return 0
	})
	return out
}

// isTick reports whether events of kind k carry a market time that may
// run behind the record and then make them late. Bars are stamped with
// their start and sent after it, daily bars all day long, news when
// published: none of them is "late" for being older than the clock.
func isTick(k market.Kind) bool {
	switch k {
	case market.KindTrade, market.KindQuote, market.KindStatus, market.KindLULD, market.KindCorrection,
		market.KindCancelError, market.KindImbalance, market.KindCryptoTrade, market.KindCryptoQuote,
		market.KindCryptoOrderbook, market.KindCryptoPricing, market.KindOptionTrade, market.KindOptionQuote,
		market.KindIEXQuote:
		return true
	}
	return false
}

// sendTime is the earliest the event can have been sent live: its time,
// except a minute bar (stamped with its start), sent once its minute has
// closed.
func sendTime(e *market.Event) int64 {
	switch e.Kind {
	case market.KindBar, market.KindUpdatedBar, market.KindCryptoBar, market.KindCryptoUpdatedBar,
		market.KindIEXBar, market.KindIEXUpdatedBar:
		return e.Time + int64(time.Minute)
	}
	return e.Time
}

// stamp advances the record clock with a raw event of a batch cut at now,
// flags it late if it is behind, and returns the journal time of its
// record. That time is never below the event's own time (unless the event
// claims a time beyond its batch clock), which a replay's seek relies on.
func (s *State) stamp(e *market.Event, now int64) int64 {
	if isTick(e.Kind) && e.Time < s.Clock-LateTolerance {
		e.Flags |= market.FlagLate
	}
	t := sendTime(e)
	if now != 0 && t > now+LateTolerance {
		t = now + LateTolerance
	}
	if t > s.Clock {
		s.Clock = t
	}
	return s.Clock
}

// observe records what e says about its symbol.
func (s *State) observe(e *market.Event) {
	if e.Seq > s.Seq {
		s.Seq = e.Seq
	}
	if e.Symbol == "" {
		return
	}
	y := s.last
	if y == nil || y.Symbol != e.Symbol {
		y = s.syms[e.Symbol]
		if y == nil {
			y = &SymbolState{Symbol: e.Symbol}
			s.syms[e.Symbol] = y
		}
		s.last = y
	}
	y.LastEventNs = max(y.LastEventNs, e.Time)
	switch e.Kind {
	case market.KindTrade:
		y.Trades++
		y.MaxTradeID = max(y.MaxTradeID, e.Trade.ID)
		if e.Time >= y.LastTime {
			y.LastPrice, y.LastSize, y.LastTime = e.Trade.Price, float64(e.Trade.Size), e.Time
		}
	case market.KindCorrection:
		if c := e.Correction; c != nil {
			y.MaxTradeID = max(y.MaxTradeID, c.CorrID, c.OrigID)
		}
	case market.KindCancelError:
		if c := e.CancelError; c != nil {
			y.MaxTradeID = max(y.MaxTradeID, c.ID)
		}
	case market.KindIEXQuote:
		// IEX's own top of book, not the NBBO the simulator resumes
		// from: it must not replace the symbol's quote.
	case market.KindQuote:
		if e.Time >= y.QuoteTime {
			q := &e.Quote
			y.BidPrice, y.AskPrice, y.BidSize, y.AskSize, y.QuoteTime = q.BidPrice, q.AskPrice, float64(q.BidSize), float64(q.AskSize), e.Time
		}
	case market.KindCryptoTrade:
		y.Trades++
		y.MaxTradeID = max(y.MaxTradeID, e.CryptoTrade.ID)
		if e.Time >= y.LastTime {
			y.LastPrice, y.LastSize, y.LastTime = e.CryptoTrade.Price, e.CryptoTrade.Size, e.Time
		}
	case market.KindCryptoQuote:
		if e.Time >= y.QuoteTime {
			q := &e.CryptoQuote
			y.BidPrice, y.AskPrice, y.BidSize, y.AskSize, y.QuoteTime = q.BidPrice, q.AskPrice, q.BidSize, q.AskSize, e.Time
		}
	}
}

// Observe feeds a sequenced event into the state as the sequencer does,
// for a state being rebuilt from the journal: the event's record time is
// known (the journal's), so it only moves the clock forward.
func (s *State) Observe(e *market.Event, recordTime int64) {
	s.Clock = max(s.Clock, recordTime)
	s.observe(e)
}

// stateVersion heads the encoded State.
const stateVersion = 1

// errBadState is returned for an encoded State that cannot be decoded.
var errBadState = errors.New("ingest: malformed state")

// AppendBinary appends the State's encoding to b:
//
//	version u8 | seq u64 | clock i64 | feedNow i64 | count u32 |
//	count × (symbol len u8 | symbol | maxTradeID i64 | lastPrice f64 | lastSize f64 | lastTime i64 |
//	         bid f64 | ask f64 | bidSize f64 | askSize f64 | quoteTime i64 | trades u64 | lastEvent i64)
func (s *State) AppendBinary(b []byte) []byte {
	b = append(b, stateVersion)
	b = binary.LittleEndian.AppendUint64(b, s.Seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.Clock))
	b = binary.LittleEndian.AppendUint64(b, uint64(s.FeedNow))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.syms)))
	for _, y := range s.Symbols() {
		b = append(b, byte(len(y.Symbol)))
		b = append(b, y.Symbol...)
		for _, v := range [...]uint64{uint64(y.MaxTradeID), math.Float64bits(y.LastPrice), math.Float64bits(y.LastSize),
			uint64(y.LastTime), math.Float64bits(y.BidPrice), math.Float64bits(y.AskPrice), math.Float64bits(y.BidSize),
			math.Float64bits(y.AskSize), uint64(y.QuoteTime), y.Trades, uint64(y.LastEventNs)} {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
	}
	return b
}

// symbolRecordSize is the fixed part of an encoded SymbolState.
const symbolRecordSize = 11 * 8

// DecodeState decodes what AppendBinary wrote. It never trusts the bytes:
// a count beyond what the input can hold is an error, not an allocation.
func DecodeState(p []byte) (*State, error) {
	const head = 1 + 8 + 8 + 8 + 4
	if len(p) < head || p[0] != stateVersion {
		return nil, errBadState
	}
	s := NewState()
	s.Seq = binary.LittleEndian.Uint64(p[1:])
	s.Clock = int64(binary.LittleEndian.Uint64(p[9:]))
	s.FeedNow = int64(binary.LittleEndian.Uint64(p[17:]))
	n := int(binary.LittleEndian.Uint32(p[25:]))
	p = p[head:]
	if n > len(p)/(1+symbolRecordSize) {
		return nil, fmt.Errorf("%w: %d symbols in %d bytes", errBadState, n, len(p))
	}
	for range n {
		l := int(p[0])
		if len(p) < 1+l+symbolRecordSize {
			return nil, errBadState
		}
		y := &SymbolState{Symbol: string(p[1 : 1+l])}
		p = p[1+l:]
		u := func(i int) uint64 { return binary.LittleEndian.Uint64(p[8*i:]) }
		f := func(i int) float64 { return math.Float64frombits(u(i)) }
		y.MaxTradeID, y.LastPrice, y.LastSize, y.LastTime = int64(u(0)), f(1), f(2), int64(u(3))
		y.BidPrice, y.AskPrice, y.BidSize, y.AskSize, y.QuoteTime = f(4), f(5), f(6), f(7), int64(u(8))
		y.Trades, y.LastEventNs = u(9), int64(u(10))
		p = p[symbolRecordSize:]
		if y.Symbol == "" || s.syms[y.Symbol] != nil {
			return nil, fmt.Errorf("%w: symbol %q", errBadState, y.Symbol)
		}
		s.syms[y.Symbol] = y
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadState, len(p))
	}
	return s, nil
}
