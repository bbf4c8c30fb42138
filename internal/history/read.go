package history

import (
	"context"
	"errors"
	"io/fs"
	"math"
	"os"
	"slices"
	"sort"
	"sync"

	"github.com/tapehq/tape/internal/market"
)

// readBlock is how many records a query reads per pread.
const readBlock = 2048

// bigPage is the page size above which a tick query sizes its result from
// every run's window before reading.
const bigPage = 1 << 16

var blockPool = sync.Pool{New: func() any { b := make([]byte, readBlock*barRecSize); return &b }}

// Trades returns a page of trades: KindTrade events, or KindCryptoTrade
// ones when q.Class is market.ClassCrypto. See Query and Result for the
// contract; within a symbol, items are ordered by (time, seq), and Desc
// reverses that order exactly.
func (s *Store) Trades(ctx context.Context, q Query) (Result, error) {
	return s.query(ctx, q, func(sym *symState, cur *Cursor, out []market.Event, need int) ([]market.Event, error) {
		return s.readTicks(ctx, sym, kindTrades, q, cur, out, need)
	})
}

// Quotes returns a page of quotes (KindQuote, or KindCryptoQuote for
// crypto), ordered as Trades.
func (s *Store) Quotes(ctx context.Context, q Query) (Result, error) {
	return s.query(ctx, q, func(sym *symState, cur *Cursor, out []market.Event, need int) ([]market.Event, error) {
		return s.readTicks(ctx, sym, kindQuotes, q, cur, out, need)
	})
}

type perSymbol func(sym *symState, cur *Cursor, out []market.Event, need int) ([]market.Event, error)

// query runs a per-symbol reader over the query's symbols and cuts the page.
// It asks the readers for Limit+1 items in total: the extra one, dropped,
// tells whether a next page exists, so Next is nil exactly on the last page.
func (s *Store) query(ctx context.Context, q Query, read perSymbol) (Result, error) {
	sp, ok := spaceOf(&q)
	if q.Limit <= 0 || !ok {
		return Result{}, ErrBadQuery
	}
	syms := q.Symbols
	if !slices.IsSorted(syms) || len(slices.Compact(slices.Clone(syms))) != len(syms) {
		syms = slices.Compact(slices.Sorted(slices.Values(syms)))
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	s.mu.RLock()
	closed := s.isClosed
	s.mu.RUnlock()
	if closed {
		return Result{}, ErrClosed
	}
	need := q.Limit
	if need < math.MaxInt {
		need++
	}
	out := make([]market.Event, 0, min(need, 1024))
	for _, name := range syms {
		var cur *Cursor
		if q.After != nil {
			if name < q.After.Symbol {
				continue
			}
			if name == q.After.Symbol {
				cur = q.After
			}
		}
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		sym := s.lookup(sp, name)
		if sym == nil {
			continue
		}
		var err error
		if out, err = read(sym, cur, out, need); err != nil {
			return Result{}, err
		}
		if len(out) >= need {
			break
		}
	}
	res := Result{Events: out}
	if len(out) > q.Limit {
		res.Events = out[:q.Limit]
		last := &out[q.Limit-1]
		res.Next = &Cursor{Symbol: last.Symbol, Time: last.Time, Seq: last.Seq}
	}
	return res, nil
}

// memDay is a query's copy of the unflushed records of one tick day file.
type memDay struct {
	day      int32
	recs     []byte // records with time in [lo, hi], arrival order
	firstSeq uint64 // seq of the oldest unflushed record of the day
}

// readTicks appends sym's trades or quotes of the query to out, up to need
// items in total.
//
// A day file is a few runs of records, each nearly in time order (runs.go).
// Each run is read by a runCursor, which binary searches the part of the
// run that can hold the range (with the run's lateness as slack) and
// yields its records in exact order; the cursors, and the day's unflushed
// records, are merged. A run starts being read only when the merge reaches
// its smallest time, so a run far from the page costs nothing.
func (s *Store) readTicks(ctx context.Context, sym *symState, k fileKind, q Query, cur *Cursor, out []market.Event, need int) ([]market.Event, error) {
	lo, hi := q.Start, q.End
	if cur != nil {
		if q.Desc {
			hi = min(hi, cur.Time)
		} else {
			lo = max(lo, cur.Time)
		}
	}
	if lo > hi {
		return out, nil
	}
	dlo, _, _ := s.cal.dayOf(lo)
	dhi, _, _ := s.cal.dayOf(hi)

	sym.fileMu.RLock()
	defer sym.fileMu.RUnlock()
	s.mu.RLock()
	set, ser := sym.tradeDays, &sym.trades
	if k == kindQuotes {
		set, ser = sym.quoteDays, &sym.quotes
	}
	k = sym.kind(k)
	days := set.appendRange(nil, dlo, dhi)
	var mem []memDay
	for _, t := range ser.tails {
		if t.day < dlo || t.day > dhi || len(t.buf) == 0 {
			continue
		}
		md := memDay{day: t.day, firstSeq: recSeq(t.buf)}
		for off := 0; off < len(t.buf); off += tickRecSize {
			if ts := recTime(t.buf[off:]); ts >= lo && ts <= hi {
				md.recs = append(md.recs, t.buf[off:off+tickRecSize]...)
			}
		}
		mem = append(mem, md)
		if i, found := slices.BinarySearch(days, t.day); !found {
			days = slices.Insert(days, i, t.day)
		}
	}
	s.mu.RUnlock()

	r := tickReader{s: s, sym: sym, k: k, lo: lo, hi: hi, desc: q.Desc, cur: cur, need: need,
		tickScratch: tickScratchPool.Get().(*tickScratch)}
	defer putTickScratch(r.tickScratch)
	bp := blockPool.Get().(*[]byte)
	defer blockPool.Put(bp)
	r.buf = *bp
	for i := range days {
		if q.Desc {
			i = len(days) - 1 - i
		}
		var md *memDay
		for j := range mem {
			if mem[j].day == days[i] {
				md = &mem[j]
			}
		}
		var err error
		if out, err = r.day(days[i], md, out); err != nil {
			return out, err
		}
		if len(out) >= need {
			break
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
	}
	return out, nil
}

// key orders records in a read's direction with one ascending comparison:
// (time, seq) for ascending reads, their bitwise complements for
// descending ones (^x reverses the order without overflow).
type key struct {
	t int64
	s uint64
}

func (a key) less(b key) bool { return a.t < b.t || (a.t == b.t && a.s < b.s) }

var maxKey = key{math.MaxInt64, math.MaxUint64}

// cand is a record in the range, with its key.
type cand struct {
	k   key
	rec [tickRecSize]byte
}

func cmpCand(a, b cand) int {
	switch {
	case a.k.less(b.k):
		return -1
	case b.k.less(a.k):
		return 1
	}
	return 0
}

// runCursor yields the records of one run (or of the unflushed records)
// that are in the range, in key order. run.a and run.b bound the records
// not read yet; pend holds those read, in range and sorted; pend[h:rel]
// are released: no unread record of the run can sort before them.
type runCursor struct {
	run      tickRun
	act      key   // no record of the run sorts before it: when to start
	cut      bool  // run is cut to the query's window
	frontier int64 // ascending: the largest time read; descending: the smallest
	blk      int   // records to read next
	pend     []cand
	spare    []cand // the other buffer of a merge
	h, rel   int
}

func (c *runCursor) head() key { return c.pend[c.h].k }

type tickReader struct {
	s      *Store
	sym    *symState
	k      fileKind
	lo, hi int64
	desc   bool
	cur    *Cursor
	need   int
	buf    []byte // a read block

	f       *os.File // the day file
	base    int      // len(out) when the day began
	reserve int      // items the started cursors may still yield
	*tickScratch
}

// tickScratch is the memory of a tick query, kept between queries (in
// tickScratchPool): cursors and record buffers.
type tickScratch struct {
	runs  []tickRun
	heap  []*runCursor // started cursors with released records, by head
	idle  []*runCursor // cursors not started, the next one last
	all   []*runCursor // every cursor of the day
	free  []*runCursor
	bufs  [][]cand // empty record buffers
	fresh []cand   // a block's records in range
	late  []cand   // of them, the out-of-order ones
}

var tickScratchPool = sync.Pool{New: func() any { return new(tickScratch) }}

const (
	keptCursors = 64            // cursors a pooled scratch keeps
	keptBufs    = 8             // record buffers it keeps (a few MB at most)
	keptBuf     = 4 * readBlock // the largest record buffer it keeps
)

// recycle takes back the day's cursors and their buffers.
func (ts *tickScratch) recycle() {
	for _, c := range ts.all {
		for _, b := range [2][]cand{c.pend, c.spare} {
			if cap(b) > 0 && cap(b) <= keptBuf && len(ts.bufs) < keptBufs {
				ts.bufs = append(ts.bufs, b[:0])
			}
		}
		*c = runCursor{}
		if len(ts.free) < keptCursors {
			ts.free = append(ts.free, c)
		}
	}
	clear(ts.all)
	ts.all, ts.heap, ts.idle = ts.all[:0], ts.heap[:0], ts.idle[:0]
}

func (ts *tickScratch) candBuf() []cand {
	if n := len(ts.bufs); n > 0 {
		b := ts.bufs[n-1]
		ts.bufs = ts.bufs[:n-1]
		return b
	}
	return make([]cand, 0, readBlock)
}

// putTickScratch returns a query's scratch to the pool.
func putTickScratch(ts *tickScratch) {
	ts.recycle()
	if cap(ts.late) > keptBuf {
		ts.late = nil
	}
	if cap(ts.fresh) > keptBuf {
		ts.fresh = nil
	}
	tickScratchPool.Put(ts)
}

func (r *tickReader) wanted(t int64, seq uint64) bool {
	if t < r.lo || t > r.hi {
		return false
	}
	if c := r.cur; c != nil && t == c.Time {
		if r.desc {
			return seq < c.Seq
		}
		return seq > c.Seq
	}
	return true
}

func (r *tickReader) key(t int64, seq uint64) key {
	if r.desc {
		return key{^t, ^seq}
	}
	return key{t, seq}
}

func (r *tickReader) cursor() *runCursor {
	var c *runCursor
	if n := len(r.free); n > 0 {
		c, r.free = r.free[n-1], r.free[:n-1]
	} else {
		c = new(runCursor)
	}
	r.all = append(r.all, c)
	return c
}

// day reads one day: the runs of its file (the records before the first
// unflushed seq: anything after that is also in memory) merged with the
// unflushed records.
func (r *tickReader) day(day int32, md *memDay, out []market.Event) ([]market.Event, error) {
	r.recycle()
	r.f, r.runs = nil, r.runs[:0]
	r.base, r.reserve = len(out), 0
	h, err := r.s.files.acquire(r.sym.dir+"/"+tickFileName(r.k, day), false)
	switch {
	case err == nil:
		defer r.s.files.release(h)
		n, err := recordCount(h.f, tickRecSize)
		if err != nil {
			return out, err
		}
		if n == 0 {
			break // nothing to read; maybe not even a header yet
		}
		r.f = h.f
		var hb [headerSize]byte
		if err := readFull(h.f, hb[:], 0); err != nil {
			return out, err
		}
		hdr, herr := decodeHeader(hb[:], r.k)
		if herr == nil && hdr.v1 && hdr.maxLate > upgradeLate {
			r.s.requestUpgrade(upgrade{sym: r.sym, kind: r.k, day: day})
		}
		if md != nil {
			seq := md.firstSeq
			if n, err = r.search(0, n, func(b []byte) bool { return recSeq(b) >= seq }); err != nil {
				return out, err
			}
		}
		r.runs = fileRuns(r.runs, hdr, herr == nil, n, func(closed uint32, end int64) ([]runEntry, error) {
			sh, err := r.s.files.acquire(r.sym.dir+"/"+runsFileName(r.k, day), false)
			if err != nil {
				return nil, err
			}
			defer r.s.files.release(sh)
			return readRuns(sh.f, kindRuns, closed, end)
		})
	case !errors.Is(err, fs.ErrNotExist):
		return out, err
	}

	// Blocks start small, for pages that end soon after the cursor, and
	// double up to readBlock.
	blk := readBlock
	if rem := r.need - len(out); rem < readBlock-16 {
		blk = max(64, rem+16)
	}
	for _, run := range r.runs {
		if run.min > r.hi || run.max < r.lo {
			continue
		}
		c := r.cursor()
		c.run, c.blk = run, blk
		if r.desc {
			c.act, c.frontier = key{^run.max, 0}, math.MaxInt64
		} else {
			c.act, c.frontier = key{run.min, 0}, math.MinInt64
		}
		r.idle = append(r.idle, c)
	}
	slices.SortFunc(r.idle, func(a, b *runCursor) int { // the next to start last
		switch {
		case a.act.less(b.act):
			return 1
		case b.act.less(a.act):
			return -1
		}
		return 0
	})
	if r.need-len(out) > bigPage {
		// A large page: cut every window now, so that the result is
		// allocated once, at its final size (or the page's), rather than
		// grown by copying as runs start. For small pages the cap is the
		// page, and starting runs lazily saves their searches.
		for _, c := range r.idle {
			if err := r.window(c); err != nil {
				return out, err
			}
		}
	}
	if md != nil && len(md.recs) > 0 {
		c := r.cursor()
		c.pend = r.candBuf()
		for off := 0; off < len(md.recs); off += tickRecSize {
			rec := md.recs[off : off+tickRecSize]
			if t, seq := recTime(rec), recSeq(rec); r.wanted(t, seq) {
				c.pend = append(c.pend, cand{k: r.key(t, seq), rec: [tickRecSize]byte(rec)})
			}
		}
		if len(c.pend) > 0 {
			r.late = sortNearly(c.pend, r.late, r.desc)
			c.rel = len(c.pend)
			r.reserve += len(c.pend)
			r.push(c)
		}
	}
	return r.merge(out)
}

// merge moves records to out in key order until need is reached or every
// cursor is done: from the cursor with the smallest head, as many as sort
// before every other cursor's head, decoded in one go.
func (r *tickReader) merge(out []market.Event) ([]market.Event, error) {
	for len(out) < r.need {
		// Start the runs that may hold a record before the smallest head.
		for n := len(r.idle); n > 0; n = len(r.idle) {
			c := r.idle[n-1]
			if len(r.heap) > 0 && r.heap[0].head().less(c.act) {
				break
			}
			r.idle = r.idle[:n-1]
			if !c.cut {
				if err := r.window(c); err != nil {
					return out, err
				}
				if len(r.heap) > 0 && r.heap[0].head().less(c.act) {
					r.wait(c) // its window starts later than it seemed
					continue
				}
			}
			if err := r.advance(c); err != nil {
				return out, err
			}
			if c.h < c.rel {
				r.push(c)
			}
		}
		if len(r.heap) == 0 {
			return out, nil
		}
		top := r.heap[0]
		lim := maxKey
		for _, i := range [2]int{1, 2} {
			if i < len(r.heap) && r.heap[i].head().less(lim) {
				lim = r.heap[i].head()
			}
		}
		if n := len(r.idle); n > 0 && r.idle[n-1].act.less(lim) {
			lim = r.idle[n-1].act
		}
		p := top.pend[top.h:top.rel]
		j := len(p)
		if !p[j-1].k.less(lim) {
			j = sort.Search(j, func(i int) bool { return !p[i].k.less(lim) })
		}
		j = min(j, r.need-len(out))
		out = growEvents(out, max(j, r.base+r.reserve-len(out)), r.need)
		for i := range j {
			out = append(out, market.Event{})
			decodeTick(r.k, p[i].rec[:], r.sym.name, &out[len(out)-1])
		}
		top.h += j
		if top.h == top.rel {
			if err := r.advance(top); err != nil {
				return out, err
			}
			if top.h == top.rel {
				r.pop()
				continue
			}
		}
		r.down(0)
	}
	return out, nil
}

// wait puts a cursor back among those not started, in order.
func (r *tickReader) wait(c *runCursor) {
	i := sort.Search(len(r.idle), func(i int) bool { return !c.act.less(r.idle[i].act) })
	r.idle = slices.Insert(r.idle, i, c)
}

// window cuts a cursor's run to the records that can hold the range.
// Records below lo-late are preceded only by records below lo, records
// above hi+late followed only by records above hi (the run's lateness
// bound), so two binary searches cut it; they are skipped when the run's
// bounds show the window starts or ends with the run.
func (r *tickReader) window(c *runCursor) error {
	if c.cut {
		return nil
	}
	c.cut = true
	run := &c.run
	lo, hi := satSub(r.lo, run.late), satAdd(r.hi, run.late)
	var err error
	if lo > run.min {
		if run.a, err = r.search(run.a, run.b, func(b []byte) bool { return recTime(b) >= lo }); err != nil {
			return err
		}
	}
	if hi < run.max {
		if run.b, err = r.search(run.a, run.b, func(b []byte) bool { return recTime(b) > hi }); err != nil {
			return err
		}
	}
	r.reserve += run.b - run.a
	if run.a >= run.b {
		return nil
	}
	// No record of the window sorts before its first record's time minus
	// the lateness (descending: after its last record's plus): a far
	// better start than the run's smallest time when the run began with
	// late reports.
	i := run.a
	if r.desc {
		i = run.b - 1
	}
	tb := r.buf[:8]
	if err := readFull(r.f, tb, recOff(i, tickRecSize)); err != nil {
		return err
	}
	act := key{satSub(recTime(tb), run.late), 0}
	if r.desc {
		act = key{^satAdd(recTime(tb), run.late), 0}
	}
	if c.act.less(act) {
		c.act = act
	}
	return nil
}

// search returns the first record in [a, b) at which pred (given the
// record's time and seq) turns true, as sort.Search does.
func (r *tickReader) search(a, b int, pred func([]byte) bool) (int, error) {
	var err error
	tb := r.buf[:16]
	i := a + sort.Search(b-a, func(i int) bool {
		if err != nil {
			return true
		}
		if err = readFull(r.f, tb, recOff(a+i, tickRecSize)); err != nil {
			return true
		}
		return pred(tb)
	})
	return i, err
}

// advance reads blocks of a cursor's run until it releases a record or the
// run is read whole (then h == rel means the cursor is done).
func (r *tickReader) advance(c *runCursor) error {
	for c.h == c.rel {
		if c.run.a >= c.run.b {
			c.rel = len(c.pend)
			return nil
		}
		if err := r.fill(c); err != nil {
			return err
		}
	}
	return nil
}

// fill reads the next block of a cursor's run, adds its records in range to
// the pending ones and releases those no unread record can precede: unread
// records are at least frontier-late (ascending) or at most frontier+late
// (descending). A pending record at exactly that bound is safe: an unread
// one of the same time sorts after it, as an ascending read meets later
// records (larger seqs) and a descending one earlier records (smaller
// seqs).
func (r *tickReader) fill(c *runCursor) error {
	nb := min(c.blk, c.run.b-c.run.a)
	c.blk = min(2*c.blk, readBlock)
	off := c.run.a
	if r.desc {
		off = c.run.b - nb
	}
	b := r.buf[:nb*tickRecSize]
	if err := readFull(r.f, b, recOff(off, tickRecSize)); err != nil {
		return err
	}
	if r.fresh == nil {
		r.fresh = r.candBuf()
	}
	fresh := r.fresh[:0]
	if !r.desc {
		for o := 0; o < len(b); o += tickRecSize {
			rec := b[o : o+tickRecSize]
			t, seq := recTime(rec), recSeq(rec)
			c.frontier = max(c.frontier, t)
			if r.wanted(t, seq) {
				fresh = append(fresh, cand{k: key{t, seq}, rec: [tickRecSize]byte(rec)})
			}
		}
		c.run.a += nb
	} else {
		for o := 0; o < len(b); o += tickRecSize { // arrival order: see sortNearly
			rec := b[o : o+tickRecSize]
			t, seq := recTime(rec), recSeq(rec)
			c.frontier = min(c.frontier, t)
			if r.wanted(t, seq) {
				fresh = append(fresh, cand{k: key{^t, ^seq}, rec: [tickRecSize]byte(rec)})
			}
		}
		c.run.b -= nb
	}
	r.fresh = fresh
	r.late = sortNearly(fresh, r.late, r.desc)
	r.mergeInto(c, fresh)
	if c.run.a >= c.run.b {
		c.rel = len(c.pend)
		return nil
	}
	bound := satSub(c.frontier, c.run.late)
	if r.desc {
		bound = ^satAdd(c.frontier, c.run.late)
	}
	p := c.pend[c.h:]
	c.rel = c.h + sort.Search(len(p), func(i int) bool { return p[i].k.t > bound })
	return nil
}

// merge adds sorted records, which are in r.fresh's buffer, to a cursor's
// pending ones, which are all unreleased (a cursor reads only when it has
// released nothing).
func (r *tickReader) mergeInto(c *runCursor, fresh []cand) {
	if len(fresh) == 0 {
		return
	}
	old := c.pend[c.h:]
	c.h, c.rel = 0, 0
	if len(old) == 0 && cap(fresh) >= readBlock {
		// Take fresh's buffer rather than copy it.
		r.fresh, c.pend = c.pend[:0], fresh
		return
	}
	if c.pend == nil {
		c.pend = r.candBuf()
	}
	if len(old) == 0 || old[len(old)-1].k.less(fresh[0].k) {
		n := copy(c.pend, old)
		c.pend = append(c.pend[:n], fresh...)
		return
	}
	if c.spare == nil {
		c.spare = r.candBuf()
	}
	m := c.spare[:0]
	i, j := 0, 0
	for i < len(old) && j < len(fresh) {
		if fresh[j].k.less(old[i].k) {
			m = append(m, fresh[j])
			j++
		} else {
			m = append(m, old[i])
			i++
		}
	}
	m = append(append(m, old[i:]...), fresh[j:]...)
	c.spare, c.pend = c.pend[:0], m
}

// sortNearly sorts c, records in arrival order, by key, and returns late,
// its scratch buffer. Arrival order is nearly time order: a late report is
// a dip below the records around it. So the records below the largest
// time before them are set aside, sorted, and merged back: linear in
// len(c) but for the few out of order. Keys are times for an ascending
// read (the in-order records are ascending) and complements for a
// descending one (desc: they are descending, and reversed in place).
func sortNearly(c, late []cand, desc bool) []cand {
	late = late[:0]
	w := 0
	for i := range c {
		if w > 0 && c[i].k.less(c[w-1].k) != desc {
			late = append(late, c[i])
			continue
		}
		if w != i {
			c[w] = c[i]
		}
		w++
	}
	if desc {
		slices.Reverse(c[:w])
	}
	if len(late) == 0 {
		return late
	}
	slices.SortFunc(late, cmpCand)
	i, j := w-1, len(late)-1
	for k := len(c) - 1; j >= 0; k-- {
		if i >= 0 && late[j].k.less(c[i].k) {
			c[k] = c[i]
			i--
		} else {
			c[k] = late[j]
			j--
		}
	}
	return late
}

// The started cursors form a min-heap by head key.

func (r *tickReader) push(c *runCursor) {
	r.heap = append(r.heap, c)
	for i := len(r.heap) - 1; i > 0; {
		p := (i - 1) / 2
		if !r.heap[i].head().less(r.heap[p].head()) {
			break
		}
		r.heap[i], r.heap[p] = r.heap[p], r.heap[i]
		i = p
	}
}

func (r *tickReader) pop() {
	n := len(r.heap) - 1
	r.heap[0] = r.heap[n]
	r.heap = r.heap[:n]
	if n > 0 {
		r.down(0)
	}
}

func (r *tickReader) down(i int) {
	h := r.heap
	for {
		m := i
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < len(h) && h[c].head().less(h[m].head()) {
				m = c
			}
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// growEvents makes room for n more items (never more than need in all),
// doubling the capacity rather than append's 1.25x for large slices: a
// result of a million events would otherwise be copied about five times.
func growEvents(out []market.Event, n, need int) []market.Event {
	want := min(len(out)+n, need)
	if want <= cap(out) {
		return out
	}
	c := min(max(want, 2*cap(out)), need)
	grown := make([]market.Event, len(out), c)
	copy(grown, out)
	return grown
}
