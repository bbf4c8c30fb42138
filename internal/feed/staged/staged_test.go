package staged

import (
	"context"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/market"
)

func trade(sym string, t time.Time, id int64) market.Event {
	return market.Event{Kind: market.KindTrade, Symbol: sym, Time: t.UnixNano(), Trade: market.Trade{ID: id, Price: 10, Size: 1}}
}

// TestFeedOrderAndClock: rows play in send order (a bar after the trades
// of its minute, whatever order they were staged in), batches never span
// a minute, and each batch's clock is just short of the next row, so a
// minute closes after its last trade and before the next minute's first.
func TestFeedOrderAndClock(t *testing.T) {
	m0 := time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC)
	var rows Rows
	bar := market.Event{Kind: market.KindBar, Symbol: "AAPL", Time: m0.UnixNano(), Bar: market.Bar{Open: 10, Volume: 2}}
	staged := []market.Event{trade("AAPL", m0.Add(61*time.Second), 3), bar, trade("AAPL", m0.Add(time.Second), 1),
		trade("MSFT", m0.Add(59*time.Second), 2)}
	for i := range staged {
		rows.Add(&staged[i])
	}
	rows.Sort()
	f, err := NewFeed(&rows, Options{BatchSize: 10, CloseBars: true})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan feed.Batch, 10)
	if err := f.Run(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	close(out)
	var batches []feed.Batch
	for b := range out {
		batches = append(batches, b)
	}
	// [trade 1, trade 2] (minute 0), [bar (sent at its end), trade 3]
	// (minute 1), close-out.
	if len(batches) != 3 {
		t.Fatalf("%d batches: %+v", len(batches), batches)
	}
	ids := func(b feed.Batch) (s []int64) {
		for _, e := range b.Events {
			s = append(s, e.Trade.ID)
		}
		return s
	}
	if got := ids(batches[0]); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("first minute: %v", got)
	}
	if b := batches[1].Events; len(b) != 2 || b[0].Kind != market.KindBar || b[1].Trade.ID != 3 {
		t.Fatalf("the bar must follow its minute's trades and precede the next trade: %+v", batches[1])
	}
	for i := 0; i+1 < len(batches)-1; i++ {
		next := SendTime(batches[i+1].Events[0].Kind, batches[i+1].Events[0].Time)
		if batches[i].Now >= next {
			t.Fatalf("batch %d clock %v is not before the next row (%v)", i, batches[i].Now, next)
		}
	}
	if last := batches[2]; len(last.Events) != 0 || last.Now <= m0.Add(61*time.Second).UnixNano() {
		t.Fatalf("close-out batch %+v", last)
	}
	if n, _ := rows.Span(); n != m0.UnixNano() {
		t.Fatalf("span starts at %v", time.Unix(0, n))
	}
}

// TestTruncateAndSetKind: a failed symbol's rows are cut back out, and
// bars found to be daily change kind in place.
func TestTruncateAndSetKind(t *testing.T) {
	var rows Rows
	d := time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC) // midnight New York
	a, b := trade("AAPL", d.Add(time.Hour), 1), market.Event{Kind: market.KindBar, Symbol: "SPY", Time: d.UnixNano()}
	rows.Add(&a)
	mark := rows.Len()
	rows.Add(&b)
	rows.SetKind(mark, market.KindDailyBar)
	rows.Sort()
	f, _ := NewFeed(&rows, Options{})
	out := make(chan feed.Batch, 4)
	f.Run(context.Background(), out)
	close(out)
	var kinds []market.Kind
	for bt := range out {
		for _, e := range bt.Events {
			kinds = append(kinds, e.Kind)
		}
	}
	if len(kinds) != 2 || kinds[1] != market.KindDailyBar {
		t.Fatalf("kinds %v: the daily bar goes out at the end of its day", kinds)
	}
	rows.Truncate(mark)
	if rows.Len() != 1 {
		t.Fatalf("%d rows after truncate", rows.Len())
	}
}
