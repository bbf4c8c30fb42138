package datadir

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/feed/sim"
	"github.com/tapehq/tape/internal/hub"
	"github.com/tapehq/tape/internal/ingest"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

type discard struct{}

func (discard) Publish([]market.Event) {}

// record fills dir with n events of one simulated session day, through the
// real pipeline (journal, history and news stores, bars, checkpoints), as
// tape serve would. (It once fed only history: the news store then caught
// up over the whole journal at the first reopen, seconds at 40 M events,
// which a real server's news store never has to.)
func record(tb testing.TB, dir string, n uint64) {
	tb.Helper()
	d, err := Open(context.Background(), dir, Options{Create: true, Fsync: journal.FsyncPolicy{Mode: journal.FsyncNever}})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := sim.New(sim.Options{Seed: 1, Rate: 1e6, Speed: math.Inf(1), Start: time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC)})
	if err != nil {
		tb.Fatal(err)
	}
	p := ingest.New(ingest.Options{Publish: discard{}, Also: d.Stores(), Journal: d.Journal, State: d.State,
		Bars: d.Bars, Checkpoint: &ingest.Checkpoint{Dir: d.StateDir(), Bars: d.Bars}})
	ctx, stop := context.WithCancel(context.Background())
	in := make(chan feed.Batch, 16)
	hdone := make(chan error, 1)
	go func() { hdone <- d.RunStores(ctx) }()
	go func() {
		for p.Stats().LastSeq < n {
			time.Sleep(10 * time.Millisecond)
		}
		stop()
	}()
	go s.Run(ctx, in)
	p.Run(ctx, in)
	<-hdone
	if err := d.Close(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkReopen measures a restart: datadir.Open (lock, journal open
// and repair check, history open and catch-up, record state and live bars
// from the checkpoint plus the journal after it) and Close, on a data
// directory holding one busy day of TAPE_BENCH_EVENTS events (default
// 2,000,000), beside the same without the checkpoint (the bars are then
// rebuilt by replaying the day, as before checkpoints). One op is one
// restart.
func BenchmarkReopen(b *testing.B) {
	n := uint64(2_000_000)
	if v, err := strconv.ParseUint(os.Getenv("TAPE_BENCH_EVENTS"), 10, 64); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	record(b, dir, n)
	ckpt := filepath.Join(dir, "state", "checkpoint")
	saved, err := os.ReadFile(ckpt)
	if err != nil {
		b.Fatal(err)
	}
	for _, withCkpt := range []bool{true, false} {
		b.Run(fmt.Sprintf("events=%d/checkpoint=%v", n, withCkpt), func(b *testing.B) {
			var rep Report
			for b.Loop() {
				if withCkpt {
					os.WriteFile(ckpt, saved, 0o644)
				} else {
					os.Remove(ckpt)
				}
				d, err := Open(context.Background(), dir, Options{Fsync: journal.FsyncPolicy{Mode: journal.FsyncNever}})
				if err != nil {
					b.Fatal(err)
				}
				rep = d.Report
				// Close writes nothing new: no checkpoint is cut without a pipeline.
				if err := d.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rep.State.Replayed), "replayed")
			b.ReportMetric(float64(rep.HistoryEvents), "history-replayed")
			b.ReportMetric(float64(rep.Journal.Last), "records")
		})
	}
	os.WriteFile(ckpt, saved, 0o644)
}

// BenchmarkIngest measures the whole ingest path at full speed: the
// simulator (generating as it goes: nothing pre-generated) → the sequencer
// (record clock, state, consolidated, IEX and crypto bars) → the journal (group
// commit, fsync every 100 ms) → the releaser → the hub (one msgpack
// subscriber of everything, drained by a reader goroutine) → the history
// and news stores (flushed by their own goroutines). One op is one event;
// the figure to read is events/s.
func BenchmarkIngest(b *testing.B) {
	for _, crypto := range []bool{false, true} {
		b.Run(fmt.Sprintf("crypto=%v", crypto), func(b *testing.B) {
			dir := b.TempDir()
			// As tape serve opens a simulator's record: with IEX bars.
			d, err := Open(context.Background(), dir, Options{Create: true, IEXBars: true})
			if err != nil {
				b.Fatal(err)
			}
			so := sim.Options{Seed: 1, Rate: 1e6, Speed: math.Inf(1), Start: time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC)}
			if crypto {
				so.CryptoSymbols = sim.DefaultCryptoSymbols
			}
			s, err := sim.New(so)
			if err != nil {
				b.Fatal(err)
			}
			h := hub.New(hub.Options{Formats: []hub.Encoder{alpacawire.AppendJSON, alpacawire.AppendMsgpack}, MaxQueueBytes: 1 << 30})
			sub := h.Subscribe(int(alpacawire.MsgPack), "bench")
			for c := range market.NumChannels {
				h.SetChannel(sub, c, []string{"*"})
			}
			p := ingest.New(ingest.Options{Publish: h, Also: d.Stores(), Journal: d.Journal, State: d.State, Bars: d.Bars,
				Checkpoint: &ingest.Checkpoint{Dir: d.StateDir(), Bars: d.Bars}})
			ctx, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { d.RunStores(ctx) })
			wg.Go(func() { // the consumer
				var msgs [][]byte
				for {
					select {
					case <-sub.Ready():
					case <-ctx.Done():
						return
					}
					var cost int
					msgs, cost, _ = sub.Take(msgs[:0])
					sub.Release(cost)
				}
			})
			in := make(chan feed.Batch, 64)
			wg.Go(func() { s.Run(ctx, in) })
			b.ResetTimer()
			want := uint64(b.N)
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx, in) }()
			for p.Stats().Released < want {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			n := p.Stats().Released
			stop()
			<-done
			wg.Wait()
			d.Close()
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
