// Tape's dashboard. Everything comes from Tape's public APIs: the JSON
// stream at /v2/sip for live data (the consolidated feed, like the REST
// history it charts: /v2/iex carries IEX's own trades only), the REST API (/v2/stocks/...) for
// history, snapshots and reference data, Alpaca's clock and calendar for
// the market session, /tape/v1/status for health.
//
// The stream is read in a worker (stream-worker.js) that subscribes to what
// the page shows and reduces what arrives (quotes to the newest per
// symbol); the page takes one batch at a time, updates plain state and
// dirty flags, and writes the DOM and the chart once per animation frame,
// for what changed. So a fast feed costs the page per frame, not per
// message, and Tape always sees a client that keeps up.

import { LiveFeed } from "./live.js";
import { wantedSubscription } from "./subs.js";
import {
  TIMEFRAMES, getBars, getSnapshots, getStatus, getRecentTrades, getTrades, getLatestBar, getLatestTrade,
  getClock, getCalendar, setCredentials, recheckREST,
} from "./api.js";
import { CandleBook } from "./candles.js";
import { ChartView } from "./chart.js";
import { Row, WatchlistView } from "./watchlist.js";
import { TimeAndSales } from "./tas.js";
import { HealthView } from "./health.js";
import { CodeNames } from "./meta.js";
import { calendarDays, marketSession, clockSession } from "./session.js";
import { parseSymbol, canonicalSymbol, fmtPrice, fmtCompact, fmtTimeNY, fmtDateNY, setText, loadPref, savePref } from "./util.js";

const $ = (id) => document.getElementById(id);
const MAX_SYMBOLS = 100;
const DEFAULT_WATCH = 10;
const FALLBACK_SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "SPY", "QQQ", "AMD"];
const DEFAULT_KEY = "dashboard";
const NO_DATA_MS = 3000; // how long a new symbol may stay silent before the page asks why
const SESSION_MS = 3000; // /v2/clock poll: a simulator at 60x moves 3 minutes meanwhile

const state = {
  rows: new Map(), // symbol -> Row
  order: [], // watchlist order
  selected: "",
  tf: "1m",
  book: null, // CandleBook of the selected symbol and timeframe
  pending: null, // its replacement while history loads after a reconnect
  lastClosedMinute: 0, // newest minute a minute bar closed (s)
  latestMs: 0, // newest trade time seen (feed clock, ms)
  feedMs: 0, // the feed clock from /tape/v1/status
  restOK: null, // null: not tried; true/false: the history API answered or not
  loadSeq: 0,
  clock: null, // the last /v2/clock answer, timestamp in ms
  calendar: null, // {from, to (YYYY-MM-DD), days: calendarDays(...)}
  noData: new Set(), // symbols the page said have no data
  loadedSeq: 0, // the last loadChart that finished
  feedSymbols: new Set(), // the feed's own symbols (status.symbols): quiet, never unknown
  subscription: null, // the server's last subscription message
};

// ---- credentials ---------------------------------------------------------

function credentials() {
  return { key: loadPref("tape.key", DEFAULT_KEY), secret: loadPref("tape.secret", DEFAULT_KEY) };
}
setCredentials(credentials);

// ---- notices and events --------------------------------------------------

const notices = new Map();

function notice(key, text, level = "warn") {
  let el = notices.get(key);
  if (!el) {
    el = document.createElement("div");
    el.className = "notice";
    el.dataset.key = key;
    el.innerHTML = '<span class="text"></span><button type="button" class="btn ghost" aria-label="Dismiss">×</button>';
    el.querySelector("button").addEventListener("click", () => clearNotice(key));
    $("notices").appendChild(el);
    notices.set(key, el);
  }
  el.dataset.level = level;
  el.querySelector(".text").textContent = text;
}

function clearNotice(key) {
  const el = notices.get(key);
  if (el) el.remove();
  notices.delete(key);
}

const MAX_EVENTS = 30;
function logEvent(text, level = "info") {
  const li = document.createElement("li");
  li.dataset.level = level;
  // New York time, as everywhere on the page (this is the wall clock, not the feed's).
  li.textContent = fmtTimeNY(Date.now()) + " ET  " + text;
  const list = $("events");
  list.prepend(li);
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
}

// ---- views ---------------------------------------------------------------

const wl = new WatchlistView($("wl-body"), { onSelect: selectSymbol, onRemove: removeSymbol, onShow: () => schedule() });
const chart = new ChartView($("chart-box"), $("chart-missing"));
const names = new CodeNames();
const tas = new TimeAndSales($("tas-rows"), names);
names.onLoad = () => {
  tas.refill();
  renderLegend();
  schedule();
};
const health = new HealthView(document);
let colors = readColors();

function readColors() {
  const cs = getComputedStyle(document.documentElement);
  return { up: cs.getPropertyValue("--up").trim(), down: cs.getPropertyValue("--down").trim(), force: false };
}

// The desktop grid gives the watchlist's panel the height of its rows (at
// most 60%): measured here when the table's size changes, so the grid
// itself never depends on the panel's content (see app.css).
new ResizeObserver(() => {
  const head = $("watch-h").parentElement, table = $("watchlist"), empty = $("wl-empty");
  const h = head.offsetHeight + table.offsetHeight + (empty.hidden ? 0 : empty.offsetHeight) + 2;
  document.documentElement.style.setProperty("--wl-h", h + "px");
}).observe($("watchlist"));

// ---- the frame loop ------------------------------------------------------

// Text panels (watchlist, time and sales) are written at most every
// PANEL_MS: ten updates a second read as live, and a busy market would
// otherwise spend every frame re-laying out text nobody can read that fast.
// The chart, whose last candle moves with every trade, is redrawn at most
// every CHART_MS.
const PANEL_MS = 100;
const CHART_MS = 50;
let framePending = false;
let panelsAt = -Infinity;
let chartAt = -Infinity;

function schedule() {
  if (!framePending) {
    framePending = true;
    requestAnimationFrame(frame);
  }
}

function frame(now) {
  framePending = false;
  if (state.book && (now - chartAt >= CHART_MS || state.book.needReset)) {
    const d = state.book.drain();
    if (d) {
      chartAt = now;
      chart.apply(d, state.book.daily);
      renderOHLC();
    }
  }
  if (now - panelsAt < PANEL_MS && !colors.force) {
    schedule(); // the rest (and maybe the chart) is due in a later frame
    return;
  }
  panelsAt = now;
  wl.beginFrame(now);
  for (const sym of state.order) {
    const row = state.rows.get(sym);
    if (row.dirty || row.sparkDirty || colors.force) wl.render(row, now, colors);
  }
  wl.sweep(now);
  if (wl.flashing.size) schedule(); // to clear the tints on time in a quiet market
  colors.force = false;
  if (tas.dirty) {
    tas.render();
    if (!$("tas-legend").hidden) renderLegend();
  }
  health.render(pageStats);
}

// O, H, L, C and V in spans of their own: on a narrow screen the line
// wraps between them rather than cutting a figure.
const ohlcEls = ["O", "H", "L", "C", "V"].map((k) => {
  const el = document.createElement("span");
  el.dataset.k = k;
  $("chart-ohlc").appendChild(el);
  return el;
});

function renderOHLC() {
  const c = state.book && state.book.last();
  const v = c ? [fmtPrice(c.open), fmtPrice(c.high), fmtPrice(c.low), fmtPrice(c.close), fmtCompact(c.volume)] : null;
  ohlcEls.forEach((el, i) => setText(el, v ? el.dataset.k + " " + v[i] : ""));
}

// ---- stream ----------------------------------------------------------

const wsURL = new URL("v2/sip", document.baseURI);
wsURL.protocol = wsURL.protocol === "https:" ? "wss:" : "ws:";

const live = new LiveFeed({
  url: wsURL.href,
  onBatch,
  onState: showConnection,
  onEvent: logEvent,
  onError: (code, msg) => {
    if (code === 402) showAuth(true);
    else if (code === 405) notice("stream-405", `Tape refused the subscription: ${msg} (405). Remove some symbols.`, "error");
    else if (code !== 406 && code !== 407) notice("stream-" + code, `Stream error ${code}: ${msg}`, "error");
  },
  onSubscription: (m) => {
    state.subscription = m;
    const subs = new Set(m.trades || []);
    const all = subs.has("*");
    for (const row of state.rows.values()) {
      const on = all || subs.has(row.sym);
      if (on !== row.subscribed) {
        row.subscribed = on;
        row.dirty = true;
      }
    }
    clearNotice("stream-405");
    schedule();
  },
  onFail: (msg) => notice("worker", `The page's stream worker failed: ${msg}. Live data is off; reload the page.`, "error"),
});

/** Tells the worker what the page shows now: it subscribes and unsubscribes to match. */
function syncWanted() {
  live.setWanted(wantedSubscription(state.order, state.selected), state.selected);
}

// One batch from the worker: bars first (they close minutes, which decides
// what a trade still counts toward), then trades, then quotes.
function onBatch(b) {
  const sel = state.selected;
  const books = [state.book, state.pending].filter(Boolean);
  for (const m of b.others) {
    const row = state.rows.get(m.S);
    switch (m.T) {
      case "b":
      case "u": {
        const t = Date.parse(m.t) / 1000;
        if (m.T === "b" && t > state.lastClosedMinute) state.lastClosedMinute = t;
        if (row) row.minuteBar(t, m.c);
        for (const bk of books) {
          if (m.S === sel) bk.minuteBar(t, m);
          else bk.minuteClosed(t);
        }
        break;
      }
      case "d":
        if (row) row.dailyBar(Date.parse(m.t) / 1000, m, state.lastClosedMinute);
        if (m.S === sel) for (const bk of books) bk.dailyBar(Date.parse(m.t) / 1000, m);
        break;
      case "s":
        if (row) row.status(m);
        break;
    }
  }
  for (const [sym, p, t, vols] of b.trades) {
    const row = state.rows.get(sym);
    if (!row) continue; // just removed
    row.trades(p, t, vols, state.lastClosedMinute);
    if (t > state.latestMs) state.latestMs = t;
  }
  if (sel && b.detail === sel) {
    for (const e of b.events) {
      if (e.T === "t") {
        for (const bk of books) bk.trade(e.ms / 1000, e.p, e.s, e.f, e.i);
        tas.trade(e.ms, e.p, e.s, e.x, e.c, e.z);
      } else if (e.T === "x") {
        tas.cancel(e.ms, e);
      } else if (e.T === "c") {
        tas.correction(e.ms, e);
      }
    }
  }
  for (const [sym, bp, ap] of b.quotes) {
    const row = state.rows.get(sym);
    if (row) row.quote(bp, ap);
  }
  for (const sym of state.noData) {
    const row = state.rows.get(sym);
    if (row && row.hasData()) {
      state.noData.delete(sym);
      clearNotice("nodata-" + sym);
    }
  }
  // Only a page that stopped taking batches (a frozen tab) gets here: what
  // the worker had to drop comes back from the REST API.
  if (b.othersOverflow) resync();
  else if (b.detailOverflow && b.detail === sel) loadChart(true);
  schedule();
}

function showConnection(st, info = {}) {
  const el = $("conn"), text = $("conn-text");
  el.dataset.state = st;
  document.body.dataset.conn = st;
  let s;
  switch (st) {
    case "live":
      s = "live";
      if (wasLive) resync();
      wasLive = true;
      break;
    case "connecting": s = info.attempt ? `reconnecting (attempt ${info.attempt})…` : "connecting…"; break;
    case "authenticating": s = "authenticating…"; break;
    case "reconnecting": {
      const secs = Math.max(0, Math.ceil((info.retryAt - Date.now()) / 1000));
      s = `disconnected: ${info.why}; retrying in ${secs} s`;
      break;
    }
    case "auth-failed": s = `auth failed (${info.code}): enter a key`; break;
    case "failed": s = `stopped: error ${info.code} ${info.msg}`; break;
    default: s = st;
  }
  text.textContent = s;
  connInfo = info;
}
let connInfo = {};
let wasLive = false;

// After a reconnect, what was missed while away comes from the REST API:
// the chart's history, the day's figures and the sparklines. Tape may have
// been restarted (with or without the history API), so ask again.
function resync() {
  recheckREST();
  state.restOK = null;
  loadChart(true);
  seedTrades(state.selected, true);
  loadSnapshots(state.order.slice());
  seedSparklines(state.order.slice());
}

// ---- watchlist -----------------------------------------------------------

const isCrypto = (sym) => sym.includes("/");

function persist() {
  savePref("tape.watchlist", state.order);
  savePref("tape.selected", state.selected);
  savePref("tape.tf", state.tf);
  const q = new URLSearchParams(location.search);
  q.delete("symbols");
  q.delete("symbol");
  q.delete("tf");
  const rest = q.toString();
  // Commas and slashes stay readable: symbols cannot hold & or =.
  const url = `?symbols=${state.order.join(",")}&symbol=${state.selected}&tf=${state.tf}${rest ? "&" + rest : ""}`;
  history.replaceState(null, "", url);
}

function addSymbol(raw, select = false) {
  const p = parseSymbol(raw);
  if (!p.sym) {
    notice("add", `"${String(raw).trim().slice(0, 20)}" is not a symbol: ${p.error}`, "warn");
    return false;
  }
  const sym = p.sym;
  clearNotice("add");
  if (state.rows.has(sym)) {
    selectSymbol(sym);
    return true;
  }
  if (state.order.length >= MAX_SYMBOLS) {
    notice("add", `The watchlist holds at most ${MAX_SYMBOLS} symbols`, "warn");
    return false;
  }
  const row = new Row(sym);
  state.rows.set(sym, row);
  state.order.push(sym);
  wl.add(row);
  $("wl-empty").hidden = true;
  loadSnapshots([sym]);
  seedSparklines([sym]);
  if (select || !state.selected) selectSymbol(sym);
  else {
    syncWanted();
    persist();
  }
  setTimeout(() => checkData(sym), NO_DATA_MS);
  schedule();
  return true;
}

// A symbol that stays silent: ask the REST API whether Tape has anything
// for it, and say so if not (a typo such as NOPE1 would otherwise wait
// forever). Crypto pairs are not on the stock stream.
async function checkData(sym) {
  const row = state.rows.get(sym);
  if (!row || row.hasData() || state.feedSymbols.has(sym)) return;
  let why = "";
  if (sym.includes("/")) {
    why = `${sym} is a crypto pair: this page shows the stock stream (/v2/sip) only`;
  } else {
    try {
      const t = await getLatestTrade(sym);
      if (t) {
        if (Number.isNaN(row.last)) {
          row.last = t.p;
          row.lastT = Date.parse(t.t);
          row.dirty = true;
          schedule();
        }
        return; // traded before, quiet now
      }
      why = `Tape has no trades for ${sym} (GET /v2/stocks/${sym}/trades/latest: 404)`;
    } catch (e) {
      if (!e.absent) return; // the REST API failed: no verdict
      why = `nothing arrived for ${sym} and there is no history API to ask`;
    }
  }
  if (state.rows.get(sym) !== row || row.hasData()) return;
  row.noData = true;
  row.dirty = true;
  state.noData.add(sym);
  notice("nodata-" + sym, `No data for ${sym}: ${why}.`, "warn");
  schedule();
}

function removeSymbol(sym) {
  const row = state.rows.get(sym);
  if (!row) return;
  wl.remove(row);
  state.rows.delete(sym);
  state.order = state.order.filter((s) => s !== sym);
  state.noData.delete(sym);
  clearNotice("nodata-" + sym);
  $("wl-empty").hidden = state.order.length > 0;
  if (state.selected === sym) selectSymbol(state.order[0] || "");
  else {
    syncWanted();
    persist();
  }
}

function selectSymbol(sym) {
  if (sym === state.selected && state.book) return;
  state.selected = sym;
  wl.select(sym);
  $("tas-symbol").textContent = sym;
  tas.reset();
  syncWanted();
  persist();
  loadChart();
  seedTrades(sym);
}

function setTimeframe(tf) {
  if (!TIMEFRAMES[tf]) return;
  state.tf = tf;
  for (const b of $("tf").querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.tf === tf));
  persist();
  loadChart();
}

// ---- REST ----------------------------------------------------------------

function feedNow() {
  return Math.max(state.latestMs, state.feedMs) || Date.now();
}

// The feed clock can run ahead of the wall clock (a simulator at --speed
// 60): ask up to a day past whichever is later.
function queryEnd() {
  return Math.max(Date.now(), feedNow()) + 86400000;
}

function restFailed(e, what) {
  if (e.absent) {
    state.restOK = false;
    notice("rest", "History API not available (HTTP 404 from /v2/stocks/…): candles and sparklines are built from the live stream from now on.", "info");
  } else {
    notice("rest", `History API: ${what} failed (${e.status ? "HTTP " + e.status + ": " : ""}${e.message}); live data only.`, "warn");
  }
}

function restWorked() {
  if (state.restOK !== true) clearNotice("rest");
  state.restOK = true;
}

// Loads the selected symbol's history at the selected timeframe. With keep
// (a resync after a reconnect) the chart keeps what it shows until the
// history is in, and keeps it for good if the history API is absent; the
// new book takes the live data meanwhile too (state.pending).
async function loadChart(keep = false) {
  const seq = ++state.loadSeq;
  const sym = state.selected, tf = state.tf, tfi = TIMEFRAMES[tf];
  const book = new CandleBook(tf, tfi.sec);
  book.lastClosedMinute = state.lastClosedMinute;
  const note = $("chart-note");
  if (!keep || !state.book) {
    state.book = sym ? book : null;
    state.pending = null;
    chart.clear();
    renderOHLC();
    $("chart-symbol").textContent = sym || "—";
    if (!sym || isCrypto(sym)) {
      note.hidden = !sym;
      note.textContent = `${sym} is a crypto pair: this page charts stocks only`;
      state.book = null;
      state.loadedSeq = seq;
      return;
    }
    note.hidden = false;
    note.textContent = `loading ${tf} history…`;
  } else {
    state.pending = book;
  }
  try {
    const end = queryEnd(), start = feedNow() - tfi.span * tfi.sec * 1000;
    const tsec = (b) => Date.parse(b.t) / 1000;
    // The daily candle is the day's bar up to the newest complete minute.
    const latest = tfi.sec === 86400 ? await getLatestBar(sym) : null;
    const bars = (await getBars([sym], tfi.api, start, end))[sym] || [];
    let minutes = null;
    if (tfi.sec > 60 && tfi.sec < 86400 && bars.length) {
      const lastBucket = book.bucketOf(tsec(bars[bars.length - 1]));
      minutes = (await getBars([sym], "1Min", (lastBucket - 2 * tfi.sec) * 1000, end))[sym] || [];
    }
    // The minute still forming has no bar yet: seed it from the trades
    // since the newest complete minute, so its candle is the minute's, not
    // only what this page saw of it.
    const newest = tfi.sec === 60 ? bars[bars.length - 1] : minutes ? minutes[minutes.length - 1] : latest;
    const lastMinute = newest ? tsec(newest) : 0;
    const from = lastMinute ? (lastMinute + 60) * 1000 : Math.floor(feedNow() / 60000) * 60000;
    const trades = await getTrades(sym, from, end);
    if (seq !== state.loadSeq) return;
    book.load(bars, minutes);
    book.seed(trades, lastMinute);
    state.book = book;
    state.pending = null;
    restWorked();
    note.hidden = bars.length > 0;
    note.textContent = `no ${tf} history for ${sym} yet: waiting for trades`;
  } catch (e) {
    if (seq !== state.loadSeq) return;
    state.pending = null;
    restFailed(e, "bars");
    if (state.book === book) {
      note.hidden = false;
      note.textContent = "live candles only (no history)";
    }
  }
  if (seq === state.loadSeq) state.loadedSeq = seq;
  schedule();
}

async function loadSnapshots(symbols) {
  symbols = symbols.filter((s) => !isCrypto(s));
  if (!symbols.length) return;
  try {
    const snaps = await getSnapshots(symbols);
    restWorked();
    for (const sym of symbols) {
      const row = state.rows.get(sym), s = snaps && snaps[sym];
      if (!row || !s) continue;
      const lt = s.latestTrade;
      if (lt && Date.parse(lt.t) > row.lastT) {
        row.last = lt.p;
        row.lastT = Date.parse(lt.t);
      }
      const lq = s.latestQuote;
      if (lq && Number.isNaN(row.bid)) row.quote(lq.bp, lq.ap);
      if (s.dailyBar) row.dailyBar(Date.parse(s.dailyBar.t) / 1000, s.dailyBar, state.lastClosedMinute);
      row.dirty = row.sparkDirty = true;
    }
  } catch (e) {
    restFailed(e, "snapshots");
  }
  schedule();
}

async function seedSparklines(symbols) {
  symbols = symbols.filter((s) => !isCrypto(s));
  if (!symbols.length || state.restOK === false) return;
  try {
    const end = queryEnd();
    const bars = await getBars(symbols, "1Min", feedNow() - 120 * 60000, end);
    for (const [sym, list] of Object.entries(bars)) {
      const row = state.rows.get(sym);
      if (row) row.seed(list.map((b) => [Date.parse(b.t) / 1000, b.c]));
    }
    restWorked();
  } catch (e) {
    restFailed(e, "sparklines");
  }
  schedule();
}

async function seedTrades(sym, again = false) {
  if (!sym || isCrypto(sym) || state.restOK === false) return;
  try {
    const trades = await getRecentTrades(sym, feedNow() - 3600000, queryEnd(), 100);
    if (sym !== state.selected || (tas.n > 0 && !again)) return; // live trades came first
    if (again) {
      // After a reconnect: what was missed, older than anything shown.
      const newest = tas.newest();
      if (trades.length && Date.parse(trades[0].t) <= newest) return;
      tas.reset();
    }
    for (let i = trades.length - 1; i >= 0; i--) {
      const t = trades[i];
      tas.trade(Date.parse(t.t), t.p, t.s, t.x, t.c, t.z);
    }
  } catch {
    // Time and sales fills from the stream anyway; the bars say why REST failed.
  }
  schedule();
}

// ---- health --------------------------------------------------------------

const pageStats = { rate: NaN, reconnects: 0, merged: 0 };
let lastMsgs = 0, lastTick = performance.now();

async function pollStatus() {
  try {
    const st = await getStatus();
    health.update(st, performance.now());
    if (st.feed && st.feed.feed_time) state.feedMs = Date.parse(st.feed.feed_time) || state.feedMs;
    if (Array.isArray(st.symbols)) state.feedSymbols = new Set(st.symbols);
    return st;
  } catch (e) {
    health.failed(e);
    return null;
  } finally {
    schedule();
  }
}

function tick() {
  const now = performance.now();
  pageStats.rate = ((live.messages - lastMsgs) * 1000) / (now - lastTick);
  pageStats.reconnects = live.reconnects;
  pageStats.merged = live.merged;
  lastMsgs = live.messages;
  lastTick = now;
  if (live.state === "reconnecting") showConnection("reconnecting", connInfo);
  renderSession();
  pollStatus().finally(() => setTimeout(tick, document.hidden ? 5000 : 1000));
}

// ---- market session ----------------------------------------------------

// The session (regular, pre-market, after hours, overnight, closed) on the
// feed's clock: Alpaca's calendar for the days around it, /v2/clock for the
// time and as the fallback. Between clock polls the feed clock from the
// status (every second) moves it on, which matters at 60x.
const nyDate = (ms) => fmtDateNY(ms);
const addDays = (date, n) => fmtDateNY(Date.parse(date + "T12:00:00Z") + n * 86400000);

async function pollSession() {
  try {
    const c = await getClock();
    const ms = Date.parse(c.timestamp);
    if (Number.isFinite(ms)) state.clock = { ...c, ms };
    const today = nyDate(sessionNow());
    const cal = state.calendar;
    if (!cal || today <= cal.from || today >= cal.to) {
      const from = addDays(today, -3), to = addDays(today, 10);
      const entries = await getCalendar(from, to);
      if (Array.isArray(entries)) state.calendar = { from, to, days: calendarDays(entries) };
    }
  } catch {
    // No clock (an older Tape, or the REST API is down): the pill stays as it was, or hidden.
  }
  renderSession();
  setTimeout(pollSession, document.hidden ? 15000 : SESSION_MS);
}

function sessionNow() {
  return Math.max(state.clock ? state.clock.ms : 0, state.feedMs || 0) || Date.now();
}

function renderSession() {
  const el = $("session");
  let s = null;
  if (state.calendar) s = marketSession(sessionNow(), state.calendar.days);
  if (!s && state.clock) s = clockSession(state.clock);
  state.session = s;
  el.hidden = !s;
  if (!s) return;
  el.dataset.state = s.state;
  setText($("session-name"), s.name);
  setText($("session-detail"), s.detail);
  el.title = `Market session on the feed's clock, New York time (${fmtDateNY(sessionNow())} ${fmtTimeNY(sessionNow()).slice(0, 5)} ET)`;
}

// ---- codes legend ------------------------------------------------------

function renderLegend() {
  const box = $("tas-legend");
  if (box.hidden) return;
  const lg = tas.legend();
  const key = JSON.stringify(lg);
  if (box._key === key) return;
  box._key = key;
  const dl = (title, pairs) => {
    const sec = document.createElement("section");
    const h = document.createElement("h3");
    h.textContent = title;
    const list = document.createElement("dl");
    for (const [code, name] of pairs) {
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = code === " " ? "␣" : code;
      dd.textContent = name || "unknown code";
      list.append(dt, dd);
    }
    sec.append(h, list);
    return sec;
  };
  box.replaceChildren(
    dl("Exchanges", lg.exchanges),
    dl(`Conditions${lg.tape ? " (tape " + lg.tape + ")" : ""}`, lg.conditions),
  );
  if (!lg.exchanges.length) box.firstChild.append("No trades on screen yet.");
}

// ---- controls ------------------------------------------------------------

function showAuth(failed) {
  const f = $("auth-form");
  const c = credentials();
  $("auth-key").value = c.key;
  $("auth-secret").value = c.secret;
  f.hidden = false;
  $("auth-failed").hidden = !failed;
  if (failed) $("auth-key").focus();
}

$("auth-open").addEventListener("click", () => showAuth(false));
$("auth-cancel").addEventListener("click", () => ($("auth-form").hidden = true));
$("auth-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  savePref("tape.key", $("auth-key").value.trim());
  savePref("tape.secret", $("auth-secret").value);
  $("auth-form").hidden = true;
  live.restart(credentials());
  loadChart();
});

$("tas-legend-btn").addEventListener("click", () => {
  const box = $("tas-legend"), open = box.hidden;
  box.hidden = !open;
  $("tas-legend-btn").setAttribute("aria-expanded", String(open));
  if (open) {
    names.load();
    renderLegend();
  }
});

$("add-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $("add-symbol");
  if (addSymbol(input.value, true)) input.value = "";
});

$("tf").addEventListener("click", (ev) => {
  const b = ev.target.closest("button[data-tf]");
  if (b) setTimeframe(b.dataset.tf);
});

$("theme-toggle").addEventListener("click", () => {
  const t = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  document.documentElement.dataset.theme = t;
  try { localStorage.setItem("tape.theme", t); } catch { /* keep it for this page */ }
  applyTheme();
});

matchMedia("(prefers-color-scheme: light)").addEventListener("change", (e) => {
  let saved = null;
  try { saved = localStorage.getItem("tape.theme"); } catch { /* none */ }
  if (saved) return;
  document.documentElement.dataset.theme = e.matches ? "light" : "dark";
  applyTheme();
});

function applyTheme() {
  colors = readColors();
  colors.force = true;
  chart.applyTheme();
  if (state.book) state.book.needReset = true;
  schedule();
}

// ---- start ---------------------------------------------------------------

// A read-only view for tests and the curious (the browser tests use it).
Object.defineProperty(window, "__tape", {
  value: Object.freeze({
    candles: () => (state.book ? state.book.count() : 0),
    lastCandle: () => {
      const c = state.book && state.book.last();
      return c ? { ...c } : null;
    },
    connection: () => live.state,
    messages: () => live.messages,
    quotesMerged: () => live.merged,
    newestTrade: () => tas.newest(),
    session: () => ({ ...(state.session || {}) }),
    chartReady: () => state.loadedSeq === state.loadSeq,
    subscription: () => {
      const m = state.subscription;
      return m ? Object.fromEntries(["trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses"].map((c) => [c, [...(m[c] || [])]])) : null;
    },
    symbols: () => state.order.slice(),
    selected: () => state.selected,
    timeframe: () => state.tf,
    restAvailable: () => state.restOK,
    chartLibrary: () => chart.ok,
  }),
});

async function start() {
  const params = new URLSearchParams(location.search);
  const fromURL = (params.get("symbols") || "").split(",").map(canonicalSymbol).filter(Boolean);
  const saved = loadPref("tape.watchlist", null);
  let symbols = fromURL.length ? fromURL : Array.isArray(saved) ? saved.map(canonicalSymbol).filter(Boolean) : null;
  const first = pollStatus();
  if (!symbols) {
    const st = await Promise.race([first, new Promise((r) => setTimeout(() => r(null), 2000))]);
    symbols = st && Array.isArray(st.symbols) && st.symbols.length ? st.symbols.slice(0, DEFAULT_WATCH) : FALLBACK_SYMBOLS;
  } else {
    await Promise.race([first, new Promise((r) => setTimeout(r, 1000))]);
  }
  symbols = [...new Set(symbols)].slice(0, MAX_SYMBOLS);
  const tf = params.get("tf") || loadPref("tape.tf", "1m");
  state.tf = TIMEFRAMES[tf] ? tf : "1m";
  for (const b of $("tf").querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.tf === state.tf));
  for (const sym of symbols) {
    const row = new Row(sym);
    state.rows.set(sym, row);
    state.order.push(sym);
    wl.add(row);
  }
  $("wl-empty").hidden = symbols.length > 0;
  const want = canonicalSymbol(params.get("symbol") || loadPref("tape.selected", ""));
  const sel = state.rows.has(want) ? want : state.order[0] || "";
  live.start(credentials(), wantedSubscription(state.order, sel), sel);
  selectSymbol(sel);
  loadSnapshots(state.order.slice());
  seedSparklines(state.order.slice());
  names.load();
  pollSession();
  setTimeout(() => state.order.forEach(checkData), NO_DATA_MS + 2000);
  setTimeout(tick, 1000);
  schedule();
}

start();
