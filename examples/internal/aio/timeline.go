package aio

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// A Timeline writes lines stamped with the time since it was created and
// with the wall clock, the way the tutorial stamps its output with
// time.strftime('%X'):
//
//	+4.001s 14:03:11 waited 4s, waiting again
//
// The relative stamp has millisecond precision and comes from the monotonic
// clock; the wall clock is HH:MM:SS, which is what %X prints in the C locale.
//
// A Timeline is safe for concurrent use. Each line is stamped and written
// under one lock, so lines from different goroutines never mix and their
// stamps never go backwards.
type Timeline struct {
	start time.Time

	mu  sync.Mutex
	w   io.Writer
	err error // first write error; once set, lines are dropped
}

// NewTimeline returns a Timeline that writes to w and starts counting now.
func NewTimeline(w io.Writer) *Timeline {
	return &Timeline{w: w, start: time.Now()}
}

// Printf formats a line like fmt.Printf, stamps it and writes it. A newline
// is added. After a write error Printf does nothing; Err reports the error.
func (t *Timeline) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return
	}
	// Read the clock under the lock: a line stamped earlier is then always
	// written earlier.
	now := time.Now()
	_, t.err = fmt.Fprintf(t.w, "+%.3fs %s %s\n", now.Sub(t.start).Seconds(), now.Format(time.TimeOnly), msg)
}

// Since returns the time elapsed since the Timeline was created.
func (t *Timeline) Since() time.Duration { return time.Since(t.start) }

// Err returns the first error met writing a line, if any.
func (t *Timeline) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}
