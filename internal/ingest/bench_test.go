package ingest

import (
	"testing"
	"time"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/bars"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/feed/sim"
	"github.com/tapehq/tape/internal/hub"
	"github.com/tapehq/tape/internal/market"
)

// BenchmarkSimToConsumer measures the core path: sequencer (record clock,
// State) → bar builder → hub → one lossless consumer taking every event
// (wildcard on every channel), in msgpack and JSON, without the journal.
// The simulator's events are generated outside the timer into a small ring
// (64 batches, about 32k events: cache-sized, so the loop does not measure
// GC scanning hundreds of MB of pre-generated events) replayed with its
// clock shifted; each batch is copied into a fresh slice, as a feed hands
// one over. One op is one event.
func BenchmarkSimToConsumer(b *testing.B) {
	for _, codec := range []alpacawire.Codec{alpacawire.MsgPack, alpacawire.JSON} {
		b.Run(codec.String(), func(b *testing.B) {
			s, err := sim.New(sim.Options{Seed: 1, Rate: 1e6, Start: time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)})
			if err != nil {
				b.Fatal(err)
			}
			// Pre-generate batches so only the core is timed.
			var batches []feed.Batch
			n := 0
			for len(batches) < 64 {
				evs, now := s.Next(nil)
				batches = append(batches, feed.Batch{Events: evs, Now: now})
				n += len(evs)
			}
			h := hub.New(hub.Options{Formats: []hub.Encoder{alpacawire.AppendJSON, alpacawire.AppendMsgpack}, MaxQueueBytes: 1 << 30})
			sub := h.Subscribe(int(codec), "bench")
			for c := range market.NumChannels {
				h.SetChannel(sub, c, []string{"*"})
			}
			p := New(Options{Publish: h, Bars: bars.NewSet(bars.Options{})})
			var msgs [][]byte
			var bytes int64
			b.ReportAllocs()
			b.ResetTimer()
			done := 0
			for i := 0; done < b.N; i++ {
				bt := batches[i%len(batches)]
				if i > 0 && i%len(batches) == 0 {
					// Wrapping around would send the clock backwards: shift it.
					b.StopTimer()
					shift := batches[len(batches)-1].Now - batches[0].Now + 60e9
					for j := range batches {
						batches[j].Now += shift
						for k := range batches[j].Events {
							batches[j].Events[k].Time += shift
						}
					}
					b.StartTimer()
					bt = batches[0]
				}
				evs := make([]market.Event, len(bt.Events)) // the feed hands over a fresh slice per batch
				copy(evs, bt.Events)
				p.Process(feed.Batch{Events: evs, Now: bt.Now})
				var cost int
				msgs, cost, _ = sub.Take(msgs[:0])
				for _, m := range msgs {
					bytes += int64(len(m))
				}
				sub.Release(cost)
				done += len(bt.Events)
			}
			b.StopTimer()
			b.SetBytes(bytes / int64(max(done, 1)))
			b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
