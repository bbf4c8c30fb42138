package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/tickfile"
)

// TestExportParquetConditionsList: tape export writes conditions as a
// Parquet LIST of strings, which parquet-go's own typed reader (standing
// for pandas, polars and DuckDB) reads as a list per row; tape import
// takes the file back as it was; created_by names Tape's version; and the
// file gets the permissions of any new file (0666 less the umask), not
// those of a temporary one.
func TestExportParquetConditionsList(t *testing.T) {
	syms := []string{"AAPL", "MSFT"}
	evs := genTrades(3000, syms, 9)
	tmp := t.TempDir()
	seed := filepath.Join(tmp, "seed.csv")
	writeFile(t, seed, tickfile.KindTrades, evs, "")
	a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	mustImport(t, a, seed)
	o := exportOptions{dataDir: a, symbols: syms, kind: tickfile.KindTrades, start: session0.AddDate(0, -1, 0),
		end: session0.AddDate(0, 1, 0), out: filepath.Join(tmp, "trades.parquet")}
	if _, err := doExport(t, o); err != nil {
		t.Fatal(err)
	}

	rows, err := parquet.ReadFile[tickfile.Trade](o.out)
	if err != nil {
		t.Fatal(err)
	}
	want := sortedBySymbol(evs)
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	several := 0
	for i, r := range rows {
		codes := want[i].Trade.Conditions.Strings()
		if r.Symbol != want[i].Symbol || r.Time != want[i].Time || !slices.Equal(r.Conditions, codes) {
			t.Fatalf("row %d: %s %d conditions %q, want %s %d %q", i, r.Symbol, r.Time, r.Conditions, want[i].Symbol, want[i].Time, codes)
		}
		if len(codes) > 1 {
			several++
		}
	}
	if several == 0 {
		t.Fatal("no trade with several conditions: the test does not test lists")
	}

	f, err := os.Open(o.out)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if cb, want := pf.Metadata().CreatedBy, (&tickfile.WriterOptions{Version: versionString(), Build: readBuildInfo().Commit}).CreatedBy(); cb != want || cb == "" {
		t.Errorf("created_by %q, want %q", cb, want)
	}
	f.Close()

	// What any new file gets here: 0666 less the umask.
	probe := filepath.Join(tmp, "probe")
	pfile, err := os.OpenFile(probe, os.O_CREATE|os.O_WRONLY, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	pfile.Close()
	pst, _ := os.Stat(probe)
	if st.Mode().Perm() != pst.Mode().Perm() {
		t.Errorf("export mode %v, want %v like any new file", st.Mode().Perm(), pst.Mode().Perm())
	}

	mustImport(t, b, o.out)
	back := storeAll(t, b, tickfile.KindTrades, market.Timeframe{}, syms, session0.AddDate(0, -1, 0).UnixNano(), session0.AddDate(0, 1, 0).UnixNano())
	if err := sameEvents(back, want); err != nil {
		t.Fatalf("imported back: %v", err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(tmp, ".trades.parquet.tmp-*")); len(leftovers) > 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}
