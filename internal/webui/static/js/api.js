// Tape's REST API as the dashboard uses it: Alpaca's historical bars and
// snapshots (/v2/stocks/...) and Tape's own /tape/v1/status. URLs are
// relative to the page, so the dashboard also works behind a path prefix.

export class HTTPError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
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
      let msg = res.statusText || "HTTP " + res.status;
      try {
        const body = await res.json();
        if (body && body.message) msg = body.message;
      } catch { /* not JSON: keep the status text */ }
      throw new HTTPError(res.status, msg);
    }
    return await res.json();
  } finally {
    clearTimeout(timer);
  }
}

// The REST API may be absent (a Tape without history answers 404). Until
// one request has told, others wait for it, and after a 404 none is sent:
// the browser logs every failed request, and one is enough to know.
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
      settle(e.status === 404 ? false : null);
      if (e.status !== 404) gate = null;
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

/** Snapshots of symbols: {SYM: {latestTrade, latestQuote, minuteBar, dailyBar, prevDailyBar}}. */
export async function getSnapshots(symbols) {
  const q = new URLSearchParams({ symbols: symbols.join(",") });
  return await restJSON("v2/stocks/snapshots?" + q);
}

/** Tape's status (GET /tape/v1/status). */
export async function getStatus() {
  return await getJSON("tape/v1/status", { timeout: 3000, auth: false });
}
