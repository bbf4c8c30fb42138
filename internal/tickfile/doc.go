// Package tickfile reads and writes Tape's tick files: trades, quotes and
// bars as CSV or Parquet, in a schema that pandas, polars and DuckDB read
// directly (`tape export`) and that `tape import` loads back.
//
// # Schemas
//
// One flat table per kind; the column order is the same in both formats
// and docs/tickfile.md documents every column:
//
//	trades  symbol, t, id, exchange, price, size, conditions, tape
//	quotes  symbol, t, bid_exchange, bid_price, bid_size, ask_exchange, ask_price, ask_size, conditions, tape
//	bars    symbol, t, open, high, low, close, volume, trade_count, vwap
//
// t is the event time (a bar's start) in UTC at nanosecond resolution: a
// TIMESTAMP(NANOS, isAdjustedToUTC=true) column in Parquet, RFC 3339 with
// nine fraction digits in CSV. Codes are strings of one character;
// conditions are a LIST of them in Parquet, and the codes separated by
// single spaces ("@ F I") in CSV, which has no lists; the reader takes
// both, and the space-separated STRING of older Parquet files. The row
// structs Trade, Quote and Bar are the Parquet schemas (rows.go says why
// each column has its type).
//
// # Writing
//
// Writer streams: an export writes page after page and the writer holds at
// most one Parquet row group (DefaultRowGroupRows, 64k rows) or a 64 KiB
// CSV buffer. Parquet columns are zstd-compressed (level 1) with data
// page v1 and dictionary-encoded strings. BenchmarkWriteParquet measured,
// on simulator trades: zstd 9.1 bytes a row at 2.5M rows/s, snappy 14.6 at
// 3.7M, none 34 at 5.2M (9.7, 14.9 and 34.2 bytes since conditions are a
// list). zstd wins because an export is bound by its
// source (the REST API pages at a few hundred thousand rows a second), so
// the slower codec costs little wall time, while the file is 37% smaller
// for every later read; pyarrow, polars and DuckDB all read it. v1 pages
// are what pyarrow and DuckDB themselves write, so no reader is too old for
// them (v2 gained nothing: the same size within 0.1%).
// Floats are written exactly (CSV: the shortest decimal that reads back as
// the same float64), so a file read back gives bit-identical events.
//
// # Reading and validation
//
// Reader matches columns by name, in any order (a header in CSV, the
// schema in Parquet), ignores unknown ones, and converts the types other
// writers use: TIMESTAMP in millis, micros or nanos, legacy INT96, INT32
// sizes, FLOAT prices, OPTIONAL columns. The kind comes from the
// tape.kind metadata key that Tape writes, else from the columns. Only
// symbol, t and the values that make a row mean anything are required;
// ids and codes default to none.
//
// Every row is validated before it becomes an event: the symbol must be
// one Tape's REST API can be asked for (upper-cased), the time parseable,
// with a zone, after 1970; prices positive and finite (a quote side may be
// zero, not both); sizes within uint32; a bar's high and low must bound
// its open and close. A bad row is returned as a *RowError naming the
// file, line (CSV) or row (Parquet), column and reason, and reading goes
// on: the caller decides whether to skip it or stop. A crossed quote (bid
// above ask) is only a warning: real markets cross for a moment.
package tickfile
