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

var blockPool = sync.Pool{New: func() any { b := make([]byte, readBlock*barRecSize); return &b }}

// Trades returns a page of trades. See Query and Result for the contract;
// within a symbol, items are ordered by (time, seq), and Desc reverses that
// order exactly.
func (s *Store) Trades(ctx context.Context, q Query) (Result, error) {
	return s.query(ctx, q, func(sym *symState, cur *Cursor, out []market.Event, need int) ([]market.Event, error) {
		return s.readTicks(ctx, sym, kindTrades, q, cur, out, need)
	})
}

// Quotes returns a page of quotes, ordered as Trades.
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
	if q.Limit <= 0 {
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
		sym := s.lookup(name)
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
	late     int64  // tickTail.memLate
	min      int64  // tickTail.memMin
}

// readTicks appends sym's trades or quotes of the query to out, up to need
// items in total.
//
// A day file is in arrival order, which is time order except late reports.
// The file header bounds the disorder: no record is more than MaxLate below
// the largest time before it. So for any record p with time < lo-MaxLate,
// every record before p is below lo, and for any record q above hi+MaxLate,
// every record after q is above hi: two binary searches with that slack cut
// the window that can hold the range, and within it a block of records can
// be emitted once the records not yet read cannot sort before it.
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
	days := set.appendRange(nil, dlo, dhi)
	var mem []memDay
	for _, t := range ser.tails {
		if t.day < dlo || t.day > dhi || len(t.buf) == 0 {
			continue
		}
		md := memDay{day: t.day, firstSeq: recSeq(t.buf), late: t.memLate, min: t.memMin}
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

	r := tickReader{s: s, sym: sym, k: k, lo: lo, hi: hi, desc: q.Desc, cur: cur, need: need}
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

type tickReader struct {
	s      *Store
	sym    *symState
	k      fileKind
	lo, hi int64
	desc   bool
	cur    *Cursor
	need   int
	buf    []byte
	pend   []cand
}

// cand is a record in the range, waiting until no unread record can sort
// before it.
type cand struct {
	t   int64
	seq uint64
	rec [tickRecSize]byte
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

// add keeps pend sorted in the read direction by insertion: records come
// nearly in order, so a record moves past the few late ones at most.
func (r *tickReader) add(rec []byte) {
	t, seq := recTime(rec), recSeq(rec)
	if !r.wanted(t, seq) {
		return
	}
	r.pend = append(r.pend, cand{t: t, seq: seq})
	i := len(r.pend) - 1
	for i > 0 && r.before(t, seq, &r.pend[i-1]) {
		r.pend[i] = r.pend[i-1]
		i--
	}
	r.pend[i].t, r.pend[i].seq = t, seq
	copy(r.pend[i].rec[:], rec)
}

// before reports whether (t, seq) sorts before c in the read direction.
func (r *tickReader) before(t int64, seq uint64, c *cand) bool {
	if r.desc {
		return t > c.t || (t == c.t && seq > c.seq)
	}
	return t < c.t || (t == c.t && seq < c.seq)
}

// emit moves the final candidates to out: ascending, those with time <=
// bound; descending, those with time >= bound; all of them if all.
func (r *tickReader) emit(out []market.Event, bound int64, all bool) []market.Event {
	n := len(r.pend)
	if !all {
		if r.desc {
			n = sort.Search(len(r.pend), func(i int) bool { return r.pend[i].t < bound })
		} else {
			n = sort.Search(len(r.pend), func(i int) bool { return r.pend[i].t > bound })
		}
	}
	n = min(n, r.need-len(out))
	out = growEvents(out, n, r.need)
	for i := range n {
		out = append(out, market.Event{})
		decodeTick(r.k, r.pend[i].rec[:], r.sym.name, &out[len(out)-1])
	}
	r.pend = r.pend[:copy(r.pend, r.pend[n:])]
	return out
}

// day reads one day: the file (its records before the first unflushed seq:
// anything after that is also in memory) followed by the memory tail.
func (r *tickReader) day(day int32, md *memDay, out []market.Event) ([]market.Event, error) {
	r.pend = r.pend[:0]
	var f *os.File
	n := 0
	hdr := header{}
	h, err := r.s.files.acquire(r.sym.dir+"/"+tickFileName(r.k, day), false)
	switch {
	case err == nil:
		defer r.s.files.release(h)
		f = h.f
		if n, err = recordCount(f, tickRecSize); err != nil {
			return out, err
		}
		if n == 0 {
			f = nil // nothing to read; maybe not even a header yet
			break
		}
		var hb [headerSize]byte
		if err := readFull(f, hb[:], 0); err != nil {
			return out, err
		}
		if hdr, err = decodeHeader(hb[:], r.k); err != nil {
			// A torn header (repaired at the next Open or write): assume
			// any disorder, which makes this a full scan, still exact.
			hdr = header{maxTime: math.MaxInt64, maxLate: math.MaxInt64}
		}
	case !errors.Is(err, fs.ErrNotExist):
		return out, err
	}
	var ferr error
	at := func(i int) []byte { // time and seq of record i
		if ferr != nil {
			return make([]byte, 16)
		}
		b := r.buf[:16]
		ferr = readFull(f, b, recOff(i, tickRecSize))
		return b
	}
	L := hdr.maxLate
	if md != nil {
		if n > 0 {
			n = sort.Search(n, func(i int) bool { return recSeq(at(i)) >= md.firstSeq })
		}
		L = max(L, md.late)
		if n > 0 {
			L = max(L, satSub(hdr.maxTime, md.min))
		}
	}
	x := sort.Search(n, func(i int) bool { return recTime(at(i)) >= satSub(r.lo, L) })
	y := sort.Search(n, func(i int) bool { return recTime(at(i)) > satAdd(r.hi, L) })
	if ferr != nil {
		return out, ferr
	}
	y = max(x, y)
	var memRecs []byte
	if md != nil {
		memRecs = md.recs
	}
	// At most the window and the memory tail are in range: reserve room
	// for that (up to the page) in one step instead of many.
	out = growEvents(out, y-x+len(memRecs)/tickRecSize, r.need)
	// Blocks start small, for pages that end soon after the cursor, and
	// double up to readBlock.
	blk := readBlock
	if rem := r.need - len(out); rem < readBlock-16 {
		blk = max(64, rem+16)
	}
	if !r.desc {
		frontier := int64(math.MinInt64)
		for i := x; i < y; blk = min(2*blk, readBlock) {
			nb := min(blk, y-i)
			b := r.buf[:nb*tickRecSize]
			if err := readFull(f, b, recOff(i, tickRecSize)); err != nil {
				return out, err
			}
			for off := 0; off < len(b); off += tickRecSize {
				frontier = max(frontier, recTime(b[off:]))
				r.add(b[off : off+tickRecSize])
			}
			i += nb
			// Unread records are at least frontier-L.
			if out = r.emit(out, satSub(frontier, L), false); len(out) >= r.need {
				return out, nil
			}
		}
		for off := 0; off < len(memRecs); off += tickRecSize {
			r.add(memRecs[off : off+tickRecSize])
		}
		return r.emit(out, 0, true), nil
	}
	floor := int64(math.MaxInt64)
	for off := len(memRecs) - tickRecSize; off >= 0; off -= tickRecSize {
		floor = min(floor, recTime(memRecs[off:]))
		r.add(memRecs[off : off+tickRecSize])
	}
	// Unread (earlier) records are at most floor+L.
	if out = r.emit(out, satAdd(floor, L), false); len(out) >= r.need {
		return out, nil
	}
	for j := y; j > x; blk = min(2*blk, readBlock) {
		nb := min(blk, j-x)
		b := r.buf[:nb*tickRecSize]
		if err := readFull(f, b, recOff(j-nb, tickRecSize)); err != nil {
			return out, err
		}
		for off := len(b) - tickRecSize; off >= 0; off -= tickRecSize {
			floor = min(floor, recTime(b[off:]))
			r.add(b[off : off+tickRecSize])
		}
		j -= nb
		if out = r.emit(out, satAdd(floor, L), false); len(out) >= r.need {
			return out, nil
		}
	}
	return r.emit(out, 0, true), nil
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
