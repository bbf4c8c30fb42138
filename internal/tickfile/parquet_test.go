package tickfile

import (
	"bytes"
	"errors"
	"io"
	"reflect"
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
	}
	ts := col{"t", parquet.Int64, "TIMESTAMP(isAdjustedToUTC=true,unit=NANOS)"}
	str := func(n string) col { return col{n, parquet.ByteArray, "STRING"} }
	dbl := func(n string) col { return col{n, parquet.Double, ""} }
	i64 := func(n string) col { return col{n, parquet.Int64, "INT(64,true)"} } // signed 64-bit: int64 everywhere
	cases := []struct {
		k    Kind
		cols []col
	}{
		{KindTrades, []col{str("symbol"), ts, i64("id"), str("exchange"), dbl("price"), i64("size"), str("conditions"), str("tape")}},
		{KindQuotes, []col{str("symbol"), ts, str("bid_exchange"), dbl("bid_price"), i64("bid_size"),
			str("ask_exchange"), dbl("ask_price"), i64("ask_size"), str("conditions"), str("tape")}},
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
			if !strings.HasPrefix(md.CreatedBy, "tape version") {
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
	cc := condCache{}
	for i := range evs {
		var want Trade
		cc.trade(&evs[i], &want)
		if rows[i] != want {
			t.Fatalf("row %d: %+v, want %+v", i, rows[i], want)
		}
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
