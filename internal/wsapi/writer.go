package wsapi

import (
	"errors"
	"sync"
	"time"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/hub"
)

// Writing is event-driven: a Server has a few writer goroutines (one per
// CPU by default) shared by every connection, instead of a writer goroutine
// per connection. The hub notifies a session when its queue goes from empty
// to non-empty (so do control replies, resume frames and pings); the
// session is put on the pool's run queue once; a writer takes it, builds
// control frames and then data frames for everything waiting (up to
// turnBytes) in its own scratch buffer, and writes them with one
// non-blocking syscall (tryWrite). Per frame that saves what the
// goroutine-per-connection writer paid: a goroutine wake-up, a
// write-deadline timer and net/http's bufio copy; tape-loadgen measured
// the difference (scripts/bench.sh).
//
// When the socket does not take everything (the client is behind), the
// rest is copied into the session's pending buffer, charged to its hub
// subscriber, and a flush goroutine owned by the session writes it with a
// deadline (WriteTimeout); only slow connections cost a goroutine, and only
// while they are slow. The session stays "running" meanwhile, so nothing
// overtakes the partial frame.

// Session write states.
const (
	wsIdle    = iota // nothing scheduled
	wsQueued         // on the run queue
	wsRunning        // a writer (or the flush goroutine) owns it
	wsRerun          // running, and woken again: queue it when done
)

// writerPool runs sessions' write turns.
type writerPool struct {
	mu      sync.Mutex
	cond    sync.Cond
	q       []*session
	head    int
	waiting int // writers blocked in cond.Wait not yet signalled
	closed  bool
	wg      sync.WaitGroup
}

func newWriterPool(n int) *writerPool {
	p := &writerPool{}
	p.cond.L = &p.mu
	for range n {
		p.wg.Go(p.work)
	}
	return p
}

// push queues ss. Called only by the transition into wsQueued.
func (p *writerPool) push(ss *session) {
	p.mu.Lock()
	p.q = append(p.q, ss)
	wake := p.waiting > 0
	if wake {
		p.waiting--
	}
	p.mu.Unlock()
	if wake {
		p.cond.Signal()
	}
}

func (p *writerPool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
	p.wg.Wait()
}

// popBatch is how many sessions a writer takes off the run queue at once.
const popBatch = 16

func (p *writerPool) work() {
	w := &writer{raw: newRawWriter()}
	var batch [popBatch]*session
	for {
		p.mu.Lock()
		for p.head == len(p.q) {
			if p.closed {
				p.mu.Unlock()
				return
			}
			p.waiting++
			p.cond.Wait()
		}
		n := copy(batch[:], p.q[p.head:])
		clear(p.q[p.head : p.head+n])
		p.head += n
		if p.head == len(p.q) {
			p.q, p.head = p.q[:0], 0
		}
		p.mu.Unlock()
		for _, ss := range batch[:n] {
			ss.wstate.Store(wsRunning)
			if more, handedOff := w.turn(ss); !handedOff {
				ss.endRun(more)
			}
		}
		clear(batch[:n])
		w.trim()
	}
}

// wake schedules a write turn for ss unless one is queued or running (a
// running one is told to run again).
func (ss *session) wake() {
	for {
		switch ss.wstate.Load() {
		case wsIdle:
			if ss.wstate.CompareAndSwap(wsIdle, wsQueued) {
				ss.srv.pool.push(ss)
				return
			}
		case wsRunning:
			if ss.wstate.CompareAndSwap(wsRunning, wsRerun) {
				return
			}
		default:
			return
		}
	}
}

// endRun ends a turn: queue ss again if it has more to write or was woken
// meanwhile, else it goes idle.
func (ss *session) endRun(more bool) {
	if !more && ss.wstate.CompareAndSwap(wsRunning, wsIdle) {
		return
	}
	ss.wstate.Store(wsQueued)
	ss.srv.pool.push(ss)
}

// writer is one pool goroutine's scratch: every connection's frames are
// built here, so no connection keeps a write buffer of its own.
type writer struct {
	buf  []byte
	msgs [][]byte
	raw  *rawWriter
}

func (w *writer) trim() {
	if cap(w.buf) > 4<<20 {
		w.buf = nil
	}
	if cap(w.msgs) > 1<<16 {
		w.msgs = nil
	}
}

// turnBytes bounds the message bytes one turn takes from a session's
// queue, so that one backlogged client does not hold a writer for long
// and a partly written turn leaves a bounded pending buffer.
const turnBytes = 64 << 10

// turn writes what ss has waiting: control frames first, then resume
// frames or live data. more reports that data remains; handedOff that the
// flush goroutine now owns the session's running state.
func (w *writer) turn(ss *session) (more, handedOff bool) {
	if ss.writeDone.Load() {
		return false, false
	}
	ss.takeMu.Lock()
	ctrl, ctrlCost, req := ss.takeControl()
	resume := ss.resume
	var (
		cost int
		err  error
	)
	w.msgs = w.msgs[:0]
	if resume == nil && req == nil {
		w.msgs, cost, more, err = ss.sub.TakeUpTo(w.msgs, turnBytes)
	}
	ss.takeMu.Unlock()

	buf := append(w.buf[:0], ctrl...)
	ss.sub.Release(ctrlCost)
	var resumeCost int
	switch {
	case req != nil:
		buf = appendClose(buf, req.code, req.reason)
	case resume != nil:
		var done bool
		buf, resumeCost, done, more = ss.appendResume(buf, resume)
		if done {
			ss.takeMu.Lock()
			ss.resume = nil
			ss.takeMu.Unlock()
			more = true // live data waited meanwhile, and its wake-up is spent
		}
	case errors.Is(err, hub.ErrSlowConsumer):
		ss.srv.stats.slowKicks.Add(1)
		ss.logger().Info("disconnecting slow client: queue full")
		ss.terminal(alpacawire.CodeSlowClient, closePolicyViolation, "slow client")
		more = true
	case err != nil:
		// Removed: the session is ending.
	default:
		buf = w.appendData(buf, ss)
	}
	w.buf = buf
	clear(w.msgs)
	// The messages are copied into buf: their chunks are no longer pinned
	// for this session, so their charge goes now rather than after the
	// write (a publish meanwhile would charge a chunk twice).
	ss.sub.Release(cost + resumeCost)
	if len(buf) == 0 {
		return more, false
	}
	n, werr := w.raw.tryWrite(ss.raw, buf)
	if werr != nil {
		ss.abort()
		return false, false
	}
	if n == len(buf) {
		ss.srv.stats.bytes.Add(uint64(n))
		if req != nil {
			ss.closeWritten()
		}
		return more, false
	}
	// The socket is full: keep the rest (its messages are copied, so their
	// chunks can go) and let a goroutine wait for the client.
	pending := append([]byte(nil), buf[n:]...)
	over := ss.sub.Charge(cap(pending))
	ss.srv.stats.bytes.Add(uint64(n))
	if !ss.startFlush(pending, req != nil, over) {
		ss.sub.Release(cap(pending))
		return false, false
	}
	return more, true
}

// appendData appends the taken messages as frames of at most MaxFrameBytes.
func (w *writer) appendData(buf []byte, ss *session) []byte {
	msgs := w.msgs
	limit := ss.srv.opts.MaxFrameBytes
	op := byte(opText)
	if ss.codec == alpacawire.MsgPack {
		op = opBinary
	}
	for i := 0; i < len(msgs); {
		sum := len(msgs[i])
		j := i + 1
		for j < len(msgs) && alpacawire.FrameOverhead(ss.codec, j+1-i)+sum+len(msgs[j]) <= limit {
			sum += len(msgs[j])
			j++
		}
		buf = appendHeader(buf, op, alpacawire.FrameOverhead(ss.codec, j-i)+sum)
		buf = alpacawire.AppendFrame(buf, ss.codec, msgs[i:j])
		ss.srv.stats.frames.Add(1)
		ss.srv.stats.messages.Add(uint64(j - i))
		i = j
	}
	return buf
}

// startFlush hands the unwritten tail of a turn to a goroutine that waits
// for the client (with a deadline), then continues the session's turns. It
// reports false when the session is already ending.
func (ss *session) startFlush(pending []byte, closing, over bool) bool {
	ss.ctrlMu.Lock()
	defer ss.ctrlMu.Unlock()
	if ss.ended {
		return false
	}
	ss.flushing.Store(true)
	ss.bg.Go(func() {
		timeout := ss.srv.opts.WriteTimeout
		if over || ss.sub.Err() != nil {
			timeout = slowGrace
		}
		ss.conn.SetWriteDeadline(time.Now().Add(timeout))
		_, err := ss.conn.Write(pending)
		ss.conn.SetWriteDeadline(time.Time{})
		ss.flushing.Store(false)
		ss.sub.Release(cap(pending))
		if err != nil {
			if errors.Is(err, errDeadline) {
				ss.srv.stats.slowKicks.Add(1)
				ss.logger().Info("disconnecting slow client: write timed out", "timeout", timeout)
			}
			ss.abort()
			ss.endRun(false)
			return
		}
		ss.srv.stats.bytes.Add(uint64(len(pending)))
		if closing {
			ss.closeWritten()
			ss.endRun(false)
			return
		}
		if over {
			ss.sub.Kick()
		}
		ss.endRun(true)
	})
	return true
}

// slowGrace is how long a client already over its queue bound gets to
// take the frame in progress before it is cut off.
const slowGrace = time.Second

// hurry shortens a blocked flush once the subscriber was kicked: a client
// that is 407 has no reason to keep the connection for WriteTimeout.
func (ss *session) hurry() {
	if ss.flushing.Load() {
		ss.conn.SetWriteDeadline(time.Now().Add(slowGrace))
	}
}
