package aiotest

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB that records failures instead of reporting them,
// so the checks themselves can be tested.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// check runs f against a recorder on its own goroutine, since Fatalf ends
// the goroutine it is called on, and returns the failures.
func check(f func(tb testing.TB)) []string {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.failures
}

const ms = time.Millisecond

func TestSchedule(t *testing.T) {
	sched := Schedule{Scale: 10 * ms, Events: []Event{
		{Text: "a", At: 0}, {Text: "b", At: 1}, {Text: "c", At: 4},
	}}
	tests := []struct {
		name string
		out  string
		fail string // substring of the first failure; "" means none
	}{
		{"in order", "+0.000s 10:00:00 a\n+0.010s 10:00:00 b\n+0.040s 10:00:00 c\n", ""},
		{"close events swapped", "+0.010s 10:00:00 b\n+0.010s 10:00:00 a\n+0.040s 10:00:00 c\n", ""},
		{"distant events swapped", "+0.040s 10:00:00 c\n+0.040s 10:00:00 a\n+0.040s 10:00:00 b\n", `"a" (due at 0) printed after "c"`},
		{"early", "+0.000s 10:00:00 a\n+0.010s 10:00:00 b\n+0.039s 10:00:00 c\n", "before it was due"},
		{"missing", "+0.000s 10:00:00 a\n+0.040s 10:00:00 c\n", `no line matches "b"`},
		{"twice", "+0.000s 10:00:00 a\n+0.010s 10:00:00 b\n+0.010s 10:00:00 b\n+0.040s 10:00:00 c\n", "both match"},
		{"unstamped", "a\n", "not a timeline line"},
		{"stamps backwards", "+0.010s 10:00:00 a\n+0.000s 10:00:00 b\n", "before the previous line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failures := check(func(tb testing.TB) { sched.Check(tb, Parse(tb, tt.out)) })
			switch {
			case tt.fail == "" && len(failures) > 0:
				t.Errorf("unexpected failure: %s", failures[0])
			case tt.fail != "" && len(failures) == 0:
				t.Errorf("no failure, want one containing %q", tt.fail)
			case tt.fail != "" && !strings.Contains(failures[0], tt.fail):
				t.Errorf("failure %q, want one containing %q", failures[0], tt.fail)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	lines := Parse(t, "+0.000s 10:00:00 one\n+0.001s 10:00:00 x\n+0.002s 10:00:00 two\n+0.003s 10:00:00 y\n+0.004s 10:00:00 z\n")
	sections, origins := Split(t, lines, "one", "two")
	if len(sections) != 2 || len(sections[0]) != 1 || len(sections[1]) != 2 || sections[1][1].Text != "z" {
		t.Errorf("sections = %v", sections)
	}
	if origins[0] != 0 || origins[1] != 2*ms {
		t.Errorf("origins = %v, want [0 2ms]", origins)
	}
}

func TestSettle(t *testing.T) {
	// Counts taken here may include goroutines of earlier tests that are
	// still exiting, and their exit lowers the count at any moment. So the
	// leak case asks for 0, which is never reached, and the clean case can
	// only pass wrongly, never fail wrongly.
	stop := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		<-stop
	}()
	if err := settle(0, 10*ms); err == nil || !strings.Contains(err.Error(), "left running") {
		t.Errorf("settle(0) = %v, want a leak report", err)
	}

	withOurs := runtime.NumGoroutine()
	close(stop)
	<-exited
	if err := settle(withOurs-1, leakWait); err != nil {
		t.Error(err)
	}
}
