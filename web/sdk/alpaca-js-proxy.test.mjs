// The official Alpaca JS SDK v4 as a client of Tape's proxied streams:
// stocks, crypto, options and news, each unmodified but for its URL. Run by
// internal/server's TestJSSDKThroughProxy, which starts a fake Alpaca
// upstream, a Tape in --feed alpaca mode in front of it, and this script.
//
//   node web/sdk/alpaca-js-proxy.test.mjs ws://127.0.0.1:PORT
import assert from "node:assert/strict";
import { streaming } from "@alpacahq/alpaca-trade-api";

const base = process.argv[2];
if (!base) {
  console.error("usage: alpaca-js-proxy.test.mjs ws://host:port");
  process.exit(2);
}
const credentials = { keyId: "js-sdk", secret: "js-sdk" };
const common = { credentials, maxReconnectAttempts: 0 };
const got = { stocks: [], crypto: [], options: [], news: [] };

const stocks = new streaming.StockDataStream({ ...common, url: `${base}/v2/sip` });
stocks.onTrade((t) => got.stocks.push(t));
stocks.onConnect(() => stocks.subscribeForTrades(["AAPL"]));

const crypto = new streaming.CryptoDataStream({ ...common, url: `${base}/v1beta3/crypto/us` });
crypto.onTrade((t) => got.crypto.push(t));
crypto.onConnect(() => crypto.subscribeForTrades(["BTC/USD"]));

const options = new streaming.OptionDataStream({ ...common, url: `${base}/v1beta1/indicative` });
options.onTrade((t) => got.options.push(t));
options.onConnect(() => options.subscribeForTrades(["AAPL240315C00172500"]));

const news = new streaming.NewsStream({ ...common, url: `${base}/v1beta1/news` });
news.onNews((n) => got.news.push(n));
news.onConnect(() => news.subscribeForNews(["*"]));

const streams = [stocks, crypto, options, news];
const errors = [];
for (const s of streams) {
  s.on("error", (e) => errors.push(String(e)));
  s.connect();
}
const deadline = Date.now() + 30_000;
while (Object.values(got).some((l) => l.length === 0)) {
  if (Date.now() > deadline) {
    for (const s of streams) s.disconnect();
    const counts = Object.fromEntries(Object.entries(got).map(([k, v]) => [k, v.length]));
    assert.fail(`timed out; received ${JSON.stringify(counts)}; errors: ${errors.join("; ")}`);
  }
  await new Promise((r) => setTimeout(r, 50));
}
for (const s of streams) s.disconnect();

assert.equal(got.stocks[0].symbol, "AAPL");
assert.ok(got.stocks[0].price > 0);
assert.equal(got.crypto[0].symbol, "BTC/USD");
assert.equal(got.crypto[0].size, 0.0123, "crypto sizes stay fractional");
assert.equal(got.crypto[0].takerSide, "B");
assert.equal(got.options[0].symbol, "AAPL240315C00172500");
assert.equal(got.options[0].price, 3.45);
assert.equal(got.news[0].headline, "Tape ships");
assert.deepEqual(got.news[0].symbols, ["AAPL"]);
assert.equal(errors.length, 0, errors.join("; "));
console.log(
  `ok   Alpaca JS SDK v4 through Tape's proxy: ${got.stocks.length} stock, ${got.crypto.length} crypto, ` +
    `${got.options.length} option trades, ${got.news.length} news`,
);
