package hub

import (
	"sync"
	"sync/atomic"

	"github.com/tapehq/tape/internal/market"
)

// item is one queued message.
type item struct {
	msg      []byte
	sym      string
	cost     int32 // bytes charged against the queue bound
	lossless bool
}

// Subscriber is one consumer of a Hub. Its transport calls Ready, Take and
// Release from a single writer goroutine; subscriptions change through the
// Hub.
type Subscriber struct {
	hub    *Hub
	id     uint64
	format int
	label  string
	ready  chan struct{} // capacity 1: "something to take"

	// Guarded by hub.mu: the effective registrations.
	effWild [market.NumChannels]bool
	effSyms [market.NumChannels]map[string]struct{}

	// Publisher-owned.
	pending   []item
	lastChunk *chunk
	stamp     uint64 // the last multi-symbol event delivered (Hub.publishMulti)

	dead atomic.Bool // kicked or removed: the publisher skips it

	mu        sync.Mutex
	queue     []item
	spare     []item // the writer's previous queue, recycled
	cost      int    // bytes charged for the queued (and conflated) messages
	bytes     int    // message bytes queued (and conflated)
	inflight  int    // bytes charged for messages taken but not yet released
	conflated map[string]item
	oldest    int64 // when the queue last went from empty to non-empty (ns)
	err       error // why it was closed

	delivered atomic.Uint64 // messages handed to the transport by Take
	dropped   atomic.Uint64 // messages conflated away
}

// ID is unique within the hub.
func (s *Subscriber) ID() uint64 { return s.id }

// Ready receives a value when there may be messages to take or the
// subscriber was closed.
func (s *Subscriber) Ready() <-chan struct{} { return s.ready }

func (s *Subscriber) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// push moves the publisher's pending deliveries into the queue, applying the
// slow-consumer policy. Called by the publisher only.
func (s *Subscriber) push() {
	h := s.hub
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		clear(s.pending)
		s.pending = s.pending[:0]
		return
	}
	wasEmpty := len(s.queue) == 0 && len(s.conflated) == 0
	kicked := false
	for _, it := range s.pending {
		if !it.lossless && s.cost+s.inflight+int(it.cost) > h.opts.ConflateBytes {
			if s.conflated == nil {
				s.conflated = make(map[string]item)
			}
			if old, had := s.conflated[it.sym]; had {
				s.cost -= int(old.cost)
				s.bytes -= len(old.msg)
				s.dropped.Add(1)
				h.conflated.Add(1)
			}
			// A conflated message is charged its own size: it may outlive
			// the chunk charge of the queue it skipped.
			it.cost = int32(len(it.msg))
			s.conflated[it.sym] = it
			s.cost += int(it.cost)
			s.bytes += len(it.msg)
			continue
		}
		if s.cost+s.inflight+int(it.cost) > h.opts.MaxQueueBytes {
			s.compact()
			if s.cost+s.inflight+int(it.cost) > h.opts.MaxQueueBytes {
				kicked = true
				break
			}
		}
		s.queue = append(s.queue, it)
		s.cost += int(it.cost)
		s.bytes += len(it.msg)
	}
	if kicked {
		s.kickLocked(ErrSlowConsumer)
		h.kicked.Add(1)
	} else if s.cost > h.opts.MaxQueueBytes/4 && s.bytes*4 < s.cost {
		s.compact()
	}
	if wasEmpty && len(s.queue) > 0 {
		s.oldest = nowNano()
	}
	s.mu.Unlock()
	clear(s.pending)
	s.pending = s.pending[:0]
	s.signal()
}

// compact copies the queued messages into one private buffer, releasing the
// shared chunks they pin. It is what keeps a sparse subscriber (one quiet
// symbol among thousands) from being charged a whole chunk per message.
// Caller holds s.mu.
func (s *Subscriber) compact() {
	if len(s.queue) == 0 || s.bytes >= s.cost {
		return
	}
	buf := make([]byte, 0, s.bytes)
	for i := range s.queue {
		start := len(buf)
		buf = append(buf, s.queue[i].msg...)
		s.queue[i].msg = buf[start:len(buf):len(buf)]
		s.queue[i].cost = int32(len(s.queue[i].msg))
	}
	s.cost = s.bytes
	s.lastChunk = nil
}

func (s *Subscriber) kickLocked(err error) {
	s.err = err
	s.dead.Store(true)
	s.queue, s.spare = nil, nil
	s.conflated = nil
	s.cost, s.bytes, s.inflight = 0, 0, 0
}

func (s *Subscriber) close(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.kickLocked(err)
	}
	s.mu.Unlock()
	s.signal()
}

// Take appends every waiting message to dst and returns it with the bytes
// they are charged; the caller passes that to Release once they are written,
// so a queue is bounded including what is in flight. Conflated latest values
// come after the queued messages. Once the subscriber is kicked or removed
// Take returns the reason (ErrSlowConsumer or ErrClosed).
func (s *Subscriber) Take(dst [][]byte) ([][]byte, int, error) {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return dst, 0, err
	}
	q := s.queue
	s.queue = s.spare[:0]
	conflated := s.conflated
	s.conflated = nil
	cost := 0
	for _, it := range q {
		cost += int(it.cost)
	}
	for _, it := range conflated {
		cost += int(it.cost)
	}
	s.cost, s.bytes = 0, 0
	s.inflight += cost
	s.mu.Unlock()

	for _, it := range q {
		dst = append(dst, it.msg)
	}
	for _, it := range conflated {
		dst = append(dst, it.msg)
	}
	n := len(q) + len(conflated)
	s.delivered.Add(uint64(n))
	clear(q)
	s.mu.Lock()
	if s.err == nil && cap(q) <= 1<<16 {
		s.spare = q[:0]
	}
	s.mu.Unlock()
	return dst, cost, nil
}

// Release returns cost bytes (from Take) to the queue's budget.
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
	QueuedBytes int   // bytes charged, including chunk memory pinned and in-flight
	LagNanos    int64 // age of the oldest queued message, 0 when the queue is empty
	Delivered   uint64
	Dropped     uint64
}

// Stats returns a snapshot of s's counters.
func (s *Subscriber) Stats() SubscriberStats {
	s.mu.Lock()
	st := SubscriberStats{ID: s.id, Label: s.label, Format: s.format, QueuedMsgs: len(s.queue) + len(s.conflated), QueuedBytes: s.cost + s.inflight}
	if st.QueuedMsgs > 0 {
		st.LagNanos = nowNano() - s.oldest
	}
	s.mu.Unlock()
	st.Delivered = s.delivered.Load()
	st.Dropped = s.dropped.Load()
	return st
}
