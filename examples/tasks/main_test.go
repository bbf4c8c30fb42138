package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tapehq/tape/examples/internal/aiotest"
)

func TestMain(m *testing.M) { aiotest.VerifyTestMain(m) }

// scale makes a lesson second 20 ms: the whole run takes about 400 ms.
const scale = 20 * time.Millisecond

func TestRun(t *testing.T) {
	aiotest.NoLeak(t)
	var out bytes.Buffer
	start := time.Now()
	if err := run(t.Context(), &out, scale); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	lines := aiotest.Parse(t, out.String())

	// The timeline: each task prints at 0, after one wait and after two.
	var events []aiotest.Event
	for _, n := range waits {
		wt := time.Duration(n) * scale
		events = append(events,
			aiotest.Event{Text: fmt.Sprintf("start waiting %v", wt), At: 0},
			aiotest.Event{Text: fmt.Sprintf("waited %v, waiting again", wt), At: n},
			aiotest.Event{Text: fmt.Sprintf("done %v", wt), At: 2 * n},
		)
	}
	// With aiotest.MinGap = 3 this checks, among other pairs, that the 4s
	// task, started last, is done (at 8) long before the 10s task is (at
	// 20), and that the 5s task's first wait is over (at 5) before the 4s
	// task is done (at 8): the tasks' lines interleave.
	aiotest.Schedule{Scale: scale, Events: events}.Check(t, lines)

	summary := aiotest.Match(t, lines, `all done after \S+: about twice the longest wait \(400ms\), not the sum of all waits \(760ms\)`)
	if summary != len(lines)-1 || len(lines) != len(events)+1 {
		t.Errorf("got %d lines with the summary at %d; want the %d events, then the summary", len(lines), summary+1, len(events))
	}

	// Proportions: the 10s task alone sleeps 2×10 lesson seconds, so the
	// run cannot be shorter (timers never fire early). Run one task after
	// the other and it would take the sum of all waits, 2×(5+10+4) = 38;
	// the 18 lesson seconds (360 ms) in between absorb any load a CI
	// machine can put on a 400 ms run.
	if lo, hi := 20*scale, 38*scale; took < lo || took >= hi {
		t.Errorf("run took %v; want at least %v (2 × longest wait) and less than %v (sum of all waits)", took, lo, hi)
	}
}

func TestRunCancelled(t *testing.T) {
	aiotest.NoLeak(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out bytes.Buffer
	// With a real scale, a run that ignored ctx would take 20 s and the
	// test would be slow; returning at all is the check.
	if err := run(ctx, &out, time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("run = %v, want context.Canceled", err)
	}
	lines := aiotest.Parse(t, out.String())
	if len(lines) != len(waits) {
		t.Errorf("got %d lines, want only the %d start lines:\n%s", len(lines), len(waits), out.String())
	}
}

func TestRunBadScale(t *testing.T) {
	if err := run(t.Context(), &bytes.Buffer{}, 0); err == nil {
		t.Error("run with scale 0 succeeded, want an error")
	}
}
