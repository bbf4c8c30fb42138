package datadir

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/feed/sim"
	"github.com/tapehq/tape/internal/ingest"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

type discard struct{}

func (discard) Publish([]market.Event) {}

// record fills dir with n events of one simulated session day, through the
// real pipeline (journal, history, bars, checkpoints), as tape serve would.
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
	p := ingest.New(ingest.Options{Publish: discard{}, Also: []ingest.Publisher{applier{d}}, Journal: d.Journal, State: d.State,
		Bars: d.Bars, Checkpoint: &ingest.Checkpoint{Dir: d.StateDir(), Bars: d.Bars}})
	ctx, stop := context.WithCancel(context.Background())
	in := make(chan feed.Batch, 16)
	hdone := make(chan error, 1)
	go func() { hdone <- d.History.Run(ctx) }()
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

type applier struct{ d *Dir }

func (a applier) Publish(evs []market.Event) { a.d.History.Apply(evs) }

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
			b.ReportMetric(float64(rep.Journal.Last), "records")
		})
	}
	os.WriteFile(ckpt, saved, 0o644)
}
