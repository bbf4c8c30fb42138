// Unit tests of the dashboard's candle aggregation (no browser needed):
//   node --test web/test/
import test from "node:test";
import assert from "node:assert/strict";
import { CandleBook } from "../../internal/webui/static/js/candles.js";
import { tradeFlags } from "../../internal/webui/static/js/util.js";

const T = Date.parse("2026-11-24T15:00:00Z") / 1000; // 10:00 New York
const bar = (o, h, l, c, v) => ({ o, h, l, c, v });
const iso = (t) => new Date(t * 1000).toISOString();
const REG = tradeFlags(["@"]), ODD = tradeFlags(["@", "I"]), LATE = tradeFlags(["Z"]);

test("minute bars make 5-minute candles; drain gives a reset, then changes", () => {
  const b = new CandleBook("5m", 300);
  b.minuteBar(T, bar(10, 11, 9, 10.5, 100));
  b.minuteBar(T + 60, bar(10.5, 12, 10, 11, 50));
  let d = b.drain();
  assert.equal(d.reset, true);
  assert.deepEqual(d.candles, [{ time: T, open: 10, high: 12, low: 9, close: 11, volume: 150 }]);
  assert.equal(b.drain(), null);
  b.minuteBar(T + 300, bar(11, 11, 11, 11, 5));
  d = b.drain();
  assert.equal(d.reset, false);
  assert.deepEqual(d.candles.map((c) => c.time), [T + 300]);
  assert.equal(b.count(), 2);
});

test("trades build the forming minute; its bar replaces them", () => {
  const b = new CandleBook("1m", 60);
  b.drain();
  b.trade(T + 1, 10, 100, REG);
  b.trade(T + 2, 10.4, 100, REG);
  b.trade(T + 3, 9.9, 7, ODD); // odd lot: volume only
  assert.deepEqual(b.last(), { time: T, open: 10, high: 10.4, low: 10, close: 10.4, volume: 207 });
  b.trade(T + 4, 10.2, 100, LATE); // sold out of sequence: high/low and volume, not last
  assert.equal(b.last().close, 10.4);
  b.minuteBar(T, bar(10, 10.5, 9.8, 10.3, 999));
  assert.deepEqual(b.last(), { time: T, open: 10, high: 10.5, low: 9.8, close: 10.3, volume: 999 });
  b.trade(T + 5, 50, 1, REG); // the minute has its bar: ignored
  assert.equal(b.last().high, 10.5);
  b.minuteClosed(T + 120);
  b.trade(T + 30, 10, 1, REG); // two minutes late: an updatedBar will carry it
  assert.equal(b.count(), 1);
});

test("an updated bar after the next bucket opened corrects the older candle", () => {
  const b = new CandleBook("1m", 60);
  b.minuteBar(T, bar(10, 11, 9, 10, 100));
  b.trade(T + 61, 10.1, 10, REG);
  b.drain();
  b.minuteBar(T, bar(10, 11.5, 9, 10, 120)); // updatedBars at :30
  const d = b.drain();
  assert.deepEqual(d.candles.map((c) => [c.time, c.high, c.volume]), [[T, 11.5, 120]]);
});

test("history from REST, then live", () => {
  const b = new CandleBook("5m", 300);
  const hist = [];
  for (let i = 0; i < 10; i++) hist.push({ t: iso(T + i * 300), o: 10, h: 11, l: 9, c: 10 + i / 10, v: 1000 });
  const minutes = [];
  for (let m = T + 7 * 300; m < T + 10 * 300; m += 60) minutes.push({ t: iso(m), o: 10, h: 11, l: 9, c: 10, v: 200 });
  b.minuteBar(T + 9 * 300 + 240, bar(10, 13, 10, 12, 7)); // live, before the history arrived
  b.load(hist, minutes);
  const d = b.drain();
  assert.equal(d.reset, true);
  assert.equal(d.candles.length, 10);
  assert.equal(d.candles[6].close, 10.6); // REST candle, frozen
  const last = d.candles[9];
  assert.equal(last.high, 13); // the live minute bar kept
  assert.equal(last.volume, 4 * 200 + 7);
  b.trade(T + 10 * 300 + 5, 12.5, 10, REG);
  assert.equal(b.count(), 11);
  assert.equal(b.last().time, T + 3000);
});

test("daily candles: the day's dailyBar plus trades since the last closed minute", () => {
  const b = new CandleBook("1D", 86400);
  const day = Date.parse("2026-11-24T05:00:00Z") / 1000; // New York midnight
  b.dailyBar(day, bar(100, 105, 99, 104, 10000));
  b.minuteClosed(T);
  b.trade(T + 61, 106, 50, REG);
  b.trade(T + 62, 107, 50, tradeFlags(["T"])); // extended hours: volume only in the daily bar
  assert.deepEqual(b.last(), { time: day, open: 100, high: 106, low: 99, close: 106, volume: 10100 });
  b.minuteClosed(T + 60);
  b.dailyBar(day, bar(100, 106, 99, 106, 10100));
  assert.deepEqual(b.last(), { time: day, open: 100, high: 106, low: 99, close: 106, volume: 10100 });
});

test("memory is bounded", () => {
  const b = new CandleBook("1m", 60);
  for (let i = 0; i < 12000; i++) b.minuteBar(T + i * 60, bar(1, 2, 0.5, 1.5, 1));
  assert.ok(b.count() <= 11003, `${b.count()} candles`);
  assert.ok(b.recent.size <= 3);
});

test("the forming minute is seeded from REST trades; live trades meet them by ID, each counted once", () => {
  const b = new CandleBook("1m", 60);
  b.load([{ t: iso(T - 60), o: 9, h: 9.5, l: 8.5, c: 9.2, v: 500 }], null);
  // The page saw two trades of the forming minute before the REST answer came.
  b.trade(T + 30, 10.2, 10, REG, 7);
  b.trade(T + 31, 10.1, 5, ODD, 8);
  const rest = [
    { t: iso(T - 59), p: 99, s: 1, c: ["@"], i: 1 }, // in the minute REST has a bar for: skipped
    { t: iso(T + 1), p: 10, s: 100, c: ["@"], i: 5 },
    { t: iso(T + 2), p: 10.6, s: 100, c: ["@", "I"], i: 6 }, // odd lot: volume only
    { t: iso(T + 30), p: 10.2, s: 10, c: ["@"], i: 7 }, // seen live already
  ];
  b.seed(rest, T - 60);
  // Open by time (the REST trade at :01), close the live trade at :30.
  assert.deepEqual(b.last(), { time: T, open: 10, high: 10.2, low: 10, close: 10.2, volume: 100 + 100 + 10 + 5 });
  b.trade(T + 30, 10.2, 10, REG, 7); // a duplicate from a resync
  b.trade(T + 40, 10.3, 1, REG, 9);
  assert.deepEqual(b.last(), { time: T, open: 10, high: 10.3, low: 10, close: 10.3, volume: 216 });
  assert.equal(b.count(), 2);
  b.minuteBar(T, bar(10, 10.6, 9.9, 10.3, 300)); // the minute's own bar replaces it
  assert.deepEqual(b.last(), { time: T, open: 10, high: 10.6, low: 9.9, close: 10.3, volume: 300 });
});

test("daily: seeded trades after the newest complete minute add to the day's bar", () => {
  const b = new CandleBook("1D", 86400);
  const day = Date.parse("2026-11-24T05:00:00Z") / 1000;
  b.load([{ t: iso(day), o: 100, h: 105, l: 99, c: 104, v: 10000 }], null);
  b.seed([
    { t: iso(T - 30), p: 200, s: 1, c: ["@"], i: 1 }, // inside the newest complete minute: in the day bar already
    { t: iso(T + 5), p: 106, s: 50, c: ["@"], i: 2 },
    { t: iso(T + 6), p: 98, s: 50, c: ["T"], i: 3 }, // extended hours: volume only in the daily bar
  ], T - 60);
  assert.deepEqual(b.last(), { time: day, open: 100, high: 106, low: 99, close: 106, volume: 10100 });
});
