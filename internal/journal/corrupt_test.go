package journal

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The corruption fixture: 25 records of 16-byte payloads (40 bytes each) in
// 448-byte segments of 10 records: 1..10, 11..20 and the active 21..25.
// Record k of the last segment starts at byte 48+(k-21)*40.
const fixtureRecords = 25

func buildFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	j, err := Open(dir, Options{SegmentBytes: retSegBytes, Fsync: FsyncPolicy{Mode: FsyncNever}})
	if err != nil {
		t.Fatal(err)
	}
	appendFixed(t, j, 1, fixtureRecords)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func seg(dir string, first uint64) string { return segmentPath(dir, first) }

func recOff(k uint64) int64 { // offset of record k in its fixture segment
	return segHeaderSize + int64((k-1)%10)*(recHeaderSize+16)
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, path string, p []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(p); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func writeAt(t *testing.T, path string, off int64, p []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(p, off); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestOpenRepair corrupts the fixture in named ways (the wlog_test.go
// pattern) and asserts exactly which records survive and what the report
// says; then that the journal continues at Last()+1 and reopens clean.
func TestOpenRepair(t *testing.T) {
	type want struct {
		first, last   uint64
		reason        Reason
		truncated     int64
		truncatedAt   int64
		segments      int
		lastSegRecs   int
		removed       []uint64 // segment files removed
		quarantined   []uint64
		openErr       error  // Open must fail with a CorruptionErr of this cause
		openErrSegent uint64 // ... naming this segment
	}
	cases := map[string]struct {
		corrupt  func(t *testing.T, dir string)
		keepTail bool
		want     want
	}{
		"clean": {
			corrupt: func(*testing.T, string) {},
			want:    want{first: 1, last: 25, truncatedAt: -1, segments: 3, lastSegRecs: 5},
		},
		"flipped byte in the last record": {
			corrupt: func(t *testing.T, dir string) { flipByte(t, seg(dir, 21), recOff(25)+30) },
			want:    want{first: 1, last: 24, reason: ReasonChecksum, truncated: 40, truncatedAt: recOff(25), segments: 3, lastSegRecs: 4},
		},
		"flipped byte in a middle record of the last segment": {
			corrupt: func(t *testing.T, dir string) { flipByte(t, seg(dir, 21), recOff(23)+10) },
			want:    want{first: 1, last: 22, reason: ReasonChecksum, truncated: 120, truncatedAt: recOff(23), segments: 3, lastSegRecs: 2},
		},
		"flipped bit in a length field": {
			corrupt: func(t *testing.T, dir string) { flipByte(t, seg(dir, 21), recOff(24)+4) },
			want:    want{first: 1, last: 23, reason: ReasonTorn, truncated: 80, truncatedAt: recOff(24), segments: 3, lastSegRecs: 3},
		},
		"truncated record": {
			corrupt: func(t *testing.T, dir string) { os.Truncate(seg(dir, 21), recOff(25)+30) },
			want:    want{first: 1, last: 24, reason: ReasonTorn, truncated: 30, truncatedAt: recOff(25), segments: 3, lastSegRecs: 4},
		},
		"truncated record header": {
			corrupt: func(t *testing.T, dir string) { os.Truncate(seg(dir, 21), recOff(25)+10) },
			want:    want{first: 1, last: 24, reason: ReasonTorn, truncated: 10, truncatedAt: recOff(25), segments: 3, lastSegRecs: 4},
		},
		"zero-filled tail of 4 KiB": {
			corrupt: func(t *testing.T, dir string) { appendBytes(t, seg(dir, 21), make([]byte, 4096)) },
			want:    want{first: 1, last: 25, reason: ReasonZeroTail, truncated: 4096, truncatedAt: recOff(25) + 40, segments: 3, lastSegRecs: 5},
		},
		"zeroed last two records": {
			corrupt: func(t *testing.T, dir string) { writeAt(t, seg(dir, 21), recOff(24), make([]byte, 80)) },
			want:    want{first: 1, last: 23, reason: ReasonZeroTail, truncated: 80, truncatedAt: recOff(24), segments: 3, lastSegRecs: 3},
		},
		"garbage tail": {
			corrupt: func(t *testing.T, dir string) { appendBytes(t, seg(dir, 21), bytes.Repeat([]byte{0xa5}, 100)) },
			want:    want{first: 1, last: 25, reason: ReasonChecksum, truncated: 100, truncatedAt: recOff(25) + 40, segments: 3, lastSegRecs: 5},
		},
		"record with a valid checksum but the wrong seq": {
			corrupt: func(t *testing.T, dir string) {
				rec := make([]byte, recHeaderSize+16)
				putRecord(rec, 99, 0, make([]byte, 16))
				writeAt(t, seg(dir, 21), recOff(24), rec)
			},
			want: want{first: 1, last: 23, reason: ReasonSequence, truncated: 80, truncatedAt: recOff(24), segments: 3, lastSegRecs: 3},
		},
		"header-only last segment (crash right after a roll)": {
			corrupt: func(t *testing.T, dir string) { os.Truncate(seg(dir, 21), segHeaderSize) },
			want:    want{first: 1, last: 20, truncatedAt: -1, segments: 3},
		},
		"empty last segment file": {
			corrupt: func(t *testing.T, dir string) { os.WriteFile(seg(dir, 26), nil, 0o644) },
			want: want{first: 1, last: 25, reason: ReasonEmptySegment, truncatedAt: -1, segments: 3, lastSegRecs: 5,
				removed: []uint64{26}},
		},
		"last segment with a short header": {
			corrupt: func(t *testing.T, dir string) { os.WriteFile(seg(dir, 26), []byte("TAPJ\x01"), 0o644) },
			want: want{first: 1, last: 25, reason: ReasonTorn, truncated: 5, truncatedAt: -1, segments: 3, lastSegRecs: 5,
				removed: []uint64{26}},
		},
		"bad header in the last segment": {
			corrupt: func(t *testing.T, dir string) { flipByte(t, seg(dir, 21), 1) },
			want: want{first: 1, last: 20, reason: ReasonBadHeader, truncated: 248, truncatedAt: -1, segments: 2, lastSegRecs: 10,
				removed: []uint64{21}},
		},
		"header naming another seq in the last segment": {
			corrupt: func(t *testing.T, dir string) { os.Rename(seg(dir, 21), seg(dir, 22)) },
			want: want{first: 1, last: 20, reason: ReasonBadHeader, truncated: 248, truncatedAt: -1, segments: 2, lastSegRecs: 10,
				removed: []uint64{22}},
		},
		"the only segment with a bad header keeps its place": {
			corrupt: func(t *testing.T, dir string) {
				os.Remove(seg(dir, 1))
				os.Remove(seg(dir, 11))
				flipByte(t, seg(dir, 21), 40)
			},
			// The whole old file is discarded and a fresh header written.
			want: want{first: 0, last: 20, reason: ReasonBadHeader, truncated: 248, truncatedAt: 0, segments: 1},
		},
		"missing middle segment": {
			corrupt: func(t *testing.T, dir string) { os.Remove(seg(dir, 11)) },
			want:    want{openErr: ErrMissingSegment, openErrSegent: 21},
		},
		"missing middle segment, KeepTail": {
			corrupt:  func(t *testing.T, dir string) { os.Remove(seg(dir, 11)) },
			keepTail: true,
			want: want{first: 21, last: 25, truncatedAt: -1, segments: 1, lastSegRecs: 5,
				quarantined: []uint64{1}},
		},
		"bad header in an older segment": {
			corrupt: func(t *testing.T, dir string) { flipByte(t, seg(dir, 11), 2) },
			want:    want{openErr: ErrBadHeader, openErrSegent: 11},
		},
		"bad header in an older segment, KeepTail": {
			corrupt:  func(t *testing.T, dir string) { flipByte(t, seg(dir, 11), 2) },
			keepTail: true,
			want: want{first: 21, last: 25, truncatedAt: -1, segments: 1, lastSegRecs: 5,
				quarantined: []uint64{1, 11}},
		},
		"unrelated files are ignored": {
			corrupt: func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
				os.WriteFile(filepath.Join(dir, "00000000000000000000.seg"), []byte("x"), 0o644)
				os.WriteFile(seg(dir, 30)+".broken", []byte("x"), 0o644)
				os.Mkdir(seg(dir, 40), 0o755)
			},
			want: want{first: 1, last: 25, truncatedAt: -1, segments: 3, lastSegRecs: 5},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := buildFixture(t)
			tc.corrupt(t, dir)
			opts := Options{SegmentBytes: retSegBytes, KeepTail: tc.keepTail}
			j, err := Open(dir, opts)
			w := tc.want
			if w.openErr != nil {
				var ce *CorruptionErr
				if !errors.As(err, &ce) || !errors.Is(err, w.openErr) || ce.Segment != seg(dir, w.openErrSegent) {
					t.Fatalf("Open = %v, want a CorruptionErr of %v in %s", err, w.openErr, seg(dir, w.openErrSegent))
				}
				if j != nil {
					t.Fatal("Open returned a journal with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer j.Close()
			rep := j.Report()
			got := want{first: rep.First, last: rep.Last, reason: rep.Reason, truncated: rep.Truncated,
				truncatedAt: rep.TruncatedAt, segments: rep.Segments, lastSegRecs: rep.LastSegmentRecords}
			for _, p := range rep.Removed {
				f, _ := parseSegmentName(filepath.Base(p))
				got.removed = append(got.removed, f)
			}
			for _, p := range rep.Quarantined {
				f, _ := parseSegmentName(filepath.Base(p))
				got.quarantined = append(got.quarantined, f)
				if _, err := os.Stat(p + ".broken"); err != nil {
					t.Errorf("quarantined %s not kept aside: %v", p, err)
				}
			}
			if got.first != w.first || got.last != w.last || got.reason != w.reason || got.truncated != w.truncated ||
				got.truncatedAt != w.truncatedAt || got.segments != w.segments || got.lastSegRecs != w.lastSegRecs ||
				!slices.Equal(got.removed, w.removed) || !slices.Equal(got.quarantined, w.quarantined) {
				t.Fatalf("report:\n got %+v\nwant %+v\n(detail: %s)", got, w, rep.Detail)
			}
			if j.First() != w.first || j.Last() != w.last || j.Written() != w.last || j.Synced() != w.last {
				t.Fatalf("First/Last/Written/Synced = %d/%d/%d/%d", j.First(), j.Last(), j.Written(), j.Synced())
			}
			// Exactly the surviving records read back, then the sequence goes on.
			if w.first != 0 {
				checkFixed(t, readAll(t, j, 0), w.first, w.last)
			}
			appendFixed(t, j, w.last+1, w.last+12)
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			j2, err := Open(dir, opts)
			if err != nil {
				t.Fatalf("reopen after repair: %v", err)
			}
			defer j2.Close()
			if r := j2.Report(); r.Reason != ReasonNone || r.Truncated != 0 || r.Last != w.last+12 {
				t.Fatalf("second open not clean: %+v", r)
			}
			from := w.first
			if from == 0 {
				from = w.last + 1
			}
			checkFixed(t, readAll(t, j2, 0), from, w.last+12)
		})
	}
}

// TestReaderCorruptOlderSegment: Open does not scan sealed segments, so
// damage there is found by readers, which must return a CorruptionErr at the
// bad record - never garbage, never a panic - from any starting point.
func TestReaderCorruptOlderSegment(t *testing.T) {
	cases := map[string]struct {
		corrupt func(t *testing.T, dir string)
		cause   error
		off     int64
	}{
		"flipped payload byte": {func(t *testing.T, dir string) { flipByte(t, seg(dir, 1), recOff(5)+30) }, ErrChecksum, recOff(5)},
		// The length now points past the end of the file.
		"flipped length byte": {func(t *testing.T, dir string) { flipByte(t, seg(dir, 1), recOff(5)+5) }, ErrTorn, recOff(5)},
		"wrong seq": {func(t *testing.T, dir string) {
			rec := make([]byte, recHeaderSize+16)
			putRecord(rec, 77, 0, make([]byte, 16))
			writeAt(t, seg(dir, 1), recOff(5), rec)
		}, ErrSequence, recOff(5)},
		"truncated segment": {func(t *testing.T, dir string) { os.Truncate(seg(dir, 1), recOff(5)+13) }, ErrTorn, recOff(5)},
		"zeroed records":    {func(t *testing.T, dir string) { writeAt(t, seg(dir, 1), recOff(5), make([]byte, 200)) }, ErrChecksum, recOff(5)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := buildFixture(t)
			tc.corrupt(t, dir)
			j, err := Open(dir, Options{SegmentBytes: retSegBytes})
			if err != nil {
				t.Fatalf("Open must not scan sealed segments: %v", err)
			}
			defer j.Close()
			if r := j.Report(); r.Reason != ReasonNone || r.Last != fixtureRecords {
				t.Fatalf("report %+v", r)
			}
			for _, from := range []uint64{1, 4, 5, 7} {
				r, err := j.NewReader(from)
				if err != nil {
					t.Fatal(err)
				}
				recs, err := drain(t, j, r)
				var ce *CorruptionErr
				if !errors.As(err, &ce) || !errors.Is(err, tc.cause) || ce.Segment != seg(dir, 1) || ce.Offset != tc.off {
					t.Fatalf("from %d: err = %v, want CorruptionErr(%v) in %s at %d", from, err, tc.cause, seg(dir, 1), tc.off)
				}
				if from <= 4 {
					checkFixed(t, recs, from, 4)
				} else if len(recs) != 0 {
					t.Fatalf("from %d: got %d records before the damage", from, len(recs))
				}
				// The error is sticky.
				if _, _, err2 := r.TryNext(); !errors.Is(err2, tc.cause) {
					t.Fatalf("error not sticky: %v", err2)
				}
				r.Close()
			}
			// Undamaged segments still read, and SeekTime into the damage reports it.
			checkFixed(t, readAll(t, j, 11), 11, fixtureRecords)
			if _, err := j.SeekTime(7 * 1e9); !errors.Is(err, tc.cause) {
				t.Fatalf("SeekTime into damage = %v", err)
			}
		})
	}
}

func TestReopenContinues(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 64 << 10, Fsync: FsyncPolicy{Mode: FsyncNever}}
	var last uint64
	for round := 1; round <= 4; round++ {
		j, err := Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		rep := j.Report()
		if rep.Reason != ReasonNone || rep.Last != last || j.Last() != last || j.Written() != last || j.Synced() != last {
			t.Fatalf("round %d: report %+v, Last %d, want %d", round, rep, j.Last(), last)
		}
		appendRange(t, j, last+1, last+5000)
		last += 5000
		checkRecords(t, readAll(t, j, 0), 1, last)
		// SeekTime right after reopen exercises the lazily built index of
		// sealed segments.
		recs := readAll(t, j, 0)
		for _, ts := range []int64{0, tsFor(1234), tsFor(last/2) + 1, tsFor(last)} {
			got, err := j.SeekTime(ts)
			if err != nil || got != seekOracle(recs, j.Written(), ts) {
				t.Fatalf("SeekTime(%d) = %d, %v", ts, got, err)
			}
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBackPressure: a tiny buffer makes Append wait for the flusher again and
// again; nothing is lost and nothing reorders.
func TestBackPressure(t *testing.T) {
	j, err := Open(t.TempDir(), Options{BufferBytes: 512, SegmentBytes: 16 << 10, Fsync: FsyncPolicy{Mode: FsyncAlways}})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	appendRange(t, j, 1, 3000)
	checkRecords(t, readAll(t, j, 0), 1, 3000)
}

// TestPruneWhileReading: a reader holding a segment keeps reading it after
// retention deletes it; a reader arriving later gets ErrPruned.
func TestPruneWhileReading(t *testing.T) {
	now := 0
	opts := Options{SegmentBytes: retSegBytes, MaxBytes: 2 * retSegBytes}
	opts.Now = nil
	dir := t.TempDir()
	j, err := Open(dir, Options{SegmentBytes: retSegBytes})
	if err != nil {
		t.Fatal(err)
	}
	appendFixed(t, j, 1, 25)
	j.Close()
	_ = now
	j, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	r, err := j.NewReader(1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if rec, ok, err := r.TryNext(); !ok || err != nil || rec.Seq != 1 {
		t.Fatalf("first record: %v %v %v", rec.Seq, ok, err)
	}
	late, err := j.NewReader(3) // not yet positioned: it opens its file lazily
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	appendFixed(t, j, 26, 40) // rolls twice; prune-on-roll removes 1..20
	if err := j.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if j.First() != 21 {
		t.Fatalf("First = %d, want 21", j.First())
	}
	var got []Record
	for len(got) < 9 {
		rec, ok, err := r.TryNext()
		if err != nil || !ok {
			t.Fatalf("reading a deleted segment through an open handle: %v %v", ok, err)
		}
		got = append(got, Record{Seq: rec.Seq, TS: rec.TS, Payload: append([]byte(nil), rec.Payload...)})
	}
	checkFixed(t, got, 2, 10)
	if _, _, err := r.TryNext(); !errors.Is(err, ErrPruned) { // 11..20 went too
		t.Fatalf("reader crossing into a pruned segment: %v", err)
	}
	if _, _, err := late.TryNext(); !errors.Is(err, ErrPruned) {
		t.Fatalf("late reader: %v", err)
	}
}

func TestParseFsyncPolicy(t *testing.T) {
	cases := []struct {
		in   string
		want FsyncPolicy
		err  bool
	}{
		{"always", FsyncPolicy{Mode: FsyncAlways}, false},
		{"ALWAYS", FsyncPolicy{Mode: FsyncAlways}, false},
		{"never", FsyncPolicy{Mode: FsyncNever}, false},
		{"interval", FsyncPolicy{Mode: FsyncInterval, Interval: DefaultFsyncInterval}, false},
		{"interval=100ms", FsyncPolicy{Mode: FsyncInterval, Interval: 100e6}, false},
		{" interval=2s ", FsyncPolicy{Mode: FsyncInterval, Interval: 2e9}, false},
		{"interval=0s", FsyncPolicy{}, true},
		{"interval=-1s", FsyncPolicy{}, true},
		{"interval=soon", FsyncPolicy{}, true},
		{"sometimes", FsyncPolicy{}, true},
		{"", FsyncPolicy{}, true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseFsyncPolicy(c.in)
			if (err != nil) != c.err || got != c.want {
				t.Fatalf("ParseFsyncPolicy(%q) = %+v, %v", c.in, got, err)
			}
			if err == nil {
				back, err := ParseFsyncPolicy(got.String())
				if err != nil || back != got {
					t.Fatalf("String round trip: %q -> %+v, %v", got.String(), back, err)
				}
			}
		})
	}
}
