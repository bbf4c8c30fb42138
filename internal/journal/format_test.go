package journal

import (
	"bytes"
	"encoding/hex"
	"flag"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenRecords are the contents of testdata/segment-v1.golden.
var goldenRecords = []Record{
	{Seq: 1, TS: 1_700_000_000_000_000_000, Payload: []byte("hello")},
	{Seq: 2, TS: 1_700_000_000_000_000_001, Payload: []byte{}},
	{Seq: 3, TS: 1_699_999_999_000_000_000, Payload: []byte("late trade")},
}

// TestFormatGolden pins the on-disk format: the journal must write the
// golden bytes exactly, today's code must read them (the old-format
// fixture, as prometheus keeps tsdb/testdata), and the bytes must sit where
// docs/journal-format.md says they do.
func TestFormatGolden(t *testing.T) {
	const golden = "testdata/segment-v1.golden"
	dir := t.TempDir()
	j, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range goldenRecords {
		if err := j.Append(r.Seq, r.TS, r.Payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(segmentPath(dir, 1))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("segment bytes changed; bump formatVersion and keep the old fixture.\ngot:\n%s\nwant:\n%s", hex.Dump(got), hex.Dump(want))
	}

	// The documented layout, field by field.
	b := want
	if string(b[0:4]) != "TAPJ" || b[4] != 1 || b[5] != 0 || le.Uint16(b[6:]) != 48 ||
		le.Uint64(b[8:]) != 1 || le.Uint64(b[16:]) != 0 ||
		int64(le.Uint64(b[24:])) != -1<<63 || int64(le.Uint64(b[32:])) != -1<<63 ||
		le.Uint32(b[40:]) != 0 || le.Uint32(b[44:]) != crc32.Checksum(b[:44], crc32.MakeTable(crc32.Castagnoli)) {
		t.Fatalf("segment header does not match docs/journal-format.md:\n%s", hex.Dump(b[:48]))
	}
	// A zero-filled region never passes as a record (the doc's claim).
	if c := crc32.Checksum(make([]byte, 20), crc32.MakeTable(crc32.Castagnoli)); c != 0xBCC5563E {
		t.Fatalf("CRC32-C of 20 zero bytes = %08x", c)
	}
	off := 48
	for _, r := range goldenRecords {
		rec := b[off:]
		n := int(le.Uint32(rec[4:]))
		if n != len(r.Payload) || le.Uint64(rec[8:]) != r.Seq || int64(le.Uint64(rec[16:])) != r.TS ||
			string(rec[24:24+n]) != string(r.Payload) ||
			le.Uint32(rec) != crc32.Checksum(rec[4:24+n], crc32.MakeTable(crc32.Castagnoli)) {
			t.Fatalf("record %d does not match docs/journal-format.md:\n%s", r.Seq, hex.Dump(rec[:24+n]))
		}
		off += 24 + n
	}
	if off != len(b) {
		t.Fatalf("%d trailing bytes", len(b)-off)
	}

	// The fixture opens and reads back.
	dir2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir2, segmentName(1)), want, 0o644); err != nil {
		t.Fatal(err)
	}
	j2, err := Open(dir2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	recs := readAll(t, j2, 0)
	if len(recs) != len(goldenRecords) {
		t.Fatalf("read %d records", len(recs))
	}
	for i, r := range recs {
		g := goldenRecords[i]
		if r.Seq != g.Seq || r.TS != g.TS || !bytes.Equal(r.Payload, g.Payload) {
			t.Fatalf("record %d = %+v, want %+v", i, r, g)
		}
	}
}
