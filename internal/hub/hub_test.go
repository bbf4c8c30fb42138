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
