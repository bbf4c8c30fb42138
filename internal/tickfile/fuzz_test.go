package tickfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	lz4c "github.com/parquet-go/parquet-go/compress/lz4"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/tapehq/tape/internal/market"
)

// checkFuzzed reads everything r gives and checks that every event it
// accepts is one the validation promises (a symbol, a positive finite
// price, at most four conditions), whatever the bytes were.
func checkFuzzed(t *testing.T, r *Reader) {
	for range 100_000 {
		var e market.Event
		err := r.Next(&e)
		var re *RowError
		switch {
		case err == io.EOF:
			return
		case errors.As(err, &re):
			continue
		case err != nil:
			return // the file is broken: an error, not a panic
		}
		if _, ok := canonicalSymbol(e.Symbol); !ok || e.Symbol == "" {
			t.Fatalf("accepted symbol %q", e.Symbol)
		}
		switch e.Kind {
		case market.KindTrade:
			if !(e.Trade.Price > 0) || math.IsInf(e.Trade.Price, 0) {
				t.Fatalf("accepted trade price %v", e.Trade.Price)
			}
		case market.KindQuote:
			if math.IsNaN(e.Quote.BidPrice) || math.IsNaN(e.Quote.AskPrice) {
				t.Fatalf("accepted quote %+v", e.Quote)
			}
		}
	}
}

// FuzzReadParquet: no Parquet file, however broken, panics the reader or
// gets a row past validation. Seeded with Tape's files of every kind
// (conditions as a list) and one of the older string layout.
func FuzzReadParquet(f *testing.F) {
	for _, k := range []Kind{KindTrades, KindQuotes, KindBars} {
		f.Add(write(f, k, Parquet, false, sample(k, 20, 1)))
	}
	var old bytes.Buffer
	w := parquet.NewGenericWriter[oldTrade](&old)
	w.Write([]oldTrade{{"AAPL", day0, 1, "Q", 10, 100, "@ F I", "C"}, {"MSFT", day0, 2, "", 10, 1, "  @", "C"}})
	w.Close()
	f.Add(old.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewParquetReader(bytes.NewReader(b), int64(len(b)), ReaderOptions{})
		if err != nil {
			return
		}
		checkFuzzed(t, r)
	})
}

// FuzzReadCSV: the same for CSV, seeded with Tape's files.
func FuzzReadCSV(f *testing.F) {
	for _, k := range []Kind{KindTrades, KindQuotes, KindBars} {
		f.Add(write(f, k, CSV, false, sample(k, 20, 2)))
	}
	f.Add([]byte("symbol,t,price,size,conditions\nAAPL,2026-11-24T14:30:00Z,1.5,100,\"  @\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewCSVReader(bytes.NewReader(b), ReaderOptions{})
		if err != nil {
			return
		}
		checkFuzzed(t, r)
	})
}

// TestParquetHostileSizes: sizes a corrupt file claims are checked before
// parquet-go allocates them, so a few KB cannot cost gigabytes (each of
// these took 1 to 32 GB, or never ended, before the checks).
func TestParquetHostileSizes(t *testing.T) {
	good := write(t, KindTrades, Parquet, false, sample(KindTrades, 50, 1))
	f, err := parquet.OpenFile(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	cc := f.Metadata().RowGroups[0].Columns[1].MetaData // t: no dictionary page
	var proto thrift.CompactProtocol
	pageHeader := func(b []byte) (format.PageHeader, int) {
		var h format.PageHeader
		pr := proto.NewReaderFromBytes(b[cc.DataPageOffset:])
		if err := thrift.NewDecoder(pr).Decode(&h); err != nil {
			t.Fatal(err)
		}
		return h, pr.BytesRead()
	}
	rewriteHeader := func(b []byte, mod func(*format.PageHeader)) []byte {
		h, n := pageHeader(b)
		mod(&h)
		nh, err := thrift.Marshal(&proto, &h)
		if err != nil {
			t.Fatal(err)
		}
		// Spliced in: the footer, read from the end, is unchanged; the
		// page's header is checked before its size against the chunk.
		return slices.Concat(b[:cc.DataPageOffset], nh, b[cc.DataPageOffset+int64(n):])
	}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"a footer longer than the file", func() []byte {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint32(b[len(b)-8:], 0xfffffff0)
			return b
		}(), "footer claims"},
		{"a page past its column chunk", rewriteHeader(good, func(h *format.PageHeader) { h.CompressedPageSize += 1 << 20 }), "past its column chunk"},
		{"a page of 64M values", rewriteHeader(good, func(h *format.PageHeader) { h.DataPageHeader.V.NumValues = 1 << 30 }), "values (at most"},
		{"a page of 2 GB", rewriteHeader(good, func(h *format.PageHeader) { h.UncompressedPageSize = 1<<31 - 1 }), "uncompressed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewParquetReader(bytes.NewReader(c.b), int64(len(c.b)), ReaderOptions{Name: "x.parquet"})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "x.parquet: not a readable Parquet file") {
				t.Fatalf("got %v, want an error about %q", err, c.want)
			}
		})
	}

	// LZ4_RAW: parquet-go's decoder doubles its buffer until a page
	// decodes; a page that never does must be refused first.
	for _, version := range []int{1, 2} {
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[Trade](&buf, parquet.Compression(&lz4c.Codec{}), parquet.DataPageVersion(version))
		rows := make([]Trade, 50)
		cache := condCache{}
		for i, e := range sample(KindTrades, 50, 2) {
			cache.trade(&e, &rows[i])
		}
		w.Write(rows)
		w.Close()
		b := buf.Bytes()
		r, err := NewParquetReader(bytes.NewReader(b), int64(len(b)), ReaderOptions{})
		if err != nil {
			t.Fatalf("a good LZ4 file (v%d pages): %v", version, err)
		}
		if got, bad := readAll(t, r); len(got) != 50 || len(bad) != 0 {
			t.Fatalf("a good LZ4 file (v%d pages): %d rows, %d bad", version, len(got), len(bad))
		}
		f, err = parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		cc = f.Metadata().RowGroups[0].Columns[1].MetaData
		h, n := pageHeader(b)
		payload := b[cc.DataPageOffset+int64(n):][:h.CompressedPageSize]
		clear(payload) // a match at offset 0: not LZ4
		_, err = NewParquetReader(bytes.NewReader(b), int64(len(b)), ReaderOptions{})
		if err == nil || !strings.Contains(err.Error(), "LZ4 data that does not decompress") {
			t.Fatalf("a corrupt LZ4 page (v%d): %v", version, err)
		}
	}
}
