package journal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSegment returns the bytes of a real segment written by the journal:
// the seed from which the fuzzer mutates.
func fuzzSegment(f *testing.F, n int) []byte {
	dir := f.TempDir()
	j, err := Open(dir, Options{Fsync: FsyncPolicy{Mode: FsyncNever}})
	if err != nil {
		f.Fatal(err)
	}
	for s := uint64(1); s <= uint64(n); s++ {
		if err := j.Append(s, tsFor(s), payloadFor(s)[:s%24]); err != nil {
			f.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(segmentPath(dir, 1))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzOpenSegment fuzzes the bytes of the last (only) segment file, which
// is what Open repairs. Open must never fail, panic or hang on it, and what
// it keeps must read back with valid checksums and contiguous seqs, accept
// Last()+1, and reopen without further repair.
func FuzzOpenSegment(f *testing.F) {
	real := fuzzSegment(f, 12)
	f.Add(real)
	f.Add(real[:len(real)-7])                               // torn last record
	f.Add(real[:segHeaderSize+10])                          // torn first record
	f.Add(real[:segHeaderSize])                             // header only
	f.Add(append(bytes.Clone(real), make([]byte, 4096)...)) // zero-filled tail
	f.Add(append(bytes.Clone(real[:segHeaderSize]), make([]byte, 300)...))
	f.Add(make([]byte, 4096)) // all zeros
	f.Add([]byte{})           // empty file
	f.Add(append(bytes.Clone(real), bytes.Repeat([]byte{0xff}, 64)...))

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := segmentPath(dir, 1)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		opts := Options{Fsync: FsyncPolicy{Mode: FsyncNever}, BufferBytes: 4 << 10, noFsync: true}
		j, err := Open(dir, opts)
		if err != nil {
			t.Fatalf("Open on a damaged last segment must repair, not fail: %v", err)
		}
		last := j.Last()
		r, err := j.NewReader(0)
		if err != nil {
			t.Fatal(err)
		}
		want := j.First()
		if want == 0 {
			want = last + 1
		}
		for {
			rec, ok, err := r.TryNext()
			if err != nil {
				t.Fatalf("reading what Open kept: %v", err)
			}
			if !ok {
				break
			}
			if rec.Seq != want {
				t.Fatalf("seq %d, want %d", rec.Seq, want)
			}
			want++
		}
		r.Close()
		if want != last+1 {
			t.Fatalf("read to %d, Last %d", want-1, last)
		}
		if err := j.Append(last+1, 1, []byte("next")); err != nil {
			t.Fatalf("Append(Last+1): %v", err)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		j, err = Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		if rep := j.Report(); rep.Reason != ReasonNone || rep.Last != last+1 {
			t.Fatalf("second open: %+v", rep)
		}
	})
}

// FuzzReadOlderSegment fuzzes a sealed segment, which Open does not scan:
// Open must succeed, and a reader must deliver valid records and stop with
// a CorruptionErr (or ErrPruned-free success) - never panic, hang or hand
// out a record that fails its checksum.
func FuzzReadOlderSegment(f *testing.F) {
	real := fuzzSegment(f, 12)
	f.Add(real, uint8(0))
	f.Add(real[:len(real)-7], uint8(3))
	f.Add(append(bytes.Clone(real[:segHeaderSize]), make([]byte, 300)...), uint8(5))

	f.Fuzz(func(t *testing.T, data []byte, from uint8) {
		if len(data) < segHeaderSize {
			return // a sealed segment with no valid header fails Open; covered elsewhere
		}
		dir := t.TempDir()
		// The fuzzed segment claims records 1..12; a valid segment 13 follows.
		if err := os.WriteFile(segmentPath(dir, 1), data, 0o644); err != nil {
			t.Fatal(err)
		}
		next := make([]byte, segHeaderSize)
		h := segHeader{first: 13, prevFirst: 1}
		if hd, err := decodeSegHeader(data); err == nil {
			h.prevFirst = hd.first
		}
		h.encode(next)
		if err := os.WriteFile(filepath.Join(dir, segmentName(13)), next, 0o644); err != nil {
			t.Fatal(err)
		}
		j, err := Open(dir, Options{Fsync: FsyncPolicy{Mode: FsyncNever}, noFsync: true})
		if err != nil {
			var ce *CorruptionErr
			if !errors.As(err, &ce) {
				t.Fatalf("Open: %v", err)
			}
			return // a bad older header or broken chain: refused, as designed
		}
		defer j.Close()
		r, err := j.NewReader(1 + uint64(from)%12)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for {
			_, ok, err := r.TryNext()
			if err != nil {
				var ce *CorruptionErr
				if !errors.As(err, &ce) {
					t.Fatalf("reader error is not a CorruptionErr: %v", err)
				}
				return
			}
			if !ok {
				return
			}
		}
	})
}
