// Unit tests of the dashboard's pure logic (no browser needed):
//   node --test web/test/
// Symbol validation, the subscription plan and its diff, the stream
// worker's reducer, the market session, and the health panel's readings of
// /tape/v1/status.
import test from "node:test";
import assert from "node:assert/strict";
import { parseSymbol, canonicalSymbol, tradeFlags, UPD_LAST } from "../../internal/webui/static/js/util.js";
import { wantedSubscription, subscriptionDiff, CHANNELS } from "../../internal/webui/static/js/subs.js";
import { FeedReducer } from "../../internal/webui/static/js/feed.js";
import { calendarDays, marketSession, clockSession, nyDateTime } from "../../internal/webui/static/js/session.js";
import { historyLag, journalDurability, clusterRole, gapFill } from "../../internal/webui/static/js/health.js";

test("symbols: Alpaca's formats are accepted, upper-cased; anything else says why not", () => {
  const ok = [
    ["aapl", "AAPL", "stock"], [" BRK.B ", "BRK.B", "stock"], ["bf-b", "BF-B", "stock"], ["NOPE1", "NOPE1", "stock"],
    ["A", "A", "stock"], ["ABCDEFGHIJKLMNOP", "ABCDEFGHIJKLMNOP", "stock"], ["btc/usd", "BTC/USD", "crypto"],
    ["PBR.A", "PBR.A", "stock"],
  ];
  for (const [raw, sym, kind] of ok) {
    assert.deepEqual(parseSymbol(raw), { sym, kind }, raw);
    assert.equal(canonicalSymbol(raw), sym);
  }
  const bad = ["", "   ", "ABCDEFGHIJKLMNOPQ", "A..B", ".A", "A.", "A-", "1ABC", "AAPL MSFT", "AAPL,MSFT", "ÄPL", "BTC/", "/USD",
    "BTC/USD/EUR", "A_B", "A.-B", null, undefined];
  for (const raw of bad) {
    const p = parseSymbol(raw);
    assert.equal(p.sym, undefined, String(raw));
    assert.ok(p.error, `a reason for ${raw}`);
    assert.equal(canonicalSymbol(raw), "");
  }
  assert.match(parseSymbol("AAPL MSFT").error, /one symbol/);
  assert.match(parseSymbol("ABCDEFGHIJKLMNOPQ").error, /16/);
});

test("subscription: only what is shown, never *; crypto left out", () => {
  const w = wantedSubscription(["AAPL", "MSFT", "BTC/USD", "AAPL"], "MSFT");
  assert.deepEqual(Object.keys(w).sort(), [...CHANNELS].sort());
  assert.deepEqual(w.trades, ["AAPL", "MSFT"]);
  assert.deepEqual(w.quotes, ["AAPL", "MSFT"]);
  assert.deepEqual(w.bars, ["AAPL", "MSFT"]);
  assert.deepEqual(w.updatedBars, ["MSFT"]);
  assert.deepEqual(w.dailyBars, ["AAPL", "MSFT"]);
  assert.deepEqual(w.statuses, ["AAPL", "MSFT"]);
  for (const c of CHANNELS) assert.ok(!w[c].includes("*") && !w[c].includes("BTC/USD"), c);
  // A selected symbol outside the watchlist still gets its trades and bars.
  const x = wantedSubscription(["AAPL"], "TSLA");
  assert.deepEqual(x.trades, ["AAPL", "TSLA"]);
  assert.deepEqual(x.quotes, ["AAPL"]);
  assert.deepEqual(wantedSubscription([], "").trades, []);
});

test("subscription diff: unsubscribes what is no longer shown, subscribes what is new, nothing when equal", () => {
  const a = wantedSubscription(["AAPL", "MSFT", "NVDA"], "AAPL");
  const b = wantedSubscription(["AAPL", "NVDA", "TSLA"], "NVDA");
  const d = subscriptionDiff(a, b);
  assert.deepEqual(d.unsubscribe, { action: "unsubscribe", trades: ["MSFT"], quotes: ["MSFT"], bars: ["MSFT"],
    updatedBars: ["AAPL"], dailyBars: ["MSFT"], statuses: ["MSFT"] });
  assert.deepEqual(d.subscribe, { action: "subscribe", trades: ["TSLA"], quotes: ["TSLA"], bars: ["TSLA"],
    updatedBars: ["NVDA"], dailyBars: ["TSLA"], statuses: ["TSLA"] });
  assert.deepEqual(subscriptionDiff(b, b), { unsubscribe: null, subscribe: null });
  const empty = Object.fromEntries(CHANNELS.map((c) => [c, []]));
  assert.equal(subscriptionDiff(empty, b).unsubscribe, null);
  assert.deepEqual(subscriptionDiff(b, empty).unsubscribe.trades, ["AAPL", "NVDA", "TSLA"]);
});

const T0 = Date.parse("2026-11-24T15:00:00Z");
const iso = (ms) => new Date(ms).toISOString();
const q = (S, bp, ap) => ({ T: "q", S, bp, ap, t: iso(T0) });
const tr = (S, ms, p, s, c = ["@"], i = 1) => ({ T: "t", S, t: iso(ms), p, s, c, x: "Q", z: "C", i });

test("reducer: quotes keep only the newest per symbol; trades reduce to last price and volume per minute", () => {
  const r = new FeedReducer();
  r.setDetail("AAPL");
  r.add([q("MSFT", 1, 2), q("MSFT", 3, 4), q("NVDA", 5, 6), tr("MSFT", T0 + 1000, 10, 100), tr("MSFT", T0 + 500, 9, 50)]);
  r.add([q("MSFT", 7, 8), tr("MSFT", T0 + 61000, 11, 5, ["@", "I"]), { T: "b", S: "MSFT", t: iso(T0), c: 10 }]);
  const b = r.take();
  assert.equal(b.n, 8);
  assert.equal(r.merged, 2);
  assert.deepEqual(b.quotes, [["MSFT", 7, 8], ["NVDA", 5, 6]]);
  // The odd lot (I) sets no last price; the earlier-stamped print does not
  // replace a later one. Odd lots count toward the day's volume.
  assert.deepEqual(b.trades, [["MSFT", 10, T0 + 1000, [[T0 / 1000, 150], [T0 / 1000 + 60, 5]]]]);
  assert.deepEqual(b.others.map((m) => m.T), ["b"]);
  assert.deepEqual(b.events, []);
  assert.equal(r.take(), null, "nothing new: no batch");
});

test("reducer: the detail symbol's trades, cancels and corrections come one by one, in order, bounded", () => {
  const r = new FeedReducer({ detailCap: 3 });
  r.setDetail("AAPL");
  r.add([tr("AAPL", T0, 10, 1, ["@"], 1), { T: "x", S: "AAPL", t: iso(T0 + 1), i: 1, p: 10, s: 1, a: "C" }, tr("AAPL", T0 + 2, 11, 2, ["@"], 2)]);
  let b = r.take();
  assert.deepEqual(b.events.map((e) => [e.T, e.ms]), [["t", T0], ["x", T0 + 1], ["t", T0 + 2]]);
  assert.equal(b.events[0].f, tradeFlags(["@"]));
  assert.equal(b.events[0].i, 1);
  assert.equal(b.detailOverflow, false);
  r.add([1, 2, 3, 4].map((i) => tr("AAPL", T0 + i * 10, 10 + i, 1, ["@"], 10 + i)));
  b = r.take();
  assert.equal(b.events.length, 3);
  assert.equal(b.events[0].i, 12, "the oldest went");
  assert.equal(b.detailOverflow, true);
  // Another symbol's trades are not detailed; switching detail starts afresh.
  r.add([tr("MSFT", T0, 1, 1)]);
  r.setDetail("MSFT");
  r.add([tr("MSFT", T0 + 5, 2, 1, ["@"], 9)]);
  b = r.take();
  assert.deepEqual(b.events.map((e) => e.i), [9]);
  assert.equal(b.detail, "MSFT");
});

test("reducer: memory stays bounded under a flood", () => {
  const r = new FeedReducer({ detailCap: 100, othersCap: 100 });
  r.setDetail("AAPL");
  for (let k = 0; k < 200; k++) {
    const frame = [];
    for (let i = 0; i < 50; i++) {
      const ms = T0 + (k * 50 + i) * 1000;
      frame.push(q("S" + (i % 20), i, i + 1), tr("S" + (i % 20), ms, 10, 1), tr("AAPL", ms, 10, 1, ["@"], k * 50 + i),
        { T: "b", S: "S1", t: iso(ms), c: 1 });
    }
    r.add(frame);
  }
  assert.equal(r.quotes.size, 20);
  assert.ok(r.events.length <= 100 && r.others.length <= 100);
  for (const [, t] of r.trades) assert.ok(t.vols.size <= 8, "volume minutes per symbol");
  const b = r.take();
  assert.ok(b.detailOverflow && b.othersOverflow);
});

// The NYSE week of Thanksgiving 2026: a full Tuesday, a full Wednesday, the
// Thursday holiday, an early close on Friday, then Monday.
const CAL = calendarDays([
  { date: "2026-11-24", open: "09:30", close: "16:00", session_open: "0400", session_close: "2000" },
  { date: "2026-11-25", open: "09:30", close: "16:00", session_open: "0400", session_close: "2000" },
  { date: "2026-11-27", open: "09:30", close: "13:00", session_open: "0400", session_close: "1700" },
  { date: "2026-11-30", open: "09:30", close: "16:00", session_open: "0400", session_close: "2000" },
]);
const ny = (d, hm) => nyDateTime(d, hm);

test("market session: regular, pre-market, after hours, overnight, closed, in New York time", () => {
  const cases = [
    ["2026-11-24", "09:50", "open", "Regular session", "closes 16:00"],
    ["2026-11-24", "15:59", "open", "Regular session", "closes 16:00"],
    ["2026-11-24", "07:00", "pre", "Pre-market", "opens 09:30"],
    ["2026-11-24", "16:00", "post", "After hours", "until 20:00"],
    ["2026-11-24", "21:00", "overnight", "Overnight", "pre-market 04:00"],
    ["2026-11-25", "02:00", "overnight", "Overnight", "pre-market 04:00"],
    ["2026-11-25", "20:30", "closed", "Closed", "opens Fri 09:30"], // the night before Thanksgiving
    ["2026-11-26", "12:00", "closed", "Closed", "opens Fri 09:30"],
    ["2026-11-27", "12:59", "open", "Regular session", "closes 13:00"], // early close
    ["2026-11-27", "14:00", "post", "After hours", "until 17:00"],
    ["2026-11-27", "18:00", "closed", "Closed", "opens Mon 09:30"],
    ["2026-11-28", "12:00", "closed", "Closed", "opens Mon 09:30"], // Saturday
    ["2026-11-29", "21:00", "overnight", "Overnight", "pre-market 04:00"], // Sunday night
  ];
  for (const [d, hm, state, name, detail] of cases) {
    assert.deepEqual(marketSession(ny(d, hm), CAL), { state, name, detail }, `${d} ${hm}`);
  }
  assert.equal(marketSession(ny("2026-12-01", "12:00"), CAL), null, "past the calendar: no verdict");
  assert.equal(nyDateTime("2026-11-24", "0930"), Date.parse("2026-11-24T14:30:00Z"));
  assert.equal(nyDateTime("2026-07-01", "09:30"), Date.parse("2026-07-01T13:30:00Z"), "daylight saving time");
});

test("market session from the clock alone", () => {
  assert.deepEqual(clockSession({ timestamp: "2026-11-24T09:55:51.720000001-05:00", is_open: true,
    next_open: "2026-11-25T09:30:00-05:00", next_close: "2026-11-24T16:00:00-05:00" }),
  { state: "open", name: "Regular session", detail: "closes 16:00" });
  assert.deepEqual(clockSession({ timestamp: "2026-11-28T12:00:00-05:00", is_open: false,
    next_open: "2026-11-30T09:30:00-05:00", next_close: "2026-11-30T16:00:00-05:00" }),
  { state: "closed", name: "Closed", detail: "opens Mon 09:30" });
});

test("health: history lag shown only when the status has it; journal durability", () => {
  assert.equal(historyLag({}), null);
  assert.equal(historyLag({ history: {} }), null);
  assert.equal(historyLag({ history: { lag_events: 1234 } }).text, "1,234");
  assert.equal(historyLag({ history: { lag_ms: 250 } }).text, "250 ms");
  assert.equal(historyLag({ history: { lag_seconds: 2.5 } }).text, "2.5 s");
  assert.equal(historyLag({ history: { applied_seq: 90 }, ingest: { released_seq: 100 } }).text, "10");
  assert.equal(historyLag({ history: { lag_events: 0 } }).text, "0");
  assert.equal(journalDurability({}), null);
  const j = { first_seq: 1, last_seq: 22859, written_seq: 22859, synced_seq: 22628, bytes: 1584583, segments: 1, fsync: "interval=100ms" };
  const d = journalDurability({ journal: j });
  assert.equal(d.text, "231");
  assert.match(d.title, /written to 22,859.*synced to 22,628/);
  assert.match(d.title, /1\.5 MB in 1 segment;/);
  assert.equal(journalDurability({ journal: { ...j, synced_seq: 22859 } }).text, "0");
  assert.equal(journalDurability({ journal: { ...j, error: "disk full" } }).state, "failed");
});

test("health: cluster role and lag, gap fill; hidden on a single Tape", () => {
  assert.equal(clusterRole({}), null);
  assert.equal(clusterRole({ cluster: { role: "single" } }), null);
  const edge = clusterRole({ cluster: { role: "edge", node: "e1", applied: 5000, edge_lag: 2500 } });
  assert.equal(edge.text, "edge · 2,500");
  assert.equal(edge.state, "warn");
  assert.match(edge.title, /node e1.*applied from the stream to 5,000, 2,500 records behind/);
  const leader = clusterRole({ cluster: { role: "leader", published_acked: 99, epoch: 3, takeovers: 1 } });
  assert.equal(leader.text, "leader");
  assert.match(leader.title, /acknowledged to 99, 0 journaled.*epoch 3; takeovers 1/);
  assert.equal(clusterRole({ cluster: { role: "edge", failed: "stream deleted" } }).state, "failed");
  assert.equal(gapFill({}), null);
  const g = gapFill({ gap_fill: { gaps: 2, filled_events: 1500, failures: 1, last_error: "HTTP 429" } });
  assert.equal(g.text, "2 / 1,500");
  assert.equal(g.state, "warn");
  assert.match(g.title, /1 fills failed: HTTP 429/);
});

test("trade flags: what a condition may update", () => {
  assert.ok(tradeFlags(["@"]) & UPD_LAST);
  assert.ok(!(tradeFlags(["@", "I"]) & UPD_LAST), "odd lot");
  assert.ok(!(tradeFlags(["Z"]) & UPD_LAST), "sold out of sequence");
});
