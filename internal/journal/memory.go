package journal

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
)

// Memory is a journal held in memory: the reference implementation the file
// journal is tested against, and the journal of runs that want no disk
// (tests, simulations). It follows File's semantics exactly, including
// segment boundaries: records are grouped in chunks of SegmentBytes computed
// with the file format's sizes, so retention removes the same records.
//
// Durability: none beyond the process. Written advances on Commit, and
// Synced mirrors Written, so code written against Journal runs unchanged.
// BufferBytes and Fsync are ignored.
type Memory struct {
	opts Options

	mu     sync.Mutex
	chunks []*memChunk // retained chunks; the last is active
	wsize  int64       // size of the active chunk in file-format bytes
	maxTs  int64       // max ts of every record appended, ever
	lastTs int64
	closed bool

	last    atomic.Uint64
	written atomic.Uint64
	stopped atomic.Bool
	adv     notifier
}

// memChunk is the in-memory counterpart of a segment.
type memChunk struct {
	first       uint64
	ts          []int64
	ends        []int // payload i is data[ends[i-1]:ends[i]]
	data        []byte
	size        int64 // as a segment file would be
	maxTs       int64
	prevLastTs  int64 // ts of the record before the chunk, as in segHeader
	maxTsBefore int64
}

func (c *memChunk) payload(i int) []byte {
	start := 0
	if i > 0 {
		start = c.ends[i-1]
	}
	return c.data[start:c.ends[i]:c.ends[i]]
}

var _ Journal = (*Memory)(nil)

// NewMemory returns an empty memory journal.
func NewMemory(opts Options) *Memory {
	o, err := opts.withDefaults()
	if err != nil {
		panic(err) // only negative sizes get here: a programming error
	}
	return &Memory{opts: o, maxTs: math.MinInt64, lastTs: math.MinInt64}
}

// Append implements Journal.
func (m *Memory) Append(seq uint64, ts int64, payload []byte) error {
	if len(payload) > MaxPayload {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(payload), MaxPayload)
	}
	size := int64(recHeaderSize + len(payload))
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	last := m.last.Load()
	switch {
	case seq == 0 || seq <= last:
		return fmt.Errorf("%w: %d after %d", ErrOutOfOrder, seq, last)
	case seq != last+1 && (last != 0 || len(m.chunks) > 0):
		return fmt.Errorf("%w: %d after %d", ErrSeqGap, seq, last)
	}
	n := len(m.chunks)
	if n == 0 || (len(m.chunks[n-1].ts) > 0 && m.wsize+size > m.opts.SegmentBytes) {
		if n > 0 {
			m.chunks[n-1].size = m.wsize
		}
		m.chunks = append(m.chunks, &memChunk{first: seq, maxTs: math.MinInt64, prevLastTs: m.lastTs, maxTsBefore: m.maxTs})
		m.wsize = segHeaderSize
		m.pruneLocked()
	}
	c := m.chunks[len(m.chunks)-1]
	c.data = append(c.data, payload...)
	c.ends = append(c.ends, len(c.data))
	c.ts = append(c.ts, ts)
	c.maxTs = max(c.maxTs, ts)
	m.wsize += size
	m.maxTs = max(m.maxTs, ts)
	m.lastTs = ts
	m.last.Store(seq)
	return nil
}

// Commit implements Journal: appended records become Written (and Synced).
func (m *Memory) Commit() {
	if l := m.last.Load(); l > m.written.Load() {
		m.written.Store(l)
		m.adv.broadcast()
	}
}

// Sync implements Journal.
func (m *Memory) Sync(ctx context.Context) error {
	m.Commit()
	return ctx.Err()
}

// Written implements Journal.
func (m *Memory) Written() uint64 { return m.written.Load() }

// Synced implements Journal; for Memory it equals Written.
func (m *Memory) Synced() uint64 { return m.written.Load() }

// Last implements Journal.
func (m *Memory) Last() uint64 { return m.last.Load() }

// First implements Journal.
func (m *Memory) First() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.chunks) == 0 {
		return 0
	}
	return m.chunks[0].first
}

// WaitWritten implements Journal.
func (m *Memory) WaitWritten(ctx context.Context, seq uint64) error {
	return waitFor(ctx, &m.adv, func() bool { return m.written.Load() >= seq }, m.stopErr)
}

// WaitSynced implements Journal.
func (m *Memory) WaitSynced(ctx context.Context, seq uint64) error {
	return m.WaitWritten(ctx, seq)
}

func (m *Memory) stopErr() error {
	if m.stopped.Load() {
		return ErrClosed
	}
	return nil
}

// Close implements Journal.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		if l := m.last.Load(); l > m.written.Load() {
			m.written.Store(l) // as File: Close flushes what was appended
		}
		m.stopped.Store(true)
		m.adv.broadcast()
	}
	return nil
}

// Prune implements Journal.
func (m *Memory) Prune() (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pruneLocked(), nil
}

// pruneLocked applies File's retention rules to chunks. Called with mu.
func (m *Memory) pruneLocked() int {
	if m.opts.MaxAge <= 0 && m.opts.MaxBytes <= 0 {
		return 0
	}
	cutoff := m.opts.Now().Add(-m.opts.MaxAge).UnixNano()
	var total int64
	for _, c := range m.chunks[:len(m.chunks)-1] {
		total += c.size
	}
	total += m.wsize
	k := 0
	for ; k < len(m.chunks)-1; k++ {
		expired := m.opts.MaxAge > 0 && m.chunks[k+1].prevLastTs < cutoff
		over := m.opts.MaxBytes > 0 && total > m.opts.MaxBytes
		if !expired && !over {
			break
		}
		total -= m.chunks[k].size
	}
	if k > 0 {
		clear(m.chunks[:k])
		m.chunks = m.chunks[k:]
	}
	return k
}

// locate returns the chunk and index of seq. Called with mu.
func (m *Memory) locate(seq uint64) (*memChunk, int, bool) {
	i := sort.Search(len(m.chunks), func(i int) bool { return m.chunks[i].first > seq }) - 1
	if i < 0 {
		return nil, 0, false
	}
	c := m.chunks[i]
	k := int(seq - c.first)
	return c, k, k < len(c.ts)
}

// SeekTime implements Journal.
func (m *Memory) SeekTime(t int64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.written.Load()
	for _, c := range m.chunks {
		if c.maxTs < t {
			continue
		}
		for k, ts := range c.ts {
			if seq := c.first + uint64(k); seq > w {
				return w + 1, nil
			} else if ts >= t {
				return seq, nil
			}
		}
	}
	return w + 1, nil
}

// NewReader implements Journal.
func (m *Memory) NewReader(from uint64) (Reader, error) {
	if m.stopped.Load() {
		return nil, ErrClosed
	}
	first, last := m.First(), m.Last()
	switch {
	case from == 0 && first != 0:
		from = first
	case from == 0:
		from = last + 1
	case first != 0 && from < first, first == 0 && from <= last:
		return nil, fmt.Errorf("%w: seq %d, oldest retained %d", ErrPruned, from, first)
	}
	return &memReader{m: m, at: from}, nil
}

type memReader struct {
	m   *Memory
	at  uint64
	err error
}

// TryNext implements Reader.
func (r *memReader) TryNext() (Record, bool, error) {
	if r.err != nil {
		return Record{}, false, r.err
	}
	if r.at > r.m.written.Load() {
		return Record{}, false, nil
	}
	r.m.mu.Lock()
	c, k, ok := r.m.locate(r.at)
	var rec Record
	if ok {
		rec = Record{Seq: r.at, TS: c.ts[k], Payload: c.payload(k)}
	}
	r.m.mu.Unlock()
	if !ok {
		r.err = fmt.Errorf("%w: seq %d", ErrPruned, r.at)
		return Record{}, false, r.err
	}
	r.at++
	return rec, true, nil
}

// Next implements Reader.
func (r *memReader) Next(ctx context.Context) (Record, error) {
	for {
		rec, ok, err := r.TryNext()
		if ok || err != nil {
			return rec, err
		}
		c := r.m.adv.wait()
		if r.at <= r.m.written.Load() {
			continue
		}
		if err := r.m.stopErr(); err != nil {
			return Record{}, err
		}
		select {
		case <-c:
		case <-ctx.Done():
			return Record{}, ctx.Err()
		}
	}
}

// Close implements Reader.
func (r *memReader) Close() error {
	if r.err == nil {
		r.err = ErrClosed
	}
	return nil
}
