package sim

import (
	"context"
	"errors"
	"math"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/market"
)

// running is one Run in a goroutine, with the means to stop and check it.
type running struct {
	t      *testing.T
	out    chan feed.Batch
	cancel context.CancelFunc
	done   chan error
}

func startRun(t *testing.T, o Options, buffer int) *running {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() { noLeak(t, before) })
	s := mustNew(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{t: t, out: make(chan feed.Batch, buffer), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx, r.out) }()
	return r
}

// stop cancels the run, waits for Run to return, and checks that it
// returned the context's error and left the channel open.
func (r *running) stop() {
	r.t.Helper()
	r.cancel()
	// A hang guard, not a timing assertion: Run must return at all.
	select {
	case err := <-r.done:
		if !errors.Is(err, context.Canceled) {
			r.t.Errorf("Run returned %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		r.t.Fatal("Run did not return after cancel")
	}
	for {
		select {
		case _, ok := <-r.out:
			if !ok {
				r.t.Fatal("Run closed its output channel")
			}
			continue
		default:
		}
		return
	}
}

// noLeak waits for the goroutine count to drop back to before. Run starts
// no goroutines, so only the test's own can linger, briefly, after it
// returned.
func noLeak(t *testing.T, before int) {
	t.Helper()
	for i := 0; ; i++ {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if i == 500 {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunBatches(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"as fast as possible", Options{Seed: 1, Rate: 100_000, Speed: math.Inf(1), BatchSize: 100}},
		{"paced at 1000x", Options{Seed: 1, Rate: 100_000, Speed: 1000, BatchSize: 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Start = summerDay.Add(11 * time.Hour)
			r := startRun(t, tt.opts, 4)
			var got []feed.Batch
			var copies [][]market.Event
			prev := int64(0)
			for len(got) < 300 {
				b := <-r.out
				switch {
				case len(b.Events) > tt.opts.BatchSize:
					t.Fatalf("batch of %d events, BatchSize %d", len(b.Events), tt.opts.BatchSize)
				case b.Now < prev:
					t.Fatalf("Now went back from %d to %d", prev, b.Now)
				case b.Events != nil && len(b.Events) == 0:
					t.Fatal("empty non-nil Events")
				}
				for _, e := range b.Events {
					if e.Time > b.Now {
						t.Fatalf("event at %d in a batch cut at %d", e.Time, b.Now)
					}
				}
				prev = b.Now
				got = append(got, b)
				copies = append(copies, slices.Clone(b.Events))
			}
			r.stop()
			// Every batch owns its slice: later batches did not overwrite it.
			for i := range got {
				if !reflect.DeepEqual(got[i].Events, copies[i]) {
					t.Fatalf("batch %d changed after it was sent", i)
				}
			}
			// And together the batches are exactly what Next generates.
			var sent []market.Event
			for _, b := range got {
				sent = append(sent, b.Events...)
			}
			if want := take(mustNew(t, tt.opts), len(sent))[:len(sent)]; !reflect.DeepEqual(sent, want) {
				t.Fatal("Run sent a different sequence than Next generates")
			}
		})
	}
}

func TestRunHeartbeat(t *testing.T) {
	// Rate 1 at 02:00 New York time: a message every ten seconds or so.
	start := summerDay.Add(2 * time.Hour)
	r := startRun(t, Options{Seed: 1, Rate: 1, Speed: 1e6, Start: start}, 0)
	prev, empty, events := start.UnixNano(), 0, 0
	for prev < start.Add(5*time.Minute).UnixNano() {
		b := <-r.out
		if gap := b.Now - prev; gap > feed.HeartbeatInterval {
			t.Fatalf("%v of simulated time without a batch", time.Duration(gap))
		}
		if b.Events == nil {
			empty++
		}
		events += len(b.Events)
		prev = b.Now
	}
	r.stop()
	if empty < 2000 || events < 3*len(DefaultSymbols) {
		t.Errorf("%d heartbeats and %d events in 5 quiet minutes", empty, events)
	}
}

func TestRunCancel(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		// Blocked sending: nobody reads the unbuffered channel.
		{"while sending", Options{Speed: math.Inf(1)}},
		// Asleep: at a thousandth of real time even the first batch, cut
		// 10 ms of simulated time after the start, is ten seconds away.
		{"while sleeping", Options{Speed: 0.001}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			startRun(t, tt.opts, 0).stop()
		})
	}
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := mustNew(t, Options{}).Run(ctx, make(chan feed.Batch)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
	})
}
