package tickfile

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

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
}

// NewParquetReader reads a Parquet file of size bytes from r. Columns are
// matched by name; unknown ones are ignored.
func NewParquetReader(r io.ReaderAt, size int64, opts ReaderOptions) (*Reader, error) {
	rd, err := newReader(opts, "input")
	if err != nil {
		return nil, err
	}
	f, err := parquet.OpenFile(r, size, parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true))
	if err != nil {
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

func (r *Reader) nextParquet(e *market.Event) error {
	p := r.pq
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
