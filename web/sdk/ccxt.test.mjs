// ccxt's alpaca exchange (REST) and ccxt.pro's (websocket), unmodified but
// for their URLs, against a running Tape with the simulator: markets, bars,
// trades, the order book and the ticker over REST, live trades and a live
// order book (a snapshot, then changes) over /v1beta2/crypto, the path
// ccxt.pro dials. Every request must go to the Tape under test.
//
//   TAPE_URL=http://127.0.0.1:8080 node --test web/sdk/ccxt.test.mjs
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import ccxt from "ccxt";

const base = (process.env.TAPE_URL ?? "").replace(/\/+$/, "");
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(base)) {
  console.error("set TAPE_URL=http://127.0.0.1:PORT (a running Tape)");
  process.exit(2);
}
const wsBase = base.replace(/^http/, "ws");
const minute = 60_000;
const day = 24 * 60 * minute;

// isTape tells whether url is the Tape under test.
const isTape = (url) => url.startsWith(`${base}/`) || url.startsWith(`${wsBase}/`);

// tapeExchange builds one of ccxt's alpaca classes pointed at Tape: the
// trading API (markets, clock), the market-data API and the broker API all
// live at Tape's root; ccxt.pro's crypto stream at /v1beta2/crypto. Every
// HTTP request and websocket it opens is recorded in `dialed`, and one bound
// anywhere else is refused before it is sent.
function tapeExchange(Class, dialed) {
  const ex = new Class({
    apiKey: "ccxt",
    secret: "ccxt", // any pair works on loopback without --auth-key
    urls: {
      api: {
        trader: base,
        market: base,
        broker: base,
        ws: { crypto: `${wsBase}/v1beta2/crypto`, trading: `${wsBase}/stream` },
      },
    },
  });
  const guard = (url) => {
    dialed.push(url);
    if (!isTape(url)) throw new Error(`refused a request that would leave Tape: ${url}`);
  };
  const fetch = ex.fetch.bind(ex);
  ex.fetch = (url, ...rest) => {
    guard(url);
    return fetch(url, ...rest);
  };
  const client = ex.client.bind(ex);
  ex.client = (url) => {
    guard(url);
    return client(url);
  };
  return ex;
}

function assertLocal(dialed) {
  assert.ok(dialed.length > 0, "nothing was requested");
  for (const url of dialed) assert.ok(isTape(url), `a request meant to leave Tape: ${url}`);
}

function assertSortedBook(book, what) {
  const { bids, asks } = book;
  assert.ok(bids.length > 0 && asks.length > 0, `${what}: empty side (${bids.length} bids, ${asks.length} asks)`);
  for (const [side, levels, order] of [
    ["bid", bids, -1],
    ["ask", asks, 1],
  ]) {
    for (let i = 0; i < levels.length; i++) {
      const [p, s] = levels[i];
      assert.ok(p > 0 && s > 0, `${what}: ${side} level ${i} is ${JSON.stringify(levels[i])}`);
      if (i > 0) assert.ok(order * (p - levels[i - 1][0]) > 0, `${what}: ${side}s out of order at ${i}`);
    }
  }
  assert.ok(bids[0][0] < asks[0][0], `${what}: crossed book, best bid ${bids[0][0]} >= best ask ${asks[0][0]}`);
}

function assertOHLCV(rows, since, step, what) {
  for (const [i, row] of rows.entries()) {
    const [t, o, h, l, c, v] = row;
    assert.ok(Number.isInteger(t) && t >= since, `${what}[${i}]: time ${t} before since ${since}`);
    assert.ok(l > 0 && h >= l, `${what}[${i}]: high < low: ${JSON.stringify(row)}`);
    assert.ok(o >= l && o <= h && c >= l && c <= h, `${what}[${i}]: open/close outside [low, high]: ${JSON.stringify(row)}`);
    assert.ok(v >= 0, `${what}[${i}]: volume ${v}`);
    if (i > 0) {
      const gap = t - rows[i - 1][0];
      assert.ok(step(gap), `${what}[${i}]: ${gap} ms after the previous row`);
    }
  }
}

describe("ccxt alpaca REST against Tape", () => {
  const dialed = [];
  let ex;
  let now; // Tape's clock (the simulator's), in ms

  before(async () => {
    ex = tapeExchange(ccxt.alpaca, dialed);
    now = await ex.fetchTime(); // GET /v2/clock
  });
  after(() => assertLocal(dialed));

  test("fetchTime follows Tape's clock", () => {
    assert.ok(Number.isInteger(now) && now > Date.UTC(2000, 0, 1), `fetchTime() = ${now}`);
  });

  test("loadMarkets lists the crypto pairs", async () => {
    const markets = await ex.loadMarkets();
    for (const symbol of ["BTC/USD", "ETH/USD"]) assert.ok(markets[symbol], `no ${symbol} in ${Object.keys(markets)}`);
    const m = markets["BTC/USD"];
    assert.equal(m.id, "BTC/USD");
    assert.equal(m.base, "BTC");
    assert.equal(m.quote, "USD");
    assert.ok(m.spot && m.active, `BTC/USD not an active spot market: ${JSON.stringify(m.info)}`);
    // TICK_SIZE precision: a price tick of a dollar or less, an amount step
    // of a satoshi or less; a minimum order of a small fraction of a coin.
    assert.ok(m.precision.price > 0 && m.precision.price <= 1, `price tick ${m.precision.price}`);
    assert.ok(m.precision.amount > 0 && m.precision.amount <= 1e-8, `amount step ${m.precision.amount}`);
    assert.ok(m.limits.amount.min > 0 && m.limits.amount.min < 0.01, `minimum amount ${m.limits.amount.min}`);
    for (const market of Object.values(markets)) {
      assert.match(market.symbol, /^[A-Z0-9]+\/[A-Z0-9]+$/, `market symbol ${market.symbol}`);
      assert.equal(market.info.class, "crypto", `${market.symbol} is not a crypto asset`);
    }
  });

  test("fetchOHLCV 1m: consecutive minute bars", async () => {
    // The last hour: with a fresh Tape it spans the synthetic past and the
    // minutes the simulator has run since.
    const since = now - 60 * minute;
    const rows = await ex.fetchOHLCV("BTC/USD", "1m", since);
    assert.ok(rows.length >= 59 && rows.length <= 62, `${rows.length} minute bars in the last hour`);
    // Crypto has a bar for every minute (flat at the quote midpoint without trades).
    assertOHLCV(rows, since, (gap) => gap === minute, "1m");
    assert.ok(rows.some((r) => r[5] > 0), "every minute bar has zero volume");

    const page = await ex.fetchOHLCV("BTC/USD", "1m", now - 5 * 60 * minute, 120);
    assert.equal(page.length, 120, "limit");
    assertOHLCV(page, now - 5 * 60 * minute, (gap) => gap === minute, "1m limit 120");
  });

  test("fetchOHLCV 1d: a month of daily bars", async () => {
    const since = now - 30 * day;
    const rows = await ex.fetchOHLCV("BTC/USD", "1d", since);
    assert.ok(rows.length >= 29 && rows.length <= 31, `${rows.length} daily bars in 30 days`);
    // A day apart (23 to 25 hours where a time zone's day has a DST change).
    assertOHLCV(rows, since, (gap) => gap >= day - 3_600_000 && gap <= day + 3_600_000, "1d");
    assert.ok(rows.every((r) => r[5] > 0), "a daily bar without volume");
    assert.ok(rows.at(-1)[0] > now - 2 * day, `the last daily bar starts ${new Date(rows.at(-1)[0]).toISOString()}`);
  });

  test("fetchTrades: recent trades", async () => {
    const since = now - 30 * minute;
    const trades = await ex.fetchTrades("BTC/USD", since, 50);
    assert.ok(trades.length > 0, "no trades in the last 30 minutes");
    for (const [i, t] of trades.entries()) {
      assert.equal(t.symbol, "BTC/USD");
      assert.ok(t.price > 0 && t.amount > 0, `trade ${i}: ${JSON.stringify(t.info)}`);
      assert.ok(t.timestamp >= since, `trade ${i} at ${t.datetime}, before since`);
      assert.ok(t.side === "buy" || t.side === "sell", `trade ${i} side ${t.side}`);
      assert.ok(t.id, `trade ${i} has no id`);
      if (i > 0) assert.ok(t.timestamp >= trades[i - 1].timestamp, `trade ${i} out of time order`);
    }
  });

  test("fetchOrderBook: a sorted, uncrossed book", async () => {
    const book = await ex.fetchOrderBook("BTC/USD");
    assert.equal(book.symbol, "BTC/USD");
    assert.ok(book.timestamp > now - 60 * minute, `book of ${book.datetime}`);
    assertSortedBook(book, "REST book");
  });

  test("fetchTicker: bid, ask, last and the day", async () => {
    const t = await ex.fetchTicker("BTC/USD");
    assert.equal(t.symbol, "BTC/USD");
    assert.ok(t.bid > 0 && t.ask > 0 && t.bid < t.ask, `bid ${t.bid} ask ${t.ask}`);
    assert.ok(t.bidVolume > 0 && t.askVolume > 0, `sizes ${t.bidVolume} / ${t.askVolume}`);
    assert.ok(t.last > 0 && t.high >= t.low && t.low > 0, `last ${t.last} high ${t.high} low ${t.low}`);
    assert.ok(t.open > 0 && t.close > 0 && t.previousClose > 0, JSON.stringify(t.info));
    assert.ok(t.baseVolume > 0, `base volume ${t.baseVolume}`);
    // The quote is Tape's latest: within a percent of the last trade.
    assert.ok(Math.abs(t.last / ((t.bid + t.ask) / 2) - 1) < 0.01, `last ${t.last} far from the quote`);
  });
});

describe("ccxt.pro alpaca websocket against Tape", () => {
  const dialed = [];
  let ex;
  const bookFrames = [];

  before(async () => {
    ex = tapeExchange(ccxt.pro.alpaca, dialed);
    // ccxt refuses a plain ws:// URL in Node until its HTTP agent is loaded.
    await ex.loadHttpProxyAgent();
    // Count the book messages ccxt receives: a snapshot (r=true) must come
    // first, then changes.
    const handle = ex.handleOrderBook.bind(ex);
    ex.handleOrderBook = (client, message) => {
      bookFrames.push({ snapshot: message.r === true, bids: message.b?.length ?? 0, asks: message.a?.length ?? 0 });
      return handle(client, message);
    };
  });
  after(async () => {
    await ex.close();
    assertLocal(dialed);
  });

  test("watchTrades: live trades", async () => {
    const seen = [];
    while (seen.length < 5) {
      const trades = await ex.watchTrades("BTC/USD");
      seen.push(...trades);
    }
    for (const [i, t] of seen.entries()) {
      assert.equal(t.symbol, "BTC/USD");
      assert.ok(t.price > 0 && t.amount > 0, `trade ${i}: ${JSON.stringify(t.info)}`);
      assert.ok(t.side === "buy" || t.side === "sell", `trade ${i} side ${t.side}`);
      if (i > 0) assert.ok(t.timestamp >= seen[i - 1].timestamp, `trade ${i} out of time order`);
    }
  });

  test("watchOrderBook: a snapshot, then changes", async () => {
    const first = await ex.watchOrderBook("BTC/USD");
    assert.ok(bookFrames.length >= 1 && bookFrames[0].snapshot, `first book message: ${JSON.stringify(bookFrames[0])}`);
    assert.ok(first.bids.length >= 5 && first.asks.length >= 5, `snapshot of ${first.bids.length}x${first.asks.length} levels`);
    assertSortedBook(first, "snapshot");
    const before = JSON.stringify([first.bids, first.asks]);
    const t0 = first.timestamp;

    let book = first;
    while (bookFrames.filter((f) => !f.snapshot).length < 5) {
      book = await ex.watchOrderBook("BTC/USD");
      assertSortedBook(book, `book after ${bookFrames.length} messages`);
    }
    assert.equal(bookFrames.filter((f) => f.snapshot).length, 1, `snapshots resent: ${JSON.stringify(bookFrames)}`);
    assert.ok(book.timestamp > t0, "the book's time did not advance");
    assert.notEqual(JSON.stringify([book.bids, book.asks]), before, "five changes left the book as it was");
  });
});
