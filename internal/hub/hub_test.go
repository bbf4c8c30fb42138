package hub

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tapehq/tape/internal/market"
)

// testEncoder encodes an event as "<kind>:<symbol>:<seq>" and counts calls.
type testEncoder struct{ calls atomic.Int64 }

func (t *testEncoder) encode(dst []byte, e *market.Event) []byte {
	t.calls.Add(1)
	dst = append(dst, e.Kind.Letter()...)
	dst = append(dst, ':')
	dst = append(dst, e.Symbol...)
	dst = append(dst, ':')
	return strconv.AppendUint(dst, e.Seq, 10)
}

func newTestHub(t *testing.T, opts Options) (*Hub, *testEncoder) {
	t.Helper()
	enc := &testEncoder{}
	if opts.Formats == nil {
		opts.Formats = []Encoder{enc.encode, func(dst []byte, e *market.Event) []byte {
			return append(enc.encode(dst, e), '!')
		}}
	}
	return New(opts), enc
}

var seq uint64

func ev(kind market.Kind, sym string) market.Event {
	seq++
	return market.Event{Seq: seq, Kind: kind, Symbol: sym}
}

func take(t *testing.T, s *Subscriber) []string {
	t.Helper()
	msgs, cost, err := s.Take(nil)
	if err != nil {
		t.Fatalf("take: %v", err)
	}
	s.Release(cost)
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m)
	}
	return out
}

// TestRoutingNews: an article reaches the subscribers of any of its symbols,
// once each, and wildcard subscribers; an event of another class with the
// same channel name never crosses over.
func TestRoutingNews(t *testing.T) {
	h, enc := newTestHub(t, Options{})
	both := h.Subscribe(0, "")  // AAPL and TSLA: one copy
	other := h.Subscribe(0, "") // GOOG: none
	wild := h.Subscribe(1, "")  // *: one copy, with the wildcard and a symbol
	stock := h.Subscribe(0, "") // stock trades of AAPL: never news or crypto
	h.SetChannel(both, market.ChanNews, []string{"AAPL", "TSLA"})
	h.SetChannel(other, market.ChanNews, []string{"GOOG"})
	h.SetChannel(wild, market.ChanNews, []string{"*", "AAPL"})
	h.SetChannel(stock, market.ChanTrades, []string{"AAPL", "BTC/USD"})
	seq = 0
	news := func(syms ...string) market.Event {
		e := ev(market.KindNews, "")
		e.News = &market.News{Symbols: syms}
		return e
	}
	h.Publish([]market.Event{news("AAPL", "TSLA", "MSFT"), news(), news("TSLA"), ev(market.KindCryptoTrade, "BTC/USD"),
		ev(market.KindTrade, "AAPL"), {Seq: 99, Kind: market.KindNews}})
	for _, tc := range []struct {
		s    *Subscriber
		want []string
	}{
		{both, []string{"n::1", "n::3"}},
		{other, nil},
		{wild, []string{"n::1!", "n::2!", "n::3!", "n::99!"}},
		{stock, []string{"t:AAPL:5"}},
	} {
		if got := take(t, tc.s); !slices.Equal(got, tc.want) {
			t.Errorf("subscriber %d: got %v want %v", tc.s.ID(), got, tc.want)
		}
	}
	// Encoded once per format per article, whoever gets it.
	if n := enc.calls.Load(); n != 2+1+2+1+1 {
		t.Errorf("%d encodings", n)
	}
}

// TestEmptyEncodingSkipped: an event a format encodes to nothing (a pointer
// kind without its payload) is not queued as an empty message.
func TestEmptyEncodingSkipped(t *testing.T) {
	h := New(Options{Formats: []Encoder{func(dst []byte, e *market.Event) []byte {
		if e.Kind == market.KindNews && e.News == nil {
			return dst
		}
		return append(dst, e.Kind.Letter()...)
	}}})
	s := h.Subscribe(0, "")
	h.SetChannel(s, market.ChanNews, []string{"*"})
	h.Publish([]market.Event{{Kind: market.KindNews}, {Kind: market.KindNews, News: &market.News{}}})
	if got := take(t, s); !slices.Equal(got, []string{"n"}) {
		t.Fatalf("got %q", got)
	}
}

func TestRouting(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	a := h.Subscribe(0, "")
	b := h.Subscribe(0, "")
	c := h.Subscribe(1, "")
	h.SetChannel(a, market.ChanTrades, []string{"AAPL"})
	h.SetChannel(b, market.ChanTrades, []string{"*", "AAPL"}) // wildcard plus explicit: no duplicates
	h.SetChannel(c, market.ChanQuotes, []string{"MSFT"})
	seq = 0
	evs := []market.Event{
		ev(market.KindTrade, "AAPL"),       // 1: a, b
		ev(market.KindTrade, "MSFT"),       // 2: b
		ev(market.KindQuote, "MSFT"),       // 3: c
		ev(market.KindCorrection, "AAPL"),  // 4: rides on trades: a, b
		ev(market.KindCancelError, "TSLA"), // 5: b
		ev(market.KindBar, "AAPL"),         // 6: nobody
	}
	h.Publish(evs)
	for _, tc := range []struct {
		s    *Subscriber
		want []string
	}{
		{a, []string{"t:AAPL:1", "c:AAPL:4"}},
		{b, []string{"t:AAPL:1", "t:MSFT:2", "c:AAPL:4", "x:TSLA:5"}},
		{c, []string{"q:MSFT:3!"}},
	} {
		if got := take(t, tc.s); !slices.Equal(got, tc.want) {
			t.Errorf("subscriber %d: got %v want %v", tc.s.ID(), got, tc.want)
		}
	}

	// Dropping the wildcard keeps the explicit symbol.
	h.SetChannel(b, market.ChanTrades, []string{"AAPL"})
	h.Publish([]market.Event{ev(market.KindTrade, "MSFT"), ev(market.KindTrade, "AAPL")})
	take(t, a)
	if got := take(t, b); !slices.Equal(got, []string{"t:AAPL:8"}) {
		t.Errorf("after unsubscribing *: %v", got)
	}
	// Unsubscribing everything and removal stop deliveries.
	h.SetChannel(a, market.ChanTrades, nil)
	h.Remove(b)
	h.Publish([]market.Event{ev(market.KindTrade, "AAPL")})
	if got := take(t, a); len(got) != 0 {
		t.Errorf("unsubscribed got %v", got)
	}
	if _, _, err := b.Take(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("removed subscriber: err %v", err)
	}
	if st := h.Stats(); st.Subscribers != 2 || st.Published != 9 {
		t.Errorf("stats %+v", st)
	}
}

// TestRoutingIEX: a subscriber of the iex feed's channels gets the trades
// (and corrections and cancels) printed on IEX, IEX quotes and IEX bars,
// and nothing consolidated; a consolidated subscriber gets every trade and
// no IEX quote or bar; the IEX trade is encoded once for both.
func TestRoutingIEX(t *testing.T) {
	h, enc := newTestHub(t, Options{})
	sip := h.Subscribe(0, "")
	iex := h.Subscribe(0, "")
	wild := h.Subscribe(0, "")
	for _, ch := range []market.Channel{market.ChanTrades, market.ChanQuotes, market.ChanBars} {
		h.SetChannel(sip, ch, []string{"AAPL"})
		h.SetChannel(iex, ch.IEX(), []string{"AAPL"})
		h.SetChannel(wild, ch.IEX(), []string{"*"})
	}
	seq = 0
	trade := func(x byte) market.Event {
		e := ev(market.KindTrade, "AAPL")
		e.Trade.Exchange = x
		return e
	}
	corr := ev(market.KindCorrection, "AAPL")
	corr.Correction = &market.Correction{Exchange: 'V'}
	cancel := ev(market.KindCancelError, "AAPL")
	cancel.CancelError = &market.CancelError{Exchange: 'Q'}
	evs := []market.Event{
		trade('Q'),                      // 1: sip
		trade('V'),                      // 2: sip, iex, wild
		ev(market.KindQuote, "AAPL"),    // 3: sip
		ev(market.KindIEXQuote, "AAPL"), // 4: iex, wild
		ev(market.KindBar, "AAPL"),      // 5: sip
		ev(market.KindIEXBar, "AAPL"),   // 6: iex, wild
		corr,                            // 7: sip, iex, wild
		cancel,                          // 8: sip
		ev(market.KindIEXQuote, "MSFT"), // 9: wild
	}
	for i := range evs {
		evs[i].Seq = uint64(i + 1)
	}
	h.Publish(evs)
	for _, tc := range []struct {
		s    *Subscriber
		want []string
	}{
		{sip, []string{"t:AAPL:1", "t:AAPL:2", "q:AAPL:3", "b:AAPL:5", "c:AAPL:7", "x:AAPL:8"}},
		{iex, []string{"t:AAPL:2", "q:AAPL:4", "b:AAPL:6", "c:AAPL:7"}},
		{wild, []string{"t:AAPL:2", "q:AAPL:4", "b:AAPL:6", "c:AAPL:7", "q:MSFT:9"}},
	} {
		if got := take(t, tc.s); !slices.Equal(got, tc.want) {
			t.Errorf("subscriber %d: got %v want %v", tc.s.ID(), got, tc.want)
		}
	}
	if got := enc.calls.Load(); got != 9 {
		t.Errorf("encoder called %d times for 9 events in one format", got)
	}
}

func TestEncodeOncePerFormat(t *testing.T) {
	h, enc := newTestHub(t, Options{})
	var subs []*Subscriber
	for i := range 100 {
		s := h.Subscribe(i%2, "")
		h.SetChannel(s, market.ChanTrades, []string{"*"})
		subs = append(subs, s)
	}
	batch := make([]market.Event, 50)
	for i := range batch {
		batch[i] = ev(market.KindTrade, "AAPL")
	}
	h.Publish(batch)
	// 50 events × 2 formats (the second encoder calls the first once).
	if got := enc.calls.Load(); got != 100 {
		t.Fatalf("encoder called %d times, want 100", got)
	}
	for _, s := range subs {
		if got := take(t, s); len(got) != 50 {
			t.Fatalf("got %d messages", len(got))
		}
	}
	if st := h.Stats(); st.Deliveries != 5000 {
		t.Fatalf("deliveries %d", st.Deliveries)
	}
}

// TestSlowConsumerKicked: a subscriber that never reads is kicked once its
// queue passes the bound; the others receive everything and the publisher
// never blocks (the test would hang otherwise).
func TestSlowConsumerKicked(t *testing.T) {
	h, _ := newTestHub(t, Options{MaxQueueBytes: 64 << 10, ChunkSize: 4 << 10})
	slow := h.Subscribe(0, "")
	fast := h.Subscribe(0, "")
	h.SetChannel(slow, market.ChanTrades, []string{"*"})
	h.SetChannel(fast, market.ChanTrades, []string{"*"})
	got := 0
	for range 1000 {
		batch := make([]market.Event, 100)
		for i := range batch {
			batch[i] = ev(market.KindTrade, "AAPL")
		}
		h.Publish(batch)
		got += len(take(t, fast))
	}
	if got != 100000 {
		t.Fatalf("fast subscriber got %d of 100000", got)
	}
	if _, _, err := slow.Take(nil); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("slow subscriber: %v", err)
	}
	if st := h.Stats(); st.Kicked != 1 {
		t.Fatalf("kicked = %d", st.Kicked)
	}
	select {
	case <-slow.Ready():
	default:
		t.Fatal("a kicked subscriber's writer must be woken")
	}
}

// TestQuotesConflate: past ConflateBytes quotes keep only the newest per
// symbol instead of growing the queue or kicking the subscriber.
func TestQuotesConflate(t *testing.T) {
	h, _ := newTestHub(t, Options{MaxQueueBytes: 64 << 10, ConflateBytes: 8 << 10, ChunkSize: 4 << 10})
	s := h.Subscribe(0, "")
	h.SetChannel(s, market.ChanQuotes, []string{"*"})
	h.SetChannel(s, market.ChanTrades, []string{"*"})
	seq = 0
	for range 2000 {
		h.Publish([]market.Event{ev(market.KindQuote, "AAPL"), ev(market.KindQuote, "MSFT")})
	}
	h.Publish([]market.Event{ev(market.KindTrade, "AAPL")})
	msgs := take(t, s)
	if s.Err() != nil {
		t.Fatalf("kicked: %v", s.Err())
	}
	// The newest quote of each symbol and the trade survive.
	for _, want := range []string{"q:AAPL:3999", "q:MSFT:4000", "t:AAPL:4001"} {
		if !slices.Contains(msgs, want) {
			t.Fatalf("%s missing from %d messages (last %v)", want, len(msgs), msgs[max(0, len(msgs)-3):])
		}
	}
	st := s.Stats()
	if st.Dropped == 0 || int(st.Dropped)+len(msgs) != 4001 {
		t.Fatalf("dropped %d + delivered %d != 4001", st.Dropped, len(msgs))
	}
	if h.Stats().Conflated != st.Dropped {
		t.Fatal("hub and subscriber disagree on drops")
	}
}

// TestSparseSubscriberCompacted: one message per chunk would charge a whole
// chunk per message; compaction keeps a sparse subscriber within bounds.
func TestSparseSubscriberCompacted(t *testing.T) {
	h, _ := newTestHub(t, Options{MaxQueueBytes: 64 << 10, ChunkSize: 4 << 10})
	sparse := h.Subscribe(0, "")
	wide := h.Subscribe(0, "")
	h.SetChannel(sparse, market.ChanTrades, []string{"RARE"})
	h.SetChannel(wide, market.ChanTrades, []string{"*"})
	for range 500 {
		batch := make([]market.Event, 300) // more than a 4 KiB chunk of messages
		for i := range batch {
			batch[i] = ev(market.KindTrade, "BUSY")
		}
		batch[0] = ev(market.KindTrade, "RARE")
		h.Publish(batch)
		take(t, wide)
	}
	if err := sparse.Err(); err != nil {
		t.Fatalf("sparse subscriber kicked: %v", err)
	}
	st := sparse.Stats()
	if st.QueuedMsgs != 500 || st.QueuedBytes > 64<<10 {
		t.Fatalf("sparse stats %+v", st)
	}
	if got := take(t, sparse); len(got) != 500 {
		t.Fatalf("sparse got %d", len(got))
	}
}

// TestConcurrent runs a publisher, consumers and subscription changes at
// once; run with -race. Every consumer with a fixed subscription receives
// every event of its symbol, in order.
func TestConcurrent(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	const n = 8
	syms := []string{"A", "B", "C"}
	var wg sync.WaitGroup
	results := make([][]string, n)
	subs := make([]*Subscriber, n)
	for i := range n {
		subs[i] = h.Subscribe(i%2, "")
		h.SetChannel(subs[i], market.ChanTrades, []string{syms[i%3]})
	}
	done := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			s := subs[i]
			for {
				select {
				case <-s.Ready():
				case <-done:
					msgs, _, _ := s.Take(nil)
					for _, m := range msgs {
						results[i] = append(results[i], string(m))
					}
					return
				}
				msgs, cost, err := s.Take(nil)
				if err != nil {
					return
				}
				for _, m := range msgs {
					results[i] = append(results[i], string(m))
				}
				s.Release(cost)
			}
		})
	}
	churn := h.Subscribe(0, "")
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			h.SetChannel(churn, market.ChanTrades, []string{syms[i%3], "*"}[:1+i%2])
			_ = h.Subscribers()
		}
	})
	var s uint64
	for range 2000 {
		batch := make([]market.Event, 30)
		for i := range batch {
			s++
			batch[i] = market.Event{Seq: s, Kind: market.KindTrade, Symbol: syms[i%3]}
		}
		h.Publish(batch)
	}
	close(done)
	wg.Wait()
	for i, r := range results {
		if len(r) != 20000 {
			t.Fatalf("subscriber %d got %d of 20000", i, len(r))
		}
		var last uint64
		for _, m := range r {
			var k, sym string
			var sq uint64
			fmt.Sscanf(m, "%1s", &k)
			parts := splitColon(m)
			sym = parts[1]
			sq, _ = strconv.ParseUint(trimBang(parts[2]), 10, 64)
			if sym != syms[i%3] || sq <= last {
				t.Fatalf("subscriber %d: %s after seq %d", i, m, last)
			}
			last = sq
		}
	}
}

func splitColon(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func trimBang(s string) string {
	if len(s) > 0 && s[len(s)-1] == '!' {
		return s[:len(s)-1]
	}
	return s
}

// pinned computes, independently of the subscriber's counters, the memory
// s actually holds: every distinct chunk its queued messages (and the
// in-flight ones the caller names) reference, its queue slots, and its
// conflated copies.
func pinned(s *Subscriber, inflight map[*chunk]bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	chunks := map[*chunk]bool{}
	for c := range inflight {
		chunks[c] = true
	}
	for _, it := range s.queue[s.head:] {
		chunks[it.c] = true
	}
	n := cap(s.queue) * ItemBytes
	for c := range chunks {
		n += len(c.mem)
	}
	for sym, msg := range s.conflated {
		n += cap(msg) + len(sym) + conflatedOverhead
	}
	return n
}

func charged(s *Subscriber) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usedLocked()
}

// TestAccountingCoversPinnedMemory: whatever a subscriber pins — shared
// chunks, queue slots, conflated quotes, messages taken and not yet
// released — is charged, the charge never passes MaxQueueBytes, and a
// subscriber that never takes is kicked once it would. Checked after
// every publish by counting the bytes, not by timing anything.
func TestAccountingCoversPinnedMemory(t *testing.T) {
	const bound = 256 << 10
	for _, tc := range []struct {
		name string
		// each step publishes a batch and may take part of the queue,
		// returning the chunks it holds in flight (nil: none)
		sym       func(i int) string
		kind      market.Kind
		takeEvery int // take a slice of the queue every n batches (0: never)
	}{
		{"never takes, one symbol", func(int) string { return "AAPL" }, market.KindTrade, 0},
		{"never takes, many symbols", func(i int) string { return fmt.Sprint("S", i%97) }, market.KindTrade, 0},
		{"quotes conflate past half", func(i int) string { return fmt.Sprint("Q", i%50) }, market.KindQuote, 0},
		{"takes part, holds it in flight", func(int) string { return "AAPL" }, market.KindTrade, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newTestHub(t, Options{MaxQueueBytes: bound, ChunkSize: 4 << 10})
			s := h.Subscribe(0, "")
			busy := h.Subscribe(0, "") // shares the chunks, keeps up
			h.SetChannel(s, tc.kind.Channel(), []string{"*"})
			h.SetChannel(busy, tc.kind.Channel(), []string{"*"})
			inflight := map[*chunk]bool{}
			n := 0
			for i := 0; i < 100_000 && s.Err() == nil; i++ {
				batch := make([]market.Event, 10)
				for j := range batch {
					batch[j] = ev(tc.kind, tc.sym(n))
					n++
				}
				h.Publish(batch)
				take(t, busy)
				if tc.takeEvery > 0 && i%tc.takeEvery == 0 {
					s.mu.Lock()
					if s.head < len(s.queue) {
						inflight[s.queue[s.head].c] = true // the chunk of the one message taken
					}
					s.mu.Unlock()
					if _, _, _, err := s.TakeUpTo(nil, 1); err != nil { // one message, never released
						break
					}
				}
				if s.Err() != nil {
					break
				}
				got, want := charged(s), pinned(s, inflight)
				if got < want {
					t.Fatalf("batch %d: charged %d < pinned %d", i, got, want)
				}
				if got > bound {
					t.Fatalf("batch %d: charged %d > bound %d", i, got, bound)
				}
			}
			switch tc.kind {
			case market.KindQuote:
				// Conflation keeps one quote per symbol: never kicked.
				if s.Err() != nil || s.Stats().Dropped == 0 {
					t.Fatalf("err %v, dropped %d", s.Err(), s.Stats().Dropped)
				}
			default:
				if !errors.Is(s.Err(), ErrSlowConsumer) {
					t.Fatalf("never kicked: err %v, charged %d", s.Err(), charged(s))
				}
			}
			if busy.Err() != nil {
				t.Fatalf("the subscriber that keeps up was kicked: %v", busy.Err())
			}
		})
	}
}

// TestChargeCountsTransportBuffers: bytes a transport holds (Charge) count
// against the bound with the queue, and Release gives them back.
func TestChargeCountsTransportBuffers(t *testing.T) {
	h, _ := newTestHub(t, Options{MaxQueueBytes: 64 << 10, ChunkSize: 4 << 10})
	s := h.Subscribe(0, "")
	h.SetChannel(s, market.ChanTrades, []string{"*"})
	if s.Charge(60 << 10) {
		t.Fatal("60 KiB of 64 reported over the bound")
	}
	if got := s.Stats().QueuedBytes; got != 60<<10 {
		t.Fatalf("charged %d, want %d", got, 60<<10)
	}
	// A chunk (4 KiB) plus a queue slot no longer fit: the trade kicks.
	h.Publish([]market.Event{ev(market.KindTrade, "AAPL")})
	if !errors.Is(s.Err(), ErrSlowConsumer) {
		t.Fatalf("err %v", s.Err())
	}
	s2 := h.Subscribe(0, "")
	h.SetChannel(s2, market.ChanTrades, []string{"*"})
	s2.Charge(60 << 10)
	s2.Release(60 << 10)
	h.Publish([]market.Event{ev(market.KindTrade, "AAPL")})
	if got := take(t, s2); len(got) != 1 || s2.Err() != nil {
		t.Fatalf("after release: %v %v", got, s2.Err())
	}
}

// TestTakeUpToSplitsChunkCharge: a partial take leaves the rest of a chunk
// charged (the chunk is still pinned by it), and the queue drains in order.
func TestTakeUpToSplitsChunkCharge(t *testing.T) {
	h, _ := newTestHub(t, Options{ChunkSize: 4 << 10})
	s := h.Subscribe(0, "")
	h.SetChannel(s, market.ChanTrades, []string{"*"})
	seq = 0
	batch := make([]market.Event, 20)
	for i := range batch {
		batch[i] = ev(market.KindTrade, "AAPL")
	}
	h.Publish(batch)
	var all []string
	for {
		msgs, cost, more, err := s.TakeUpTo(nil, 30)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := charged(s)-cost, pinned(s, nil); got < want {
			t.Fatalf("queue charged %d < pinned %d", got, want)
		}
		s.Release(cost)
		for _, m := range msgs {
			all = append(all, string(m))
		}
		if !more {
			break
		}
	}
	if len(all) != 20 || all[0] != "t:AAPL:1" || all[19] != "t:AAPL:20" {
		t.Fatalf("got %v", all)
	}
	if got := charged(s); got != cap(s.queue)*ItemBytes {
		t.Fatalf("drained queue still charged %d", got)
	}
}

// TestRuns: a subscriber that gets consecutive messages of a chunk queues
// them as one item (one slot per chunk, not per message); one whose
// messages are not adjacent gets an item each; both take them back one by
// one, in order, across partial takes.
func TestRuns(t *testing.T) {
	h, _ := newTestHub(t, Options{ChunkSize: 4 << 10})
	wild := h.Subscribe(0, "")
	aapl := h.Subscribe(0, "")
	h.SetChannel(wild, market.ChanTrades, []string{"*"})
	h.SetChannel(aapl, market.ChanTrades, []string{"AAPL"})
	seq = 0
	var want, wantAAPL []string
	for range 50 {
		batch := make([]market.Event, 20)
		for i := range batch {
			sym := "MSFT"
			if i%2 == 0 {
				sym = "AAPL"
			}
			batch[i] = ev(market.KindTrade, sym)
			m := fmt.Sprintf("t:%s:%d", sym, batch[i].Seq)
			want = append(want, m)
			if sym == "AAPL" {
				wantAAPL = append(wantAAPL, m)
			}
		}
		h.Publish(batch)
	}
	items := func(s *Subscriber) int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.queue) - s.head
	}
	// ~12-byte messages: about 250 per 4 KiB chunk.
	if n := items(wild); n > 10 {
		t.Errorf("wildcard subscriber: %d items for 1000 messages", n)
	}
	if n := items(aapl); n != 500 {
		t.Errorf("filtered subscriber: %d items for 500 messages", n)
	}
	for _, tc := range []struct {
		s    *Subscriber
		want []string
	}{{wild, want}, {aapl, wantAAPL}} {
		if st := tc.s.Stats(); st.QueuedMsgs != len(tc.want) {
			t.Errorf("QueuedMsgs %d, want %d", st.QueuedMsgs, len(tc.want))
		}
		var got []string
		for {
			msgs, cost, more, err := tc.s.TakeUpTo(nil, 100) // a few messages at a time
			if err != nil {
				t.Fatal(err)
			}
			tc.s.Release(cost)
			for _, m := range msgs {
				got = append(got, string(m))
			}
			if !more {
				break
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("took %d messages, want %d (first %v)", len(got), len(tc.want), got[:min(3, len(got))])
		}
	}
}

// TestAfterTheFactEvents: gap-filled and backfilled events (old, out of
// time order) reach only subscribers that asked for them (Tape-aware
// clients); a plain subscriber gets the live events around them.
func TestAfterTheFactEvents(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	plain := h.Subscribe(0, "plain")
	aware := h.SubscribeWith(SubscriberOptions{Format: 0, Label: "aware", AfterTheFact: true})
	for _, s := range []*Subscriber{plain, aware} {
		h.SetChannel(s, market.ChanTrades, []string{"*"})
	}
	live, filled, backfilled := ev(market.KindTrade, "AAPL"), ev(market.KindTrade, "AAPL"), ev(market.KindTrade, "MSFT")
	filled.Flags = market.FlagGapFill | market.FlagLate
	backfilled.Flags = market.FlagBackfill
	h.Publish([]market.Event{live, filled, backfilled})
	if got := take(t, plain); len(got) != 1 || got[0] != fmt.Sprintf("t:AAPL:%d", live.Seq) {
		t.Fatalf("plain subscriber got %v", got)
	}
	if got := take(t, aware); len(got) != 3 {
		t.Fatalf("Tape-aware subscriber got %v", got)
	}
}
