package bars

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// TestStateSplit is the snapshot's invariant: a stream fed to one Builder,
// and the same stream fed to a Builder that is snapshotted with AppendState
// and replaced by a fresh one given the snapshot (RestoreState) at random
// points, emit exactly the same events, VWAP bits included, and end with the
// same counters. Every snapshot must also read back to the same bytes.
func TestStateSplit(t *testing.T) {
	for _, name := range slices.Sorted(maps.Keys(testProfiles)) {
		for _, window := range []time.Duration{0, 3 * time.Minute} {
			for seed := uint64(1); seed <= seeds(3); seed++ {
				t.Run(fmt.Sprintf("%s/window=%v/seed=%d", name, window, seed), func(t *testing.T) {
					p := testProfiles[name]
					p.window = window
					if window == 0 {
						p.window = DefaultWindow
					}
					splitRun(t, seed, p, Options{Window: window})
				})
			}
		}
	}
}

func splitRun(t *testing.T, seed uint64, p profile, opts Options) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	start := ts(t, "09:30:00")
	g := newGen(seed, p, start)
	whole, part := New(opts), New(opts)
	var evs, want, got []market.Event
	var snap []byte
	restores := 0
	for batch := 0; g.clock < start+25*minuteNs; batch++ {
		var now int64
		evs, now = g.step(evs[:0])
		for i := range evs {
			whole.Apply(&evs[i])
			part.Apply(&evs[i])
			if rng.IntN(200) == 0 { // a split between two events of a batch
				part = restored(t, part, opts, &snap)
				restores++
			}
		}
		want = whole.Advance(now, want[:0])
		got = part.Advance(now, got[:0])
		if !slices.Equal(got, want) {
			t.Fatalf("batch %d after %d restores:\n got %q\nwant %q", batch, restores, show(got), show(want))
		}
		if rng.IntN(20) == 0 {
			part = restored(t, part, opts, &snap)
			restores++
		}
	}
	if got, want := part.Stats(), whole.Stats(); comparableState(got) != comparableState(want) {
		t.Errorf("stats after %d restores:\n got %+v\nwant %+v", restores, got, want)
	}
	if restores < 10 {
		t.Errorf("only %d restores", restores)
	}
}

// restored snapshots b into *snap and returns a fresh Builder restored from
// it, checking that the restored one snapshots to the same bytes.
func restored(t *testing.T, b *Builder, opts Options, snap *[]byte) *Builder {
	t.Helper()
	*snap = b.AppendState((*snap)[:0])
	nb := New(opts)
	if err := nb.RestoreState(*snap); err != nil {
		t.Fatalf("RestoreState: %v", err)
	}
	if again := nb.AppendState(nil); !bytes.Equal(again, *snap) {
		t.Fatalf("a restored builder snapshots to other bytes (%d vs %d)", len(again), len(*snap))
	}
	return nb
}

func comparableState(s Stats) Stats {
	s.HeldBytes = 0
	return s
}

// stateSample returns a snapshot of a builder in the middle of a stream
// of the profile, after the given time: late trades, corrections, cancels
// and updated bars pending.
func stateSample(t testing.TB, profileName string, opts Options, after time.Duration) []byte {
	start := ts(t, "09:30:00")
	p := testProfiles[profileName]
	p.window = DefaultWindow
	if opts.Window != 0 {
		p.window = opts.Window
	}
	g := newGen(1, p, start)
	b := New(opts)
	var evs, out []market.Event
	for g.clock < start+int64(after) {
		var now int64
		evs, now = g.step(evs[:0])
		for i := range evs {
			b.Apply(&evs[i])
		}
		out = b.Advance(now, out[:0])
	}
	return b.AppendState(nil)
}

func TestStateOptions(t *testing.T) {
	snap := stateSample(t, "sparse", Options{}, 5*time.Minute+20*time.Second)
	tests := []struct {
		name string
		opts Options
	}{
		{"window", Options{Window: time.Minute}},
		{"location", Options{Location: time.UTC}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := New(tc.opts)
			h := newHarnessOn(t, b)
			h.trade("X", "09:30:10", 1, 100, 100)
			before := b.AppendState(nil)
			if err := b.RestoreState(snap); !errors.Is(err, ErrStateOptions) {
				t.Fatalf("RestoreState = %v, want ErrStateOptions", err)
			}
			if after := b.AppendState(nil); !bytes.Equal(before, after) {
				t.Errorf("a failed RestoreState changed the builder")
			}
		})
	}
}

func newHarnessOn(t testing.TB, b *Builder) *harness { return &harness{t, b} }

func TestStateDamaged(t *testing.T) {
	snap := stateSample(t, "busy", Options{}, 5*time.Minute+20*time.Second)
	// With its checksum, any damage is caught.
	damaged := map[string][]byte{
		"empty":          nil,
		"magic":          append([]byte("XBST"), snap[4:]...),
		"version":        append(append([]byte("TBST"), 2), snap[5:]...),
		"truncated":      snap[:len(snap)/2],
		"no checksum":    snap[:len(snap)-4],
		"flipped bit":    flip(snap, len(snap)/3),
		"trailing bytes": append(slices.Clone(snap), 0),
	}
	// Behind a valid checksum, the body itself must be checked.
	body := func(edit func(b []byte) []byte) []byte {
		b := edit(slices.Clone(snap[:len(snap)-4]))
		return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	}
	header := len(stateMagic) + 1
	damaged["resealed: huge symbol count"] = body(func(b []byte) []byte {
		// Replace everything after the days with a claim of 2^40 symbols.
		d := dec{b: b, off: header}
		d.u()
		d.str(256)
		d.i()
		d.i()
		d.u()
		for range 13 {
			d.u()
		}
		for range d.count(3) {
			d.i()
			d.u()
			d.i()
		}
		return binary.AppendUvarint(b[:d.off], 1<<40)
	})
	damaged["resealed: truncated body"] = body(func(b []byte) []byte { return b[:len(b)*2/3] })
	damaged["resealed: flipped bit"] = body(func(b []byte) []byte { return flip(b, len(b)/2) })
	for _, name := range slices.Sorted(maps.Keys(damaged)) {
		t.Run(name, func(t *testing.T) {
			b := New(Options{})
			err := b.RestoreState(damaged[name])
			if name == "resealed: flipped bit" && err == nil {
				return // a flip can land on a value with no constraint, a price say
			}
			if !errors.Is(err, ErrBadState) {
				t.Fatalf("RestoreState = %v, want ErrBadState", err)
			}
			if s := b.Stats(); s != (Stats{}) {
				t.Errorf("a failed RestoreState changed the builder: %+v", s)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	b = slices.Clone(b)
	b[i] ^= 0x10
	return b
}

// FuzzRestoreState feeds RestoreState untrusted bytes: real snapshots,
// mutated, both as they are (the checksum stops most) and resealed with a
// valid checksum (so the body parser sees the mutation). It must never
// panic; what it accepts must work: a restored builder takes trades,
// closes minutes and snapshots to bytes that restore again, identically.
func FuzzRestoreState(f *testing.F) {
	f.Add(New(Options{}).AppendState(nil))
	// Small seeds: the fuzzer mutates and minimizes them much faster.
	for _, p := range []string{"sparse", "ends"} {
		f.Add(stateSample(f, p, Options{}, 70*time.Second))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		inputs := [][]byte{p}
		if len(p) > 4 {
			b := slices.Clone(p[:len(p)-4])
			inputs = append(inputs, binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)))
		}
		for _, in := range inputs {
			b := New(Options{})
			if err := b.RestoreState(in); err != nil {
				if !errors.Is(err, ErrBadState) && !errors.Is(err, ErrStateOptions) {
					t.Fatalf("error %v wraps neither sentinel", err)
				}
				continue
			}
			snap := b.AppendState(nil)
			e := market.Event{Kind: market.KindTrade, Symbol: "S000", Time: ts(t, "09:36:10"),
				Trade: market.Trade{ID: 1 << 40, Price: 100, Size: 100, Exchange: 'V'}}
			b.Apply(&e)
			e = market.Event{Kind: market.KindCancelError, Symbol: "S000", Time: ts(t, "09:36:11"),
				CancelError: &market.CancelError{ID: 50, Price: 100, Size: 100}}
			b.Apply(&e)
			b.Advance(ts(t, "09:40:00"), nil)
			b2 := New(Options{})
			if err := b2.RestoreState(snap); err != nil {
				t.Fatalf("a snapshot of a restored builder does not restore: %v", err)
			}
			if again := b2.AppendState(nil); !bytes.Equal(again, snap) {
				t.Fatalf("restoring twice gives other bytes")
			}
		}
	})
}
