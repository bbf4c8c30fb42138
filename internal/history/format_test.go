package history

import (
	"encoding/hex"
	"hash/crc32"
	"math"
	"strings"
	"testing"

	"github.com/tapehq/tape/internal/market"
)

// TestRecordLayout pins the record layouts of docs/history-format.md.
func TestRecordLayout(t *testing.T) {
	tests := []struct {
		name string
		put  func([]byte)
		size int
		want string
	}{
		{"trade", func(b []byte) {
			e := market.Event{Seq: 2, Time: 1, Trade: market.Trade{ID: 3, Price: 1, Size: 4, Exchange: 'V', Tape: 'C', Conditions: market.MakeConditions("@", "F")}}
			putTrade(b, &e)
		}, tickRecSize,
			"0100000000000000" + "0200000000000000" + "0300000000000000" + "000000000000f03f" +
				"04000000" + "56" + "43" + "40460000" + "000000000000"},
		{"quote", func(b []byte) {
			e := market.Event{Seq: 2, Time: 1, Quote: market.Quote{BidPrice: 1, AskPrice: 2, BidSize: 3, AskSize: 4, BidExchange: 'P', AskExchange: 'Q', Tape: 'C', Conditions: market.MakeConditions("R")}}
			putQuote(b, &e)
		}, tickRecSize,
			"0100000000000000" + "0200000000000000" + "000000000000f03f" + "0000000000000040" +
				"03000000" + "04000000" + "50" + "51" + "43" + "52000000" + "00"},
		{"crypto trade", func(b []byte) {
			e := market.Event{Seq: 2, Time: 1, CryptoTrade: market.CryptoTrade{ID: 3, Price: 1, Size: 0.5, TakerSide: 'B'}}
			putCryptoTrade(b, &e)
		}, tickRecSize,
			"0100000000000000" + "0200000000000000" + "0300000000000000" + "000000000000f03f" +
				"000000000000e03f" + "42" + "00000000000000"},
		{"crypto quote", func(b []byte) {
			e := market.Event{Seq: 2, Time: 1, CryptoQuote: market.CryptoQuote{BidPrice: 1, BidSize: 0.5, AskPrice: 2, AskSize: 0.25}}
			putCryptoQuote(b, &e)
		}, tickRecSize,
			"0100000000000000" + "0200000000000000" + "000000000000f03f" + "000000000000e03f" +
				"0000000000000040" + "000000000000d03f"},
		{"crypto bar", func(b []byte) {
			v := cryptoBarVal(2*nsPerMinute, 5, &market.CryptoBar{Open: 1, High: 2, Low: 1, Close: 2, VWAP: 1, Volume: 0.5, TradeCount: 6})
			putBar(b, &v)
		}, barRecSize,
			"02000000" + "06000000" + "0500000000000000" + "000000000000f03f" + "0000000000000040" +
				"000000000000f03f" + "0000000000000040" + "000000000000f03f" + "000000000000e03f"},
		{"bar", func(b []byte) {
			v := barVal{Time: 2 * nsPerMinute, Seq: 5, Bar: market.Bar{Open: 1, High: 2, Low: 1, Close: 2, VWAP: 1, Volume: 7, TradeCount: 6}}
			putBar(b, &v)
		}, barRecSize,
			"02000000" + "06000000" + "0500000000000000" + "000000000000f03f" + "0000000000000040" +
				"000000000000f03f" + "0000000000000040" + "000000000000f03f" + "0700000000000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, tc.size)
			for i := range b {
				b[i] = 0xEE // every byte must be written
			}
			tc.put(b)
			if got := hex.EncodeToString(b); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	headers := []struct {
		name string
		h    header
		want string
	}{
		{"trades v2", header{kind: kindTrades, maxTime: 9, maxLate: 8, runStart: 7, runMin: 6, prevMax: 5, prevLate: 4, closed: 3},
			"54415048" + "02" + "01" + "3000" + "0900000000000000" + "0800000000000000" + "0700000000000000" +
				"0600000000000000" + "0500000000000000" + "0400000000000000" + "03000000"},
		{"minute bars v1", header{kind: kindMinuteBars}, "54415048" + "01" + "03" + "4000" + strings.Repeat("00", 52)},
		{"runs v1", header{kind: kindRuns}, "54415048" + "01" + "05" + "3000" + strings.Repeat("00", 52)},
		{"crypto quotes v2", header{kind: kindCryptoQuotes, maxTime: 1, runMin: 1},
			"54415048" + "02" + "07" + "3000" + "0100000000000000" + strings.Repeat("00", 16) + "0100000000000000" + strings.Repeat("00", 20)},
		{"crypto daily bars v1", header{kind: kindCryptoDailyBars}, "54415048" + "01" + "09" + "4000" + strings.Repeat("00", 52)},
	}
	for _, tc := range headers {
		var h [headerSize]byte
		tc.h.encode(h[:])
		if got := hex.EncodeToString(h[:60]); got != tc.want {
			t.Fatalf("%s header\ngot  %s\nwant %s", tc.name, got, tc.want)
		}
		if got, err := decodeHeader(h[:], tc.h.kind); err != nil || got != tc.h {
			t.Fatalf("%s: decoded %+v, %v", tc.name, got, err)
		}
		h[10] ^= 1
		if _, err := decodeHeader(h[:], tc.h.kind); err == nil {
			t.Fatalf("%s: bad header CRC accepted", tc.name)
		}
	}
	// A version 1 tick header (written before runs) is one run.
	v1, _ := hex.DecodeString("54415048" + "01" + "01" + "3000" + "0900000000000000" + "0800000000000000" + strings.Repeat("00", 36))
	v1 = le.AppendUint32(v1, crc32.Checksum(v1, castagnoli))
	if got, err := decodeHeader(v1, kindTrades); err != nil || got != (header{kind: kindTrades, maxTime: 9, maxLate: 8, runMin: math.MinInt64, v1: true}) {
		t.Fatalf("v1 header: %+v, %v", got, err)
	}
	var e [runEntrySize]byte
	runEntry{start: 1, end: 2, min: 3, max: 4, late: 5}.encode(e[:])
	if got := hex.EncodeToString(e[:40]); got != "0100000000000000"+"0200000000000000"+"0300000000000000"+"0400000000000000"+"0500000000000000" {
		t.Fatalf("run entry %s", got)
	}
	if got, ok := decodeRunEntry(e[:]); !ok || got != (runEntry{start: 1, end: 2, min: 3, max: 4, late: 5}) {
		t.Fatalf("run entry decoded %+v %v", got, ok)
	}
	e[3] ^= 1
	if _, ok := decodeRunEntry(e[:]); ok {
		t.Fatal("bad run entry CRC accepted")
	}
}

func TestCalendarRoundTrip(t *testing.T) {
	for d := int32(-800_000); d < 800_000; d += 37 {
		y, m, dd := civilFromDay(d)
		if civilDay(y, int(m), dd) != d {
			t.Fatalf("day %d -> %d-%d-%d -> %d", d, y, m, dd, civilDay(y, int(m), dd))
		}
	}
	if civilDay(1970, 1, 1) != 0 || civilDay(2024, 6, 3) != 19877 {
		t.Fatal("epoch")
	}
	var s daySet
	for _, d := range []int32{19877, -5, 200, 19878, 63, 64, -64} {
		s.add(d)
	}
	if got := s.appendRange(nil, -64, 19877); len(got) != 6 || got[0] != -64 || got[5] != 19877 {
		t.Fatalf("range %v", got)
	}
	if last, _ := s.last(); last != 19878 || !s.has(-5) || s.has(-6) {
		t.Fatal("daySet")
	}
}
