// What the dashboard subscribes to, and the subscribe/unsubscribe messages
// that take a connection from one subscription to another. Pure functions:
// the stream worker uses them, the unit tests check them.
//
// The page asks only for what it shows, never "*": a busy feed (the
// simulator at --speed 60 sends over 100,000 messages a second) would
// otherwise bury a browser.
//
//   trades       the watchlist (last price, volume) and the selected symbol
//                (time and sales, the forming candle)
//   quotes       the watchlist (bid, ask); the page keeps only the newest
//   bars         the watchlist (sparklines) and the chart
//   updatedBars  the selected symbol only: corrections of its candles
//   dailyBars    the watchlist (open, volume) and the daily chart
//   statuses     the watchlist (halts)
//
// Crypto pairs (BTC/USD) are not on the stock stream (/v2/sip); they are
// left out here, and the page says there is no data for them.

export const CHANNELS = ["trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses"];

const isStock = (s) => typeof s === "string" && s !== "" && !s.includes("/");

/**
 * The subscription for a watchlist and a selected symbol: {channel:
 * [symbols]} for every channel of CHANNELS, symbols in watchlist order.
 */
export function wantedSubscription(watchlist, selected) {
  const watch = [...new Set(watchlist.filter(isStock))];
  const sel = isStock(selected) ? [selected] : [];
  const withSel = watch.includes(selected) || !sel.length ? watch : [...watch, selected];
  return {
    trades: withSel,
    quotes: watch,
    bars: withSel,
    updatedBars: sel,
    dailyBars: withSel,
    statuses: watch,
  };
}

/**
 * The messages that change subscription from (what the server has been
 * asked for) to want: {unsubscribe, subscribe}, each an Alpaca action
 * message or null when nothing changes. Unsubscribe goes first, so a
 * connection near its symbol limit (405) frees room before it asks.
 */
export function subscriptionDiff(from, want) {
  const add = {}, del = {};
  let nAdd = 0, nDel = 0;
  for (const c of CHANNELS) {
    const have = new Set(from[c] || []), next = new Set(want[c] || []);
    const a = [...next].filter((s) => !have.has(s));
    const d = [...have].filter((s) => !next.has(s));
    if (a.length) { add[c] = a; nAdd += a.length; }
    if (d.length) { del[c] = d; nDel += d.length; }
  }
  return {
    unsubscribe: nDel ? { action: "unsubscribe", ...del } : null,
    subscribe: nAdd ? { action: "subscribe", ...add } : null,
  };
}
