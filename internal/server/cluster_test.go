package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tapehq/tape/internal/cluster/clustertest"
	"github.com/tapehq/tape/internal/history"
)

// statusOf reads a Tape's /tape/v1/status.
func statusOf(t *testing.T, addr string) (Status, error) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/tape/v1/status")
	if err != nil {
		return Status{}, err
	}
	defer resp.Body.Close()
	var st Status
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// startChild runs a Tape with opts in a child process (so that it can be
// killed with SIGKILL) and returns its address and the process.
func startChild(t *testing.T, opts Options) (string, *exec.Cmd) {
	t.Helper()
	b, err := json.Marshal(opts)
	if err != nil {
		t.Fatal(err)
	}
	addrFile := filepath.Join(t.TempDir(), "addr")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "TAPE_CHILD_OPTIONS="+string(b), "TAPE_CHILD_ADDR="+addrFile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(addrFile); err == nil {
			return string(b), cmd
		}
		if time.Now().After(deadline) {
			t.Fatal("the child Tape did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// seqTrades is a Tape-aware client (the resume extension) recording the
// sequence numbers and trade IDs it receives.
type seqTrades struct {
	mu   sync.Mutex
	got  []string // "seq sym id"
	done chan struct{}
}

func watchTrades(t *testing.T, ctx context.Context, addr string) *seqTrades {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/v2/iex?tape_seq=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(-1)
	st := &seqTrades{done: make(chan struct{})}
	send := func(s string) {
		if err := c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"action":"auth","key":"k","secret":"s"}`)
	send(`{"action":"subscribe","trades":["*"]}`)
	go func() {
		defer close(st.done)
		for {
			_, p, err := c.Read(ctx)
			if err != nil {
				return
			}
			var msgs []map[string]any
			if json.Unmarshal(p, &msgs) != nil {
				continue
			}
			st.mu.Lock()
			for _, m := range msgs {
				if m["T"] == "t" {
					st.got = append(st.got, fmt.Sprintf("%v %v %v", m["#"], m["S"], m["i"]))
				}
			}
			st.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.CloseNow(); <-st.done })
	return st
}

func (st *seqTrades) list() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.got)
}

// TestClusterFailover is the cluster's acceptance test, on a real 3-node
// NATS JetStream cluster in-process: two --feed alpaca Tapes share one
// upstream connection by a lease (an upstream Tape stands in for Alpaca's
// stream and REST API and records everything it sent), two edges follow
// the record with Tape-aware clients. The leader is killed (SIGKILL)
// mid-stream: the standby takes over, fills the gap from the REST API, and
// continues the sequence. A NATS node is killed: nothing is lost. An edge
// restarts: it resumes with no gap or duplicate. In the end every trade
// the upstream sent in the period is in both edges' history exactly once,
// and the clients on the two edges saw the same sequence.
func TestClusterFailover(t *testing.T) {
	nats := clustertest.Start(t, 3)
	syms := []string{"AAPL", "MSFT"}
	up, _ := start(t, Options{Symbols: syms, Seed: 21, Rate: 60, Speed: 1, SimStart: regularSession(), CryptoSymbols: []string{}})
	node := func(name string) Options {
		return Options{DataDir: t.TempDir(), Feed: "alpaca", AlpacaStreamURL: "ws://" + up.Addr().String() + "/v2", AlpacaFeed: "sip",
			AlpacaDataURL: "http://" + up.Addr().String(), AlpacaKey: "k", AlpacaSecret: "s", Symbols: syms,
			NATS: nats.URL(), NATSReplicas: 3, NATSFailover: true, NATSLeaseTTL: 2 * time.Second, NATSNode: name, NATSStream: "FAILOVER"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	role := func(addr string) string {
		st, err := statusOf(t, addr)
		if err != nil {
			return ""
		}
		return st.Cluster.Role
	}

	// A leads (a child process, to be killed), B stands by.
	aAddr, aProc := startChild(t, node("A"))
	waitFor(t, ctx, "A leading", func() bool { return role(aAddr) == "leader" }, nil)
	bo := node("B")
	if os.Getenv("TAPE_TEST_LOG") != "" {
		f, _ := os.Create(os.Getenv("TAPE_TEST_LOG"))
		defer f.Close()
		bo.Logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b, _ := start(t, bo)
	edgeOpts := func(dir string) Options {
		return Options{DataDir: dir, Feed: "nats", NATS: nats.URL(), NATSStream: "FAILOVER", NATSReplicas: 3}
	}
	e1, _ := start(t, edgeOpts(t.TempDir()))
	e2dir := t.TempDir()
	e2, stopE2 := start(t, edgeOpts(e2dir))
	c1, c2 := watchTrades(t, ctx, e1.Addr().String()), watchTrades(t, ctx, e2.Addr().String())
	waitFor(t, ctx, "trades at both edges", func() bool { return len(c1.list()) > 30 && len(c2.list()) > 30 }, nil)
	if r := b.role(); r != "standby" {
		t.Fatalf("B is %s, want standby", r)
	}

	// Kill the leader: B takes over and fills the gap.
	aProc.Process.Signal(syscall.SIGKILL)
	aProc.Wait()
	killed := time.Now()
	waitFor(t, ctx, "B leading", func() bool { return b.role() == "leader" }, nil)
	t.Logf("B took over %v after the kill", time.Since(killed).Round(time.Millisecond))
	waitFor(t, ctx, "the takeover's gap filled", func() bool { return b.src.alpha.GapStats().Gaps > 0 }, nil)
	if st := b.src.alpha.GapStats(); st.Failures != 0 {
		t.Fatalf("gap fill failed: %+v", st)
	}

	// Lose a NATS server; restart an edge.
	nats.Kill(1)
	n1 := len(c1.list())
	lost := time.Now()
	for len(c1.list()) <= n1+30 {
		if ctx.Err() != nil || time.Since(lost) > 60*time.Second {
			t.Fatalf("no trades for a minute after losing a NATS server: edge %+v, leader %+v", e1.clusterStatus(), b.clusterStatus())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("trades flow again %v after losing a NATS server", time.Since(lost).Round(time.Millisecond))
	stopE2()
	e2, _ = start(t, edgeOpts(e2dir))
	c2b := watchTrades(t, ctx, e2.Addr().String())
	waitFor(t, ctx, "trades at the restarted edge", func() bool { return len(c2b.list()) > 30 }, nil)
	time.Sleep(12 * time.Second) // past the upstream's late reports of the period

	// Every upstream trade of the period in both edges' history, once.
	first, err := e1.dir.History.Trades(ctx, history.Query{Symbols: syms, Start: 0, End: math.MaxInt64, Limit: 1})
	if err != nil || len(first.Events) == 0 {
		t.Fatalf("edge history is empty: %v", err)
	}
	lo := first.Events[0].Time + int64(time.Second)
	hi := b.pipe().Stats().Clock - int64(10*time.Second)
	want := tradesIn(t, up.dir.History, syms, lo, hi)
	if len(want) < 100 {
		t.Fatalf("only %d upstream trades in the period", len(want))
	}
	for name, e := range map[string]*Server{"edge 1": e1, "edge 2": e2} {
		wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
		for e.pipe().Stats().LastSeq < b.dir.Journal.Last()-100 {
			if wctx.Err() != nil {
				t.Fatalf("%s did not catch up: at %d, the leader's journal at %d; cluster %+v; leader %+v", name,
					e.pipe().Stats().LastSeq, b.dir.Journal.Last(), e.clusterStatus(), b.clusterStatus())
			}
			time.Sleep(50 * time.Millisecond)
		}
		wcancel()
		got := tradesIn(t, e.dir.History, syms, lo, hi)
		missing := 0
		for k := range want {
			if got[k] == 0 {
				missing++
			}
		}
		for k, n := range got {
			if n != 1 {
				t.Errorf("%s: %v recorded %d times", name, k, n)
			}
		}
		if missing > 0 || len(got) != len(want) {
			t.Fatalf("%s holds %d of the upstream's %d trades (%d missing)", name, len(got), len(want), missing)
		}
	}

	// The two edges' clients saw the same sequence where both listened
	// (the first edge's client from before the kill to the end, the
	// second's until its edge restarted, then the new one's).
	for i, l2 := range [][]string{c2.list(), c2b.list()} {
		a, b := overlap(c1.list(), l2)
		if len(a) < 20 || !slices.Equal(a, b) {
			t.Fatalf("client %d: the edges' clients saw different sequences over their common span (%d and %d trades)", i, len(a), len(b))
		}
	}
}

// overlap cuts two lists of "seq ..." to the span of sequence numbers both
// cover.
func overlap(a, b []string) ([]string, []string) {
	seq := func(s string) float64 {
		var n float64
		fmt.Sscan(s, &n)
		return n
	}
	if len(a) == 0 || len(b) == 0 {
		return nil, nil
	}
	lo, hi := max(seq(a[0]), seq(b[0])), min(seq(a[len(a)-1]), seq(b[len(b)-1]))
	cut := func(l []string) []string {
		var out []string
		for _, s := range l {
			if n := seq(s); n >= lo && n <= hi {
				out = append(out, s)
			}
		}
		return out
	}
	return cut(a), cut(b)
}
