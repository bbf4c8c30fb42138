package hub

import (
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// ErrSlowConsumer is the reason a subscriber is kicked: a lossless message
// did not fit in its queue.
var ErrSlowConsumer = errors.New("hub: slow consumer")

// ErrClosed is returned by Take once the subscriber was removed.
var ErrClosed = errors.New("hub: subscriber closed")

// Encoder appends the wire encoding of one event to dst.
type Encoder func(dst []byte, e *market.Event) []byte

// Options configures a Hub. The zero value of every field means its default.
type Options struct {
	// Formats are the wire encodings subscribers can ask for, by index.
	// Required: at least one.
	Formats []Encoder
	// MaxQueueBytes bounds the memory a subscriber's queue may pin.
	// Default 16 MiB.
	MaxQueueBytes int
	// ConflateBytes is the queue size above which latest-value channels
	// (quotes) are conflated per symbol. Default MaxQueueBytes / 2.
	ConflateBytes int
	// ChunkSize is the size of the shared buffers encoded events live in.
	// Default 16 KiB.
	ChunkSize int
}

const (
	defaultMaxQueueBytes = 16 << 20
	defaultChunkSize     = 16 << 10
	// maxMessage is the room an encoder is given in a chunk; a message that
	// does not fit is copied into its own allocation.
	maxMessage = 1 << 10
)

// Hub routes events from one publisher to many subscribers.
type Hub struct {
	opts Options

	mu    sync.RWMutex // guards index, wild, subs and Subscriber.eff*
	index [market.NumChannels]map[string][]*Subscriber
	wild  [market.NumChannels][]*Subscriber
	subs  map[*Subscriber]struct{}

	// Publisher-owned state (Publish is called from one goroutine).
	cur      []*chunk // current chunk per format
	stamp    uint64   // the current multi-symbol event (see publishMulti)
	touched  []*Subscriber
	enc      [][]byte // the current event's encoding per format
	encChunk []*chunk // and the chunk each lives in
	encOff   []uint32 // at this offset

	// books are the current crypto order books (books.go): written by the
	// publisher, read by subscription changes and the REST API.
	booksMu sync.Mutex
	books   map[string]*book

	nextID     atomic.Uint64
	published  atomic.Uint64
	deliveries atomic.Uint64
	conflated  atomic.Uint64
	kicked     atomic.Uint64
	lastSeq    atomic.Uint64
}

// chunk is a shared buffer of encoded messages. buf grows as the
// publisher encodes into it (publisher-owned); mem is the whole array,
// fixed at creation, which consumers slice: they never read buf, which the
// publisher writes.
type chunk struct{ buf, mem []byte }

func newChunk(b []byte) *chunk { return &chunk{buf: b, mem: b[:cap(b)]} }

// New returns a hub. It panics if opts has no formats: that is a programming
// error, not a runtime condition.
func New(opts Options) *Hub {
	if len(opts.Formats) == 0 {
		panic("hub: no formats")
	}
	if opts.MaxQueueBytes <= 0 {
		opts.MaxQueueBytes = defaultMaxQueueBytes
	}
	if opts.ConflateBytes <= 0 || opts.ConflateBytes > opts.MaxQueueBytes {
		opts.ConflateBytes = opts.MaxQueueBytes / 2
	}
	if opts.ChunkSize < 2*maxMessage {
		opts.ChunkSize = defaultChunkSize
	}
	h := &Hub{opts: opts, subs: make(map[*Subscriber]struct{})}
	for c := range h.index {
		h.index[c] = make(map[string][]*Subscriber)
	}
	h.cur = make([]*chunk, len(opts.Formats))
	h.enc = make([][]byte, len(opts.Formats))
	h.encChunk = make([]*chunk, len(opts.Formats))
	h.encOff = make([]uint32, len(opts.Formats))
	return h
}

// Subscribe registers a new subscriber that receives events in format (an
// index into Options.Formats). It starts with no channels. label describes
// it in statistics (say, the client's address).
func (h *Hub) Subscribe(format int, label string) *Subscriber {
	return h.SubscribeWith(SubscriberOptions{Format: format, Label: label})
}

// SubscriberOptions configures a subscriber for SubscribeWith.
type SubscriberOptions struct {
	// Format is an index into the hub's Options.Formats.
	Format int
	// Label describes the subscriber in statistics (say, the client's
	// address).
	Label string
	// Notify, when set, replaces the Ready channel: the hub calls it when
	// the queue goes from empty to non-empty and when the subscriber is
	// kicked or removed, from the publisher's goroutine (or Remove's
	// caller) and outside the hub's locks. It must not block: a transport
	// that serves many subscribers from a few goroutines schedules the
	// subscriber's connection in it. Once notified, the consumer must take
	// until Take or TakeUpTo leaves the queue empty; only then does the
	// next message notify again.
	Notify func()
	// AfterTheFact subscribers also receive events that entered the record
	// after the fact (market.FlagGapFill, FlagBackfill, FlagSynthetic): old events,
	// out of time order. Only Tape-aware clients (the resume extension)
	// ask for them; a plain Alpaca client never sees them live, and finds
	// them in history.
	AfterTheFact bool
}

// afterTheFact are the flags of events that entered the record after the
// fact: filled, imported, or a synthetic past.
const afterTheFact = market.FlagGapFill | market.FlagBackfill | market.FlagSynthetic

// SubscribeWith is Subscribe with options.
func (h *Hub) SubscribeWith(opts SubscriberOptions) *Subscriber {
	format, label := opts.Format, opts.Label
	if format < 0 || format >= len(h.opts.Formats) {
		panic("hub: unknown format")
	}
	s := &Subscriber{hub: h, format: format, label: label, id: h.nextID.Add(1), notify: opts.Notify, afterTheFact: opts.AfterTheFact}
	if s.notify == nil {
		s.ready = make(chan struct{}, 1)
	}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Remove unregisters s and releases its queue. Further Takes return
// ErrClosed (or ErrSlowConsumer if it was kicked). Remove is idempotent.
func (h *Hub) Remove(s *Subscriber) {
	h.mu.Lock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		for c := range market.NumChannels {
			h.setEffective(s, c, false, nil)
		}
	}
	h.mu.Unlock()
	s.close(ErrClosed)
}

// SetChannel replaces the symbols s receives on channel ch. "*" among them
// means every symbol; explicit symbols next to it are remembered, so that
// dropping the wildcard later keeps them, but never cause duplicates.
func (h *Hub) SetChannel(s *Subscriber, ch market.Channel, symbols []string) {
	h.Update(s, []ChannelSet{{Channel: ch, Symbols: symbols}})
}

// ChannelSet is one channel's new symbol list for Update.
type ChannelSet struct {
	Channel market.Channel
	Symbols []string
}

// Update applies several SetChannel changes at once and returns the
// sequence number of the last event published before them: every later
// event matching the new subscription reaches s's queue, every earlier one
// does not. A resume replays the journal up to that boundary, so it has no
// gap and no duplicate.
func (h *Hub) Update(s *Subscriber, changes []ChannelSet) (boundary uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.updateLocked(s, changes)
}

func (h *Hub) updateLocked(s *Subscriber, changes []ChannelSet) (boundary uint64) {
	if _, ok := h.subs[s]; ok {
		for _, c := range changes {
			wild := slices.Contains(c.Symbols, "*")
			var set map[string]struct{}
			if !wild && len(c.Symbols) > 0 {
				set = make(map[string]struct{}, len(c.Symbols))
				for _, sym := range c.Symbols {
					set[sym] = struct{}{}
				}
			}
			h.setEffective(s, c.Channel, wild, set)
		}
	}
	return h.lastSeq.Load()
}

// setEffective moves s's registration on ch to (wild, set). Caller holds
// h.mu. Index slices are copied on write so Publish can iterate them under
// the read lock without copying.
func (h *Hub) setEffective(s *Subscriber, ch market.Channel, wild bool, set map[string]struct{}) {
	if s.effWild[ch] != wild {
		if wild {
			h.wild[ch] = append(slices.Clip(h.wild[ch]), s)
		} else {
			h.wild[ch] = without(h.wild[ch], s)
		}
		s.effWild[ch] = wild
	}
	old := s.effSyms[ch]
	for sym := range old {
		if _, keep := set[sym]; !keep {
			if l := without(h.index[ch][sym], s); len(l) > 0 {
				h.index[ch][sym] = l
			} else {
				delete(h.index[ch], sym)
			}
		}
	}
	for sym := range set {
		if _, had := old[sym]; !had {
			h.index[ch][sym] = append(slices.Clip(h.index[ch][sym]), s)
		}
	}
	s.effSyms[ch] = set
}

func without(l []*Subscriber, s *Subscriber) []*Subscriber {
	i := slices.Index(l, s)
	if i < 0 {
		return l
	}
	out := make([]*Subscriber, 0, len(l)-1)
	out = append(out, l[:i]...)
	return append(out, l[i+1:]...)
}

// Publish delivers events to their subscribers. It must be called from one
// goroutine at a time and never blocks on a subscriber. The events (and the
// payloads their pointers reference) must not be modified afterwards.
func (h *Hub) Publish(events []market.Event) {
	if len(events) == 0 {
		return
	}
	h.mu.RLock()
	// Whether anyone follows the iex feed's trades: most deployments have
	// no such subscriber, and then a trade costs nothing more.
	iexTrades := len(h.wild[market.ChanIEXTrades]) > 0 || len(h.index[market.ChanIEXTrades]) > 0
	for i := range events {
		e := &events[i]
		ch := e.Kind.Channel()
		if ch >= market.NumChannels {
			continue
		}
		if e.Kind == market.KindNews {
			h.publishMulti(e, ch)
			continue
		}
		if e.Kind == market.KindCryptoOrderbook {
			h.applyBook(e)
		}
		bySym := h.index[ch][e.Symbol]
		wild := h.wild[ch]
		if iexTrades && e.OnIEX() {
			h.publishIEXTrade(e, ch, bySym, wild)
			continue
		}
		if len(bySym) == 0 && len(wild) == 0 {
			continue
		}
		clear(h.enc)
		lossless := ch.Lossless()
		h.deliver(bySym, e, lossless)
		h.deliver(wild, e, lossless)
	}
	// Stored before unlocking: Update reads it under the write lock as the
	// exact boundary between what a new subscription gets live and what a
	// resume must read from the journal.
	h.lastSeq.Store(events[len(events)-1].Seq)
	h.mu.RUnlock()
	h.published.Add(uint64(len(events)))

	var n uint64
	for _, s := range h.touched {
		n += uint64(len(s.pending))
		s.push()
	}
	clear(h.touched)
	h.touched = h.touched[:0]
	h.deliveries.Add(n)
}

func (h *Hub) deliver(subs []*Subscriber, e *market.Event, lossless bool) {
	late := e.Flags&afterTheFact != 0
	for _, s := range subs {
		if s.dead.Load() || late && !s.afterTheFact {
			continue
		}
		f := s.format
		msg, c := h.enc[f], h.encChunk[f]
		if msg == nil {
			var off uint32
			msg, c, off = h.encode(f, e)
			h.enc[f], h.encChunk[f], h.encOff[f] = msg, c, off
		}
		if len(msg) == 0 {
			// The format cannot express the event (a pointer kind without
			// its payload): an empty element would corrupt the frame.
			continue
		}
		if len(s.pending) == 0 {
			h.touched = append(h.touched, s)
		}
		s.pending = append(s.pending, pendingItem{item: item{c: c, off: h.encOff[f], n: uint32(len(msg)), count: 1}, sym: e.Symbol, lossless: lossless})
	}
}

// publishIEXTrade delivers a trade (correction, cancel) printed on IEX to
// the subscribers of its channel (bySym, wild) and to those of the iex
// feed's trades (market.ChanIEXTrades), from one encoding: no subscriber
// is on both (a session serves one feed). Out of Publish's loop, which
// stays as tight as before for everything else. Caller holds h.mu for
// reading.
func (h *Hub) publishIEXTrade(e *market.Event, ch market.Channel, bySym, wild []*Subscriber) {
	iexSym, iexWild := h.index[market.ChanIEXTrades][e.Symbol], h.wild[market.ChanIEXTrades]
	if len(bySym) == 0 && len(wild) == 0 && len(iexSym) == 0 && len(iexWild) == 0 {
		return
	}
	clear(h.enc)
	lossless := ch.Lossless()
	h.deliver(bySym, e, lossless)
	h.deliver(wild, e, lossless)
	h.deliver(iexSym, e, lossless)
	h.deliver(iexWild, e, lossless)
}

// publishMulti delivers an event that concerns several symbols (a news
// article lists its own) to the subscribers of any of them, once each: a
// subscriber of AAPL and TSLA gets an article about both once, not twice.
// The publisher stamps each subscriber it delivers to with the event's
// stamp instead of building a set. Caller holds h.mu for reading.
func (h *Hub) publishMulti(e *market.Event, ch market.Channel) {
	clear(h.enc)
	h.stamp++
	lossless := ch.Lossless()
	h.deliverOnce(h.wild[ch], e, lossless)
	if e.News != nil {
		for _, sym := range e.News.Symbols {
			h.deliverOnce(h.index[ch][sym], e, lossless)
		}
	}
}

func (h *Hub) deliverOnce(subs []*Subscriber, e *market.Event, lossless bool) {
	for i, s := range subs {
		if s.stamp == h.stamp {
			continue
		}
		s.stamp = h.stamp
		h.deliver(subs[i:i+1], e, lossless)
	}
}

// encode encodes e in format f into the current chunk of that format and
// returns the message, its chunk and its offset there. In a chunk every
// message is preceded by its length (4 bytes, little-endian), so that a
// subscriber can queue consecutive messages of one chunk as one item (a
// run) and still take them one by one. A message that does not fit in a
// chunk gets a chunk of its own (no prefix: it is always a run of one), so
// that every queued message names the memory it pins.
func (h *Hub) encode(f int, e *market.Event) ([]byte, *chunk, uint32) {
	c := h.cur[f]
	if c == nil || cap(c.buf)-len(c.buf) < maxMessage+runPrefix {
		c = newChunk(make([]byte, 0, h.opts.ChunkSize))
		h.cur[f] = c
	}
	start := len(c.buf) + runPrefix
	b := h.opts.Formats[f](append(c.buf, 0, 0, 0, 0), e)
	if cap(b) != cap(c.buf) {
		// It did not fit (an unusually long status text, say) and append
		// moved it to a new array of its own.
		own := b[start:len(b):len(b)]
		return own, newChunk(own), 0
	}
	if len(b) == start {
		return b[start:start:start], c, 0 // nothing to send (not nil: encoded); the prefix is dropped
	}
	binary.LittleEndian.PutUint32(b[start-runPrefix:], uint32(len(b)-start))
	c.buf = b
	return b[start:len(b):len(b)], c, uint32(start)
}

// Stats are hub-wide counters.
type Stats struct {
	Published   uint64 // events offered to Publish
	Deliveries  uint64 // messages queued to subscribers
	Conflated   uint64 // latest-value messages replaced by a newer one before being sent
	Kicked      uint64 // subscribers disconnected as slow consumers
	Subscribers int    // current subscribers
	LastSeq     uint64 // sequence number of the last published event
}

// Stats returns a snapshot of the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.RLock()
	n := len(h.subs)
	h.mu.RUnlock()
	return Stats{
		Published:   h.published.Load(),
		Deliveries:  h.deliveries.Load(),
		Conflated:   h.conflated.Load(),
		Kicked:      h.kicked.Load(),
		Subscribers: n,
		LastSeq:     h.lastSeq.Load(),
	}
}

// NumFormats is the number of wire formats the hub encodes.
func (h *Hub) NumFormats() int { return len(h.opts.Formats) }

// Subscribed reports whether any subscriber has any channel.
func (h *Hub) Subscribed() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range market.NumChannels {
		if len(h.wild[c]) > 0 || len(h.index[c]) > 0 {
			return true
		}
	}
	return false
}

// MaxBacklog returns the largest number of bytes any subscriber has queued
// or in flight. A replay at full speed waits on it instead of overflowing
// its slowest client.
func (h *Hub) MaxBacklog() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	m := 0
	for s := range h.subs {
		s.mu.Lock()
		m = max(m, s.usedLocked())
		s.mu.Unlock()
	}
	return m
}

// Subscribers returns a snapshot of every subscriber's statistics.
func (h *Hub) Subscribers() []SubscriberStats {
	h.mu.RLock()
	out := make([]SubscriberStats, 0, len(h.subs))
	for s := range h.subs {
		st := s.Stats()
		for c := range market.NumChannels {
			st.Symbols += len(s.effSyms[c])
			st.Wildcard = st.Wildcard || s.effWild[c]
		}
		out = append(out, st)
	}
	h.mu.RUnlock()
	slices.SortFunc(out, func(a, b SubscriberStats) int { return int(a.ID - b.ID) })
	return out
}

func nowNano() int64 { return time.Now().UnixNano() }
