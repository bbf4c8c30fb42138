package bars

import (
	"math"
	"math/bits"
	"slices"
	"unsafe"

	"github.com/tapehq/tape/internal/market"
)

// keepEnds is K: a minute remembers, for each of its trade sets (below), the
// K earliest and the K latest trades, the only ones that can become its open
// or close when others are cancelled. Past K removals of one end, or a
// correction that gives an untracked trade a place in a set, the end is
// guessed and counted in Stats.LostEnds.
const keepEnds = 8

// The sets of trades whose earliest and latest a minute tracks: a trade is
// in every set its update flags allow, and always in setAll, whose ends
// bound where an untracked trade can be (see untimed).
const (
	setML   uint8 = 1 << iota // minute bar: last-eligible (open, close)
	setMH                     // minute bar: high/low-eligible (open, close without the former)
	setDL                     // daily bar: last-eligible
	setDH                     // daily bar: high/low-eligible
	setAll                    // every trade
	numSets = 5
	allSets = 1<<numSets - 1
)

// setsOf maps update flags to sets.
var setsOf = func() (t [64]uint8) {
	for f := range t {
		s := setAll
		if f&int(updLast) != 0 {
			s |= setML
		}
		if f&int(updHL) != 0 {
			s |= setMH
		}
		if f>>dayShift&int(updLast) != 0 {
			s |= setDL
		}
		if f>>dayShift&int(updHL) != 0 {
			s |= setDH
		}
		t[f] = s
	}
	return t
}()

// end is a trade kept because it is among the first (or last) keepEnds of
// one of its sets. 40 bytes.
type end struct {
	id    int64
	time  int64
	seq   uint64
	price float64
	size  uint32
	flags uint8
	sets  uint8 // the sets for which it is one of the tracked ends
	exch  byte
}

func (e *end) trade() trade {
	t := trade{id: e.id, time: e.time, seq: e.seq, price: e.price, size: e.size, flags: e.flags, exch: e.exch}
	t.ticks, t.grid = ticksOf(t.price)
	return t
}

// before orders trades by time, then arrival.
func before(t1 int64, s1 uint64, t2 int64, s2 uint64) bool {
	return t1 < t2 || (t1 == t2 && s1 < s2)
}

// level is what a minute holds of its trades at one price under one
// condition class (update flags), odd and round lots apart: enough to find
// the next high or low when a trade goes, and to tell whether a correction
// or cancel can refer to a trade counted here. 56 bytes.
type level struct {
	price      float64
	size       uint64 // Σ size of the trades held
	idLo, idHi int64  // in-order IDs ever added lie in [idLo, idHi]; strays aside
	n          uint32 // trades held
	lo, hi     uint32 // smallest and largest size ever added (bounds, kept on removal)
	ids        uint32 // a one-hash Bloom filter of the IDs ever added
	exch       uint32 // exchanges ever added, one bit each (exchBit)
	key        uint8  // update flags | oddLot
}

// oddLot marks the levels of trades under 100 shares. Odd lots and round
// lots rarely share a price and class in one minute, except volume-only
// ones ("I" next to "C"): apart, their size bounds tell them apart.
const oddLot = 0x80

func levelKey(flags uint8, size uint32) uint8 {
	if size < 100 {
		return flags | oddLot
	}
	return flags
}

func (l *level) flags() uint8 { return l.key &^ oddLot }

func idBit(id int64) uint32 { return 1 << (uint64(id) * 0x9E3779B97F4A7C15 >> 59) }

// exchBit maps an exchange code to one of 32 bits; 0 (unknown) matches any.
func exchBit(x byte) uint32 {
	if x == 0 {
		return math.MaxUint32
	}
	return 1 << (x & 31)
}

// holds reports whether the level can hold a trade with this ID, exchange
// and size: the sound test for a correction or cancel whose trade the minute
// does not track by ID. stray says the ID is one of the minute's strays,
// which are outside the levels' ID spans.
func (l *level) holds(id int64, exch byte, size uint32, stray bool) bool {
	return l.n > 0 && uint64(size) <= l.size && l.lo <= size && size <= l.hi &&
		(stray || (l.idLo <= id && id <= l.idHi)) && l.ids&idBit(id) != 0 &&
		(exch == 0 || l.exch&exchBit(exch) != 0)
}

// maxStrays bounds the IDs a minute keeps apart from its spans.
const maxStrays = 8

// stray is a trade that came to its minute out of ID order: while a later
// minute of the symbol was already open (a late trade, a trade that crossed
// the minute boundary, a correction's new ID). Trade IDs grow in arrival
// order, so letting it widen the ID spans would make them cover the later
// minute's trades; the minute keeps up to maxStrays of them apart, exactly,
// and folds the nearest into its level's span beyond that.
type stray struct {
	id    int64
	price float64
	key   uint8
}

// minute is one symbol's minute while it may still change. Up to maxKept
// trades it keeps them; then it folds them into price levels, tracked ends
// and ID ranges, so that its size depends on how many prices it saw, not on
// its volume. Its aggregates are kept up to date in both forms.
type minute struct {
	// What an in-order trade touches comes first, in four cache lines with
	// start (with thousands of symbols each trade's minute is cold): the
	// first line, the second, then bar. A minute close reads start, daySec
	// and bar (or daily).
	start     int64    // minute start
	folded    bool     // its trades went into levels and tracked ends (fold)
	split     bool     // daily is kept; until then it equals bar (see dailyAgg)
	stale     bool     // its day has no slot: it counts in no daily bar
	lastStale bool     // in-order appends left pcLast behind (syncLast)
	firstOpen uint8    // sets whose first list takes a trade after all its entries
	lastKeep  uint8    // len(last) after its last trim
	emitted   bool     // a bar for it went out; sent holds it
	dirty     bool     // queued in Builder.dirty
	hint      [4]int32 // the last two levels used, round then odd lots: trades cluster on bid and ask
	levels    []level  // by price bits, then key
	firstT    int64    // time and arrival of first's last entry (reopen)

	firstSeq uint64
	last     []end           // latest tracked trades, by (time, arrival)
	count    [numSets]uint32 // trades held per set
	daySec   uint32          // seconds from its session day's start (day)
	_        [8]byte         // bar starts a cache line (size class 576 = 9×64)

	bar agg // under minute-bar rules

	kept    []kept         // its trades, while it has at most maxKept (folded is false)
	first   []end          // earliest tracked trades, by (time, arrival)
	daily   agg            // under daily rules: this minute's share of the day; see split
	strays  []stray        // out-of-order IDs
	pcFirst [numSets]uint8 // entries of first per set
	pcLast  [numSets]uint8 // entries of last per set, when not lastStale
	sent    market.Bar     // the bar last emitted
}

// day returns the start of the minute's session day. Zone offsets are whole
// seconds, so daySec holds it exactly.
func (m *minute) day() int64 { return m.start - int64(m.daySec)*1e9 }

// maxKept is how many trades a minute keeps one by one before it folds
// them into levels and tracked ends. Up to there its trades (32 bytes each)
// take no more room than those would, bars are recomputed from them as the
// old builder did, and a correction or cancel finds its trade by ID, so
// the quiet minutes of thousands of symbols cost what they used to and are
// never guessed; a busy minute folds and stays the same size from then on.
const maxKept = 64

// kept is a trade a minute keeps while it is small. 32 bytes.
type kept struct {
	id    int64
	time  int64
	price float64
	size  uint32
	flags uint8 // condTable bits | keptInOrder
	exch  byte
}

// keptInOrder marks a kept trade that came while its minute was the
// symbol's newest: a fold treats the others as strays.
const keptInOrder = 0x80

func (k *kept) trade(seq uint64) trade {
	t := trade{id: k.id, time: k.time, seq: seq, price: k.price, size: k.size, flags: k.flags &^ keptInOrder, exch: k.exch}
	t.ticks, t.grid = ticksOf(t.price)
	return t
}

// reset prepares a recycled minute, keeping its slices' memory.
func (m *minute) reset() {
	*m = minute{kept: m.kept[:0], levels: m.levels[:0], first: m.first[:0], last: m.last[:0], strays: m.strays[:0],
		firstOpen: allSets, firstT: math.MinInt64}
}

// held returns the number of trades counted in the minute.
func (m *minute) held() int {
	if !m.folded {
		return len(m.kept)
	}
	return int(m.count[idxAll])
}

// idxAll is setAll's index in per-set arrays.
const idxAll = numSets - 1

func setIdx(s uint8) int { return bits.TrailingZeros8(s) }

// bytes is the memory the minute holds.
func (m *minute) bytes() int {
	return int(unsafe.Sizeof(*m)) + cap(m.kept)*int(unsafe.Sizeof(kept{})) + cap(m.levels)*int(unsafe.Sizeof(level{})) +
		(cap(m.first)+cap(m.last))*int(unsafe.Sizeof(end{})) + cap(m.strays)*int(unsafe.Sizeof(stray{}))
}

// add counts a new trade: one that arrived after every trade held. inOrder
// says the minute is its symbol's newest (see stray).
func (m *minute) add(t *trade, inOrder bool, pool *[][]kept) {
	if !m.folded {
		if len(m.kept) < maxKept {
			k := kept{id: t.id, time: t.time, price: t.price, size: t.size, flags: t.flags, exch: t.exch}
			if inOrder {
				k.flags |= keptInOrder
			}
			m.kept = append(m.kept, k)
			m.aggAdd(t)
			return
		}
		m.fold(t.seq, pool)
	}
	m.levelAdd(t, inOrder)
	s := setsOf[t.flags]
	if s&m.firstOpen != 0 || before(t.time, t.seq, m.firstT, m.firstSeq) {
		m.trackFirst(t, -1, 0, s)
		m.countSets(s, 1)
		m.reopen()
	} else {
		m.countSets(s, 1) // beyond every set's tracked first trades
	}
	m.trackLast(t, -1, 0, s)
	m.aggAdd(t)
}

// aggAdd adds a trade to the aggregates.
func (m *minute) aggAdd(t *trade) {
	f, df := t.flags&minuteMask, t.flags>>dayShift
	if !m.split && df != f {
		m.splitDaily()
	}
	m.bar.add(t, f)
	if m.split {
		m.daily.add(t, df)
	}
}

// dailyAgg returns the minute's share of its day. Most minutes have only
// trades whose minute and daily rules agree (all but forms T and U), and
// then the daily aggregate is the minute's: adding it twice would cost a
// fifth of a trade's time.
func (m *minute) dailyAgg() *agg {
	if m.split {
		return &m.daily
	}
	return &m.bar
}

// splitDaily starts keeping the daily aggregate apart.
func (m *minute) splitDaily() {
	if !m.split {
		m.daily, m.split = m.bar, true
	}
}

// reopen recomputes firstOpen: a trade after every entry of first joins
// set S only if S is complete and has room.
func (m *minute) reopen() {
	m.firstT, m.firstSeq = math.MinInt64, 0
	if n := len(m.first); n > 0 {
		m.firstT, m.firstSeq = m.first[n-1].time, m.first[n-1].seq
	}
	m.firstOpen = 0
	for i := range numSets {
		if pc := uint32(m.pcFirst[i]); pc == m.count[i] && pc < keepEnds {
			m.firstOpen |= 1 << i
		}
	}
}

func (m *minute) countSets(s uint8, d int) {
	// Unrolled and branch-free: it runs for every trade.
	c, v := &m.count, uint32(d)
	c[0] += v * uint32(s&1)
	c[1] += v * uint32(s>>1&1)
	c[2] += v * uint32(s>>2&1)
	c[3] += v * uint32(s>>3&1)
	c[4] += v * uint32(s>>4&1)
}

// findLevel returns the index of the level (price, key), or where to
// insert it.
func (m *minute) findLevel(price float64, key uint8) (int, bool) {
	pb := math.Float64bits(price)
	hs := m.hint[key>>6 : key>>6+2]
	for _, h := range hs {
		if h := int(h); h < len(m.levels) && math.Float64bits(m.levels[h].price) == pb && m.levels[h].key == key {
			return h, true
		}
	}
	lo, hi := 0, len(m.levels)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		l := &m.levels[mid]
		if b := math.Float64bits(l.price); b < pb || (b == pb && l.key < key) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	ok := lo < len(m.levels) && math.Float64bits(m.levels[lo].price) == pb && m.levels[lo].key == key
	return lo, ok
}

func (m *minute) levelAdd(t *trade, inOrder bool) {
	key := levelKey(t.flags, t.size)
	i, ok := m.findLevel(t.price, key)
	if !ok {
		m.levels = slices.Insert(m.levels, i, level{price: t.price, key: key, lo: t.size, hi: t.size,
			idLo: math.MaxInt64, idHi: math.MinInt64})
	}
	if hs := m.hint[key>>6 : key>>6+2]; int(hs[0]) != i {
		hs[0], hs[1] = int32(i), hs[0]
	}
	l := &m.levels[i]
	l.size += uint64(t.size)
	l.n++
	l.lo, l.hi = min(l.lo, t.size), max(l.hi, t.size)
	l.ids |= idBit(t.id)
	l.exch |= exchBit(t.exch)
	if inOrder {
		l.idLo, l.idHi = min(l.idLo, t.id), max(l.idHi, t.id)
	} else {
		m.addStray(stray{t.id, t.price, key})
	}
}

// addStray keeps s apart from the ID spans; when maxStrays are kept, the
// one (s included) nearest its level's span is folded into it.
func (m *minute) addStray(s stray) {
	if len(m.strays) < maxStrays {
		m.strays = append(m.strays, s)
		return
	}
	j, d := -1, m.strayDist(s)
	for i := range m.strays {
		if di := m.strayDist(m.strays[i]); di < d {
			j, d = i, di
		}
	}
	if j >= 0 {
		s, m.strays[j] = m.strays[j], s
	}
	if i, ok := m.findLevel(s.price, s.key); ok {
		l := &m.levels[i]
		l.idLo, l.idHi = min(l.idLo, s.id), max(l.idHi, s.id)
	}
}

// strayDist is how much folding s would widen its level's ID span.
func (m *minute) strayDist(s stray) uint64 {
	i, ok := m.findLevel(s.price, s.key)
	if !ok {
		return 0 // its level is gone, and with it the trade: nothing to widen
	}
	l := &m.levels[i]
	switch {
	case l.idLo > l.idHi:
		return 0
	case s.id < l.idLo:
		return uint64(l.idLo) - uint64(s.id)
	case s.id > l.idHi:
		return uint64(s.id) - uint64(l.idHi)
	}
	return 0
}

// covers reports whether id can be one of the minute's trades, and whether
// it is one of its strays.
func (m *minute) covers(id int64) (ok, stray bool) {
	for i := range m.strays {
		if m.strays[i].id == id {
			return true, true
		}
	}
	for i := range m.levels {
		if l := &m.levels[i]; l.idLo <= id && id <= l.idHi {
			return true, false
		}
	}
	return m.tracks(id), false
}

// tracks reports whether id is one of the tracked ends.
func (m *minute) tracks(id int64) bool {
	_, ok := m.tracked(id)
	return ok
}

// levelRemove takes a trade out of its level; a level left empty goes.
// Callers have checked that the level holds it (l.holds or a tracked end);
// a restored state that says otherwise is clamped, never trusted to index.
func (m *minute) levelRemove(t *trade) {
	if i := slices.IndexFunc(m.strays, func(s stray) bool { return s.id == t.id }); i >= 0 {
		m.strays = slices.Delete(m.strays, i, i+1)
	}
	i, ok := m.findLevel(t.price, levelKey(t.flags, t.size))
	if !ok {
		return
	}
	l := &m.levels[i]
	l.size -= min(l.size, uint64(t.size))
	if l.n--; l.n == 0 {
		m.levels = slices.Delete(m.levels, i, i+1)
	}
}

// change replaces (nw != nil) or removes a held trade. old is its tracked
// end when it is one (at its index in first or last; its time is known),
// else what the correction or cancel says of it. It returns whether an end
// had to be guessed.
func (m *minute) change(old *trade, tracked bool, nw *trade, inOrder bool) (lost bool) {
	m.splitDaily()
	m.levelRemove(old)
	m.bar.subVol(old, old.flags&minuteMask)
	m.daily.subVol(old, old.flags>>dayShift)
	os, ns := setsOf[old.flags], uint8(0)
	if nw != nil {
		// The trade keeps its time and its place in arrival order.
		nw.time, nw.seq = old.time, old.seq
		m.levelAdd(nw, inOrder)
		m.bar.addVol(nw, nw.flags&minuteMask)
		m.daily.addVol(nw, nw.flags>>dayShift)
		ns = setsOf[nw.flags]
	} else {
		nw = old
	}
	if tracked {
		m.trackFirst(nw, m.indexOf(m.first, old.id), os, ns)
		m.trackLast(nw, m.indexOf(m.last, old.id), os, ns)
	} else if j := ns &^ os; j != 0 {
		m.untimed(j)
	}
	m.countSets(os, -1)
	m.countSets(ns, 1)
	m.reopen()
	return m.refresh()
}

func (m *minute) indexOf(l []end, id int64) int {
	for i := range l {
		if l[i].id == id {
			return i
		}
	}
	return -1
}

// tracked finds a trade among the minute's tracked ends.
func (m *minute) tracked(id int64) (*end, bool) {
	if i := m.indexOf(m.first, id); i >= 0 {
		return &m.first[i], true
	}
	if i := m.indexOf(m.last, id); i >= 0 {
		return &m.last[i], true
	}
	return nil, false
}

// trackFirst keeps m.first, for every set S, the earliest trades of S: the
// entries holding S are a prefix of S in (time, arrival) order, at most
// keepEnds long. S is complete when that prefix is all of S.
//
// t's sets change from os to ns (0 for a new trade, ns 0 for a removal); at
// is its index in first, or -1. A set t joins takes it if the set is
// complete or t comes before its last entry; otherwise t lies beyond the
// prefix and is not needed.
func (m *minute) trackFirst(t *trade, at int, os, ns uint8) {
	l := m.first
	var keep uint8
	if at >= 0 {
		keep = l[at].sets & ns
	}
	var inc uint8
	if cand := ns &^ os; cand != 0 {
		// In-order trades come after every entry: only a complete set with
		// room takes them, which is cheap to tell.
		tail := len(l) == 0 || !before(t.time, t.seq, l[len(l)-1].time, l[len(l)-1].seq)
		for i := range numSets {
			s := uint8(1) << i
			if cand&s == 0 {
				continue
			}
			pc := uint32(m.pcFirst[i])
			switch {
			case pc == m.count[i]:
				inc |= s
			case tail || pc == 0:
			default:
				if j := lastWith(l, s); j >= 0 && before(t.time, t.seq, l[j].time, l[j].seq) {
					inc |= s
				}
			}
		}
	}
	sets := keep | inc
	if at >= 0 {
		m.countEntry(m.pcFirst[:], l[at].sets, -1)
		if sets == 0 {
			m.first = slices.Delete(l, at, at+1)
			return
		}
		l[at].setTrade(t, sets)
	} else {
		if sets == 0 {
			return
		}
		i := len(l)
		for i > 0 && before(t.time, t.seq, l[i-1].time, l[i-1].seq) {
			i--
		}
		var e end
		e.setTrade(t, sets)
		m.first = slices.Insert(l, i, e)
	}
	m.countEntry(m.pcFirst[:], sets, 1)
	// Trim the sets that took t back to keepEnds: the latest entry goes.
	for i := range numSets {
		s := uint8(1) << i
		if inc&s == 0 || m.pcFirst[i] <= keepEnds {
			continue
		}
		if j := lastWith(m.first, s); j >= 0 {
			m.clearSet(&m.first, m.pcFirst[:], j, s)
		}
	}
}

// trackLast is trackFirst for the latest trades: the entries holding S are
// a suffix of S. New trades always join it; it is trimmed back to keepEnds
// per set only when it has doubled, so an in-order trade costs an append.
func (m *minute) trackLast(t *trade, at int, os, ns uint8) {
	l := m.last
	if at < 0 && os == 0 && (len(l) == 0 || !before(t.time, t.seq, l[len(l)-1].time, l[len(l)-1].seq)) {
		// A new trade after every entry: the latest of all its sets.
		m.last = append(l, end{id: t.id, time: t.time, seq: t.seq, price: t.price, size: t.size,
			flags: t.flags, sets: ns, exch: t.exch})
		m.lastStale = true
		if len(m.last) > max(2*keepEnds, 2*int(m.lastKeep)) {
			m.trimLast()
		}
		return
	}
	m.syncLast()
	var keep uint8
	if at >= 0 {
		keep = l[at].sets & ns
	}
	var inc uint8
	if cand := ns &^ os; cand != 0 {
		tail := len(l) == 0 || !before(t.time, t.seq, l[len(l)-1].time, l[len(l)-1].seq)
		for i := range numSets {
			s := uint8(1) << i
			if cand&s == 0 {
				continue
			}
			pc := uint32(m.pcLast[i])
			switch {
			case tail || pc == m.count[i]:
				inc |= s
			case pc == 0:
			default:
				if j := firstWith(l, s); j >= 0 && before(l[j].time, l[j].seq, t.time, t.seq) {
					inc |= s
				}
			}
		}
	}
	sets := keep | inc
	if at >= 0 {
		m.countEntry(m.pcLast[:], l[at].sets, -1)
		if sets == 0 {
			m.last = slices.Delete(l, at, at+1)
			return
		}
		l[at].setTrade(t, sets)
	} else {
		if sets == 0 {
			return
		}
		i := len(l)
		for i > 0 && before(t.time, t.seq, l[i-1].time, l[i-1].seq) {
			i--
		}
		var e end
		e.setTrade(t, sets)
		m.last = slices.Insert(l, i, e)
	}
	m.countEntry(m.pcLast[:], sets, 1)
	if len(m.last) > max(2*keepEnds, 2*int(m.lastKeep)) {
		m.trimLast()
	}
}

func (e *end) setTrade(t *trade, sets uint8) {
	*e = end{id: t.id, time: t.time, seq: t.seq, price: t.price, size: t.size, flags: t.flags, sets: sets, exch: t.exch}
}

// trimLast keeps, per set, the keepEnds latest entries, and drops entries
// left with no set.
func (m *minute) trimLast() {
	var seen [numSets]uint8
	var full uint8 // sets that have keepEnds entries already
	n := len(m.last)
	w := n
	for i := n - 1; i >= 0; i-- {
		sets := m.last[i].sets &^ full
		for b := sets; b != 0; b &= b - 1 {
			j := bits.TrailingZeros8(b)
			if seen[j]++; seen[j] == keepEnds {
				full |= 1 << j
			}
		}
		if sets == 0 {
			continue
		}
		w--
		if w != i {
			m.last[w] = m.last[i]
		}
		m.last[w].sets = sets
	}
	k := copy(m.last, m.last[w:])
	clear(m.last[k:])
	m.last = m.last[:k]
	m.pcLast, m.lastStale = seen, false
	m.lastKeep = uint8(k)
}

// syncLast brings pcLast up to date after in-order appends.
func (m *minute) syncLast() {
	if !m.lastStale {
		return
	}
	m.pcLast = [numSets]uint8{}
	for i := range m.last {
		m.countEntry(m.pcLast[:], m.last[i].sets, 1)
	}
	m.lastStale = false
}

func (m *minute) countEntry(pc []uint8, sets uint8, d int) {
	for b := sets; b != 0; b &= b - 1 {
		i := bits.TrailingZeros8(b)
		pc[i] = uint8(int(pc[i]) + d)
	}
}

// clearSet takes the sets s off entry j of *l, and the entry out if no set
// is left.
func (m *minute) clearSet(l *[]end, pc []uint8, j int, s uint8) {
	e := &(*l)[j]
	s &= e.sets
	if s == 0 {
		return
	}
	m.countEntry(pc, s, -1)
	if e.sets &^= s; e.sets == 0 {
		*l = slices.Delete(*l, j, j+1)
	}
}

func lastWith(l []end, s uint8) int {
	for j := len(l) - 1; j >= 0; j-- {
		if l[j].sets&s != 0 {
			return j
		}
	}
	return -1
}

func firstWith(l []end, s uint8) int {
	for j := range l {
		if l[j].sets&s != 0 {
			return j
		}
	}
	return -1
}

// untimed handles a trade that joins the sets j through a correction while
// its time is unknown (it is not a tracked end). All we know is that it
// comes after every tracked earliest trade of setAll and before every
// tracked latest one, so the entries of j beyond those bounds can no longer
// be trusted to be the set's ends, and go.
func (m *minute) untimed(j uint8) {
	b := lastWith(m.first, setAll)
	for i := len(m.first) - 1; i > b; i-- {
		m.clearSet(&m.first, m.pcFirst[:], i, j)
	}
	m.syncLast()
	b = firstWith(m.last, setAll)
	if b < 0 {
		b = len(m.last)
	}
	for i := b - 1; i >= 0; i-- {
		m.clearSet(&m.last, m.pcLast[:], i, j)
	}
}

// refresh recomputes high, low, open and close of both aggregates from the
// levels and the tracked ends after a trade changed or went; the volume
// sums were updated in place. It reports whether an end had to be guessed.
func (m *minute) refresh() (lost bool) {
	for _, r := range [2]struct {
		a          *agg
		hl, ls, hs uint8
	}{{&m.bar, updHL, setML, setMH}, {&m.daily, updHL << dayShift, setDL, setDH}} {
		a := r.a
		a.hasHL, a.high, a.low = false, 0, 0
		for i := range m.levels {
			l := &m.levels[i]
			if l.flags()&r.hl == 0 {
				continue
			}
			if !a.hasHL {
				a.hasHL, a.high, a.low = true, l.price, l.price
			} else {
				a.high, a.low = max(a.high, l.price), min(a.low, l.price)
			}
		}
		var lo1, lo2 bool
		a.hasLast, a.open, a.openT, a.close, a.closeT, lo1 = m.ends(r.ls)
		var has bool
		has, a.hopen, a.hopenT, a.hclose, a.hcloseT, lo2 = m.ends(r.hs)
		if !has {
			a.hasHL, a.high, a.low = false, 0, 0 // the levels disagree: trust the counts
		}
		lost = lost || lo1 || lo2
	}
	return lost
}

// ends returns the open and close of set s: its earliest and latest
// tracked trades. When more than keepEnds of one end went, the other end's
// list stands in: exactly if it holds the whole set, else as a guess (lost);
// failing both, a level of the set gives a price and the minute's bounds a
// time.
func (m *minute) ends(s uint8) (ok bool, open float64, openT int64, close float64, closeT int64, lost bool) {
	k := setIdx(s)
	if m.count[k] == 0 {
		return
	}
	m.syncLast()
	fi, li := firstWith(m.first, s), lastWith(m.last, s)
	var fo, lc *end
	if fi >= 0 {
		fo = &m.first[fi]
	} else if j := firstWith(m.last, s); j >= 0 {
		fo, lost = &m.last[j], uint32(m.pcLast[k]) != m.count[k]
	}
	if li >= 0 {
		lc = &m.last[li]
	} else if j := lastWith(m.first, s); j >= 0 {
		lc, lost = &m.first[j], lost || uint32(m.pcFirst[k]) != m.count[k]
	}
	if fo != nil && lc != nil {
		return true, fo.price, fo.time, lc.price, lc.time, lost
	}
	for i := range m.levels {
		if setsOf[m.levels[i].flags()]&s != 0 {
			p := m.levels[i].price
			open, openT, close, closeT = p, m.start, p, m.start+minuteNs-1
			if fo != nil {
				open, openT = fo.price, fo.time
			}
			if lc != nil {
				close, closeT = lc.price, lc.time
			}
			return true, open, openT, close, closeT, true
		}
	}
	return false, 0, 0, 0, 0, true
}

// fold turns a minute that keeps its trades into one that holds levels and
// tracked ends, by adding them again in arrival order; next is the arrival
// number of the trade that made it fold, and the kept trades get the ones
// just below it. Their memory goes to the pool, for the next new minute:
// the minute will not shrink, and a folded minute does not need it.
func (m *minute) fold(next uint64, pool *[][]kept) {
	ks := m.kept
	m.kept, m.folded = nil, true
	m.bar, m.daily, m.split = agg{}, agg{}, false
	for i := range ks {
		t := ks[i].trade(next - uint64(len(ks)-i))
		m.add(&t, ks[i].flags&keptInOrder != 0, nil)
	}
	if pool != nil {
		*pool = append(*pool, ks[:0])
	}
}

// changeKept replaces (nw != nil) or removes kept trade i, which keeps its
// time and its place in arrival order, and recomputes the aggregates from
// the trades, in that order.
func (m *minute) changeKept(i int, nw *trade) {
	if nw == nil {
		m.kept = slices.Delete(m.kept, i, i+1)
	} else {
		k := &m.kept[i]
		k.id, k.price, k.size, k.exch = nw.id, nw.price, nw.size, nw.exch
		k.flags = nw.flags | k.flags&keptInOrder
	}
	m.recomputeKept()
}

func (m *minute) recomputeKept() {
	m.bar, m.daily, m.split = agg{}, agg{}, false
	for i := range m.kept {
		t := m.kept[i].trade(0)
		m.aggAdd(&t)
	}
}
