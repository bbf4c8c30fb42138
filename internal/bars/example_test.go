package bars_test

import (
	"fmt"
	"time"

	"github.com/tapehq/tape/internal/bars"
	"github.com/tapehq/tape/internal/market"
)

func Example() {
	ny, _ := time.LoadLocation("America/New_York")
	at := func(hms string) int64 {
		t, _ := time.ParseInLocation("2006-01-02 15:04:05", "2024-06-03 "+hms, ny)
		return t.UnixNano()
	}
	trade := func(hms string, id int64, price float64, size uint32, conds ...string) *market.Event {
		return &market.Event{Kind: market.KindTrade, Symbol: "AAPL", Time: at(hms),
			Trade: market.Trade{ID: id, Price: price, Size: size, Conditions: market.MakeConditions(conds...)}}
	}
	print := func(evs []market.Event) {
		for _, e := range evs {
			fmt.Printf("%s %s %s O=%g H=%g L=%g C=%g V=%d\n", e.Kind, e.Symbol,
				e.Timestamp().In(ny).Format("01-02 15:04"), e.Bar.Open, e.Bar.High, e.Bar.Low, e.Bar.Close, e.Bar.Volume)
		}
	}

	b := bars.New(bars.Options{})
	b.Apply(trade("09:30:01", 1, 190.00, 100))
	b.Apply(trade("09:30:30", 2, 190.50, 20, "I")) // odd lot: volume only
	b.Apply(trade("09:30:45", 3, 189.75, 300, "F"))
	print(b.Advance(at("09:31:00"), nil)) // the minute closes

	b.Apply(trade("09:30:58", 4, 191.00, 100)) // reported after the close
	print(b.Advance(at("09:31:30"), nil))      // the updated bar goes out at :30
	// The changed daily bar goes out at the 09:32 close; at 09:33, with
	// nothing new, no daily bar does.
	print(b.Advance(at("09:33:00"), nil))
	// Output:
	// bar AAPL 06-03 09:30 O=190 H=190 L=189.75 C=189.75 V=420
	// dailyBar AAPL 06-03 00:00 O=190 H=190 L=189.75 C=189.75 V=420
	// updatedBar AAPL 06-03 09:30 O=190 H=191 L=189.75 C=191 V=520
	// dailyBar AAPL 06-03 00:00 O=190 H=191 L=189.75 C=191 V=520
}
