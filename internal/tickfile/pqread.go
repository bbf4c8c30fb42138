package tickfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
	"github.com/pierrec/lz4/v4"

	"github.com/tapehq/tape/internal/market"
)

// Reading Parquet goes through parquet-go's untyped rows rather than the
// typed reader of Tape's own row structs, so that files written elsewhere
// import too: pandas and polars may write the time as TIMESTAMP(MICROS) or
// legacy INT96, sizes as INT32, prices as FLOAT, columns as OPTIONAL, in any
// order and with extra columns (a pandas index). Each column gets a
// converter from its physical and logical type to the field's value.

// pqConv converts one column's values.
type pqConv struct {
	kind parquet.Kind
	mult int64 // time: ns per unit of an INT64 timestamp (1 for NANOS)
	date bool  // time: an INT32 DATE (days), midnight UTC
	list bool  // conditions: a LIST of codes, one per element
}

// pqSource is the state of a Parquet reader.
type pqSource struct {
	groups   []parquet.RowGroup
	gi       int
	rows     parquet.Rows
	buf      []parquet.Row
	bi, bn   int
	colField []int // per leaf column: the field it holds, or -1
	colConv  []pqConv
	row      int64 // the current row, from 1
	total    int64 // rows in the file
	broken   error // the file's error, for every later Next
}

// NewParquetReader reads a Parquet file of size bytes from r. Columns are
// matched by name; unknown ones are ignored.
func NewParquetReader(r io.ReaderAt, size int64, opts ReaderOptions) (_ *Reader, err error) {
	rd, err := newReader(opts, "input")
	if err != nil {
		return nil, err
	}
	defer corrupt(rd.name, &err)
	if err := checkFooter(r, size); err != nil {
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", rd.name, err)
	}
	f, err := parquet.OpenFile(r, size, parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true))
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", rd.name, err)
	}
	if err := checkPages(r, size, f.Metadata()); err != nil {
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", rd.name, err)
	}
	rd.meta = map[string]string{}
	for _, kv := range f.Metadata().KeyValueMetadata {
		rd.meta[kv.Key] = kv.Value
	}
	schema := f.Schema()
	paths := schema.Columns()
	names := make([]string, len(paths))
	for i, p := range paths {
		name := strings.Join(p, ".")
		if leaf, ok := schema.Lookup(p...); ok && leaf.MaxRepetitionLevel > 0 {
			// A list's leaf (conditions.list.element, or the legacy
			// conditions.array): the column is the list, named by its
			// top-level field.
			name = p[0]
		}
		names[i] = canonicalColumn(name)
	}
	cols, err := rd.setup(opts, names)
	if err != nil {
		return nil, err
	}
	src := &pqSource{groups: f.RowGroups(), colField: make([]int, len(paths)), colConv: make([]pqConv, len(paths)),
		buf: make([]parquet.Row, 256), total: f.NumRows()}
	for i := range src.colField {
		src.colField[i] = -1
	}
	for fi, ci := range cols {
		if ci < 0 {
			continue
		}
		leaf, ok := schema.Lookup(paths[ci]...)
		if !ok {
			continue
		}
		fd := rd.fields[fi]
		list := leaf.MaxRepetitionLevel > 0
		if list && (fd.typ != ftConds || leaf.MaxRepetitionLevel > 1) {
			return nil, fmt.Errorf("%s: column %s is a list; want one value per row", rd.name, fd.name)
		}
		conv, err := convOf(fd, leaf.Node.Type())
		if err != nil {
			return nil, fmt.Errorf("%s: column %s: %w", rd.name, fd.name, err)
		}
		conv.list = list
		src.colField[leaf.ColumnIndex] = fi
		src.colConv[leaf.ColumnIndex] = conv
	}
	rd.pq = src
	return rd, nil
}

// corrupt turns a panic of parquet-go's decoders into the file's error:
// they panic, rather than return an error, on some corrupt files (an index
// past a dictionary's end, a negative length; found by FuzzReadParquet),
// and a broken or hostile file must not crash tape import.
func corrupt(name string, err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("%s: not a readable Parquet file: %v", name, p)
	}
}

// checkFooter checks a Parquet file's trailer (the footer's length, then
// "PAR1") against its size before parquet-go reads it: parquet-go
// allocates the length it finds there, so 2 KB of hostile bytes claiming a
// 4 GB footer would take 4 GB of memory (found by FuzzReadParquet).
func checkFooter(r io.ReaderAt, size int64) error {
	const magic = "PAR1"
	if size < 12 {
		return fmt.Errorf("%d bytes is too short", size)
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return err
	}
	if string(tail[4:]) != magic {
		return errors.New(`it does not end with "PAR1"`)
	}
	if n := int64(binary.LittleEndian.Uint32(tail[:4])); n > size-12 {
		return fmt.Errorf("its footer claims %d bytes of a %d-byte file", n, size)
	}
	return nil
}

// Bounds on what one page may claim, far above what any writer produces
// (Tape's pages hold at most a few MB; pyarrow's and parquet-mr's default
// to 1 MB), so that a page header cannot make the reader allocate
// gigabytes.
const (
	maxPageBytes  = 256 << 20
	maxPageValues = 64 << 20
	maxPageHeader = 16 << 20
)

// checkPages reads every page header of every column chunk and checks
// what it claims against the file before parquet-go reads the page:
// parquet-go allocates the sizes and value counts it finds there, so a
// corrupt header of a few bytes would cost gigabytes of memory (found by
// FuzzReadParquet). A page must lie within its column chunk, and the chunk
// within the file.
func checkPages(r io.ReaderAt, size int64, md *format.FileMetaData) error {
	var proto thrift.CompactProtocol
	buf := make([]byte, 1<<10) // a header is some tens of bytes; grown for long statistics
	for gi := range md.RowGroups {
		for ci := range md.RowGroups[gi].Columns {
			cc := &md.RowGroups[gi].Columns[ci].MetaData
			col := strings.Join(cc.PathInSchema, ".")
			start := cc.DataPageOffset
			if d := cc.DictionaryPageOffset; d > 0 && d < start {
				start = d
			}
			end := start + cc.TotalCompressedSize
			if start < 4 || cc.TotalCompressedSize < 0 || end > size-8 || end < start {
				return fmt.Errorf("column %s: its pages (bytes %d to %d) are not within the file's %d bytes", col, start, end, size)
			}
			for off := start; off < end; {
				var h format.PageHeader
				var read int
				for {
					n, err := r.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
					if n == 0 {
						return fmt.Errorf("column %s: reading a page header at %d: %w", col, off, err)
					}
					pr := proto.NewReaderFromBytes(buf[:n])
					err = thrift.NewDecoder(pr).Decode(&h)
					if err == nil {
						read = pr.BytesRead()
						break
					}
					// Statistics of long strings can make a header longer
					// than the buffer: a larger one, up to a bound.
					if n < len(buf) || len(buf) >= maxPageHeader {
						return fmt.Errorf("column %s: the page header at %d: %w", col, off, err)
					}
					buf = make([]byte, 4*len(buf))
					h = format.PageHeader{}
				}
				off += int64(read)
				values := int32(0)
				switch {
				case h.DataPageHeader.Valid:
					values = h.DataPageHeader.V.NumValues
				case h.DataPageHeaderV2.Valid:
					values = h.DataPageHeaderV2.V.NumValues
				case h.DictionaryPageHeader.Valid:
					values = h.DictionaryPageHeader.V.NumValues
				}
				switch {
				case h.UncompressedPageSize < 0 || h.UncompressedPageSize > maxPageBytes:
					return fmt.Errorf("column %s: a page at %d claims %d bytes uncompressed (at most %d)", col, off, h.UncompressedPageSize, maxPageBytes)
				case values < 0 || values > maxPageValues:
					return fmt.Errorf("column %s: a page at %d claims %d values (at most %d)", col, off, values, maxPageValues)
				case h.CompressedPageSize < 0 || int64(h.CompressedPageSize) > end-off:
					return fmt.Errorf("column %s: a page at %d claims %d bytes, past its column chunk", col, off, h.CompressedPageSize)
				}
				if cc.Codec == format.Lz4Raw {
					if err := checkLZ4(r, off, h); err != nil {
						return fmt.Errorf("column %s: the page at %d: %w", col, off, err)
					}
				}
				off += int64(h.CompressedPageSize)
			}
		}
	}
	return nil
}

// checkLZ4 decompresses an LZ4_RAW page into the size its header gives:
// parquet-go's LZ4 decoder doubles its buffer until a page decodes, which
// a corrupt page never does, so it would take all the memory there is.
func checkLZ4(r io.ReaderAt, off int64, h format.PageHeader) error {
	src := make([]byte, h.CompressedPageSize)
	if _, err := r.ReadAt(src, off); err != nil {
		return err
	}
	size := int64(h.UncompressedPageSize)
	if v2 := h.DataPageHeaderV2; v2.Valid {
		// A v2 page's levels come first, never compressed.
		levels := int64(v2.V.RepetitionLevelsByteLength) + int64(v2.V.DefinitionLevelsByteLength)
		if levels < 0 || levels > int64(len(src)) || levels > size {
			return fmt.Errorf("levels of %d bytes in a page of %d", levels, len(src))
		}
		if c := v2.V.IsCompressed; c.Valid && !c.V { // absent means compressed
			return nil
		}
		src, size = src[levels:], size-levels
	}
	if _, err := lz4.UncompressBlock(src, make([]byte, size)); err != nil {
		return fmt.Errorf("LZ4 data that does not decompress to %d bytes: %w", size, err)
	}
	return nil
}

// convOf checks that a column's type can hold the field and returns its
// converter.
func convOf(fd field, t parquet.Type) (pqConv, error) {
	c := pqConv{kind: t.Kind(), mult: 1}
	lt := t.LogicalType()
	var lv format.LogicalTypeValue
	if lt != nil {
		lv = lt.Value
	}
	if _, ok := lv.(*format.DecimalType); ok {
		return c, fmt.Errorf("DECIMAL columns are not supported: write prices as DOUBLE")
	}
	bad := func() (pqConv, error) {
		desc := t.String()
		return c, fmt.Errorf("type %s cannot hold a %s", desc, typeWord(fd.typ))
	}
	switch fd.typ {
	case ftSymbol, ftChar, ftConds:
		if c.kind != parquet.ByteArray && c.kind != parquet.FixedLenByteArray {
			return bad()
		}
	case ftTime:
		switch c.kind {
		case parquet.ByteArray:
		case parquet.Int96:
		case parquet.Int32:
			if _, ok := lv.(*format.DateType); !ok {
				return bad()
			}
			c.date = true
		case parquet.Int64:
			if ts, ok := lv.(*format.TimestampType); ok {
				switch ts.Unit.Value.(type) {
				case *format.MilliSeconds:
					c.mult = 1e6
				case *format.MicroSeconds:
					c.mult = 1e3
				}
			} else if ct := t.ConvertedType(); ct != nil && *ct == deprecated.TimestampMillis {
				c.mult = 1e6
			} else if ct != nil && *ct == deprecated.TimestampMicros {
				c.mult = 1e3
			} else if lv != nil {
				return bad()
			}
			// A plain INT64 is taken as nanoseconds since the epoch, the
			// unit of every other time in Tape.
		default:
			return bad()
		}
	case ftFloat, ftInt:
		switch c.kind {
		case parquet.Double, parquet.Float, parquet.Int32, parquet.Int64:
		default:
			return bad()
		}
	}
	return c, nil
}

func typeWord(t fieldType) string {
	switch t {
	case ftSymbol:
		return "symbol"
	case ftTime:
		return "time"
	case ftFloat:
		return "price"
	case ftInt:
		return "integer"
	}
	return "code"
}

func (r *Reader) nextParquet(e *market.Event) (err error) {
	p := r.pq
	if p.broken != nil {
		return p.broken
	}
	defer func() {
		if err != nil && !errors.As(err, new(*RowError)) && err != io.EOF {
			p.broken = err // parquet-go's state after an error is not to be trusted
		}
	}()
	defer corrupt(r.name, &err)
	for p.bi == p.bn {
		if p.rows == nil {
			if p.gi == len(p.groups) {
				return io.EOF
			}
			p.rows = p.groups[p.gi].Rows()
			p.gi++
		}
		n, err := p.rows.ReadRows(p.buf)
		p.bi, p.bn = 0, n
		if err == io.EOF || (err == nil && n == 0) {
			p.rows.Close()
			p.rows = nil
		} else if err != nil {
			return fmt.Errorf("%s: row %d: %w", r.name, p.row+1, err)
		}
	}
	row := p.buf[p.bi]
	p.bi++
	p.row++
	for i := range r.fields {
		r.vals[i] = value{}
	}
	for _, v := range row {
		ci := v.Column()
		if ci < 0 || ci >= len(p.colField) || p.colField[ci] < 0 {
			continue
		}
		fi := p.colField[ci]
		if v.IsNull() {
			continue // a required field left empty is caught below
		}
		if re := r.parquetCell(fi, p.colConv[ci], v); re != nil {
			return re
		}
	}
	for fi := range r.fields {
		if r.fields[fi].required && !r.vals[fi].valid && !(fi == 0 && r.symbol != "") {
			return r.rowError(fi, ReasonMissing, "null")
		}
	}
	return r.build(e)
}

// parquetCell converts one Parquet value into field fi's slot.
func (r *Reader) parquetCell(fi int, c pqConv, v parquet.Value) *RowError {
	f := &r.fields[fi]
	switch f.typ {
	case ftSymbol, ftChar, ftConds:
		b := v.ByteArray()
		if len(b) == 0 {
			return nil // "" is no value: an empty code, or a missing required field
		}
		if f.typ == ftChar {
			c, err := parseChar(string(b))
			if err != nil {
				return r.rowError(fi, ReasonCode, fmt.Sprintf("%q: %v", clip(string(b)), err))
			}
			r.vals[fi] = value{i: int64(c), valid: true}
			return nil
		}
		if c.list {
			// One code per element, added to those of the row so far.
			v := &r.vals[fi]
			n := v.c.Len()
			switch {
			case len(b) != 1:
				return r.rowError(fi, ReasonCode, fmt.Sprintf("%q: condition codes are one character each", clip(string(b))))
			case n == len(v.c):
				return r.rowError(fi, ReasonCode, errTooManyConds.Error())
			}
			v.c[n], v.valid = b[0], true
			return nil
		}
		s := r.in.Intern(b)
		if f.typ == ftConds {
			cs, err := parseConds(s)
			if err != nil {
				return r.rowError(fi, ReasonCode, fmt.Sprintf("%q: %v", clip(s), err))
			}
			r.vals[fi] = value{c: cs, valid: true}
			return nil
		}
		sym, ok := canonicalSymbol(s)
		if !ok {
			return r.rowError(fi, ReasonSymbol, fmt.Sprintf("%q is not a symbol (letters and digits, . - / between them, at most 16)", clip(s)))
		}
		if sym != s {
			sym = r.in.Intern([]byte(sym))
		}
		r.vals[fi] = value{s: sym, valid: true}
	case ftTime:
		var ns int64
		switch c.kind {
		case parquet.ByteArray:
			t, err := parseTime(strings.TrimSpace(string(v.ByteArray())))
			if err != nil {
				return r.rowError(fi, ReasonTime, err.Error())
			}
			ns = t
		case parquet.Int96:
			i := v.Int96()
			ns = int96Nanos(i)
		case parquet.Int32:
			ns = int64(v.Int32()) * 86400e9
		default:
			x := v.Int64()
			if x > math.MaxInt64/c.mult || x < math.MinInt64/c.mult {
				return r.rowError(fi, ReasonTime, fmt.Sprintf("%d out of range", x))
			}
			ns = x * c.mult
		}
		r.vals[fi] = value{i: ns, valid: true}
	case ftFloat:
		var x float64
		switch c.kind {
		case parquet.Double:
			x = v.Double()
		case parquet.Float:
			x = float64(v.Float())
		case parquet.Int32:
			x = float64(v.Int32())
		default:
			x = float64(v.Int64())
		}
		r.vals[fi] = value{f: x, valid: true}
	case ftInt:
		var n int64
		switch c.kind {
		case parquet.Int32:
			n = int64(v.Int32())
		case parquet.Int64:
			n = v.Int64()
		default:
			x := v.Double()
			if c.kind == parquet.Float {
				x = float64(v.Float())
			}
			if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
				return r.rowError(fi, ReasonNumber, fmt.Sprintf("%v is not an integer", x))
			}
			n = int64(x)
		}
		r.vals[fi] = value{i: n, valid: true}
	}
	return nil
}

// int96Nanos converts a legacy INT96 timestamp (nanoseconds of the day,
// then the Julian day; Impala and old Spark write them) to ns since the
// epoch.
func int96Nanos(i deprecated.Int96) int64 {
	nanos := int64(uint64(i[1])<<32 | uint64(i[0]))
	return (int64(i[2])-2440588)*86400e9 + nanos
}
