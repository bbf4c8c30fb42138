package aio_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tapehq/tape/examples/internal/aio"
	"github.com/tapehq/tape/examples/internal/aiotest"
)

// TestTimelineConcurrent writes from many goroutines at once; every line
// must come out whole and stamped, with stamps in order (aiotest.Parse
// checks both).
func TestTimelineConcurrent(t *testing.T) {
	var out bytes.Buffer
	tl := aio.NewTimeline(&out)
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				tl.Printf("writer %d line %d", w, i)
			}
		})
	}
	wg.Wait()
	if err := tl.Err(); err != nil {
		t.Fatal(err)
	}
	lines := aiotest.Parse(t, out.String())
	if len(lines) != writers*each {
		t.Fatalf("%d lines, want %d", len(lines), writers*each)
	}
	aiotest.Index(t, lines, fmt.Sprintf("writer %d line %d", writers-1, each-1))
}

type failingWriter struct{ writes int }

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	return 0, errDiskFull
}

func TestTimelineWriteError(t *testing.T) {
	w := &failingWriter{}
	tl := aio.NewTimeline(w)
	tl.Printf("one")
	tl.Printf("two")
	if err := tl.Err(); !errors.Is(err, errDiskFull) {
		t.Errorf("Err() = %v, want %v", err, errDiskFull)
	}
	if w.writes != 1 {
		t.Errorf("%d writes, want 1: lines after an error must be dropped", w.writes)
	}
}
