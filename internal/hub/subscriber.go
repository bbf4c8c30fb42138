package hub

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/tapehq/tape/internal/market"
)

// item is a run of queued messages: count consecutive messages of one
// chunk, n bytes from the first message's start to the last one's end
// (length prefixes in between, see Hub.encode). A subscriber of "*" gets
// every message of a chunk, so its queue needs one 24-byte item per chunk
// rather than one per message; a filtered subscriber's messages are
// rarely adjacent and take an item each. It names its chunk (rather than
// holding a []byte) so that the bytes it pins are charged exactly.
type item struct {
	c      *chunk
	off, n uint32
	count  uint32
	cost   int32 // chunk bytes charged with this item (see push)
}

// runPrefix is the length prefix before each message in a chunk.
const runPrefix = 4

// first returns the run's first message and the offset of the next one.
func (it *item) first() ([]byte, uint32) {
	if it.count == 1 {
		return it.c.mem[it.off : it.off+it.n : it.off+it.n], it.off + it.n
	}
	m := binary.LittleEndian.Uint32(it.c.mem[it.off-runPrefix:])
	return it.c.mem[it.off : it.off+m : it.off+m], it.off + m + runPrefix
}

// pendingItem is a delivery the publisher collected for a subscriber during
// one Publish; the symbol is what quotes conflate on.
type pendingItem struct {
	item
	sym      string
	lossless bool
}

const (
	// ItemBytes is what a queue slot costs (one per run of messages) on
	// top of the chunk bytes the messages pin.
	ItemBytes = int(unsafe.Sizeof(item{}))
	// conflatedOverhead is what a conflated entry costs besides its bytes:
	// the map slot, the key's header and the value's header.
	conflatedOverhead = 64
	minQueueCap       = 16
	// keepQueueCap is the largest queue array kept once drained (12 KiB):
	// enough for the usual batch, so that a steady subscriber does not
	// allocate one per batch.
	keepQueueCap = 512
)

// Subscriber is one consumer of a Hub. Its transport calls Ready (or is
// notified), Take or TakeUpTo, and Release from a single writer at a time;
// subscriptions change through the Hub.
//
// Everything a subscriber pins is charged against Options.MaxQueueBytes:
// the chunks its queued messages reference (each once, the whole chunk),
// its queue slots (ItemBytes each, by capacity), conflated quotes (copied
// out of the chunks, so they pin nothing shared), messages taken but not
// yet released, and what the transport declares with Charge (a partly
// written frame, pending control replies). The sum is never less than the
// memory actually held for the subscriber.
type Subscriber struct {
	hub    *Hub
	id     uint64
	format int
	label  string
	ready  chan struct{} // capacity 1: "something to take"; nil with notify
	notify func()
	// afterTheFact: the subscriber takes gap-filled and backfilled events
	// (SubscriberOptions.AfterTheFact).
	afterTheFact bool

	// Guarded by hub.mu: the effective registrations.
	effWild [market.NumChannels]bool
	effSyms [market.NumChannels]map[string]struct{}

	// Publisher-owned.
	pending []pendingItem
	stamp   uint64 // the last multi-symbol event delivered (Hub.publishMulti)

	dead atomic.Bool // kicked or removed: the publisher skips it

	mu        sync.Mutex
	queue     []item // queue[head:] are waiting
	head      int
	cost      int    // chunk bytes charged for queue[head:]
	bytes     int    // bytes the items of queue[head:] span
	msgs      int    // messages in queue[head:]
	inflight  int    // taken but not released, plus Charge
	held      *chunk // the chunk split by the last partial take (see TakeUpTo)
	conflated map[string][]byte
	confBytes int   // charged for conflated entries
	oldest    int64 // when the queue last went from empty to non-empty (ns)
	err       error // why it was closed

	delivered atomic.Uint64 // messages handed to the transport by Take
	dropped   atomic.Uint64 // messages conflated away
}

// ID is unique within the hub.
func (s *Subscriber) ID() uint64 { return s.id }

// Ready receives a value when there may be messages to take or the
// subscriber was closed. It is nil for a subscriber made with a Notify
// function.
func (s *Subscriber) Ready() <-chan struct{} { return s.ready }

func (s *Subscriber) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// usedLocked is every byte charged to s. Caller holds s.mu.
func (s *Subscriber) usedLocked() int {
	return s.cost + s.inflight + s.confBytes + cap(s.queue)*ItemBytes
}

// push moves the publisher's pending deliveries into the queue, applying the
// slow-consumer policy. Called by the publisher only.
func (s *Subscriber) push() {
	h := s.hub
	bound := h.opts.MaxQueueBytes
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		s.resetPending()
		return
	}
	wasEmpty := s.head == len(s.queue) && len(s.conflated) == 0
	kicked := false
	for i := range s.pending {
		p := &s.pending[i]
		if !p.lossless && s.usedLocked()+int(p.n) > h.opts.ConflateBytes {
			s.conflate(p)
			continue
		}
		it := p.item
		if s.head < len(s.queue) {
			if last := &s.queue[len(s.queue)-1]; last.c == it.c && last.off+last.n+runPrefix == it.off {
				// The next message of the run: no slot, no charge.
				last.n += runPrefix + it.n
				last.count++
				s.bytes += runPrefix + int(it.n)
				s.msgs++
				continue
			}
		}
		// Charge the whole chunk with the first queued message that lives
		// in it; the queue is in publish order, so a chunk's messages are
		// contiguous. Messages of the chunk already taken (in flight) were
		// charged with their own first message: counted twice until
		// released, never zero times.
		if s.head == len(s.queue) || s.queue[len(s.queue)-1].c != it.c {
			it.cost = int32(len(it.c.mem))
		}
		grow := 0
		if len(s.queue) == cap(s.queue) && s.head == 0 {
			grow = (max(minQueueCap, 2*cap(s.queue)) - cap(s.queue)) * ItemBytes
		}
		if s.usedLocked()+grow+int(it.cost) > bound {
			s.compact()
			if it.cost == 0 && s.head < len(s.queue) && s.queue[len(s.queue)-1].c != it.c {
				it.cost = int32(len(it.c.mem)) // compaction moved the previous messages
			}
			if s.usedLocked()+grow+int(it.cost) > bound {
				kicked = true
				break
			}
		}
		s.append(it)
	}
	if kicked {
		s.kickLocked(ErrSlowConsumer)
		h.kicked.Add(1)
	} else if s.cost > bound/4 && s.bytes*4 < s.cost {
		s.compact()
	}
	nowNonEmpty := s.head < len(s.queue) || len(s.conflated) > 0
	if wasEmpty && nowNonEmpty {
		s.oldest = nowNano()
	}
	s.mu.Unlock()
	s.resetPending()
	switch {
	case s.notify == nil:
		s.signal()
	case kicked || (wasEmpty && nowNonEmpty):
		s.notify()
	}
}

func (s *Subscriber) resetPending() {
	clear(s.pending)
	s.pending = s.pending[:0]
	if cap(s.pending) > keepQueueCap {
		s.pending = nil // a burst's capacity is not kept by an idle subscriber
	}
}

// append adds it to the queue, reusing the consumed front before growing.
// Caller holds s.mu and checked the bound.
func (s *Subscriber) append(it item) {
	if len(s.queue) == cap(s.queue) {
		if s.head > 0 {
			n := copy(s.queue, s.queue[s.head:])
			clear(s.queue[n:])
			s.queue, s.head = s.queue[:n], 0
		}
		if len(s.queue) == cap(s.queue) {
			q := make([]item, len(s.queue), max(minQueueCap, 2*cap(s.queue)))
			copy(q, s.queue)
			s.queue = q
		}
	}
	s.queue = append(s.queue, it)
	s.cost += int(it.cost)
	s.bytes += int(it.n)
	s.msgs++
}

// conflate keeps p as the newest value of its symbol, in a private copy so
// that it pins no shared chunk. Caller holds s.mu.
func (s *Subscriber) conflate(p *pendingItem) {
	h := s.hub
	if s.conflated == nil {
		s.conflated = make(map[string][]byte)
	}
	msg, _ := p.first()
	old, had := s.conflated[p.sym]
	if had {
		s.confBytes -= cap(old) + len(p.sym) + conflatedOverhead
		s.dropped.Add(1)
		h.conflated.Add(1)
	}
	buf := append(old[:0], msg...) // reuses the old copy's array: quotes are of one size
	s.conflated[p.sym] = buf
	s.confBytes += cap(buf) + len(p.sym) + conflatedOverhead
}

// compact copies the queued messages into one private chunk, releasing the
// shared chunks they pin. It is what keeps a sparse subscriber (one quiet
// symbol among thousands) from being charged a whole chunk per message.
// Caller holds s.mu.
func (s *Subscriber) compact() {
	q := s.queue[s.head:]
	// The leading run of a chunk split by a partial take stays where it
	// is: messages in flight pin that chunk too, and its charge is here.
	lead := 0
	for s.held != nil && lead < len(q) && q[lead].c == s.held {
		lead++
	}
	q = q[lead:]
	bytes, cost, msgs := 0, 0, 0
	for i := range q {
		bytes += int(q[i].n) + runPrefix
		cost += int(q[i].cost)
		msgs += int(q[i].count)
	}
	// Only when it at least halves the charge: copying a dense queue (a
	// subscriber of "*", whose chunks are full of its own messages) would
	// turn memory shared with every other subscriber into a private copy
	// per subscriber and save almost nothing.
	if len(q) == 0 || 2*bytes > cost {
		return
	}
	// One run in a private chunk, with the same length prefixes.
	buf := make([]byte, 0, bytes)
	for i := range q {
		for it := q[i]; it.count > 0; {
			m, next := it.first()
			buf = binary.LittleEndian.AppendUint32(buf, uint32(len(m)))
			buf = append(buf, m...)
			it.off, it.n, it.count = next, it.n-(next-it.off), it.count-1
		}
	}
	c := newChunk(buf)
	clear(q)
	q[0] = item{c: c, off: runPrefix, n: uint32(len(buf) - runPrefix), count: uint32(msgs), cost: int32(len(c.mem))}
	s.queue = s.queue[:s.head+lead+1]
	s.cost += len(c.mem) - cost
	s.bytes = 0
	for _, it := range s.queue[s.head:] {
		s.bytes += int(it.n)
	}
}

func (s *Subscriber) kickLocked(err error) {
	s.err = err
	s.dead.Store(true)
	s.queue, s.head, s.held = nil, 0, nil
	s.conflated = nil
	s.cost, s.bytes, s.msgs, s.inflight, s.confBytes = 0, 0, 0, 0, 0
}

func (s *Subscriber) close(err error) {
	s.mu.Lock()
	first := s.err == nil
	if first {
		s.kickLocked(err)
	}
	s.mu.Unlock()
	if s.notify == nil {
		s.signal()
	} else if first {
		s.notify()
	}
}

// Take appends every waiting message to dst and returns it with the bytes
// they are charged; the caller passes that to Release once they are written,
// so a queue is bounded including what is in flight. Conflated latest values
// come after the queued messages. Once the subscriber is kicked or removed
// Take returns the reason (ErrSlowConsumer or ErrClosed).
func (s *Subscriber) Take(dst [][]byte) ([][]byte, int, error) {
	dst, cost, _, err := s.TakeUpTo(dst, -1)
	return dst, cost, err
}

// TakeUpTo is Take bounded by maxBytes of message bytes (at least one
// message is taken; negative means no bound). more reports that messages
// remain, which the caller must take later: a Notify subscriber is not
// notified again until its queue was found empty. Takes must be released
// in the order they were made (a chunk split between two takes stays
// charged to the later one).
func (s *Subscriber) TakeUpTo(dst [][]byte, maxBytes int) (_ [][]byte, cost int, more bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return dst, 0, false, s.err
	}
	q := s.queue[s.head:]
	k, size, n := 0, 0, 0 // whole items taken, message bytes, messages
	full := func(m []byte) bool { return maxBytes >= 0 && n > 0 && size+len(m) > maxBytes }
	for k < len(q) {
		it := &q[k]
		span := it.n
		for it.count > 0 {
			m, next := it.first()
			if full(m) {
				break
			}
			dst = append(dst, m)
			size += len(m)
			n++
			it.count--
			if it.count > 0 {
				it.n -= next - it.off
				it.off = next
			}
		}
		if it.count > 0 {
			// Cut inside the run: the rest stays queued with the chunk's
			// charge, which it still pins (released in take order, so the
			// taken part goes first).
			s.bytes -= int(span - it.n)
			s.held = it.c
			break
		}
		cost += int(it.cost)
		s.bytes -= int(span)
		k++
	}
	if k > 0 && k < len(q) && q[k].c == q[k-1].c {
		// The take ends between two items of one chunk: its charge (on
		// the first of them) stays with the rest, which still pins it,
		// rather than leaving with the taken part and being charged twice.
		r := k - 1
		for r > 0 && q[r-1].c == q[k].c {
			r--
		}
		moved := q[r].cost
		q[r].cost = 0
		q[k].cost += moved
		cost -= int(moved)
		s.held = q[k].c
	}
	s.cost -= cost
	s.msgs -= n
	clear(q[:k]) // drop the chunk references
	s.head += k
	if s.head == len(s.queue) {
		s.head, s.held = 0, nil
		s.queue = s.queue[:0]
		if cap(s.queue) > keepQueueCap {
			s.queue = nil // a burst's array is not kept by an idle subscriber
		}
		if len(s.conflated) > 0 && (maxBytes < 0 || size < maxBytes) {
			for sym, msg := range s.conflated {
				dst = append(dst, msg)
				cost += cap(msg) + len(sym) + conflatedOverhead
				n++
			}
			s.conflated = nil
			s.confBytes = 0
		}
	}
	s.inflight += cost
	s.delivered.Add(uint64(n))
	return dst, cost, s.head < len(s.queue) || len(s.conflated) > 0, nil
}

// Release returns cost bytes (from Take or Charge) to the queue's budget.
func (s *Subscriber) Release(cost int) {
	if cost == 0 {
		return
	}
	s.mu.Lock()
	if s.err == nil {
		s.inflight -= cost
	}
	s.mu.Unlock()
}

// Charge counts n bytes the transport holds for s (a partly written frame,
// control replies waiting) against its bound until a Release of them. It
// reports whether s is now over the bound; the transport then treats it as
// a slow consumer.
func (s *Subscriber) Charge(n int) (over bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false
	}
	s.inflight += n
	return s.usedLocked() > s.hub.opts.MaxQueueBytes
}

// Kick disconnects s as a slow consumer on the transport's behalf (its own
// buffers passed the bound): Take returns ErrSlowConsumer from now on.
func (s *Subscriber) Kick() {
	s.mu.Lock()
	first := s.err == nil
	if first {
		s.kickLocked(ErrSlowConsumer)
	}
	s.mu.Unlock()
	if first {
		s.hub.kicked.Add(1)
	}
}

// Err returns why the subscriber was closed, or nil.
func (s *Subscriber) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// SubscriberStats describes one subscriber for metrics and the dashboard.
type SubscriberStats struct {
	ID          uint64
	Label       string
	Format      int
	Symbols     int  // symbol subscriptions across channels (filled by Hub.Subscribers)
	Wildcard    bool // subscribed to "*" on some channel (filled by Hub.Subscribers)
	QueuedMsgs  int
	QueuedBytes int   // bytes charged: chunk memory pinned, queue slots, conflated copies, in flight and Charge
	LagNanos    int64 // age of the oldest queued message, 0 when the queue is empty
	Delivered   uint64
	Dropped     uint64
}

// SetLabel replaces the description given at Subscribe: a transport
// learns more of its client as it goes (the key it authenticated with).
func (s *Subscriber) SetLabel(label string) {
	s.mu.Lock()
	s.label = label
	s.mu.Unlock()
}

// Stats returns a snapshot of s's counters.
func (s *Subscriber) Stats() SubscriberStats {
	s.mu.Lock()
	st := SubscriberStats{ID: s.id, Label: s.label, Format: s.format,
		QueuedMsgs: s.msgs + len(s.conflated), QueuedBytes: s.usedLocked()}
	if st.QueuedMsgs > 0 {
		st.LagNanos = nowNano() - s.oldest
	}
	s.mu.Unlock()
	st.Delivered = s.delivered.Load()
	st.Dropped = s.dropped.Load()
	return st
}
