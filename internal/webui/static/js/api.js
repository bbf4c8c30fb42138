// Tape's REST API as the dashboard uses it: Alpaca's historical bars and
// snapshots (/v2/stocks/...) and Tape's own /tape/v1/status. URLs are
// relative to the page, so the dashboard also works behind a path prefix.

export class HTTPError extends Error {
  /** code: the error code of an Alpaca-style JSON body ({code, message}), or 0. */
  constructor(status, message, code = 0) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** A 404 of the API itself (a path it does not serve), not of a resource it knows is missing. */
  get absent() { return this.status === 404 && !this.code; }
}

let creds = () => ({ key: "", secret: "" });

/** Sets where the Alpaca key headers come from. */
export function setCredentials(fn) { creds = fn; }

async function getJSON(path, { timeout = 10000, auth = true } = {}) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeout);
  try {
    const headers = { Accept: "application/json" };
    if (auth) {
      const { key, secret } = creds();
      if (key) {
        headers["APCA-API-KEY-ID"] = key;
        headers["APCA-API-SECRET-KEY"] = secret;
      }
    }
    let res;
    try {
      res = await fetch(new URL(path, document.baseURI), { headers, signal: ctl.signal, cache: "no-store" });
    } catch (e) {
      throw new HTTPError(0, ctl.signal.aborted ? "timed out" : "unreachable");
    }
    if (!res.ok) {
      let msg = res.statusText || "HTTP " + res.status, code = 0;
      try {
        const body = await res.json();
        if (body && body.message) msg = body.message;
        if (body && Number.isFinite(body.code)) code = body.code;
      } catch { /* not JSON: keep the status text */ }
      throw new HTTPError(res.status, msg, code);
    }
    return await res.json();
  } finally {
    clearTimeout(timer);
  }
}

// The REST API may be absent (a Tape without history answers a plain 404).
// Until one request has told, others wait for it, and after such a 404
// none is sent: the browser logs every failed request, and one is enough
// to know. A 404 with Alpaca's JSON error body ("no trade found for X")
// is an answer of the API, which is there.
let gate = null; // null: unknown; else a promise of true (there) or false (404)

async function restJSON(path) {
  if (gate === null) {
    let settle;
    gate = new Promise((r) => (settle = r));
    try {
      const v = await getJSON(path);
      settle(true);
      return v;
    } catch (e) {
      const there = e.absent ? false : e.status === 404 ? true : null;
      settle(there);
      if (there === null) gate = null;
      throw e;
    }
  }
  if ((await gate) === false) throw new HTTPError(404, "not found");
  return getJSON(path);
}

/** Forgets whether the REST API is there (Tape may have been restarted). */
export function recheckREST() { gate = null; }

export const TIMEFRAMES = {
  "1m": { sec: 60, api: "1Min", span: 1440 },
  "5m": { sec: 300, api: "5Min", span: 1500 },
  "15m": { sec: 900, api: "15Min", span: 1000 },
  "1h": { sec: 3600, api: "1Hour", span: 1000 },
  "1D": { sec: 86400, api: "1Day", span: 730 },
};

const iso = (ms) => new Date(ms).toISOString();

/**
 * Bars of symbols at timeframe api ("5Min") between startMs and endMs,
 * following next_page_token for at most maxPages pages. Returns
 * {SYM: [{t,o,h,l,c,v,n,vw}]}.
 */
export async function getBars(symbols, api, startMs, endMs, maxPages = 4) {
  const out = {};
  let token = "";
  for (let page = 0; page < maxPages; page++) {
    const q = new URLSearchParams({ symbols: symbols.join(","), timeframe: api, start: iso(startMs), end: iso(endMs), limit: "10000" });
    if (token) q.set("page_token", token);
    const body = await restJSON("v2/stocks/bars?" + q);
    for (const [sym, bars] of Object.entries(body.bars || {})) {
      if (!Array.isArray(bars)) continue;
      (out[sym] ||= []).push(...bars);
    }
    token = body.next_page_token;
    if (!token) break;
  }
  return out;
}

/** The latest n trades of symbol (newest first), from startMs on. */
export async function getRecentTrades(symbol, startMs, endMs, n) {
  const q = new URLSearchParams({ symbols: symbol, start: iso(startMs), end: iso(endMs), limit: String(n), sort: "desc" });
  const body = await restJSON("v2/stocks/trades?" + q);
  return (body.trades && body.trades[symbol]) || [];
}

/**
 * Trades of symbol from startMs to endMs, oldest first, following
 * next_page_token for at most maxPages pages of 10,000.
 */
export async function getTrades(symbol, startMs, endMs, maxPages = 3) {
  const out = [];
  let token = "";
  for (let page = 0; page < maxPages; page++) {
    const q = new URLSearchParams({ symbols: symbol, start: iso(startMs), end: iso(endMs), limit: "10000" });
    if (token) q.set("page_token", token);
    const body = await restJSON("v2/stocks/trades?" + q);
    const list = body.trades && body.trades[symbol];
    if (Array.isArray(list)) out.push(...list);
    token = body.next_page_token;
    if (!token) break;
  }
  return out;
}

/** The latest minute bar of symbol ({t,o,h,l,c,v}), or null if there is none (404). */
export async function getLatestBar(symbol) {
  try {
    const body = await restJSON(`v2/stocks/${encodeURIComponent(symbol)}/bars/latest`);
    return body.bar || null;
  } catch (e) {
    if (e.status === 404 && !e.absent) return null;
    throw e;
  }
}

/**
 * The latest trade of a stock symbol, or null if Tape has none (404, or an
 * answer without a trade).
 */
export async function getLatestTrade(symbol) {
  try {
    const body = await restJSON(`v2/stocks/${encodeURIComponent(symbol)}/trades/latest`);
    return (body && body.trade) || null;
  } catch (e) {
    if (e.status === 404 && !e.absent) return null;
    throw e;
  }
}

/** Reference data (exchanges, conditions): one GET, no history gate. */
export async function getMeta(path) {
  return await getJSON(path);
}

/** Alpaca's clock: {timestamp, is_open, next_open, next_close}, on the feed's clock. */
export async function getClock() {
  return await getJSON("v2/clock", { timeout: 5000 });
}

/** Alpaca's trading calendar from start to end (YYYY-MM-DD, New York dates). */
export async function getCalendar(start, end) {
  return await getJSON("v2/calendar?" + new URLSearchParams({ start, end }), { timeout: 5000 });
}

/** Snapshots of symbols: {SYM: {latestTrade, latestQuote, minuteBar, dailyBar, prevDailyBar}}. */
export async function getSnapshots(symbols) {
  const q = new URLSearchParams({ symbols: symbols.join(",") });
  return await restJSON("v2/stocks/snapshots?" + q);
}

/** Tape's status (GET /tape/v1/status). */
export async function getStatus() {
  return await getJSON("tape/v1/status", { timeout: 3000, auth: false });
}
