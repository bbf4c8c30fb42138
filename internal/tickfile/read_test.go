package tickfile

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// TestCSVBadRows: every kind of bad row is refused with its line, column
// and reason, and the rows around it still come through.
func TestCSVBadRows(t *testing.T) {
	in := `symbol,t,id,exchange,price,size,conditions,tape
AAPL,2026-11-24T14:30:00Z,1,Q,10.5,100,@,C
AAP L,2026-11-24T14:30:01Z,2,Q,10.5,100,@,C
AAPL,2026-11-24T14:30:02Z,3,Q,-10.5,100,@,C
AAPL,yesterday,4,Q,10.5,100,@,C
AAPL,2026-11-24T14:30:04Z,5,Q,10.5,100
AAPL,2026-11-24T14:30:05Z,6,Q,ten,100,@,C
AAPL,2026-11-24T14:30:06Z,7,QQ,10.5,100,@,C
AAPL,2026-11-24T14:30:07Z,8,Q,10.5,-1,@,C
AAPL,2026-11-24 14:30:08,9,Q,10.5,100,@,C
AAPL,,10,Q,10.5,100,@,C
AAPL,2026-11-24T14:30:10Z,11,Q,0,100,@,C
AAPL,2026-11-24T14:30:11Z,12,Q,10.5,100,@ F T I Z,C
AAPL,2026-11-24T14:30:12Z,13,Q,10.5,100,@,C,extra

msft,2026-11-24 14:30:13.5+00:00,14,,10.25,5,"@,I",
`
	r, err := NewCSVReader(strings.NewReader(in), ReaderOptions{Name: "t.csv"})
	if err != nil {
		t.Fatal(err)
	}
	got, bad := readAll(t, r)
	t0 := time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC).UnixNano()
	want := []market.Event{
		{Kind: market.KindTrade, Symbol: "AAPL", Time: t0, Trade: market.Trade{ID: 1, Price: 10.5, Size: 100, Exchange: 'Q', Tape: 'C', Conditions: market.Conditions{'@'}}},
		{Kind: market.KindTrade, Symbol: "MSFT", Time: t0 + 13500*int64(time.Millisecond), Trade: market.Trade{ID: 14, Price: 10.25, Size: 5, Conditions: market.Conditions{'@', 'I'}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("good rows:\n got %+v\nwant %+v", got, want)
	}
	wantBad := []string{
		"t.csv:3: symbol: bad symbol",
		"t.csv:4: price: bad price",
		"t.csv:5: t: bad time",
		"t.csv:6: : missing column",
		"t.csv:7: price: bad number",
		"t.csv:8: exchange: bad code",
		"t.csv:9: size: bad size",
		"t.csv:10: t: bad time", // no zone
		"t.csv:11: t: missing value",
		"t.csv:12: price: bad price",
		"t.csv:13: conditions: bad code",
		"t.csv:14: : extra column",
	}
	var gotBad []string
	for _, b := range bad {
		gotBad = append(gotBad, fmt.Sprintf("%s: %s: %s", b.Pos(), b.Column, b.Reason))
	}
	if !reflect.DeepEqual(gotBad, wantBad) {
		t.Errorf("bad rows:\n got %q\nwant %q", gotBad, wantBad)
	}
	if !strings.Contains(bad[7].Error(), "no zone") {
		t.Errorf("zone-less time: %v", bad[7])
	}
	if s := bad[1].Error(); s != "t.csv:4: price: -10.5: must be positive" {
		t.Errorf("message %q", s)
	}
}

func TestQuoteAndBarValidation(t *testing.T) {
	quotes := `symbol,t,bid_price,ask_price,bid_size,ask_size
A,2026-11-24T14:30:00Z,10,10.01,1,1
A,2026-11-24T14:30:00Z,10.02,10.01,1,1
A,2026-11-24T14:30:00Z,0,0,1,1
A,2026-11-24T14:30:00Z,0,10,0,1
A,2026-11-24T14:30:00Z,-1,10,0,1
`
	var warned []*RowError
	r, err := NewCSVReader(strings.NewReader(quotes), ReaderOptions{Name: "q.csv", OnWarning: func(e *RowError) { warned = append(warned, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind() != KindQuotes {
		t.Fatalf("kind %v", r.Kind())
	}
	got, bad := readAll(t, r)
	if len(got) != 3 || len(bad) != 2 || bad[0].Line != 4 || bad[1].Line != 6 || len(warned) != 1 || warned[0].Reason != WarnCrossed || warned[0].Line != 3 {
		t.Fatalf("got %d rows, bad %v, warned %v", len(got), bad, warned)
	}

	bars := `symbol,t,open,high,low,close,volume
A,2026-11-24T14:30:00Z,10,11,9,10.5,100
A,2026-11-24T14:31:00Z,10,9,11,10.5,100
A,2026-11-24T14:32:00Z,12,11,9,10.5,100
A,2026-11-24T14:33:00Z,10,11,9,10.5,-5
`
	r, err = NewCSVReader(strings.NewReader(bars), ReaderOptions{Name: "b.csv"})
	if err != nil {
		t.Fatal(err)
	}
	got, bad = readAll(t, r)
	if len(got) != 1 || len(bad) != 3 || bad[0].Reason != ReasonBar || bad[1].Reason != ReasonBar || bad[2].Reason != ReasonSize {
		t.Fatalf("got %d rows, bad %v", len(got), bad)
	}
}

func TestCSVHeaderProblems(t *testing.T) {
	cases := []struct {
		in, want string
		opts     ReaderOptions
	}{
		{"", "empty file", ReaderOptions{}},
		{"symbol,t,size\nA,2026-11-24T14:30:00Z,1\n", "cannot tell trades, quotes or bars", ReaderOptions{}},
		{"symbol,t,price\nA,2026-11-24T14:30:00Z,1\n", "no size column", ReaderOptions{}},
		{"t,price,size\n2026-11-24T14:30:00Z,1,1\n", "with --symbol", ReaderOptions{}},
		{"AAPL,2026-11-24T14:30:00Z,1,1\n", "must be a header", ReaderOptions{}},
		{"symbol,t,price,size,price\n", "appears twice", ReaderOptions{}},
		{"symbol,t,price,size\n", "no bid_price, bid_size, ask_price, ask_size columns", ReaderOptions{Kind: KindQuotes}},
	}
	for _, c := range cases {
		_, err := NewCSVReader(strings.NewReader(c.in), c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.in, err, c.want)
		}
	}
}

// TestCSVLenientInput: columns in any order, aliases, a BOM, CRLF line
// ends, a default symbol, missing optional columns.
func TestCSVLenientInput(t *testing.T) {
	in := "\ufeffSize,Price,Timestamp\r\n100,10.5,2026-11-24T09:30:00-05:00\r\n"
	r, err := NewCSVReader(strings.NewReader(in), ReaderOptions{Symbol: "spy"})
	if err != nil {
		t.Fatal(err)
	}
	got, bad := readAll(t, r)
	want := []market.Event{{Kind: market.KindTrade, Symbol: "SPY", Time: time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC).UnixNano(),
		Trade: market.Trade{Price: 10.5, Size: 100}}}
	if len(bad) > 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v %v", got, bad)
	}
}

func TestConditions(t *testing.T) {
	for _, c := range []market.Conditions{{}, {'@'}, {'@', 'F'}, {' '}, {' ', '@'}, {'@', ' '}, {'@', ' ', 'I'}, {'@', 'F', 'T', 'I'}, {' ', ' '}} {
		s := string(appendConds(nil, &c))
		back, err := parseConds(s)
		if err != nil || back != c {
			t.Errorf("%q: %q %v", c[:], back[:], err)
		}
	}
	for in, want := range map[string]market.Conditions{"@,F": {'@', 'F'}, "@, F": {'@', 'F'}, "@FI": {'@', 'F', 'I'}, "@": {'@'}} {
		if got, err := parseConds(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got[:], err)
		}
	}
	for _, bad := range []string{"@ F T I Z", "@FTIZ", "@@ F", "AB,C", "\x01"} {
		if _, err := parseConds(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseTime(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	good := map[string]time.Time{
		"2026-11-24T14:30:00Z":                 time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC),
		"2026-11-24T14:30:00.5Z":               time.Date(2026, 11, 24, 14, 30, 0, 5e8, time.UTC),
		"2026-11-24T14:30:00.123456789Z":       time.Date(2026, 11, 24, 14, 30, 0, 123456789, time.UTC),
		"2026-11-24 14:30:00.123456+00:00":     time.Date(2026, 11, 24, 14, 30, 0, 123456000, time.UTC),
		"2026-11-24T09:30:00-05:00":            time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC),
		"2026-11-24":                           time.Date(2026, 11, 24, 0, 0, 0, 0, ny),
		"2024-02-29T00:00:00Z":                 time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		"1969-12-31T23:59:59.999999999Z":       time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		"2026-07-01T09:30:00.000000001-04:00":  time.Date(2026, 7, 1, 13, 30, 0, 1, time.UTC),
		"2026-02-30T00:00:00Z":                 {},
		"2026-11-24T24:00:00Z":                 {},
		"11/24/2026":                           {},
		"2026-11-24T14:30:00":                  {},
		"":                                     {},
		"3000-01-01T00:00:00Z":                 {},
		"2026-11-24T14:30:00.Z":                {},
		"2026-11-24T14:30:00+0000":             {},
		"2026-11-24T14:30:00.123456789+05:30Z": {},
	}
	for in, want := range good {
		got, err := parseTime(in)
		if want.IsZero() {
			if err == nil {
				t.Errorf("%q accepted as %v", in, time.Unix(0, got).UTC())
			}
			continue
		}
		if err != nil || got != want.UnixNano() {
			t.Errorf("%q: %v %v, want %v", in, time.Unix(0, got).UTC(), err, want.UTC())
		}
	}
	// appendTime and the fast path agree with the standard library over a
	// wide range.
	for _, ts := range []int64{0, 1, -1, 951782400e9, 4102444799999999999, -2208988800e9 + 7} {
		s := string(appendTime(nil, ts))
		if std := time.Unix(0, ts).UTC().Format("2006-01-02T15:04:05.000000000Z"); s != std {
			t.Errorf("%d: %s, want %s", ts, s, std)
		}
		if back, ok := parseUTC(s); !ok || back != ts {
			t.Errorf("%s: %d %v", s, back, ok)
		}
	}
}

func TestFormatOf(t *testing.T) {
	for path, want := range map[string]string{"a.csv": "csv", "A.CSV": "csv", "x/y.csv.gz": "csv gz", "t.parquet": "parquet", "t.pq": "parquet", "t.json": "", "csv": ""} {
		f, gz, ok := FormatOf(path)
		got := ""
		if ok {
			got = f.String()
			if gz {
				got += " gz"
			}
		}
		if got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
}

// TestSchemasMatchRows: the field lists (CSV header, import) and the row
// structs (Parquet schema) name the same columns in the same order.
func TestSchemasMatchRows(t *testing.T) {
	for k, row := range map[Kind]any{KindTrades: Trade{}, KindQuotes: Quote{}, KindBars: Bar{}} {
		rt := reflect.TypeOf(row)
		var names []string
		for i := range rt.NumField() {
			names = append(names, strings.Split(rt.Field(i).Tag.Get("parquet"), ",")[0])
		}
		if !reflect.DeepEqual(names, k.Columns()) {
			t.Errorf("%v: struct %v, fields %v", k, names, k.Columns())
		}
	}
}

// TestCSVMalformedQuote: a row the CSV parser itself refuses is reported
// and reading goes on with the next line.
func TestCSVMalformedQuote(t *testing.T) {
	in := "symbol,t,price,size\nA,2026-11-24T14:30:00Z,1,1\nA,2026-11-24T14:30:00Z,1\"x\",1\nB,2026-11-24T14:30:00Z,2,2\n"
	r, err := NewCSVReader(strings.NewReader(in), ReaderOptions{Name: "q.csv"})
	if err != nil {
		t.Fatal(err)
	}
	got, bad := readAll(t, r)
	if len(got) != 2 || got[1].Symbol != "B" || len(bad) != 1 || bad[0].Reason != ReasonCSV || bad[0].Line != 3 {
		t.Fatalf("got %v, bad %v", got, bad)
	}
}
