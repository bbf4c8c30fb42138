package tickfile

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/tapehq/tape/internal/market"
)

// Reasons a row is refused or warned about, as RowError.Reason. A summary
// counts rows by reason; Detail says what exactly was wrong.
const (
	ReasonSymbol  = "bad symbol"
	ReasonTime    = "bad time"
	ReasonNumber  = "bad number"
	ReasonMissing = "missing value"
	ReasonColumns = "missing column"
	ReasonExtra   = "extra column"
	ReasonPrice   = "bad price"
	ReasonSize    = "bad size"
	ReasonCode    = "bad code"
	ReasonBar     = "inconsistent bar"
	ReasonCSV     = "malformed CSV"
	// WarnCrossed is a warning, not a refusal: a quote whose bid is above
	// its ask happens on real feeds for a moment (a crossed market).
	WarnCrossed = "crossed quote"
)

// RowError is a row that cannot be imported (or, passed to
// ReaderOptions.OnWarning, one that is imported but looks wrong).
type RowError struct {
	File   string // the file's name
	Line   int64  // CSV: the line (the header is line 1); Parquet: the row, from 1
	Row    bool   // Line counts Parquet rows rather than lines
	Column string // the column at fault; "" for the whole row
	Reason string // one of the Reason constants
	Detail string
}

// Pos is where the row is: "trades.csv:12" or "trades.parquet:row 12".
func (e *RowError) Pos() string {
	if e.Row {
		return fmt.Sprintf("%s:row %d", e.File, e.Line)
	}
	return fmt.Sprintf("%s:%d", e.File, e.Line)
}

func (e *RowError) Error() string {
	s := e.Pos() + ": "
	if e.Column != "" {
		s += e.Column + ": "
	}
	return s + e.Detail
}

// ReaderOptions configures a Reader.
type ReaderOptions struct {
	// Kind the file must hold; KindInvalid tells it from the Parquet
	// metadata Tape writes or else from the columns.
	Kind Kind
	// Name is used in errors; default the path (OpenFile) or "input".
	Name string
	// Symbol is the symbol of every row of a file without a symbol column.
	Symbol string
	// OnWarning, if set, receives rows that are imported but look wrong
	// (crossed quotes).
	OnWarning func(*RowError)
}

// Reader reads rows of one kind from a CSV or Parquet file and validates
// them into events. Next returns a *RowError for a bad row and can be
// called again for the next one; any other error ends the file.
type Reader struct {
	kind   Kind
	name   string
	fields []field
	meta   map[string]string
	warn   func(*RowError)
	symbol string // from ReaderOptions.Symbol, canonical
	check  func(*market.Event) (reason, detail string)

	csv      *csvSource
	pq       *pqSource
	closer   io.Closer
	file     *countingFile // CSV from OpenFile: the bytes read, for Progress
	fileSize int64         // and the file's size

	in   market.Interner
	vals [maxFields]value
}

// value is one parsed cell, in the slot its field type uses.
type value struct {
	s     string // symbol
	i     int64  // time, int, char
	f     float64
	c     market.Conditions
	valid bool // the cell was present and not empty
}

// OpenFile opens a CSV (.csv, .csv.gz) or Parquet (.parquet, .pq) file,
// telling the format by the extension.
func OpenFile(path string, opts ReaderOptions) (*Reader, error) {
	format, gz, ok := FormatOf(path)
	if !ok {
		return nil, fmt.Errorf("%s: unknown file type: want .csv, .csv.gz or .parquet", path)
	}
	if opts.Name == "" {
		opts.Name = path
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var r *Reader
	if format == Parquet {
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		r, err = NewParquetReader(f, st.Size(), opts)
		if err != nil {
			f.Close()
			return nil, err
		}
	} else {
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		cf := &countingFile{f: f}
		var in io.Reader = cf
		if gz {
			zr, err := gzip.NewReader(bufio.NewReaderSize(cf, 64<<10))
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			in = zr
		}
		r, err = NewCSVReader(in, opts)
		if err != nil {
			f.Close()
			return nil, err
		}
		r.file, r.fileSize = cf, st.Size()
	}
	r.closer = f
	return r, nil
}

// countingFile counts the bytes read from a file, for Progress.
type countingFile struct {
	f io.Reader
	n int64
}

func (c *countingFile) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.n += int64(n)
	return n, err
}

// Progress reports how far reading has got, for a progress bar: for a
// CSV file opened with OpenFile, the bytes of the file read so far (the
// compressed bytes of a .csv.gz, a buffer ahead of the rows returned) and
// its size, with inBytes true; for Parquet, the rows read and the rows in
// the file. total is -1 when it is not known (CSV from a stream).
func (r *Reader) Progress() (done, total int64, inBytes bool) {
	switch {
	case r.pq != nil:
		return r.pq.row, r.pq.total, false
	case r.file != nil:
		return r.file.n, r.fileSize, true
	}
	return 0, -1, true
}

// Kind returns what the file holds.
func (r *Reader) Kind() Kind { return r.kind }

// Rows returns the number of rows in the file if it is known before
// reading (Parquet), else -1.
func (r *Reader) Rows() int64 {
	if r.pq != nil {
		return r.pq.total
	}
	return -1
}

// Meta returns a key of the file's metadata (Parquet only; see MetaKind).
func (r *Reader) Meta(key string) string { return r.meta[key] }

// Close closes the file OpenFile opened.
func (r *Reader) Close() error {
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// setup resolves the kind and maps the file's columns to the kind's
// fields. names are the file's column names (canonicalised); it returns,
// for each of the kind's fields, the column index holding it or -1.
func (r *Reader) setup(opts ReaderOptions, names []string) ([]int, error) {
	kind := opts.Kind
	if mk := r.meta[MetaKind]; mk != "" {
		fk, err := ParseKind(mk)
		if err == nil && kind != KindInvalid && fk != kind {
			return nil, fmt.Errorf("%s holds %v, not %v", r.name, fk, kind)
		}
		if kind == KindInvalid {
			kind = fk
		}
	}
	if kind == KindInvalid {
		kind = kindOfColumns(names)
	}
	if kind == KindInvalid {
		return nil, fmt.Errorf("%s: cannot tell trades, quotes or bars from the columns (%s): "+
			"a trades file has a price column, quotes bid_price and ask_price, bars open/high/low/close; or pass --kind",
			r.name, strings.Join(names, ","))
	}
	r.kind = kind
	r.fields = kind.fields()
	cols := make([]int, len(r.fields))
	var missing []string
	for fi, f := range r.fields {
		cols[fi] = slices.Index(names, f.name)
		if cols[fi] < 0 && f.required && !(fi == 0 && r.symbol != "") {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		var need []string
		for _, f := range r.fields {
			if f.required {
				need = append(need, f.name)
			}
		}
		hint := ""
		if slices.Contains(missing, "symbol") {
			hint = " (or give the symbol of a one-symbol file with --symbol)"
		}
		return nil, fmt.Errorf("%s: no %s column%s: a %v file needs %s%s; its columns are %s",
			r.name, strings.Join(missing, ", "), plural(len(missing)), kind, strings.Join(need, ", "), hint,
			strings.Join(names, ","))
	}
	return cols, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// canonicalColumn normalises a column name: trimmed, lower case, aliases
// resolved.
func canonicalColumn(s string) string {
	s = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(s, "\ufeff")))
	if a, ok := columnAliases[s]; ok {
		return a
	}
	return s
}

func newReader(opts ReaderOptions, defName string) (*Reader, error) {
	r := &Reader{name: opts.Name, warn: opts.OnWarning}
	if r.name == "" {
		r.name = defName
	}
	if opts.Symbol != "" {
		s, ok := canonicalSymbol(opts.Symbol)
		if !ok {
			return nil, fmt.Errorf("%q is not a symbol", opts.Symbol)
		}
		r.symbol = s
	}
	return r, nil
}

// SetCheck adds a check of each row after validation: a non-empty reason
// refuses the row with a *RowError of that reason and detail. An import
// uses it for what depends on more than the row (a bar's time against the
// timeframe).
func (r *Reader) SetCheck(check func(e *market.Event) (reason, detail string)) { r.check = check }

// Next reads the next valid row into e (Seq 0). It returns io.EOF at the
// end, a *RowError for a row it refuses (call Next again to go on), and
// any other error when the file cannot be read further.
func (r *Reader) Next(e *market.Event) error {
	var err error
	if r.csv != nil {
		err = r.nextCSV(e)
	} else {
		err = r.nextParquet(e)
	}
	if err == nil && r.check != nil {
		if reason, detail := r.check(e); reason != "" {
			return r.rowError(-1, reason, detail)
		}
	}
	return err
}

// rowError builds the error of the current row.
func (r *Reader) rowError(fi int, reason, detail string) *RowError {
	re := &RowError{File: r.name, Reason: reason, Detail: detail}
	if fi >= 0 {
		re.Column = r.fields[fi].name
	}
	if r.csv != nil {
		re.Line = r.csv.line
	} else {
		re.Line, re.Row = r.pq.row, true
	}
	return re
}

// parseCell parses a CSV cell into field fi's slot.
func (r *Reader) parseCell(fi int, s string) *RowError {
	v := &r.vals[fi]
	f := &r.fields[fi]
	if s == "" {
		if f.required && !(fi == 0 && r.symbol != "") {
			return r.rowError(fi, ReasonMissing, "empty")
		}
		*v = value{}
		return nil
	}
	v.valid = true
	switch f.typ {
	case ftSymbol:
		sym, ok := canonicalSymbol(strings.TrimSpace(s))
		if !ok {
			return r.rowError(fi, ReasonSymbol, fmt.Sprintf("%q is not a symbol (letters and digits, . - / between them, at most 16)", clip(s)))
		}
		v.s = r.in.Intern([]byte(sym))
	case ftTime:
		t, err := parseTime(strings.TrimSpace(s))
		if err != nil {
			return r.rowError(fi, ReasonTime, fmt.Sprintf("%q: %v", clip(s), err))
		}
		v.i = t
	case ftFloat:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return r.rowError(fi, ReasonNumber, fmt.Sprintf("%q is not a number", clip(s)))
		}
		v.f = x
	case ftInt:
		s = strings.TrimSpace(s)
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			// pandas writes an integer column that had a missing value as
			// floats ("100.0"): accept integral floats.
			x, ferr := strconv.ParseFloat(s, 64)
			if ferr != nil || x != math.Trunc(x) || math.Abs(x) > 1<<53 {
				return r.rowError(fi, ReasonNumber, fmt.Sprintf("%q is not an integer", clip(s)))
			}
			n = int64(x)
		}
		v.i = n
	case ftChar:
		c, err := parseChar(s)
		if err != nil {
			return r.rowError(fi, ReasonCode, fmt.Sprintf("%q: %v", clip(s), err))
		}
		v.i = int64(c)
	case ftConds:
		c, err := parseConds(s)
		if err != nil {
			return r.rowError(fi, ReasonCode, fmt.Sprintf("%q: %v", clip(s), err))
		}
		v.c = c
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// build validates the parsed row and fills e.
func (r *Reader) build(e *market.Event) error {
	v := &r.vals
	*e = market.Event{Symbol: v[0].s, Time: v[1].i}
	if !v[0].valid {
		e.Symbol = r.symbol
	}
	if e.Time <= 0 {
		return r.rowError(1, ReasonTime, "at or before 1970-01-01T00:00:00Z (a missing time?)")
	}
	switch r.kind {
	case KindTrades:
		e.Kind = market.KindTrade
		t := &e.Trade
		t.ID, t.Exchange, t.Tape, t.Conditions = v[tID].i, byte(v[tExchange].i), byte(v[tTape].i), v[tConditions].c
		if err := r.positive(tPrice, &t.Price); err != nil {
			return err
		}
		if err := r.size(tSize, &t.Size); err != nil {
			return err
		}
	case KindQuotes:
		e.Kind = market.KindQuote
		q := &e.Quote
		q.BidExchange, q.AskExchange, q.Tape, q.Conditions = byte(v[qBidExchange].i), byte(v[qAskExchange].i), byte(v[qTape].i), v[qConditions].c
		for _, p := range []struct {
			fi  int
			dst *float64
		}{{qBidPrice, &q.BidPrice}, {qAskPrice, &q.AskPrice}} {
			x := v[p.fi].f
			if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
				return r.rowError(p.fi, ReasonPrice, fmt.Sprintf("%v: must be zero (no quote on that side) or positive", x))
			}
			*p.dst = x
		}
		if q.BidPrice == 0 && q.AskPrice == 0 {
			return r.rowError(-1, ReasonPrice, "bid_price and ask_price are both zero")
		}
		if err := r.size(qBidSize, &q.BidSize); err != nil {
			return err
		}
		if err := r.size(qAskSize, &q.AskSize); err != nil {
			return err
		}
		if q.BidPrice > q.AskPrice && q.AskPrice > 0 && r.warn != nil {
			r.warn(r.rowError(-1, WarnCrossed, fmt.Sprintf("bid %v above ask %v", q.BidPrice, q.AskPrice)))
		}
	case KindBars:
		e.Kind = market.KindBar
		b := &e.Bar
		for _, p := range []struct {
			fi  int
			dst *float64
		}{{bOpen, &b.Open}, {bHigh, &b.High}, {bLow, &b.Low}, {bClose, &b.Close}} {
			if err := r.positive(p.fi, p.dst); err != nil {
				return err
			}
		}
		if b.Low > b.High || b.Open > b.High || b.Close > b.High || b.Open < b.Low || b.Close < b.Low {
			return r.rowError(-1, ReasonBar, fmt.Sprintf("high %v and low %v do not bound open %v and close %v", b.High, b.Low, b.Open, b.Close))
		}
		for _, p := range []struct {
			fi  int
			dst *uint64
		}{{bVolume, &b.Volume}, {bTradeCount, &b.TradeCount}} {
			n := v[p.fi].i
			if n < 0 {
				return r.rowError(p.fi, ReasonSize, fmt.Sprintf("%d: must not be negative", n))
			}
			*p.dst = uint64(n)
		}
		b.VWAP = v[bVWAP].f
		if b.VWAP < 0 || math.IsNaN(b.VWAP) || math.IsInf(b.VWAP, 0) {
			return r.rowError(bVWAP, ReasonPrice, fmt.Sprintf("%v: must not be negative", b.VWAP))
		}
	}
	return nil
}

func (r *Reader) positive(fi int, dst *float64) error {
	x := r.vals[fi].f
	if !(x > 0) || math.IsInf(x, 0) {
		return r.rowError(fi, ReasonPrice, fmt.Sprintf("%v: must be positive", x))
	}
	*dst = x
	return nil
}

func (r *Reader) size(fi int, dst *uint32) error {
	n := r.vals[fi].i
	if n < 0 || n > math.MaxUint32 {
		return r.rowError(fi, ReasonSize, fmt.Sprintf("%d: must be from 0 to %d", n, uint32(math.MaxUint32)))
	}
	*dst = uint32(n)
	return nil
}

// knownColumn reports whether any name is a column of some kind.
func knownColumn(names []string) bool {
	for _, k := range []Kind{KindTrades, KindQuotes, KindBars} {
		for _, f := range k.fields() {
			if slices.Contains(names, f.name) {
				return true
			}
		}
	}
	return false
}

// csvSource is the state of a CSV reader.
type csvSource struct {
	r    *csv.Reader
	cols []int // column of each field, -1 if absent
	n    int   // columns in the header
	line int64 // line of the current record
}

// NewCSVReader reads CSV with a header line naming the columns (in any
// order; unknown columns are ignored) from r.
func NewCSVReader(r io.Reader, opts ReaderOptions) (*Reader, error) {
	rd, err := newReader(opts, "input")
	if err != nil {
		return nil, err
	}
	cr := csv.NewReader(bufio.NewReaderSize(r, 64<<10))
	cr.FieldsPerRecord = -1 // rows with a wrong count are reported per row
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file: a CSV file starts with a header line naming its columns", rd.name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rd.name, err)
	}
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = canonicalColumn(h)
	}
	if !knownColumn(names) {
		return nil, fmt.Errorf("%s: the first line must be a header naming the columns, e.g. %s; it is %s",
			rd.name, strings.Join(KindTrades.Columns(), ","), clip(strings.Join(header, ",")))
	}
	for i, n := range names {
		if n != "" && slices.Index(names[i+1:], n) >= 0 {
			return nil, fmt.Errorf("%s: column %q appears twice in the header", rd.name, n)
		}
	}
	cols, err := rd.setup(opts, names)
	if err != nil {
		return nil, err
	}
	rd.csv = &csvSource{r: cr, cols: cols, n: len(header), line: 1}
	return rd, nil
}

func (r *Reader) nextCSV(e *market.Event) error {
	c := r.csv
	for {
		rec, err := c.r.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				c.line = int64(pe.StartLine)
				return r.rowError(-1, ReasonCSV, pe.Err.Error())
			}
			return err // io.EOF or a read error
		}
		line, _ := c.r.FieldPos(0)
		c.line = int64(line)
		if len(rec) == 1 && rec[0] == "" {
			continue // a blank line (csv skips empty ones, not whitespace-only)
		}
		if len(rec) < c.n {
			return r.rowError(-1, ReasonColumns, fmt.Sprintf("%d fields, the header has %d", len(rec), c.n))
		}
		if len(rec) > c.n {
			return r.rowError(-1, ReasonExtra, fmt.Sprintf("%d fields, the header has %d", len(rec), c.n))
		}
		for fi, col := range c.cols {
			if col < 0 {
				r.vals[fi] = value{}
				continue
			}
			if re := r.parseCell(fi, rec[col]); re != nil {
				return re
			}
		}
		return r.build(e)
	}
}
