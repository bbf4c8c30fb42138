package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/datadir"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
)

// TestMain runs the process TestKillDuringIngest kills when
// TAPE_CRASH_DIR is set, and the tests otherwise.
func TestMain(m *testing.M) {
	if dir := os.Getenv("TAPE_CRASH_DIR"); dir != "" {
		crashChild(dir)
		os.Exit(1) // unreachable: the parent kills it
	}
	if o := os.Getenv("TAPE_CHILD_OPTIONS"); o != "" {
		childServer(o, os.Getenv("TAPE_CHILD_ADDR"))
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// childServer runs a Tape with the JSON options o until it is killed,
// writing its address to the file addrFile once it is ready.
func childServer(o, addrFile string) {
	var opts Options
	if err := json.Unmarshal([]byte(o), &opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	opts.Listen = "127.0.0.1:0"
	srv, err := New(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	go func() {
		<-srv.Ready()
		os.WriteFile(addrFile+".tmp", []byte(srv.Addr().String()), 0o644)
		os.Rename(addrFile+".tmp", addrFile)
	}()
	fmt.Fprintln(os.Stderr, srv.Run(context.Background()))
	os.Exit(2)
}

// crashChild is a simulator Tape at a high rate on dir, writing the last
// sequence number it published to dir/progress as it goes.
func crashChild(dir string) {
	srv, err := New(Options{Listen: "127.0.0.1:0", DataDir: dir, Rate: 200_000, Speed: 60, NoPast: true,
		Symbols: []string{"AAPL", "MSFT", "SPY", "QQQ"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	go func() {
		<-srv.Ready()
		for {
			os.WriteFile(filepath.Join(dir, "progress"), []byte(strconv.FormatUint(srv.pipe().Stats().Released, 10)), 0o644)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	fmt.Fprintln(os.Stderr, srv.Run(context.Background()))
	os.Exit(2)
}

// TestKillDuringIngest kills (SIGKILL) a Tape in the middle of ingesting,
// three times on one data directory, and checks after each that the
// history store, once caught up at open, holds exactly the journal's
// trades and quotes: every one once, nothing more.
func TestKillDuringIngest(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGKILL")
	}
	dir := t.TempDir()
	for round := range 3 {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "TAPE_CRASH_DIR="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill at a different point each round.
		target := uint64(30_000 * (round + 1) * (round + 2))
		deadline := time.Now().Add(60 * time.Second)
		for {
			b, _ := os.ReadFile(filepath.Join(dir, "progress"))
			if n, _ := strconv.ParseUint(string(b), 10, 64); n >= target {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: the child did not reach seq %d", round, target)
			}
			time.Sleep(2 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		os.Remove(filepath.Join(dir, "progress"))
		checkHistoryEqualsJournal(t, dir, round)
	}
}

func checkHistoryEqualsJournal(t *testing.T, dir string, round int) {
	t.Helper()
	d, err := datadir.Open(context.Background(), dir, datadir.Options{NoState: true})
	if err != nil {
		t.Fatalf("round %d: reopening: %v", round, err)
	}
	defer d.Close()
	type key struct {
		sym  string
		kind market.Kind
	}
	want := map[key][]uint64{} // seqs per symbol and kind, journal order
	r, err := d.Journal.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	var in market.Interner
	for {
		rec, ok, err := r.TryNext()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		e := market.Event{Seq: rec.Seq}
		if err := market.DecodeBinary(rec.Payload, &e, &in); err != nil {
			t.Fatal(err)
		}
		if e.Kind == market.KindTrade || e.Kind == market.KindQuote {
			want[key{e.Symbol, e.Kind}] = append(want[key{e.Symbol, e.Kind}], e.Seq)
		}
	}
	r.Close()
	if len(want) == 0 {
		t.Fatalf("round %d: the journal holds nothing", round)
	}
	for k, seqs := range want {
		q := history.Query{Symbols: []string{k.sym}, Start: math.MinInt64, End: math.MaxInt64, Limit: 1 << 30}
		var res history.Result
		if k.kind == market.KindTrade {
			res, err = d.History.Trades(context.Background(), q)
		} else {
			res, err = d.History.Quotes(context.Background(), q)
		}
		if err != nil {
			t.Fatal(err)
		}
		got := map[uint64]int{}
		for _, e := range res.Events {
			got[e.Seq]++
		}
		for _, s := range seqs {
			if got[s] != 1 {
				t.Fatalf("round %d: %s %v seq %d is in history %d times", round, k.sym, k.kind, s, got[s])
			}
		}
		if len(res.Events) != len(seqs) {
			t.Fatalf("round %d: history has %d %s %v, the journal %d", round, len(res.Events), k.sym, k.kind, len(seqs))
		}
	}
	t.Logf("round %d: history equals the journal (%s)", round, fmt.Sprint(len(want), " series"))
}
