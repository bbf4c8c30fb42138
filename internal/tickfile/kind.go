package tickfile

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Kind is what a file holds: trades, quotes or bars.
type Kind uint8

// The kinds of tick file.
const (
	KindInvalid Kind = iota
	KindTrades
	KindQuotes
	KindBars
)

// ParseKind parses "trades", "quotes" or "bars" (singular forms too).
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "trades", "trade":
		return KindTrades, nil
	case "quotes", "quote":
		return KindQuotes, nil
	case "bars", "bar":
		return KindBars, nil
	}
	return KindInvalid, fmt.Errorf("unknown kind %q: want trades, quotes or bars", s)
}

func (k Kind) String() string {
	switch k {
	case KindTrades:
		return "trades"
	case KindQuotes:
		return "quotes"
	case KindBars:
		return "bars"
	}
	return "invalid"
}

// Columns returns the kind's column names in file order: the CSV header
// and the Parquet schema. docs/tickfile.md documents each.
func (k Kind) Columns() []string {
	fs := k.fields()
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return out
}

// Format is a file format.
type Format uint8

// The file formats.
const (
	FormatInvalid Format = iota
	CSV
	Parquet
)

// ParseFormat parses "csv" or "parquet".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "csv":
		return CSV, nil
	case "parquet", "pq":
		return Parquet, nil
	}
	return FormatInvalid, fmt.Errorf("unknown format %q: want parquet or csv", s)
}

func (f Format) String() string {
	switch f {
	case CSV:
		return "csv"
	case Parquet:
		return "parquet"
	}
	return "invalid"
}

// FormatOf tells the format from a file name: .csv and .csv.gz (gzip true)
// are CSV, .parquet and .pq are Parquet. ok is false for anything else.
func FormatOf(path string) (f Format, gzip bool, ok bool) {
	name := strings.ToLower(filepath.Base(path))
	switch {
	case strings.HasSuffix(name, ".csv"):
		return CSV, false, true
	case strings.HasSuffix(name, ".csv.gz"):
		return CSV, true, true
	case strings.HasSuffix(name, ".parquet"), strings.HasSuffix(name, ".pq"):
		return Parquet, false, true
	}
	return FormatInvalid, false, false
}

// fieldType says how a column's values are written and parsed.
type fieldType uint8

const (
	ftSymbol fieldType = iota // a stock symbol, upper case
	ftTime                    // ns since the epoch; TIMESTAMP(NANOS, UTC) / RFC 3339
	ftFloat                   // a price: DOUBLE
	ftInt                     // a count or size: INT64
	ftChar                    // a one-character code (exchange, tape), "" for none
	ftConds                   // up to four one-character condition codes
)

// field is one column of a kind's schema.
type field struct {
	name     string
	typ      fieldType
	required bool // an import needs the column; optional ones default to zero
}

// Field indexes into a kind's field list, used by the readers and writers.
const (
	// trades
	tSymbol = iota
	tTime
	tID
	tExchange
	tPrice
	tSize
	tConditions
	tTape
)

const (
	// quotes
	qSymbol = iota
	qTime
	qBidExchange
	qBidPrice
	qBidSize
	qAskExchange
	qAskPrice
	qAskSize
	qConditions
	qTape
)

const (
	// bars
	bSymbol = iota
	bTime
	bOpen
	bHigh
	bLow
	bClose
	bVolume
	bTradeCount
	bVWAP
)

// maxFields is the widest schema (quotes).
const maxFields = 10

// The schemas. The order is the column order of both formats, and must
// match the row structs in rows.go (TestSchemasMatchRows checks it).
// Symbol and time are required for every kind, and so are the values that
// make a row mean anything; codes, ids and the bar extras are optional so
// that a file written by hand or by pandas with fewer columns imports.
var (
	tradeFields = []field{
		{"symbol", ftSymbol, true}, {"t", ftTime, true}, {"id", ftInt, false}, {"exchange", ftChar, false},
		{"price", ftFloat, true}, {"size", ftInt, true}, {"conditions", ftConds, false}, {"tape", ftChar, false},
	}
	quoteFields = []field{
		{"symbol", ftSymbol, true}, {"t", ftTime, true},
		{"bid_exchange", ftChar, false}, {"bid_price", ftFloat, true}, {"bid_size", ftInt, true},
		{"ask_exchange", ftChar, false}, {"ask_price", ftFloat, true}, {"ask_size", ftInt, true},
		{"conditions", ftConds, false}, {"tape", ftChar, false},
	}
	barFields = []field{
		{"symbol", ftSymbol, true}, {"t", ftTime, true}, {"open", ftFloat, true}, {"high", ftFloat, true},
		{"low", ftFloat, true}, {"close", ftFloat, true}, {"volume", ftInt, true},
		{"trade_count", ftInt, false}, {"vwap", ftFloat, false},
	}
)

func (k Kind) fields() []field {
	switch k {
	case KindTrades:
		return tradeFields
	case KindQuotes:
		return quoteFields
	case KindBars:
		return barFields
	}
	return nil
}

// columnAliases are other names a column may have in a file from
// elsewhere (pandas' default index name for a time column, Alpaca's short
// field names). Only used on reading.
var columnAliases = map[string]string{
	"timestamp": "t", "time": "t", "datetime": "t",
	"ticker": "symbol",
}

// kindOfColumns guesses the kind from column names: a price column means
// trades, a bid price quotes, an open bars.
func kindOfColumns(names []string) Kind {
	has := map[string]bool{}
	for _, n := range names {
		has[n] = true
	}
	switch {
	case has["bid_price"] || has["ask_price"]:
		return KindQuotes
	case has["open"] || has["close"]:
		return KindBars
	case has["price"]:
		return KindTrades
	}
	return KindInvalid
}
