package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if a flusher goroutine outlives the tests: every
// File must be closed, and Close must wait for its goroutine (style habit
// 1). goleak is not available (standard library only), so check the stacks
// by hand. Close waits for the flusher, so no grace period is needed.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && os.Getenv(crashEnv) == "" {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		if strings.Contains(stacks, "journal.(*File).flushLoop") {
			fmt.Fprintf(os.Stderr, "leaked flusher goroutine:\n%s\n", stacks)
			code = 1
		}
	}
	os.Exit(code)
}

// payloadFor is the deterministic payload of seq: 8..127 bytes that encode
// the seq, so any misplaced or mangled record is caught.
func payloadFor(seq uint64) []byte {
	p := make([]byte, payloadLen(seq))
	fillPayload(p, seq)
	return p
}

func payloadLen(seq uint64) int { return 8 + int(seq*7919%120) }

func fillPayload(p []byte, seq uint64) {
	le.PutUint64(p, seq)
	for i := 8; i < len(p); i++ {
		p[i] = byte(seq>>(i%8)) ^ byte(i)
	}
}

// tsFor is a deterministic event time, roughly monotonic with a late record
// every 10th seq, as late trades are.
func tsFor(seq uint64) int64 {
	ts := int64(seq) * 1000
	if seq%10 == 0 {
		ts -= 25_000
	}
	return ts
}

// testCtx bounds a test that could hang on a bug. It is a hang guard, not a
// timing assertion: nothing checks how fast anything happens.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// appendRange appends [from, to] with payloadFor/tsFor, committing every
// few records as an ingest loop does per batch.
func appendRange(t testing.TB, j Journal, from, to uint64) {
	t.Helper()
	for s := from; s <= to; s++ {
		if err := j.Append(s, tsFor(s), payloadFor(s)); err != nil {
			t.Fatalf("Append(%d): %v", s, err)
		}
		if s%7 == 0 {
			j.Commit()
		}
	}
	j.Commit()
}

// drain reads from r until it has caught up with Written, returning copies.
func drain(t testing.TB, j Journal, r Reader) ([]Record, error) {
	t.Helper()
	var out []Record
	for {
		rec, ok, err := r.TryNext()
		if err != nil {
			return out, err
		}
		if !ok {
			return out, nil
		}
		rec.Payload = append([]byte(nil), rec.Payload...)
		out = append(out, rec)
	}
}

// readAll syncs j and returns every record from `from` on.
func readAll(t testing.TB, j Journal, from uint64) []Record {
	t.Helper()
	if err := j.Sync(context.Background()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	r, err := j.NewReader(from)
	if err != nil {
		t.Fatalf("NewReader(%d): %v", from, err)
	}
	defer r.Close()
	recs, err := drain(t, j, r)
	if err != nil {
		t.Fatalf("reading from %d: %v", from, err)
	}
	return recs
}

// checkRecords asserts recs are exactly seqs [from, to] with the
// deterministic contents.
func checkRecords(t testing.TB, recs []Record, from, to uint64) {
	t.Helper()
	want := 0
	if to >= from {
		want = int(to - from + 1)
	}
	if len(recs) != want {
		first, last := uint64(0), uint64(0)
		if len(recs) > 0 {
			first, last = recs[0].Seq, recs[len(recs)-1].Seq
		}
		t.Fatalf("got %d records (%d..%d), want %d (%d..%d)", len(recs), first, last, want, from, to)
	}
	for i, r := range recs {
		s := from + uint64(i)
		if r.Seq != s || r.TS != tsFor(s) || string(r.Payload) != string(payloadFor(s)) {
			t.Fatalf("record %d: got seq %d ts %d payload %x, want seq %d ts %d payload %x",
				i, r.Seq, r.TS, r.Payload, s, tsFor(s), payloadFor(s))
		}
	}
}

func isCorruption(err error, cause error) bool {
	var ce *CorruptionErr
	return errors.As(err, &ce) && errors.Is(err, cause)
}
