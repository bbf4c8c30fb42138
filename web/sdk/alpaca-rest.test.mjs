// The official Alpaca JS SDK v4's REST clients against a running Tape with
// the simulator. v4 reads no base-URL variable (APCA_API_DATA_URL and
// APCA_API_BASE_URL are ignored) and its `Alpaca` facade takes no base URL,
// so there are two set-ups, both tested here as the README shows them:
//
//   - the facade with a `pre` middleware that sends every request to Tape
//     (the trading API's clock, calendar and assets too);
//   - the generated API classes with `basePath` in their Configuration.
//
//   TAPE_URL=http://127.0.0.1:8080 node --test web/sdk/alpaca-rest.test.mjs
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Alpaca, TimeFrame, marketData, trading } from "@alpacahq/alpaca-trade-api";

const tape = (process.env.TAPE_URL ?? "").replace(/\/+$/, "");
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(tape)) {
  console.error("set TAPE_URL=http://127.0.0.1:PORT (a running Tape)");
  process.exit(2);
}
const minute = 60_000;
const day = 24 * 60 * minute;

// Every request the SDK sends passes through this fetch, which records it
// and refuses one bound anywhere but Tape (so nothing can reach Alpaca).
const sent = [];
const guardedFetch = (url, init) => {
  sent.push(String(url));
  if (!String(url).startsWith(`${tape}/`)) {
    return Promise.reject(new Error(`refused a request that would leave Tape: ${url}`));
  }
  return fetch(url, init);
};
after(() => {
  assert.ok(sent.length > 0, "nothing was requested");
  for (const url of sent) assert.ok(url.startsWith(`${tape}/`), `a request meant to leave Tape: ${url}`);
});

// The README's snippet, plus the guard and no retries (a failure must show).
const toTape = {
  pre: async ({ url, init }) => {
    const u = new URL(url);
    return { url: tape + u.pathname + u.search, init };
  },
};
const alpaca = new Alpaca({
  keyId: "js-sdk",
  secret: "js-sdk", // any pair works on loopback without --auth-key
  middleware: [toTape],
  fetchApi: guardedFetch,
  retry: false,
});

function assertBar(b, what) {
  assert.ok(b.timestamp instanceof Date && !Number.isNaN(b.timestamp.getTime()), `${what}: timestamp ${b.timestamp}`);
  assert.ok(b.low > 0 && b.high >= b.low, `${what}: ${JSON.stringify(b)}`);
  assert.ok(b.open >= b.low && b.open <= b.high && b.close >= b.low && b.close <= b.high, `${what}: ${JSON.stringify(b)}`);
  assert.ok(b.volume >= 0, `${what}: volume ${b.volume}`);
}

// rawBar converts a generated model's bar ({t, o, h, l, c, v}) for
// assertBar. The multi-symbol responses leave their bars as the JSON was
// (t a string); the single models make t a Date.
const rawBar = (b) => ({ timestamp: new Date(b.t), open: b.o, high: b.h, low: b.l, close: b.c, volume: b.v });

function assertRawBars(bars, since, step, what) {
  assert.ok(Array.isArray(bars) && bars.length > 0, `${what}: no bars`);
  let prev;
  for (const [i, raw] of bars.entries()) {
    const b = rawBar(raw);
    assertBar(b, `${what}[${i}]`);
    assert.ok(b.timestamp >= since, `${what}[${i}] at ${raw.t}, before ${since.toISOString()}`);
    if (i > 0) assert.ok(step(b.timestamp - prev), `${what}[${i}]: ${b.timestamp - prev} ms after the previous bar`);
    prev = b.timestamp;
  }
}

let now; // Tape's clock (the simulator's)

before(async () => {
  const clock = await alpaca.trading.clock.legacyClock(); // GET /v2/clock
  now = clock.timestamp;
});

describe("Alpaca facade with a middleware to Tape", () => {
  test("trading: v4's default clock() and calendar() (the v3 endpoints)", async () => {
    const resp = await alpaca.trading.clock.clock();
    assert.equal(resp.clocks.length, 1);
    const c = resp.clocks[0];
    assert.equal(c.market.mic, "XNYS");
    assert.ok(["closed", "pre", "core", "post"].includes(c.phase), `phase ${c.phase}`);
    assert.ok(c.phaseUntil > c.timestamp && c.nextMarketOpen > c.timestamp, JSON.stringify(c));
    const cal = await alpaca.trading.calendar.calendar({ market: "XNYS", start: new Date(now.getTime() - 7 * day), end: now });
    assert.ok(cal.calendar.length >= 3 && cal.calendar.length <= 6, `${cal.calendar.length} trading days in a week`);
    for (const d of cal.calendar) {
      assert.ok(d.coreStart < d.coreEnd && d.preStart < d.coreStart && d.coreEnd <= d.postEnd, JSON.stringify(d));
    }
  });

  test("trading: clock and calendar (the v2 endpoints)", async () => {
    assert.ok(now instanceof Date && !Number.isNaN(now.getTime()), `clock timestamp ${now}`);
    const clock = await alpaca.trading.clock.legacyClock();
    assert.equal(typeof clock.isOpen, "boolean");
    assert.ok(clock.nextOpen > clock.timestamp && clock.nextClose > clock.timestamp, JSON.stringify(clock));
    const start = new Date(now.getTime() - 14 * day);
    const end = new Date(now.getTime() + 14 * day);
    const days = await alpaca.trading.calendar.legacyCalendar({ start, end }); // sent as RFC 3339 times
    assert.ok(days.length >= 15 && days.length <= 21, `${days.length} trading days in four weeks`);
    const first = start.toISOString().slice(0, 10);
    const last = end.toISOString().slice(0, 10);
    let prev = "";
    for (const d of days) {
      const date = d.date.toISOString().slice(0, 10); // the model makes it a Date at UTC midnight
      assert.ok(date >= first && date <= last && date > prev, `${date} out of order or outside ${first}..${last}`);
      assert.ok(![0, 6].includes(d.date.getUTCDay()), `${date} is a weekend day`);
      assert.match(d.open, /^\d\d:\d\d$/);
      assert.match(d.close, /^\d\d:\d\d$/);
      assert.ok(d.open < d.close, JSON.stringify(d));
      assert.ok(d.settlementDate > d.date, `${date} settles ${d.settlementDate.toISOString()}`);
      prev = date;
    }
  });

  test("trading: crypto assets", async () => {
    const assets = await alpaca.trading.assets.getV2Assets({ assetClass: "crypto", status: "active" });
    const btc = assets.find((a) => a.symbol === "BTC/USD");
    assert.ok(btc, `no BTC/USD among ${assets.map((a) => a.symbol)}`);
    assert.equal(btc._class, "crypto");
    assert.ok(btc.tradable && btc.fractionable, JSON.stringify(btc));
    assert.ok(assets.every((a) => a._class === "crypto"), "a non-crypto asset");
  });

  test("stocks: bars (raw stockBars and the ergonomic getStockBars)", async () => {
    // Three days back: the synthetic past's minute bars (today's start with
    // the simulator).
    const since = new Date(now.getTime() - 3 * day);
    const resp = await alpaca.marketData.stocks.stockBars({
      symbols: "AAPL,MSFT",
      timeframe: "1Min",
      start: since,
      limit: 50,
      feed: "iex",
    });
    const total = Object.values(resp.bars).reduce((n, l) => n + l.length, 0);
    assert.equal(total, 50, `limit is the total over symbols: got ${total}`);
    assert.ok(resp.nextPageToken, "no next page token with more bars to come");
    for (const [sym, bars] of Object.entries(resp.bars)) {
      assertRawBars(bars, since, (gap) => gap >= minute && gap % minute === 0, `stockBars ${sym}`);
    }

    const daily = await alpaca.marketData.getStockBars({
      symbols: ["AAPL", "MSFT"],
      timeframe: TimeFrame.Day,
      start: new Date(now.getTime() - 60 * day),
    });
    for (const sym of ["AAPL", "MSFT"]) {
      const bars = daily[sym];
      assert.ok(bars && bars.length >= 35 && bars.length <= 45, `${bars?.length} daily ${sym} bars in 60 days`);
      for (const [i, b] of bars.entries()) {
        assertBar(b, `daily ${sym}[${i}]`);
        assert.equal(b.symbol, sym);
        if (i > 0) assert.ok(b.timestamp > bars[i - 1].timestamp, `daily ${sym}[${i}] out of order`);
      }
    }
  });

  test("stocks: latest trades and snapshots", async () => {
    const latest = await alpaca.marketData.stocks.stockLatestTrades({ symbols: "AAPL,MSFT", feed: "iex" });
    for (const sym of ["AAPL", "MSFT"]) {
      const t = latest.trades[sym];
      assert.ok(t && t.p > 0 && t.s > 0, `latest ${sym} trade ${JSON.stringify(t)}`);
      assert.ok(new Date(t.t) <= new Date(now.getTime() + minute), `latest ${sym} trade at ${t.t}`);
    }
    const snaps = await alpaca.marketData.stocks.stockSnapshots({ symbols: "AAPL,MSFT", feed: "iex" });
    for (const sym of ["AAPL", "MSFT"]) {
      const s = snaps[sym];
      assert.ok(s, `no ${sym} snapshot in ${Object.keys(snaps)}`);
      assert.ok(s.latestTrade.p > 0, `${sym} latest trade`);
      assert.ok(s.latestQuote.bp > 0 && s.latestQuote.bp <= s.latestQuote.ap, `${sym} quote ${JSON.stringify(s.latestQuote)}`);
      for (const k of ["minuteBar", "dailyBar", "prevDailyBar"]) {
        const b = s[k];
        assert.ok(b, `${sym} snapshot without ${k}`);
        assertBar(rawBar(b), `${sym} ${k}`);
      }
      assert.ok(new Date(s.prevDailyBar.t) < new Date(s.dailyBar.t), `${sym}: previous daily bar not before the daily bar`);
    }
  });

  test("crypto: bars, latest order book and snapshot", async () => {
    const since = new Date(now.getTime() - 30 * minute);
    const resp = await alpaca.marketData.crypto.cryptoBars({
      loc: "us",
      symbols: "BTC/USD,ETH/USD",
      timeframe: "1Min",
      start: since,
    });
    for (const sym of ["BTC/USD", "ETH/USD"]) {
      // A crypto pair has a bar every minute.
      assertRawBars(resp.bars[sym], since, (gap) => gap === minute, `cryptoBars ${sym}`);
      assert.ok(resp.bars[sym].length >= 29, `${resp.bars[sym].length} ${sym} minute bars in 30 minutes`);
    }
    const candles = await alpaca.marketData.getCryptoBarsFor("BTC/USD", {
      loc: "us",
      timeframe: TimeFrame.Day,
      start: new Date(now.getTime() - 10 * day),
    });
    assert.ok(candles.length >= 9 && candles.length <= 11, `${candles.length} daily BTC/USD bars in 10 days`);
    candles.forEach((b, i) => assertBar(b, `daily BTC/USD[${i}]`));

    const books = await alpaca.marketData.crypto.cryptoLatestOrderbooks({ loc: "us", symbols: "BTC/USD" });
    const book = books.orderbooks["BTC/USD"];
    assert.ok(book.b.length > 0 && book.a.length > 0, "an empty side");
    assert.ok(book.b[0].p < book.a[0].p, `crossed: ${book.b[0].p} >= ${book.a[0].p}`);
    const snaps = await alpaca.marketData.crypto.cryptoSnapshots({ loc: "us", symbols: "BTC/USD" });
    const snap = snaps.snapshots["BTC/USD"];
    assert.ok(snap.latestTrade.p > 0 && snap.latestQuote.bp < snap.latestQuote.ap, JSON.stringify(snap));
    assert.ok(snap.dailyBar.h >= snap.dailyBar.l, JSON.stringify(snap.dailyBar));
  });

  test("news", async () => {
    const resp = await alpaca.marketData.news.news({ limit: 5, sort: "desc" });
    assert.ok(resp.news.length > 0 && resp.news.length <= 5, `${resp.news.length} articles`);
    for (const [i, n] of resp.news.entries()) {
      assert.ok(n.id && n.headline && n.source, `article ${i}: ${JSON.stringify(n)}`);
      assert.ok(n.createdAt instanceof Date && !Number.isNaN(n.createdAt.getTime()), `article ${i} created ${n.createdAt}`);
      assert.ok(n.updatedAt >= n.createdAt, `article ${i} updated before it was created`);
      assert.ok(Array.isArray(n.symbols), `article ${i} symbols`);
      // Alpaca sorts news by the time of the last update.
      if (i > 0) assert.ok(n.updatedAt <= resp.news[i - 1].updatedAt, `article ${i} out of order (desc)`);
    }
  });

  test("options (synthetic): chain, latest quotes and trades, bars", async () => {
    // The simulated options market on AAPL: this week's and next week's
    // calls within 5 % of the money.
    const spot = (await alpaca.marketData.stocks.stockLatestTrades({ symbols: "AAPL" })).trades.AAPL.p;
    const chain = await alpaca.marketData.options.optionChain({
      underlyingSymbol: "AAPL",
      type: "call",
      strikePriceGte: spot * 0.95,
      strikePriceLte: spot * 1.05,
      expirationDateLte: new Date(now.getTime() + 14 * day),
      limit: 1000,
    });
    const syms = Object.keys(chain.snapshots);
    assert.ok(syms.length >= 4, `${syms.length} contracts in the chain`);
    let traded;
    for (const sym of syms) {
      assert.match(sym, /^AAPL\d{6}C\d{8}$/, "an OCC call symbol");
      const s = chain.snapshots[sym];
      assert.ok(s.latestQuote && s.latestQuote.bp < s.latestQuote.ap, `${sym} quote ${JSON.stringify(s.latestQuote)}`);
      assert.ok(s.greeks && s.greeks.delta > 0 && s.greeks.delta < 1 && s.impliedVolatility > 0, `${sym} greeks ${JSON.stringify(s.greeks)}`);
      if (s.latestTrade) traded = sym;
    }
    assert.ok(traded, "no contract near the money traded");
    // The simulator runs a minute a second: the latest are the chain's or newer.
    const at = (x) => new Date(x.t).getTime();
    const quotes = await alpaca.marketData.options.optionLatestQuotes({ symbols: traded });
    const q = quotes.quotes[traded];
    assert.ok(q && q.bp < q.ap && at(q) >= at(chain.snapshots[traded].latestQuote), `latest quote ${JSON.stringify(q)}`);
    const trades = await alpaca.marketData.options.optionLatestTrades({ symbols: traded });
    const t = trades.trades[traded];
    assert.ok(t && t.p > 0 && t.s > 0 && at(t) >= at(chain.snapshots[traded].latestTrade), `latest trade ${JSON.stringify(t)}`);
    const bars = await alpaca.marketData.options.optionBars({ symbols: traded, timeframe: "1Day", start: new Date(now.getTime() - 7 * day) });
    assert.ok(bars.bars[traded].length > 0, "no daily bars");
    bars.bars[traded].forEach((b, i) => assertBar(rawBar(b), `${traded} daily[${i}]`));
    const exchanges = await alpaca.marketData.options.optionMetaExchanges();
    assert.ok(exchanges[t.x], `exchange ${t.x} unnamed`);
  });

  test("screener: most actives", async () => {
    const resp = await alpaca.marketData.screener.mostActives({ top: 3 });
    assert.equal(resp.mostActives.length, 3);
    for (const [i, m] of resp.mostActives.entries()) {
      assert.ok(m.symbol && m.volume > 0 && m.tradeCount > 0, JSON.stringify(m));
      if (i > 0) assert.ok(m.volume <= resp.mostActives[i - 1].volume, "most actives out of order");
    }
  });
});

describe("generated API classes with basePath", () => {
  const config = { keyId: "js-sdk", secret: "js-sdk", basePath: tape, fetchApi: guardedFetch };

  test("StockApi.stockBars and ClockApi.legacyClock", async () => {
    const stocks = new marketData.StockApi(new marketData.Configuration(config));
    const since = new Date(now.getTime() - 30 * day);
    const resp = await stocks.stockBars({ symbols: "SPY", timeframe: "1Day", start: since, feed: "iex" });
    assertRawBars(resp.bars.SPY, since, (gap) => gap >= day - 3_600_000, "SPY daily");
    assert.ok(resp.bars.SPY.length >= 18, `${resp.bars.SPY.length} daily SPY bars in 30 days`);

    const clock = await new trading.ClockApi(new trading.Configuration(config)).legacyClock();
    assert.ok(clock.timestamp >= now, `clock went back: ${clock.timestamp.toISOString()} < ${now.toISOString()}`);
  });
});
