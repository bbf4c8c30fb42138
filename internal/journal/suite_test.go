package journal

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// opener builds the journal under test. Every call of one opener in a test
// refers to the same storage (dir for File), so reopening is expressible;
// Memory has no storage and ignores it. Closing is registered with
// t.Cleanup.
type opener func(t *testing.T, o Options) Journal

func memoryOpener(t *testing.T) opener {
	return func(t *testing.T, o Options) Journal {
		j := NewMemory(o)
		t.Cleanup(func() { j.Close() })
		return j
	}
}

func fileOpener(t *testing.T) opener {
	dir := t.TempDir()
	return func(t *testing.T, o Options) Journal {
		j, err := Open(dir, o)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			if err := j.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return j
	}
}

// TestJournal is the one suite both implementations must pass (nats
// store_test.go's idea): the memory journal is the executable specification
// of the file journal's semantics.
func TestJournal(t *testing.T) {
	impls := []struct {
		name string
		new  func(t *testing.T) opener
	}{
		{"memory", memoryOpener},
		{"file", fileOpener},
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, open opener)
	}{
		{"AppendReadBack", testAppendReadBack},
		{"ReadFromMiddle", testReadFromMiddle},
		{"TailingReader", testTailingReader},
		{"TailingReaderEmpty", testTailingReaderEmpty},
		{"OutOfOrder", testOutOfOrder},
		{"StartAnywhere", testStartAnywhere},
		{"TooLarge", testTooLarge},
		{"CloseIdempotent", testCloseIdempotent},
		{"Watermarks", testWatermarks},
		{"SeekTime", testSeekTime},
		{"SeekTimeUncommitted", testSeekTimeUncommitted},
		{"RetentionMaxBytes", testRetentionMaxBytes},
		{"RetentionMaxAge", testRetentionMaxAge},
		{"RetentionOff", testRetentionOff},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, impl.new(t))
				})
			}
		})
	}
}

func testAppendReadBack(t *testing.T, open opener) {
	for _, seg := range []int64{0, 4 << 10} { // default and many small segments
		j := open(t, Options{SegmentBytes: seg})
		from := j.Last() + 1
		appendRange(t, j, from, from+2999)
		if got := j.Last(); got != from+2999 {
			t.Fatalf("Last = %d, want %d", got, from+2999)
		}
		checkRecords(t, readAll(t, j, 0), 1, from+2999)
		if got := j.First(); got != 1 {
			t.Fatalf("First = %d, want 1", got)
		}
		j.Close()
	}
}

func testReadFromMiddle(t *testing.T, open opener) {
	// 2 KiB segments hold ~25 records each (many segment switches); 1 MiB
	// ones hold several index points each (positioning inside a segment).
	const n = 10000
	for _, seg := range []int64{2 << 10, 1 << 20} {
		j := open(t, Options{SegmentBytes: seg, Fsync: FsyncPolicy{Mode: FsyncNever}})
		base := j.Last()
		appendRange(t, j, base+1, base+n)
		for _, from := range []uint64{1, 2, 13, 744, 745, 746, 4095, 4096, 4097, 9999, n} {
			from += base
			checkRecords(t, readAll(t, j, from), from, base+n)
		}
		// A reader from the future sees nothing yet.
		checkRecords(t, readAll(t, j, base+n+1), base+n+1, base+n)
		j.Close()
	}
}

func testTailingReader(t *testing.T, open opener) {
	ctx := testCtx(t)
	j := open(t, Options{SegmentBytes: 8 << 10, BufferBytes: 4 << 10})
	const n = 5000
	r, err := j.NewReader(1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make(chan []Record)
	go func() {
		var recs []Record
		for len(recs) < n {
			rec, err := r.Next(ctx)
			if err != nil {
				t.Errorf("Next after %d records: %v", len(recs), err)
				break
			}
			rec.Payload = append([]byte(nil), rec.Payload...)
			recs = append(recs, rec)
		}
		got <- recs
	}()
	// Batches of varying size, each committed: the reader must follow
	// across buffers and segment rolls without ever seeing a partial record.
	s := uint64(1)
	for batch := 1; s <= n; batch = batch%97 + 1 {
		for i := 0; i < batch && s <= n; i++ {
			if err := j.Append(s, tsFor(s), payloadFor(s)); err != nil {
				t.Fatal(err)
			}
			s++
		}
		j.Commit()
	}
	checkRecords(t, <-got, 1, n)
}

func testTailingReaderEmpty(t *testing.T, open opener) {
	ctx := testCtx(t)
	j := open(t, Options{})
	r, err := j.NewReader(0) // empty: tails from the next record
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, ok, err := r.TryNext(); ok || err != nil {
		t.Fatalf("TryNext on empty journal = %v, %v", ok, err)
	}
	done := make(chan Record)
	go func() {
		rec, err := r.Next(ctx)
		if err != nil {
			t.Errorf("Next: %v", err)
		}
		rec.Payload = append([]byte(nil), rec.Payload...)
		done <- rec
	}()
	appendRange(t, j, 1, 1)
	checkRecords(t, []Record{<-done}, 1, 1)

	// Cancelling the context ends a waiting Next.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Next(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with cancelled ctx = %v, want context.Canceled", err)
	}
}

func testOutOfOrder(t *testing.T, open opener) {
	j := open(t, Options{})
	appendRange(t, j, 1, 3)
	cases := []struct {
		seq  uint64
		want error
	}{
		{0, ErrOutOfOrder},
		{2, ErrOutOfOrder},
		{3, ErrOutOfOrder},
		{5, ErrSeqGap},
		{math.MaxUint64, ErrSeqGap},
		{4, nil},
		{4, ErrOutOfOrder},
	}
	for _, c := range cases {
		if err := j.Append(c.seq, 0, []byte("x")); !errors.Is(err, c.want) {
			t.Errorf("Append(%d) = %v, want %v", c.seq, err, c.want)
		}
	}
	if j.Last() != 4 {
		t.Fatalf("Last = %d, want 4", j.Last())
	}
}

func testStartAnywhere(t *testing.T, open opener) {
	j := open(t, Options{})
	if j.Last() != 0 || j.First() != 0 {
		t.Fatalf("new journal First/Last = %d/%d", j.First(), j.Last())
	}
	if err := j.Append(1000, tsFor(1000), payloadFor(1000)); err != nil {
		t.Fatalf("a new journal accepts any first seq: %v", err)
	}
	appendRange(t, j, 1001, 1010)
	checkRecords(t, readAll(t, j, 0), 1000, 1010)
	if _, err := j.NewReader(999); !errors.Is(err, ErrPruned) {
		t.Fatalf("NewReader below First = %v, want ErrPruned", err)
	}
	if j.First() != 1000 {
		t.Fatalf("First = %d", j.First())
	}
}

func testTooLarge(t *testing.T, open opener) {
	j := open(t, Options{BufferBytes: 4 << 10})
	if err := j.Append(1, 0, make([]byte, MaxPayload+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append(too large) = %v", err)
	}
	// The largest allowed payload goes through even with a tiny buffer.
	big := make([]byte, MaxPayload)
	big[0], big[MaxPayload-1] = 1, 2
	if err := j.Append(1, 5, big); err != nil {
		t.Fatalf("Append(MaxPayload) = %v", err)
	}
	appendRange(t, j, 2, 3)
	recs := readAll(t, j, 1)
	if len(recs) != 3 || len(recs[0].Payload) != MaxPayload || recs[0].Payload[MaxPayload-1] != 2 {
		t.Fatalf("big record did not read back")
	}
	checkRecords(t, recs[1:], 2, 3)
}

func testCloseIdempotent(t *testing.T, open opener) {
	ctx := testCtx(t)
	j := open(t, Options{})
	appendRange(t, j, 1, 10)
	r, err := j.NewReader(1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Appended but not committed: Close still flushes it.
	if err := j.Append(11, tsFor(11), payloadFor(11)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := j.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if err := j.Append(12, 0, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
	if _, err := j.NewReader(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewReader after Close = %v", err)
	}
	if j.Written() != 11 || j.Synced() != 11 {
		t.Fatalf("after Close Written/Synced = %d/%d, want 11", j.Written(), j.Synced())
	}
	// A reader opened before Close delivers what was written, then ErrClosed.
	var recs []Record
	for {
		rec, err := r.Next(ctx)
		if errors.Is(err, ErrClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rec.Payload = append([]byte(nil), rec.Payload...)
		recs = append(recs, rec)
	}
	checkRecords(t, recs, 1, 11)
	if err := j.WaitWritten(ctx, 12); !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitWritten past the end after Close = %v", err)
	}
}

func testWatermarks(t *testing.T, open opener) {
	ctx := testCtx(t)
	for _, p := range []FsyncPolicy{{Mode: FsyncAlways}, {Mode: FsyncInterval, Interval: time.Millisecond}, {Mode: FsyncNever}} {
		j := open(t, Options{Fsync: p})
		base := j.Last()
		appendRange(t, j, base+1, base+100)
		if err := j.WaitWritten(ctx, base+100); err != nil {
			t.Fatal(err)
		}
		if p.Mode != FsyncNever { // Never needs a seal, Sync or Close
			if err := j.WaitSynced(ctx, base+100); err != nil {
				t.Fatal(err)
			}
		}
		if err := j.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if w, s := j.Written(), j.Synced(); w != base+100 || s != base+100 {
			t.Fatalf("%v: Written/Synced = %d/%d, want %d", p, w, s, base+100)
		}
		j.Close()
	}
}

// seekOracle is SeekTime by brute force over what is retained and written.
func seekOracle(recs []Record, written uint64, t int64) uint64 {
	for _, r := range recs {
		if r.TS >= t {
			return r.Seq
		}
	}
	return written + 1
}

func testSeekTime(t *testing.T, open opener) {
	j := open(t, Options{SegmentBytes: 256 << 10})
	if got, _ := j.SeekTime(0); got != 1 {
		t.Fatalf("SeekTime on empty journal = %d, want 1", got)
	}
	const n = 30000 // several segments, each with several index points
	appendRange(t, j, 1, n)
	recs := readAll(t, j, 0)
	targets := []int64{math.MinInt64, -1 << 40, 0, 1, 999, 1000, 1001, 4_999_000, 5_000_000,
		12_345_678, tsFor(4096), tsFor(4097) + 1, tsFor(n) - 30_000, tsFor(n) - 1, tsFor(n - 1), tsFor(n), tsFor(n) + 1, math.MaxInt64}
	for s := uint64(1); s <= n; s += 997 {
		targets = append(targets, tsFor(s), tsFor(s)-1, tsFor(s)+1)
	}
	for _, ts := range targets {
		got, err := j.SeekTime(ts)
		if err != nil {
			t.Fatalf("SeekTime(%d): %v", ts, err)
		}
		if want := seekOracle(recs, j.Written(), ts); got != want {
			t.Fatalf("SeekTime(%d) = %d, want %d", ts, got, want)
		}
	}
}

// testSeekTimeUncommitted: records appended but not committed are not
// Written, so SeekTime must not point past Written+1 even though the
// writer's index already covers them.
func testSeekTimeUncommitted(t *testing.T, open opener) {
	j := open(t, Options{Fsync: FsyncPolicy{Mode: FsyncNever}})
	appendRange(t, j, 1, 10000)
	if err := j.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	for s := uint64(10001); s <= 20000; s++ { // no Commit
		if err := j.Append(s, tsFor(s), payloadFor(s)); err != nil {
			t.Fatal(err)
		}
	}
	if w := j.Written(); w != 10000 {
		t.Skipf("the flusher took uncommitted data early (Written %d); nothing to check", w)
	}
	for _, ts := range []int64{tsFor(9999) + 1, tsFor(15000), tsFor(20000), math.MaxInt64} {
		if got, err := j.SeekTime(ts); err != nil || got != 10001 {
			t.Fatalf("SeekTime(%d) = %d, %v; want Written+1 = 10001", ts, got, err)
		}
	}
	if got, _ := j.SeekTime(tsFor(5001)); got != 5001 {
		t.Fatalf("SeekTime inside the written part = %d", got)
	}
}

// Retention fixtures: 16-byte payloads make 40-byte records, so a 448-byte
// segment holds exactly 10 (48-byte header + 10*40), identically for both
// implementations. ts of seq s is s seconds.
const (
	retSegBytes = segHeaderSize + 10*(recHeaderSize+16)
	retRecords  = 95
)

func appendFixed(t *testing.T, j Journal, from, to uint64) {
	t.Helper()
	p := make([]byte, 16)
	for s := from; s <= to; s++ {
		fillPayload(p, s)
		if err := j.Append(s, int64(s)*int64(time.Second), p); err != nil {
			t.Fatal(err)
		}
		j.Commit()
	}
}

func checkFixed(t *testing.T, recs []Record, from, to uint64) {
	t.Helper()
	if len(recs) != int(to-from+1) {
		t.Fatalf("got %d records, want %d..%d", len(recs), from, to)
	}
	p := make([]byte, 16)
	for i, r := range recs {
		s := from + uint64(i)
		fillPayload(p, s)
		if r.Seq != s || r.TS != int64(s)*int64(time.Second) || string(r.Payload) != string(p) {
			t.Fatalf("record %d = %+v, want seq %d", i, r, s)
		}
	}
}

func testRetention(t *testing.T, open opener, o Options, wantFirst uint64) {
	t.Helper()
	o.SegmentBytes = retSegBytes
	j := open(t, o)
	appendFixed(t, j, 1, retRecords)
	if err := j.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Prune(); err != nil {
		t.Fatal(err)
	}
	if got := j.First(); got != wantFirst {
		t.Fatalf("First after retention = %d, want %d", got, wantFirst)
	}
	for _, from := range []uint64{1, wantFirst - 1} {
		if _, err := j.NewReader(from); wantFirst > 1 && !errors.Is(err, ErrPruned) {
			t.Fatalf("NewReader(%d) = %v, want ErrPruned", from, err)
		}
	}
	checkFixed(t, readAll(t, j, 0), wantFirst, retRecords)
	// Prune again: nothing more goes, and the active segment never does.
	if n, err := j.Prune(); n != 0 || err != nil {
		t.Fatalf("second Prune = %d, %v", n, err)
	}
	if got, _ := j.SeekTime(0); got != wantFirst {
		t.Fatalf("SeekTime(0) after retention = %d, want %d", got, wantFirst)
	}
	j.Close()
}

func testRetentionMaxBytes(t *testing.T, open opener) {
	// 9 full segments (448 B) + one with 5 records (248 B) = 4280 bytes;
	// dropping the oldest 7 gets under 3*448: the journal starts at 71.
	testRetention(t, open, Options{MaxBytes: 3 * retSegBytes}, 71)
}

func testRetentionMaxAge(t *testing.T, open opener) {
	// Now is 95 s and MaxAge 30 s: segments whose last record is before 65 s
	// (those ending at 10..60) go; 61..70 ends at 70 s and stays.
	now := func() time.Time { return time.Unix(0, retRecords*int64(time.Second)) }
	testRetention(t, open, Options{MaxAge: 30 * time.Second, Now: now}, 61)
}

func testRetentionOff(t *testing.T, open opener) {
	testRetention(t, open, Options{}, 1)
	// Even a tiny MaxBytes keeps the active segment: the records just
	// appended stay. (For File this reopens the journal above.)
	j := open(t, Options{SegmentBytes: retSegBytes, MaxBytes: 1})
	base := j.Last()
	appendFixed(t, j, base+1, base+5)
	j.Sync(context.Background())
	j.Prune()
	if f := j.First(); f == 0 || f > base+1 {
		t.Fatalf("pruned the active segment: First %d, appended from %d", f, base+1)
	}
	checkFixed(t, readAll(t, j, 0), j.First(), base+5)
}
