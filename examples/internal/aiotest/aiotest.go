// Package aiotest holds test helpers for the walkthrough lessons: it parses
// the output of an aio.Timeline, checks the order of events against the
// lesson's schedule, and checks that no goroutine outlives a test, which is
// what go.uber.org/goleak would do, by hand, since the examples use only the
// standard library.
package aiotest

import (
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A Line is one parsed line of Timeline output.
type Line struct {
	At    time.Duration // relative stamp, since the Timeline started
	Clock string        // wall-clock stamp, HH:MM:SS
	Text  string        // the rest of the line, after one space
}

var lineRE = regexp.MustCompile(`^\+(\d+\.\d{3})s (\d{2}:\d{2}:\d{2}) (.*)$`)

// Parse splits Timeline output into lines and fails tb if a line is not
// stamped as Timeline stamps it or if the relative stamps go backwards.
func Parse(tb testing.TB, out string) []Line {
	tb.Helper()
	var lines []Line
	for s := range strings.Lines(out) {
		m := lineRE.FindStringSubmatch(strings.TrimSuffix(s, "\n"))
		if m == nil {
			tb.Fatalf("line %d is not a timeline line: %q\nfull output:\n%s", len(lines)+1, s, out)
		}
		at, err := time.ParseDuration(m[1] + "s")
		if err != nil {
			tb.Fatalf("line %d: %v", len(lines)+1, err)
		}
		if n := len(lines); n > 0 && at < lines[n-1].At {
			tb.Fatalf("line %d: stamp %v is before the previous line's %v\nfull output:\n%s", n+1, at, lines[n-1].At, out)
		}
		lines = append(lines, Line{At: at, Clock: m[2], Text: m[3]})
	}
	return lines
}

// Index returns the index of the only line whose text is text, and fails tb
// if there is no such line or more than one.
func Index(tb testing.TB, lines []Line, text string) int {
	tb.Helper()
	return only(tb, lines, text, func(s string) bool { return s == text })
}

// Match returns the index of the only line whose text matches the regular
// expression expr, anchored at both ends, and fails tb otherwise.
func Match(tb testing.TB, lines []Line, expr string) int {
	tb.Helper()
	re := regexp.MustCompile("^(?:" + expr + ")$")
	return only(tb, lines, expr, re.MatchString)
}

func only(tb testing.TB, lines []Line, what string, ok func(string) bool) int {
	tb.Helper()
	found := -1
	for i, l := range lines {
		if !ok(l.Text) {
			continue
		}
		if found >= 0 {
			tb.Fatalf("lines %d and %d both match %q\n%s", found+1, i+1, what, dump(lines))
		}
		found = i
	}
	if found < 0 {
		tb.Fatalf("no line matches %q\n%s", what, dump(lines))
	}
	return found
}

// Split cuts lines into sections, one per header, in order: section i holds
// the lines after headers[i] and before headers[i+1]. The stamp of each
// header is returned too, as the origin of its section's schedule.
func Split(tb testing.TB, lines []Line, headers ...string) (sections [][]Line, origins []time.Duration) {
	tb.Helper()
	starts := make([]int, len(headers))
	for i, h := range headers {
		starts[i] = Index(tb, lines, h)
		if i > 0 && starts[i] < starts[i-1] {
			tb.Fatalf("header %q comes before %q\n%s", h, headers[i-1], dump(lines))
		}
	}
	for i, s := range starts {
		end := len(lines)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		sections = append(sections, lines[s+1:end])
		origins = append(origins, lines[s].At)
	}
	return sections, origins
}

// An Event is a line a lesson is expected to print at a given time.
type Event struct {
	Text string // the line's text, exactly
	At   int    // when it is due, in lesson seconds after the origin
}

// MinGap is the distance, in lesson seconds, from which Schedule.Check
// asserts the order of two events.
//
// Timers never fire early, so an event is never printed before it is due;
// but a goroutine may run late, by however long the machine is busy. Two
// events due at the same time, or one lesson second apart (20 ms in the
// tests), may therefore be printed in either order on a loaded machine. At
// three lesson seconds apart, swapping them would take a stall of 60 ms
// that hits the earlier event and not the later one: the tests accept that
// residual risk in exchange for checking the interleaving at all.
const MinGap = 3

// A Schedule is the timetable of a lesson section.
type Schedule struct {
	Origin time.Duration // stamp of the section's start
	Scale  time.Duration // length of a lesson second
	Events []Event
}

// Check asserts that each event is printed exactly once, never before it is
// due, and after every event due at least MinGap lesson seconds earlier.
func (s Schedule) Check(tb testing.TB, lines []Line) {
	tb.Helper()
	idx := make([]int, len(s.Events))
	for i, e := range s.Events {
		idx[i] = Index(tb, lines, e.Text)
		due := s.Origin + time.Duration(e.At)*s.Scale
		if at := lines[idx[i]].At; at < due {
			tb.Errorf("%q printed at %v, before it was due at %v", e.Text, at, due)
		}
	}
	for i, a := range s.Events {
		for j, b := range s.Events {
			if b.At-a.At >= MinGap && idx[i] > idx[j] {
				tb.Errorf("%q (due at %d) printed after %q (due at %d)\n%s", a.Text, a.At, b.Text, b.At, dump(lines))
			}
		}
	}
}

func dump(lines []Line) string {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "\t+%.3fs %s\n", l.At.Seconds(), l.Text)
	}
	return b.String()
}

// NoLeak records how many goroutines are running and, when the test ends,
// fails it if the count does not settle back. It must not be used in a test
// that runs in parallel with others, whose goroutines it would count.
func NoLeak(tb testing.TB) {
	tb.Helper()
	before := runtime.NumGoroutine()
	tb.Cleanup(func() {
		if err := settle(before, leakWait); err != nil {
			tb.Error(err)
		}
	})
}

// VerifyTestMain runs the tests of a package and then fails the run if
// goroutines are left over. Call it from TestMain:
//
//	func TestMain(m *testing.M) { aiotest.VerifyTestMain(m) }
func VerifyTestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if err := settle(before, leakWait); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// leakWait bounds how long settle waits for goroutines to exit. Only a real
// leak ever waits that long.
const leakWait = 5 * time.Second

// settle waits up to d for the number of goroutines to drop to want. A
// goroutine that has signalled its owner (wg.Done, close) still needs a
// moment to exit, so the count is polled rather than read once.
func settle(want int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return nil
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("%d goroutines left running, want at most %d:\n%s", n, want, buf)
		}
		time.Sleep(time.Millisecond)
	}
}
