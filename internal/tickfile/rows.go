package tickfile

import (
	"github.com/tapehq/tape/internal/market"
)

// The row types are the Parquet schemas, one struct per kind; the tags
// give each column its name and logical type. They are exported so that Go
// programs can read Tape's files with parquet-go's generic reader:
//
//	rows, err := parquet.ReadFile[tickfile.Trade]("trades.parquet")
//
// Column choices, for pandas, polars and DuckDB:
//
//   - t is INT64 with the TIMESTAMP(NANOS, isAdjustedToUTC=true) logical
//     type: every reader shows a UTC datetime (pandas datetime64[ns, UTC],
//     polars Datetime("ns", "UTC"), DuckDB TIMESTAMPTZ_NS; DuckDB before
//     2.0 reads TIMESTAMPTZ and drops the nanoseconds below the
//     microsecond, which a naive TIMESTAMP_NS would avoid at the price of
//     the UTC meaning everywhere else).
//   - Strings are BYTE_ARRAY with the STRING logical type and dictionary
//     encoding: symbols and codes repeat, so a dictionary page and small
//     indexes beat repeating them, and every reader supports it.
//   - Sizes, ids, volumes and counts are signed INT64 (plain), not
//     UINT32/UINT64: pandas and DuckDB handle unsigned columns awkwardly
//     (arithmetic that mixes them with signed columns widens or fails), and
//     no trade size or volume comes near 2^63.
//   - conditions is a LIST of STRING (one code per element, dictionary
//     encoded): pandas gets a list per row, polars List(String), DuckDB
//     VARCHAR[], so `'@' = ANY(conditions)` needs no string splitting.
//     CSV keeps the codes in one space-separated field. Files that Tape
//     wrote before, with one space-separated STRING, still import.
//   - Everything is REQUIRED: Tape has no nulls; a missing code is "", and
//     no conditions an empty list.

// Trade is one row of a trades file.
type Trade struct {
	Symbol     string   `parquet:"symbol,dict"`
	Time       int64    `parquet:"t,timestamp(nanosecond:utc)"`
	ID         int64    `parquet:"id"`
	Exchange   string   `parquet:"exchange,dict"`
	Price      float64  `parquet:"price"`
	Size       int64    `parquet:"size"`
	Conditions []string `parquet:"conditions,list,dict"`
	Tape       string   `parquet:"tape,dict"`
}

// Quote is one row of a quotes file.
type Quote struct {
	Symbol      string   `parquet:"symbol,dict"`
	Time        int64    `parquet:"t,timestamp(nanosecond:utc)"`
	BidExchange string   `parquet:"bid_exchange,dict"`
	BidPrice    float64  `parquet:"bid_price"`
	BidSize     int64    `parquet:"bid_size"`
	AskExchange string   `parquet:"ask_exchange,dict"`
	AskPrice    float64  `parquet:"ask_price"`
	AskSize     int64    `parquet:"ask_size"`
	Conditions  []string `parquet:"conditions,list,dict"`
	Tape        string   `parquet:"tape,dict"`
}

// Bar is one row of a bars file; Time is the bar's start.
type Bar struct {
	Symbol     string  `parquet:"symbol,dict"`
	Time       int64   `parquet:"t,timestamp(nanosecond:utc)"`
	Open       float64 `parquet:"open"`
	High       float64 `parquet:"high"`
	Low        float64 `parquet:"low"`
	Close      float64 `parquet:"close"`
	Volume     int64   `parquet:"volume"`
	TradeCount int64   `parquet:"trade_count"`
	VWAP       float64 `parquet:"vwap"`
}

// condCache turns condition codes into their list form without
// allocating per row: a feed uses a few dozen combinations. The lists are
// shared between rows, and only read.
type condCache map[market.Conditions][]string

func (c condCache) get(x market.Conditions) []string {
	if s, ok := c[x]; ok {
		return s
	}
	s := make([]string, 0, x.Len())
	for i := range x.Len() {
		s = append(s, charStrings[x[i]])
	}
	if len(c) < 4096 {
		c[x] = s
	}
	return s
}

func (c condCache) trade(e *market.Event, r *Trade) {
	t := &e.Trade
	*r = Trade{Symbol: e.Symbol, Time: e.Time, ID: t.ID, Exchange: charStrings[t.Exchange], Price: t.Price,
		Size: int64(t.Size), Conditions: c.get(t.Conditions), Tape: charStrings[t.Tape]}
}

func (c condCache) quote(e *market.Event, r *Quote) {
	q := &e.Quote
	*r = Quote{Symbol: e.Symbol, Time: e.Time,
		BidExchange: charStrings[q.BidExchange], BidPrice: q.BidPrice, BidSize: int64(q.BidSize),
		AskExchange: charStrings[q.AskExchange], AskPrice: q.AskPrice, AskSize: int64(q.AskSize),
		Conditions: c.get(q.Conditions), Tape: charStrings[q.Tape]}
}

func barRow(e *market.Event, r *Bar) {
	b := &e.Bar
	*r = Bar{Symbol: e.Symbol, Time: e.Time, Open: b.Open, High: b.High, Low: b.Low, Close: b.Close,
		Volume: int64(b.Volume), TradeCount: int64(b.TradeCount), VWAP: b.VWAP}
}
