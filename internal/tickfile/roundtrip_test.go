package tickfile

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// TestRoundTrip writes every kind in every format and reads it back: the
// events are identical, bit for bit.
func TestRoundTrip(t *testing.T) {
	for _, k := range []Kind{KindTrades, KindQuotes, KindBars} {
		for _, c := range []struct {
			name string
			f    Format
			gz   bool
		}{{"csv", CSV, false}, {"csv.gz", CSV, true}, {"parquet", Parquet, false}} {
			t.Run(k.String()+"/"+c.name, func(t *testing.T) {
				want := sample(k, 5000, 1)
				b := write(t, k, c.f, c.gz, want)
				path := filepath.Join(t.TempDir(), "x."+c.name)
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				r, err := OpenFile(path, ReaderOptions{})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				if r.Kind() != k {
					t.Fatalf("kind %v, want %v", r.Kind(), k)
				}
				got, bad := readAll(t, r)
				if len(bad) > 0 {
					t.Fatalf("%d bad rows, first: %v", len(bad), bad[0])
				}
				if len(got) != len(want) {
					t.Fatalf("%d rows, want %d", len(got), len(want))
				}
				for i := range want {
					if !reflect.DeepEqual(got[i], want[i]) {
						t.Fatalf("row %d:\n got %+v\nwant %+v", i, got[i], want[i])
					}
				}
			})
		}
	}
}

// TestCSVHeaderAndRows pins the CSV text: the header is the schema, times
// are RFC 3339 UTC with nine fraction digits, codes are space-separated
// (a space code quoted so no reader trims it), prices the shortest exact
// decimal.
func TestCSVHeaderAndRows(t *testing.T) {
	ts := time.Date(2026, 11, 29, 13, 4, 5, 123456789, time.UTC).UnixNano()
	cases := []struct {
		k    Kind
		e    market.Event
		want string
	}{
		{KindTrades, market.Event{Kind: market.KindTrade, Symbol: "AAPL", Time: ts, Trade: market.Trade{ID: 42, Price: 229.91, Size: 100, Exchange: 'Q', Tape: 'C', Conditions: market.Conditions{'@', 'F'}}},
			"symbol,t,id,exchange,price,size,conditions,tape\nAAPL,2026-11-29T13:04:05.123456789Z,42,Q,229.91,100,@ F,C\n"},
		{KindTrades, market.Event{Kind: market.KindTrade, Symbol: "BRK.B", Time: ts - 123456789, Trade: market.Trade{Price: 0.0001, Size: 1, Conditions: market.Conditions{' ', 'I'}}},
			"symbol,t,id,exchange,price,size,conditions,tape\nBRK.B,2026-11-29T13:04:05.000000000Z,0,,0.0001,1,\"  I\",\n"},
		{KindQuotes, market.Event{Kind: market.KindQuote, Symbol: "SPY", Time: ts, Quote: market.Quote{BidPrice: 600.01, AskPrice: 600.02, BidSize: 3, AskSize: 7, BidExchange: 'P', AskExchange: 'V', Tape: 'B', Conditions: market.Conditions{'R'}}},
			"symbol,t,bid_exchange,bid_price,bid_size,ask_exchange,ask_price,ask_size,conditions,tape\nSPY,2026-11-29T13:04:05.123456789Z,P,600.01,3,V,600.02,7,R,B\n"},
		{KindBars, market.Event{Kind: market.KindBar, Symbol: "MSFT", Time: time.Date(2026, 11, 29, 13, 4, 0, 0, time.UTC).UnixNano(), Bar: market.Bar{Open: 1, High: 2.5, Low: 0.5, Close: 1.5, VWAP: 1.2345678901234, Volume: 1 << 40, TradeCount: 9}},
			"symbol,t,open,high,low,close,volume,trade_count,vwap\nMSFT,2026-11-29T13:04:00.000000000Z,1,2.5,0.5,1.5,1099511627776,9,1.2345678901234\n"},
	}
	for _, c := range cases {
		got := string(write(t, c.k, CSV, false, []market.Event{c.e}))
		if got != c.want {
			t.Errorf("%v:\n got %q\nwant %q", c.k, got, c.want)
		}
	}
}

// TestGzipIsGzip: a .csv.gz is a plain gzip stream any tool opens.
func TestGzipIsGzip(t *testing.T) {
	b := write(t, KindTrades, CSV, true, sample(KindTrades, 10, 2))
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	plain.ReadFrom(zr)
	if want := write(t, KindTrades, CSV, false, sample(KindTrades, 10, 2)); !bytes.Equal(plain.Bytes(), want) {
		t.Fatal("gunzipped file differs from the plain CSV")
	}
}
