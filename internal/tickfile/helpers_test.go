package tickfile

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

var day0 = time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC).UnixNano()

// sample returns n events of kind k over a few symbols, with every field
// set to something that must survive a round trip: nanosecond times,
// prices that are not whole cents, the space condition code, empty codes.
func sample(k Kind, n int, seed uint64) []market.Event {
	rng := rand.New(rand.NewPCG(seed, 1))
	syms := []string{"AAPL", "BRK.B", "MSFT", "BF-B"}
	conds := []market.Conditions{{'@'}, {'@', 'F', 'I'}, {' '}, {' ', '@'}, {}, {'@', 'Z', 'T', 'I'}}
	exch := []byte{'Q', 'N', 'V', 'P', 0}
	out := make([]market.Event, n)
	t := day0
	for i := range out {
		t += rng.Int64N(int64(time.Second))
		e := &out[i]
		e.Symbol = syms[rng.IntN(len(syms))]
		e.Time = t
		px := 100 + float64(rng.IntN(100000))/1000 + rng.Float64()*1e-6
		switch k {
		case KindTrades:
			e.Kind = market.KindTrade
			e.Trade = market.Trade{ID: rng.Int64N(1 << 40), Price: px, Size: uint32(rng.IntN(5000)) + 1,
				Exchange: exch[rng.IntN(len(exch))], Tape: "ABC"[rng.IntN(3)], Conditions: conds[rng.IntN(len(conds))]}
		case KindQuotes:
			e.Kind = market.KindQuote
			e.Quote = market.Quote{BidPrice: px, AskPrice: px + 0.01, BidSize: uint32(rng.IntN(50)), AskSize: uint32(rng.IntN(50)),
				BidExchange: exch[rng.IntN(len(exch))], AskExchange: exch[rng.IntN(len(exch))], Tape: 'C', Conditions: conds[rng.IntN(2)]}
		case KindBars:
			e.Kind = market.KindBar
			e.Time = e.Time / int64(time.Minute) * int64(time.Minute)
			lo, hi := px-rng.Float64(), px+rng.Float64()
			e.Bar = market.Bar{Open: px, High: hi, Low: lo, Close: (lo + hi) / 2, VWAP: px + 0.001,
				Volume: uint64(rng.IntN(1 << 30)), TradeCount: uint64(rng.IntN(10000))}
		}
	}
	return out
}

// write writes evs to a buffer in format f.
func write(t testing.TB, k Kind, f Format, gz bool, evs []market.Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, WriterOptions{Format: f, Kind: k, Gzip: gz, Timeframe: "1Min"})
	if err != nil {
		t.Fatal(err)
	}
	// In uneven chunks, as an export writes pages.
	for i := 0; i < len(evs); {
		n := min(len(evs)-i, 1000+i%777)
		if err := w.Write(evs[i : i+n]); err != nil {
			t.Fatal(err)
		}
		i += n
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Rows() != int64(len(evs)) {
		t.Fatalf("Rows() = %d, want %d", w.Rows(), len(evs))
	}
	return buf.Bytes()
}

// readAll reads every row, collecting row errors separately.
func readAll(t testing.TB, r *Reader) ([]market.Event, []*RowError) {
	t.Helper()
	var evs []market.Event
	var bad []*RowError
	for {
		var e market.Event
		err := r.Next(&e)
		var re *RowError
		switch {
		case err == nil:
			evs = append(evs, e)
		case errors.As(err, &re):
			bad = append(bad, re)
		case err == io.EOF:
			return evs, bad
		default:
			t.Fatal(err)
		}
	}
}
