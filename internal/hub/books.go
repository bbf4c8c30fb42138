package hub

import (
	"cmp"
	"slices"

	"github.com/tapehq/tape/internal/market"
)

// Order books. Alpaca's crypto stream sends a full snapshot of a book
// ("o" with r=true) when a client subscribes to it, then only the changed
// levels. The hub keeps every book current from the events it publishes,
// so that a subscriber joining later gets a snapshot first: without it, a
// client would apply updates to a book it never had (ccxt's watchOrderBook,
// the SDKs' handlers). The REST API's latest order books read them too.

// book is one symbol's current order book: price -> size per side.
type book struct {
	bids, asks map[float64]float64
	time       int64
}

// applyBook updates the book of e (KindCryptoOrderbook). Only the
// publisher calls it, under the read lock; readers take booksMu.
func (h *Hub) applyBook(e *market.Event) {
	ob := e.Orderbook
	if ob == nil {
		return
	}
	h.booksMu.Lock()
	defer h.booksMu.Unlock()
	if h.books == nil {
		h.books = make(map[string]*book)
	}
	b := h.books[e.Symbol]
	if b == nil || ob.Reset {
		b = &book{bids: make(map[float64]float64), asks: make(map[float64]float64)}
		h.books[e.Symbol] = b
	}
	for side, levels := range [2][]market.BookLevel{ob.Bids, ob.Asks} {
		m := b.bids
		if side == 1 {
			m = b.asks
		}
		for _, l := range levels {
			if l.Size == 0 {
				delete(m, l.Price)
			} else {
				m[l.Price] = l.Size
			}
		}
	}
	b.time = max(b.time, e.Time)
}

// snapshot is the full book of sym as one Reset event, bids from the best
// (highest) down, asks from the best (lowest) up. Caller holds booksMu.
func (b *book) snapshot(sym string) market.Event {
	ob := &market.Orderbook{Reset: true, Bids: make([]market.BookLevel, 0, len(b.bids)),
		Asks: make([]market.BookLevel, 0, len(b.asks))}
	for p, s := range b.bids {
		ob.Bids = append(ob.Bids, market.BookLevel{Price: p, Size: s})
	}
	for p, s := range b.asks {
		ob.Asks = append(ob.Asks, market.BookLevel{Price: p, Size: s})
	}
	slices.SortFunc(ob.Bids, func(x, y market.BookLevel) int { return cmp.Compare(y.Price, x.Price) })
	slices.SortFunc(ob.Asks, func(x, y market.BookLevel) int { return cmp.Compare(x.Price, y.Price) })
	return market.Event{Kind: market.KindCryptoOrderbook, Symbol: sym, Time: b.time, Orderbook: ob}
}

// Orderbook returns the current book of symbol as a full snapshot.
func (h *Hub) Orderbook(symbol string) (market.Event, bool) {
	h.booksMu.Lock()
	defer h.booksMu.Unlock()
	b := h.books[symbol]
	if b == nil {
		return market.Event{}, false
	}
	return b.snapshot(symbol), true
}

// bookSnapshots returns the snapshots of symbols ("*": every book), by
// symbol.
func (h *Hub) bookSnapshots(symbols []string) []market.Event {
	h.booksMu.Lock()
	defer h.booksMu.Unlock()
	if slices.Contains(symbols, "*") {
		symbols = symbols[:0:0]
		for sym := range h.books {
			symbols = append(symbols, sym)
		}
		slices.Sort(symbols)
	}
	var out []market.Event
	for _, sym := range symbols {
		if b := h.books[sym]; b != nil {
			out = append(out, b.snapshot(sym))
		}
	}
	return out
}

// UpdateWithBooks is Update, plus the current snapshots of the order books
// of books ("*": all), taken at the same boundary: the subscriber's queue
// gets every update after them, none before. Send the snapshots ahead of
// the queue.
func (h *Hub) UpdateWithBooks(s *Subscriber, changes []ChannelSet, books []string) (boundary uint64, snaps []market.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	boundary = h.updateLocked(s, changes)
	if len(books) > 0 {
		snaps = h.bookSnapshots(books)
	}
	return boundary, snaps
}
