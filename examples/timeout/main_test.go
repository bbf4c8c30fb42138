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

// scale makes a lesson second 20 ms: the whole run takes about 160 ms.
const scale = 20 * time.Millisecond

func TestRun(t *testing.T) {
	// No goroutine the lesson started may outlive run: NoLeak waits for
	// runtime.NumGoroutine to settle back to its count from here.
	aiotest.NoLeak(t)
	var out bytes.Buffer
	start := time.Now()
	if err := run(t.Context(), &out, scale); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	lines := aiotest.Parse(t, out.String())

	d := budget * scale
	timedOut := fmt.Sprintf("aio: timed out after %v", d)
	sections, origins := aiotest.Split(t, lines,
		fmt.Sprintf("wait_for(work(10), timeout=%v)", d),
		fmt.Sprintf("gather(wait_for(work(10), timeout=%v), wait_for(work(2), timeout=%v))", d, d),
	)

	t.Run("wait_for", func(t *testing.T) {
		s := sections[0]
		// The work reports that it stopped, on its own goroutine, before
		// WaitFor returns and the caller reports the timeout.
		stopped := aiotest.Match(t, s, `work\(10\) stopped after \S+: `+timedOut)
		timeout := aiotest.Index(t, s, "timeout: "+timedOut)
		if stopped > timeout {
			t.Errorf("the timeout was reported before the work stopped")
		}
		if due := origins[0] + d; s[timeout].At < due {
			t.Errorf("timeout reported at %v, before the budget ran out at %v", s[timeout].At, due)
		}
		if len(s) != 2 {
			t.Errorf("%d lines, want 2: the stopped work must print nothing more\n%s", len(s), out.String())
		}
	})

	t.Run("per-task timeouts", func(t *testing.T) {
		s := sections[1]
		aiotest.Schedule{Origin: origins[1], Scale: scale, Events: []aiotest.Event{
			{Text: "work(2) finished", At: 2},
		}}.Check(t, s)
		stopped := aiotest.Match(t, s, `work\(10\) stopped after \S+: `+timedOut)
		if due := origins[1] + d; s[stopped].At < due {
			t.Errorf("work(10) stopped at %v, before its budget ran out at %v", s[stopped].At, due)
		}
		aiotest.Match(t, s, `\[0\] after \S+: error: `+timedOut)
		aiotest.Match(t, s, `\[1\] after \S+: 2`)
		if last := len(s) - 1; s[last].Text != "work still running: 0" {
			t.Errorf("last line %q, want %q", s[last].Text, "work still running: 0")
		}
	})

	// Had the work not stopped at its deadline, each part would have taken
	// its full 10 lesson seconds, 20 in all; with the timeouts it is 2 × 4.
	// The 12 lesson seconds (240 ms) in between are slack for a loaded
	// machine, not a performance target.
	if hi := 20 * scale; took >= hi {
		t.Errorf("run took %v, want less than %v: the timed-out work did not stop", took, hi)
	}
}

func TestRunCancelled(t *testing.T) {
	aiotest.NoLeak(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out bytes.Buffer
	// Interrupted is not timed out: run must return the cancellation, not
	// report a timeout.
	if err := run(ctx, &out, time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("run = %v, want context.Canceled", err)
	}
	lines := aiotest.Parse(t, out.String())
	aiotest.Match(t, lines, `work\(10\) stopped after \S+: context canceled`)
	if len(lines) != 2 {
		t.Errorf("%d lines, want 2 (header, stopped):\n%s", len(lines), out.String())
	}
}

func TestRunBadScale(t *testing.T) {
	if err := run(t.Context(), &bytes.Buffer{}, 0); err == nil {
		t.Error("run with scale 0 succeeded, want an error")
	}
}
