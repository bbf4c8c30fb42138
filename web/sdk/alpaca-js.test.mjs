// The official Alpaca JS SDK v4, unmodified but for its URL, against a
// running Tape: every stock message type the simulator produces reaches it,
// decoded (msgpack with the timestamp extension, which v4 requires).
//
//   node web/sdk/alpaca-js.test.mjs ws://127.0.0.1:8080/v2/iex
import assert from "node:assert/strict";
import { streaming } from "@alpacahq/alpaca-trade-api";

const url = process.argv[2];
if (!url) {
  console.error("usage: alpaca-js.test.mjs ws://host:port/v2/iex");
  process.exit(2);
}

const stream = new streaming.StockDataStream({
  credentials: { keyId: "js-sdk", secret: "js-sdk" },
  url,
  maxReconnectAttempts: 0,
});
const seen = { trade: [], quote: [], bar: [], dailyBar: [] };
stream.onTrade((t) => seen.trade.push(t));
stream.onQuote((q) => seen.quote.push(q));
stream.onBar((b) => seen.bar.push(b));
stream.onDailyBar((b) => seen.dailyBar.push(b));
const errors = [];
stream.on("error", (e) => errors.push(e));
stream.onConnect(() => {
  stream.subscribeForTrades(["AAPL"]);
  stream.subscribeForQuotes(["AAPL"]);
  stream.subscribeForBars(["*"]);
  stream.subscribeForDailyBars(["*"]);
});
stream.connect();

const deadline = Date.now() + 30_000;
while (Object.values(seen).some((l) => l.length === 0)) {
  if (Date.now() > deadline) {
    const counts = Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, v.length]));
    stream.disconnect();
    assert.fail(`timed out; received ${JSON.stringify(counts)}; errors ${errors.map(String).join("; ")}`);
  }
  await new Promise((r) => setTimeout(r, 50));
}
stream.disconnect();

const t = seen.trade[0];
assert.equal(t.symbol, "AAPL");
assert.ok(t.price > 0 && Number.isInteger(t.size) && t.size > 0, `trade ${JSON.stringify(t)}`);
assert.ok(t.timestamp instanceof Date && !Number.isNaN(t.timestamp.getTime()), "trade timestamp is a Date");
assert.ok(t.timestampRaw, "nanosecond timestamp kept");
assert.ok(Array.isArray(t.conditions) && t.exchange && t.tape, `trade ${JSON.stringify(t)}`);
const q = seen.quote[0];
assert.ok(q.bidPrice < q.askPrice && q.bidSize > 0, `quote ${JSON.stringify(q)}`);
const b = seen.bar[0];
assert.ok(b.low <= b.open && b.open <= b.high && b.volume > 0, `bar ${JSON.stringify(b)}`);
assert.equal(b.timestamp.getUTCSeconds(), 0, "bars start on the minute");
assert.equal(errors.length, 0, `stream errors: ${errors.map(String).join("; ")}`);
console.log(
  `ok   Alpaca JS SDK v4: ${seen.trade.length} trades, ${seen.quote.length} quotes, ` +
    `${seen.bar.length} bars, ${seen.dailyBar.length} daily bars`,
);
