package tickfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/tapehq/tape/internal/market"
)

// TestParquetSchema checks what pandas, polars and DuckDB will see: the
// columns in schema order with their physical and logical types, the codec,
// the row groups and the metadata. Those readers decide a column's type
// from exactly these annotations, so a datetime column here is a datetime
// column there.
func TestParquetSchema(t *testing.T) {
	type col struct {
		name    string
		kind    parquet.Kind
		logical string // "" for none
		list    bool   // a LIST of it: name.list.element, the standard three levels
	}
	ts := col{"t", parquet.Int64, "TIMESTAMP(isAdjustedToUTC=true,unit=NANOS)", false}
	str := func(n string) col { return col{n, parquet.ByteArray, "STRING", false} }
	dbl := func(n string) col { return col{n, parquet.Double, "", false} }
	i64 := func(n string) col { return col{n, parquet.Int64, "INT(64,true)", false} } // signed 64-bit: int64 everywhere
	strs := func(n string) col { return col{n, parquet.ByteArray, "STRING", true} }
	cases := []struct {
		k    Kind
		cols []col
	}{
		{KindTrades, []col{str("symbol"), ts, i64("id"), str("exchange"), dbl("price"), i64("size"), strs("conditions"), str("tape")}},
		{KindQuotes, []col{str("symbol"), ts, str("bid_exchange"), dbl("bid_price"), i64("bid_size"),
			str("ask_exchange"), dbl("ask_price"), i64("ask_size"), strs("conditions"), str("tape")}},
		{KindBars, []col{str("symbol"), ts, dbl("open"), dbl("high"), dbl("low"), dbl("close"), i64("volume"), i64("trade_count"), dbl("vwap")}},
	}
	const n = 2*DefaultRowGroupRows + 1234
	for _, c := range cases {
		t.Run(c.k.String(), func(t *testing.T) {
			b := write(t, c.k, Parquet, false, sample(c.k, n, 3))
			f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			paths := f.Schema().Columns()
			if len(paths) != len(c.cols) {
				t.Fatalf("columns %v", paths)
			}
			for i, want := range c.cols {
				leaf, _ := f.Schema().Lookup(paths[i]...)
				typ := leaf.Node.Type()
				logical := ""
				if lt := typ.LogicalType(); lt != nil {
					logical = lt.String()
				}
				if paths[i][0] != want.name || typ.Kind() != want.kind || logical != want.logical ||
					leaf.Node.Optional() || leaf.Node.Repeated() {
					t.Errorf("column %d: %s %v %q optional=%v, want %s %v %q required", i, paths[i][0], typ.Kind(), logical,
						leaf.Node.Optional(), want.name, want.kind, want.logical)
				}
				// A list: a required LIST group holding a repeated group "list"
				// of required "element"s, as pyarrow writes it.
				var top parquet.Field
				for _, fl := range f.Schema().Fields() {
					if fl.Name() == paths[i][0] {
						top = fl
					}
				}
				isList := false
				if lt := top.Type().LogicalType(); lt != nil {
					_, isList = lt.Value.(*format.ListType)
				}
				if want.list != isList || want.list && (strings.Join(paths[i], ".") != want.name+".list.element" ||
					leaf.MaxRepetitionLevel != 1 || top.Optional()) {
					t.Errorf("column %d: %v, list %v (repetition %d), want list %v", i, paths[i], isList, leaf.MaxRepetitionLevel, want.list)
				}
				if want.name == "t" {
					tt, ok := typ.LogicalType().Value.(*format.TimestampType)
					if !ok || !tt.IsAdjustedToUTC {
						t.Errorf("t is not a UTC-adjusted timestamp: %v", typ.LogicalType())
					}
				}
			}
			md := f.Metadata()
			if len(md.RowGroups) != 3 || md.RowGroups[0].NumRows != DefaultRowGroupRows || md.RowGroups[2].NumRows != 1234 {
				var sizes []int64
				for _, rg := range md.RowGroups {
					sizes = append(sizes, rg.NumRows)
				}
				t.Errorf("row groups %v, want 64k, 64k, 1234", sizes)
			}
			for _, cc := range md.RowGroups[0].Columns {
				if cc.MetaData.Codec != format.Zstd {
					t.Errorf("column %v codec %v, want ZSTD", cc.MetaData.PathInSchema, cc.MetaData.Codec)
				}
			}
			if v, _ := f.Lookup(MetaKind); v != c.k.String() {
				t.Errorf("%s = %q", MetaKind, v)
			}
			if md.CreatedBy != "tape version dev" {
				t.Errorf("created_by %q", md.CreatedBy)
			}
		})
	}
}

// TestParquetGenericReader reads Tape's files with parquet-go's own typed
// reader, as any Go program would, independently of Tape's reader.
func TestParquetGenericReader(t *testing.T) {
	evs := sample(KindTrades, 3000, 4)
	b := write(t, KindTrades, Parquet, false, evs)
	r := parquet.NewGenericReader[Trade](bytes.NewReader(b))
	defer r.Close()
	rows := make([]Trade, len(evs)+1)
	n, err := r.Read(rows)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if n != len(evs) {
		t.Fatalf("read %d rows, want %d", n, len(evs))
	}
	lists := 0
	for i := range evs {
		got, want := rows[i], evs[i]
		codes := want.Trade.Conditions.Strings()
		if got.Symbol != want.Symbol || got.Time != want.Time || got.ID != want.Trade.ID || got.Price != want.Trade.Price ||
			got.Size != int64(want.Trade.Size) || got.Exchange != charStrings[want.Trade.Exchange] || got.Tape != charStrings[want.Trade.Tape] ||
			!slices.Equal(got.Conditions, codes) {
			t.Fatalf("row %d: %+v, want %+v (conditions %q)", i, got, want, codes)
		}
		if len(codes) > 1 {
			lists++
		}
	}
	if lists == 0 {
		t.Fatal("no row with several conditions: the sample does not test lists")
	}
	if got := rows[0].Time; time.Unix(0, got).UTC().Format(time.RFC3339Nano) != time.Unix(0, evs[0].Time).UTC().Format(time.RFC3339Nano) {
		t.Fatal("time")
	}
}

// foreignTrade is a trades file as pandas or polars might write it:
// microsecond timestamps, INT32 sizes, optional columns with nulls, another
// column order, an extra index column and a missing optional column (id).
type foreignTrade struct {
	Index  int64    `parquet:"__index_level_0__"`
	Price  float64  `parquet:"price"`
	Time   int64    `parquet:"timestamp,timestamp(microsecond:utc)"`
	Symbol string   `parquet:"Symbol"`
	Size   int32    `parquet:"size"`
	Exch   *string  `parquet:"exchange,optional"`
	Conds  *string  `parquet:"conditions,optional"`
	Extra  *float64 `parquet:"extra,optional"`
}

func TestParquetForeignSchema(t *testing.T) {
	q := "Q"
	c := "@,F"
	t0 := time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC)
	rows := []foreignTrade{
		{0, 10.5, t0.UnixMicro(), "aapl", 100, &q, &c, nil},
		{1, 10.25, t0.Add(time.Microsecond).UnixMicro(), "MSFT", 7, nil, nil, nil},
		{2, -1, t0.UnixMicro(), "MSFT", 7, nil, nil, nil}, // bad price
		{3, 1, t0.UnixMicro(), "", 7, nil, nil, nil},      // missing symbol
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[foreignTrade](&buf)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	w.Close()
	r, err := NewParquetReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), ReaderOptions{Name: "x.parquet"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind() != KindTrades {
		t.Fatalf("kind %v", r.Kind())
	}
	got, bad := readAll(t, r)
	want := []market.Event{
		{Kind: market.KindTrade, Symbol: "AAPL", Time: t0.UnixNano(), Trade: market.Trade{Price: 10.5, Size: 100, Exchange: 'Q', Conditions: market.Conditions{'@', 'F'}}},
		{Kind: market.KindTrade, Symbol: "MSFT", Time: t0.UnixNano() + 1000, Trade: market.Trade{Price: 10.25, Size: 7}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if len(bad) != 2 || bad[0].Reason != ReasonPrice || bad[0].Pos() != "x.parquet:row 3" ||
		bad[1].Reason != ReasonMissing || bad[1].Column != "symbol" || bad[1].Pos() != "x.parquet:row 4" {
		t.Fatalf("bad rows: %v", bad)
	}
}

func TestParquetRefusesWrongTypes(t *testing.T) {
	type wrong struct {
		Symbol int64   `parquet:"symbol"`
		Time   int64   `parquet:"t,timestamp(nanosecond)"`
		Price  float64 `parquet:"price"`
		Size   int64   `parquet:"size"`
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[wrong](&buf)
	w.Write([]wrong{{1, 1, 1, 1}})
	w.Close()
	_, err := NewParquetReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), ReaderOptions{Name: "w.parquet"})
	if err == nil || !strings.Contains(err.Error(), "column symbol") {
		t.Fatalf("got %v", err)
	}
	_, err = NewParquetReader(bytes.NewReader([]byte("not parquet at all")), 18, ReaderOptions{})
	if err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestInt96(t *testing.T) {
	// 2026-11-24T14:30:00.000000123Z: Julian day 2461369, 52200 s + 123 ns into the day.
	ns := uint64(52200*1e9 + 123)
	i := deprecated.Int96{uint32(ns), uint32(ns >> 32), 2461369}
	want := time.Date(2026, 11, 24, 14, 30, 0, 123, time.UTC).UnixNano()
	if got := int96Nanos(i); got != want {
		t.Fatalf("%v, want %v", time.Unix(0, got).UTC(), time.Unix(0, want).UTC())
	}
}

func TestKindMismatch(t *testing.T) {
	b := write(t, KindQuotes, Parquet, false, sample(KindQuotes, 3, 1))
	_, err := NewParquetReader(bytes.NewReader(b), int64(len(b)), ReaderOptions{Kind: KindTrades, Name: "q.parquet"})
	if err == nil || !strings.Contains(err.Error(), "holds quotes, not trades") {
		t.Fatalf("got %v", err)
	}
	var re *RowError
	_ = errors.As(err, &re)
}

// oldTrade is a trades row as Tape wrote it before conditions became a
// list: the codes in one space-separated STRING.
type oldTrade struct {
	Symbol     string  `parquet:"symbol,dict"`
	Time       int64   `parquet:"t,timestamp(nanosecond:utc)"`
	ID         int64   `parquet:"id"`
	Exchange   string  `parquet:"exchange,dict"`
	Price      float64 `parquet:"price"`
	Size       int64   `parquet:"size"`
	Conditions string  `parquet:"conditions,dict"`
	Tape       string  `parquet:"tape,dict"`
}

// TestParquetConditions: conditions are read from a list (one code per
// element, the space code included) and from the space-separated string of
// older files; a list element that is not one code is a bad row.
func TestParquetConditions(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC).UnixNano()
	evs := sample(KindTrades, 500, 7)
	t.Run("list", func(t *testing.T) {
		b := write(t, KindTrades, Parquet, false, evs)
		r, err := NewParquetReader(bytes.NewReader(b), int64(len(b)), ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, bad := readAll(t, r)
		if len(bad) != 0 || !reflect.DeepEqual(got, evs) {
			t.Fatalf("%d bad rows; events differ: %v", len(bad), firstDiff(got, evs))
		}
	})
	t.Run("string, as Tape wrote before", func(t *testing.T) {
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[oldTrade](&buf, parquet.KeyValueMetadata(MetaKind, "trades"))
		w.Write([]oldTrade{{"AAPL", t0, 1, "Q", 10, 100, "@ F I", "C"}, {"AAPL", t0, 2, "Q", 10, 100, "  @", "C"}, {"AAPL", t0, 3, "Q", 10, 100, "", "C"}})
		w.Close()
		r, err := NewParquetReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, bad := readAll(t, r)
		want := []market.Conditions{{'@', 'F', 'I'}, {' ', '@'}, {}}
		if len(bad) != 0 || len(got) != 3 {
			t.Fatalf("%d rows, bad %v", len(got), bad)
		}
		for i := range got {
			if got[i].Trade.Conditions != want[i] {
				t.Errorf("row %d: conditions %q, want %q", i, got[i].Trade.Conditions.Strings(), want[i].Strings())
			}
		}
	})
	t.Run("bad elements", func(t *testing.T) {
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[Trade](&buf)
		w.Write([]Trade{
			{Symbol: "AAPL", Time: t0, Price: 10, Size: 1, Conditions: []string{"@", "FI"}},
			{Symbol: "AAPL", Time: t0, Price: 10, Size: 1, Conditions: []string{"@", "F", "I", "T", "Z"}},
			{Symbol: "AAPL", Time: t0, Price: 10, Size: 1, Conditions: []string{" ", "@"}},
		})
		w.Close()
		r, err := NewParquetReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), ReaderOptions{Name: "c.parquet"})
		if err != nil {
			t.Fatal(err)
		}
		got, bad := readAll(t, r)
		if len(bad) != 2 || bad[0].Reason != ReasonCode || bad[1].Reason != ReasonCode || !strings.Contains(bad[1].Error(), "more than 4") {
			t.Fatalf("bad rows %v", bad)
		}
		if len(got) != 1 || got[0].Trade.Conditions != (market.Conditions{' ', '@'}) {
			t.Fatalf("got %+v", got)
		}
	})
}

// firstDiff describes the first event where a and b differ.
func firstDiff(a, b []market.Event) string {
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			return fmt.Sprintf("event %d: %+v, want %+v", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("%d events, want %d", len(a), len(b))
}

func TestCreatedBy(t *testing.T) {
	for _, c := range []struct {
		o    WriterOptions
		want string
	}{
		{WriterOptions{}, "tape version dev"},
		{WriterOptions{Version: "v0.4.0"}, "tape version v0.4.0"},
		{WriterOptions{Version: "v0.4.0-3-g1a2b3c4", Build: "1a2b3c4d5e6f"}, "tape version v0.4.0-3-g1a2b3c4 (build 1a2b3c4d5e6f)"},
	} {
		if got := c.o.CreatedBy(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.o, got, c.want)
		}
	}
}
