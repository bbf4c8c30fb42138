package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/tapehq/tape/examples/internal/aiotest"
)

func TestMain(m *testing.M) { aiotest.VerifyTestMain(m) }

// scale makes a lesson second 20 ms: the whole run takes about 180 ms.
const scale = 20 * time.Millisecond

func TestRun(t *testing.T) {
	aiotest.NoLeak(t)
	var out bytes.Buffer
	if err := run(t.Context(), &out, scale); err != nil {
		t.Fatal(err)
	}
	lines := aiotest.Parse(t, out.String())
	sections, origins := aiotest.Split(t, lines, headOrdered, headValues, headFailFast)

	t.Run("ordered", func(t *testing.T) {
		s := sections[0]
		aiotest.Schedule{Origin: origins[0], Scale: scale, Events: []aiotest.Event{
			{Text: "work(1) finished", At: 1},
			{Text: "work(2) finished", At: 2},
			{Text: "work(3) finished", At: 3},
			{Text: "work(4) finished", At: 4},
		}}.Check(t, s)
		aiotest.Index(t, s, "results in the order asked: [2 1 4 3]")
		checkResults(t, s, []string{"2", "1", "4", "3"}, []int{2, 1, 4, 3})

		// The tasks were asked for as 2, 1, 4, 3 and due to finish as 1, 2,
		// 3, 4. Schedule.Check cannot vouch for pairs one lesson second
		// apart, but for the finishing order to equal the request order
		// both such pairs (2 before 1, 4 before 3) would have to swap
		// under load, twice in one run.
		var finished []string
		for _, l := range s {
			if m := finishedRE.FindStringSubmatch(l.Text); m != nil {
				finished = append(finished, m[1])
			}
		}
		if fmt.Sprint(finished) == "[2 1 4 3]" {
			t.Errorf("tasks finished in request order %v; the lesson wants completion order to differ", finished)
		}
	})

	t.Run("errors as values", func(t *testing.T) {
		s := sections[1]
		// Nothing is cancelled: every task finishes on time.
		aiotest.Schedule{Origin: origins[1], Scale: scale, Events: []aiotest.Event{
			{Text: "fail(1) failed", At: 1},
			{Text: "work(2) finished", At: 2},
			{Text: "work(3) finished", At: 3},
			{Text: "work(4) finished", At: 4},
		}}.Check(t, s)
		checkResults(t, s, []string{"2", "error: fail(1): failed on purpose", "4", "3"}, []int{2, 1, 4, 3})
	})

	t.Run("fail fast", func(t *testing.T) {
		s := sections[2]
		cancelled := func(n int) string { return fmt.Sprintf("work(%d) cancelled: fail(1): failed on purpose", n) }
		failed := aiotest.Index(t, s, "fail(1) failed")
		aiotest.Index(t, s, "first error: fail(1): failed on purpose")
		// work(4) is due MinGap lesson seconds after the failure: it must
		// have been cancelled, and only after the failure. work(2) and
		// work(3) are due too soon after it to promise as much; each is
		// either cancelled or finished.
		if i := aiotest.Index(t, s, cancelled(4)); i < failed {
			t.Errorf("%q printed before the failure that caused it", s[i].Text)
		}
		want := []string{"", "error: fail(1): failed on purpose", "error: context canceled", ""}
		for _, n := range []int{2, 3} {
			aiotest.Match(t, s, regexp.QuoteMeta(cancelled(n))+"|"+fmt.Sprintf(`work\(%d\) finished`, n))
		}
		checkResults(t, s, want, []int{1, 1, 1, 1})
	})
}

var finishedRE = regexp.MustCompile(`^work\((\d)\) finished$`)

var resultRE = regexp.MustCompile(`^\[(\d)\] after (\S+): (.*)$`)

// checkResults checks the result lines of a section: one per task, in
// request order, with the given outcomes ("" accepts any), and with an
// elapsed time no shorter than minSeconds lesson seconds.
func checkResults(t *testing.T, s []aiotest.Line, want []string, minSeconds []int) {
	t.Helper()
	var i int
	for _, l := range s {
		m := resultRE.FindStringSubmatch(l.Text)
		if m == nil {
			continue
		}
		if m[1] != fmt.Sprint(i) {
			t.Errorf("result line %q, want result [%d] next: results must be in request order", l.Text, i)
		}
		if i < len(want) && want[i] != "" && m[3] != want[i] {
			t.Errorf("result [%d] = %q, want %q", i, m[3], want[i])
		}
		elapsed, err := time.ParseDuration(m[2])
		if err != nil {
			t.Errorf("result [%d]: %v", i, err)
		} else if i < len(minSeconds) && elapsed < time.Duration(minSeconds[i])*scale {
			t.Errorf("result [%d] after %v, less than its %d lesson seconds", i, elapsed, minSeconds[i])
		}
		i++
	}
	if i != len(want) {
		t.Errorf("%d result lines, want %d", i, len(want))
	}
}

func TestRunCancelled(t *testing.T) {
	aiotest.NoLeak(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("run = %v, want context.Canceled", err)
	}
	lines := aiotest.Parse(t, out.String())
	aiotest.Index(t, lines, headOrdered)
	for n := 1; n <= 4; n++ {
		aiotest.Index(t, lines, fmt.Sprintf("work(%d) cancelled: context canceled", n))
	}
}

func TestRunBadScale(t *testing.T) {
	if err := run(t.Context(), &bytes.Buffer{}, -time.Second); err == nil {
		t.Error("run with a negative scale succeeded, want an error")
	}
}
