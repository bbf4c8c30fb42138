package tickfile

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/tapehq/tape/internal/market"
)

// DefaultRowGroupRows is the rows per Parquet row group. 64k rows keep a
// row group of trades at about 1-2 MB compressed, so the writer buffers a
// few MB whatever the export's length, and readers can skip by row group
// statistics (DuckDB filters on t and symbol use them), while staying
// large enough that per-group overhead is negligible.
const DefaultRowGroupRows = 64 << 10

// Parquet metadata keys Tape writes, so an import knows what a file holds
// without guessing from its columns.
const (
	MetaKind      = "tape.kind"      // trades, quotes or bars
	MetaTimeframe = "tape.timeframe" // bars: the timeframe, e.g. 1Min
)

// WriterOptions configures a Writer.
type WriterOptions struct {
	Format Format // CSV or Parquet; required
	Kind   Kind   // required
	// Timeframe of bars ("1Min"); recorded in Parquet metadata.
	Timeframe string
	// Gzip compresses CSV output (a .csv.gz file).
	Gzip bool
	// Compression is the Parquet codec: "zstd" (default), "snappy" or
	// "none". See docs/tickfile.md for the measurements behind the default.
	Compression string
	// RowGroupRows; default DefaultRowGroupRows.
	RowGroupRows int
	// Version and Build (a commit) go into the Parquet created_by field,
	// in the form the format specifies and readers parse:
	// "tape version v0.4.0 (build 1a2b3c4d5e6f)". Default version "dev".
	Version, Build string
}

// createdBy sets created_by as is: parquet.CreatedBy writes
// "tape version X(build )", without the space and with an empty build.
type createdBy string

func (c createdBy) ConfigureWriter(cfg *parquet.WriterConfig) { cfg.CreatedBy = string(c) }

// CreatedBy is the created_by of a file written with these options.
func (opts *WriterOptions) CreatedBy() string {
	v := opts.Version
	if v == "" {
		v = "dev"
	}
	s := "tape version " + v
	if opts.Build != "" {
		s += " (build " + opts.Build + ")"
	}
	return s
}

// Writer writes events as rows of one kind, in CSV or Parquet. It streams:
// memory is one Parquet row group (or a 64 KiB CSV buffer) whatever the
// number of rows. Close must be called to complete the file.
type Writer struct {
	kind   Kind
	format Format

	// CSV
	bw  *bufio.Writer
	gz  *gzip.Writer
	buf []byte

	// Parquet
	pq    rowSink
	conds condCache

	rows   int64
	closed bool
}

// rowSink is a Parquet writer of one row type.
type rowSink interface {
	write(evs []market.Event) error
	close() error
}

// NewWriter returns a Writer of opts.Kind rows to w. It does not close w.
func NewWriter(w io.Writer, opts WriterOptions) (*Writer, error) {
	if opts.Kind.fields() == nil {
		return nil, errors.New("tickfile: writer needs a kind")
	}
	wr := &Writer{kind: opts.Kind, format: opts.Format, conds: condCache{}}
	switch opts.Format {
	case CSV:
		if opts.Gzip {
			// BestSpeed: a CSV of ticks compresses about 4:1 either way, and
			// the default level costs several times the CPU for a few
			// percent.
			wr.gz, _ = gzip.NewWriterLevel(w, gzip.BestSpeed) // a valid level: no error
			w = wr.gz
		}
		wr.bw = bufio.NewWriterSize(w, 64<<10)
		wr.buf = make([]byte, 0, 256)
		for i, c := range opts.Kind.Columns() {
			if i > 0 {
				wr.bw.WriteByte(',')
			}
			wr.bw.WriteString(c)
		}
		wr.bw.WriteByte('\n')
	case Parquet:
		codec, err := codecOf(opts.Compression)
		if err != nil {
			return nil, err
		}
		groups := int64(opts.RowGroupRows)
		if groups <= 0 {
			groups = DefaultRowGroupRows
		}
		po := []parquet.WriterOption{
			parquet.Compression(codec),
			parquet.MaxRowsPerRowGroup(groups),
			// Data page v1: what pyarrow and DuckDB write by default, so the
			// oldest readers of either take the file. v2 pages gain nothing
			// measurable here (tested: the same size within 0.1%).
			parquet.DataPageVersion(1),
			createdBy(opts.CreatedBy()),
			parquet.KeyValueMetadata(MetaKind, opts.Kind.String()),
		}
		if opts.Kind == KindBars && opts.Timeframe != "" {
			po = append(po, parquet.KeyValueMetadata(MetaTimeframe, opts.Timeframe))
		}
		switch opts.Kind {
		case KindTrades:
			wr.pq = newSink(w, po, wr.conds.trade)
		case KindQuotes:
			wr.pq = newSink(w, po, wr.conds.quote)
		case KindBars:
			wr.pq = newSink(w, po, barRow)
		}
	default:
		return nil, errors.New("tickfile: writer needs a format (csv or parquet)")
	}
	return wr, nil
}

func codecOf(name string) (compress.Codec, error) {
	switch name {
	case "", "zstd":
		// SpeedFastest (zstd level 1): on tick data it was both faster and
		// 3% smaller than the default level (measured on 500k simulator
		// trades); see docs/tickfile.md for the codec choice.
		return &zstd.Codec{Level: zstd.SpeedFastest}, nil
	case "snappy":
		return &snappy.Codec{}, nil
	case "none":
		return &uncompressed.Codec{}, nil
	}
	return nil, fmt.Errorf("tickfile: unknown compression %q: want zstd, snappy or none", name)
}

// Rows returns the rows written so far.
func (w *Writer) Rows() int64 { return w.rows }

// Write writes events as rows. Every event must be of the writer's kind
// (trades: KindTrade; quotes: KindQuote; bars: any bar kind).
func (w *Writer) Write(evs []market.Event) error {
	if w.closed {
		return errors.New("tickfile: write after close")
	}
	for i := range evs {
		if !w.kind.accepts(evs[i].Kind) {
			return fmt.Errorf("tickfile: a %v event in a %v file", evs[i].Kind, w.kind)
		}
	}
	if w.pq != nil {
		if err := w.pq.write(evs); err != nil {
			return err
		}
		w.rows += int64(len(evs))
		return nil
	}
	for i := range evs {
		w.buf = w.appendCSV(w.buf[:0], &evs[i])
		if _, err := w.bw.Write(w.buf); err != nil {
			return err
		}
	}
	w.rows += int64(len(evs))
	return nil
}

func (k Kind) accepts(e market.Kind) bool {
	switch k {
	case KindTrades:
		return e == market.KindTrade
	case KindQuotes:
		return e == market.KindQuote
	case KindBars:
		return e == market.KindBar || e == market.KindUpdatedBar || e == market.KindDailyBar
	}
	return false
}

// Close completes the file: the last row group and the footer (Parquet),
// the buffered rows and the gzip trailer (CSV). It does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.pq != nil {
		return w.pq.close()
	}
	err := w.bw.Flush()
	if w.gz != nil {
		if cerr := w.gz.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// appendCSV appends e as one CSV line.
func (w *Writer) appendCSV(b []byte, e *market.Event) []byte {
	b = appendField(b, e.Symbol)
	b = append(b, ',')
	b = appendTime(b, e.Time)
	switch w.kind {
	case KindTrades:
		t := &e.Trade
		b = append(b, ',')
		b = strconv.AppendInt(b, t.ID, 10)
		b = append(b, ',')
		b = appendCharField(b, t.Exchange)
		b = append(b, ',')
		b = appendFloat(b, t.Price)
		b = append(b, ',')
		b = strconv.AppendUint(b, uint64(t.Size), 10)
		b = append(b, ',')
		b = appendCondsField(b, &t.Conditions)
		b = append(b, ',')
		b = appendCharField(b, t.Tape)
	case KindQuotes:
		q := &e.Quote
		b = append(b, ',')
		b = appendCharField(b, q.BidExchange)
		b = append(b, ',')
		b = appendFloat(b, q.BidPrice)
		b = append(b, ',')
		b = strconv.AppendUint(b, uint64(q.BidSize), 10)
		b = append(b, ',')
		b = appendCharField(b, q.AskExchange)
		b = append(b, ',')
		b = appendFloat(b, q.AskPrice)
		b = append(b, ',')
		b = strconv.AppendUint(b, uint64(q.AskSize), 10)
		b = append(b, ',')
		b = appendCondsField(b, &q.Conditions)
		b = append(b, ',')
		b = appendCharField(b, q.Tape)
	case KindBars:
		r := &e.Bar
		b = append(b, ',')
		b = appendFloat(b, r.Open)
		b = append(b, ',')
		b = appendFloat(b, r.High)
		b = append(b, ',')
		b = appendFloat(b, r.Low)
		b = append(b, ',')
		b = appendFloat(b, r.Close)
		b = append(b, ',')
		b = strconv.AppendUint(b, r.Volume, 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, r.TradeCount, 10)
		b = append(b, ',')
		b = appendFloat(b, r.VWAP)
	}
	return append(b, '\n')
}

// appendFloat writes the shortest decimal that reads back as f exactly, in
// plain notation (no exponent, which some CSV readers take for a string).
func appendFloat(b []byte, f float64) []byte { return strconv.AppendFloat(b, f, 'f', -1, 64) }

// needsQuotes reports whether a CSV field must be quoted: it holds a
// separator, a quote or a line break, or starts or ends with a space that
// a reader trimming spaces would lose.
func needsQuotes(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return true
	}
	for _, c := range s {
		if c == ',' || c == '"' || c == '\n' || c == '\r' {
			return true
		}
	}
	return false
}

func appendQuoted(b []byte, s []byte) []byte {
	if !needsQuotes(s) {
		return append(b, s...)
	}
	b = append(b, '"')
	for _, c := range s {
		if c == '"' {
			b = append(b, '"')
		}
		b = append(b, c)
	}
	return append(b, '"')
}

func appendField(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ',' || c == '"' || c == '\n' || c == '\r' || c == ' ' {
			return appendQuoted(b, []byte(s))
		}
	}
	return append(b, s...)
}

func appendCharField(b []byte, c byte) []byte {
	if c == 0 {
		return b
	}
	return appendQuoted(b, []byte{c})
}

func appendCondsField(b []byte, c *market.Conditions) []byte {
	var tmp [8]byte
	return appendQuoted(b, appendConds(tmp[:0], c))
}

// sink writes events as rows of type T to a Parquet writer, converting a
// batch at a time into a reused slice.
type sink[T any] struct {
	w    *parquet.GenericWriter[T]
	rows []T
	fill func(*market.Event, *T)
}

func newSink[T any](w io.Writer, opts []parquet.WriterOption, fill func(*market.Event, *T)) *sink[T] {
	return &sink[T]{w: parquet.NewGenericWriter[T](w, opts...), fill: fill}
}

func (s *sink[T]) write(evs []market.Event) error {
	for len(evs) > 0 {
		n := min(len(evs), 4096)
		if cap(s.rows) < n {
			s.rows = make([]T, 4096)
		}
		rows := s.rows[:n]
		for i := range rows {
			s.fill(&evs[i], &rows[i])
		}
		if _, err := s.w.Write(rows); err != nil {
			return err
		}
		evs = evs[n:]
	}
	return nil
}

func (s *sink[T]) close() error { return s.w.Close() }
