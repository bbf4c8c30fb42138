// Tape's dashboard. Everything comes from Tape's public APIs: the JSON
// stream at /v2/iex for live data, the REST API (/v2/stocks/...) for
// history and snapshots, /tape/v1/status for health. Stream messages only
// update plain state and set dirty flags; the DOM and the chart are
// written once per animation frame, for what changed.

import { StreamClient } from "./stream.js";
import { TIMEFRAMES, getBars, getSnapshots, getStatus, getRecentTrades, setCredentials, recheckREST } from "./api.js";
import { CandleBook } from "./candles.js";
import { ChartView } from "./chart.js";
import { Row, WatchlistView } from "./watchlist.js";
import { TimeAndSales } from "./tas.js";
import { HealthView } from "./health.js";
import { canonicalSymbol, tradeFlags, fmtPrice, fmtCompact, setText, loadPref, savePref } from "./util.js";

const $ = (id) => document.getElementById(id);
const MAX_SYMBOLS = 100;
const DEFAULT_WATCH = 10;
const FALLBACK_SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "SPY", "QQQ", "AMD"];
const DEFAULT_KEY = "dashboard";

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

const MAX_EVENTS = 8;
function logEvent(text, level = "info") {
  const li = document.createElement("li");
  li.dataset.level = level;
  li.textContent = new Date().toLocaleTimeString("en-GB", { hour12: false }) + "  " + text;
  const list = $("events");
  list.prepend(li);
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
}

// ---- views ---------------------------------------------------------------

const wl = new WatchlistView($("wl-body"), { onSelect: selectSymbol, onRemove: removeSymbol, onShow: () => schedule() });
const chart = new ChartView($("chart-box"), $("chart-missing"));
const tas = new TimeAndSales($("tas-rows"));
const health = new HealthView(document);
let colors = readColors();

function readColors() {
  const cs = getComputedStyle(document.documentElement);
  return { up: cs.getPropertyValue("--up").trim(), down: cs.getPropertyValue("--down").trim(), force: false };
}

// ---- the frame loop ------------------------------------------------------

// Text panels (watchlist, time and sales) are written at most every
// PANEL_MS: ten updates a second read as live, and a busy market would
// otherwise spend every frame re-laying out text nobody can read that fast.
// The chart takes every frame.
const PANEL_MS = 100;
let framePending = false;
let panelsAt = -Infinity;

function schedule() {
  if (!framePending) {
    framePending = true;
    requestAnimationFrame(frame);
  }
}

function frame(now) {
  framePending = false;
  if (state.book) {
    const d = state.book.drain();
    if (d) {
      chart.apply(d, state.book.daily);
      renderOHLC();
    }
  }
  if (now - panelsAt < PANEL_MS && !colors.force) {
    schedule(); // the rest is due in a later frame
    return;
  }
  panelsAt = now;
  for (const sym of state.order) {
    const row = state.rows.get(sym);
    if (row.dirty || row.sparkDirty || colors.force) wl.render(row, now, colors);
  }
  colors.force = false;
  if (tas.dirty) tas.render();
  health.render(pageStats);
}

function renderOHLC() {
  const c = state.book && state.book.last();
  const el = $("chart-ohlc");
  const s = c ? `O ${fmtPrice(c.open)}  H ${fmtPrice(c.high)}  L ${fmtPrice(c.low)}  C ${fmtPrice(c.close)}  V ${fmtCompact(c.volume)}` : "";
  setText(el, s);
}

// ---- stream --------------------------------------------------------------

const wsURL = new URL("v2/iex", document.baseURI);
wsURL.protocol = wsURL.protocol === "https:" ? "wss:" : "ws:";

const stream = new StreamClient({
  url: wsURL.href,
  credentials,
  onData,
  onState: showConnection,
  onEvent: logEvent,
  onError: (code, msg) => {
    if (code === 402) showAuth(true);
    else if (code === 405) notice("stream-405", `Tape refused the subscription: ${msg} (405). Remove some symbols.`, "error");
    else if (code !== 406 && code !== 407) notice("stream-" + code, `Stream error ${code}: ${msg}`, "error");
  },
  onSubscription: (m) => {
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
});

function onData(frameMsgs) {
  const sel = state.selected, book = state.book, pending = state.pending;
  const books = [book, pending].filter(Boolean);
  for (const m of frameMsgs) {
    const row = state.rows.get(m.S);
    if (!row) continue; // just unsubscribed
    switch (m.T) {
      case "t": {
        const ms = Date.parse(m.t);
        const flags = tradeFlags(m.c);
        row.trade(ms, m.p, m.s, flags, state.lastClosedMinute);
        if (ms > state.latestMs) state.latestMs = ms;
        if (m.S === sel) {
          if (book) book.trade(ms / 1000, m.p, m.s, flags);
          if (pending) pending.trade(ms / 1000, m.p, m.s, flags);
          tas.trade(ms, m.p, m.s, m.x, m.c);
        }
        break;
      }
      case "q":
        row.quote(m.bp, m.ap);
        break;
      case "b":
      case "u": {
        const t = Date.parse(m.t) / 1000;
        if (m.T === "b" && t > state.lastClosedMinute) state.lastClosedMinute = t;
        row.minuteBar(t, m.c);
        for (const b of books) {
          if (m.S === sel) b.minuteBar(t, m);
          else b.minuteClosed(t);
        }
        break;
      }
      case "d":
        row.dailyBar(Date.parse(m.t) / 1000, m, state.lastClosedMinute);
        if (m.S === sel) for (const b of books) b.dailyBar(Date.parse(m.t) / 1000, m);
        break;
      case "s":
        row.status(m);
        break;
      case "x":
        if (m.S === sel) tas.cancel(Date.parse(m.t), m);
        break;
      case "c":
        if (m.S === sel) tas.correction(Date.parse(m.t), m);
        break;
    }
  }
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
  loadSnapshots(state.order.slice());
  seedSparklines(state.order.slice());
}

// ---- watchlist -----------------------------------------------------------

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
  const sym = canonicalSymbol(raw);
  if (!sym) {
    notice("add", `"${String(raw).slice(0, 20)}" is not a symbol`, "warn");
    return false;
  }
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
  stream.setSymbols(state.order);
  loadSnapshots([sym]);
  seedSparklines([sym]);
  if (select || !state.selected) selectSymbol(sym);
  else persist();
  schedule();
  return true;
}

function removeSymbol(sym) {
  const row = state.rows.get(sym);
  if (!row) return;
  wl.remove(row);
  state.rows.delete(sym);
  state.order = state.order.filter((s) => s !== sym);
  stream.setSymbols(state.order);
  $("wl-empty").hidden = state.order.length > 0;
  if (state.selected === sym) selectSymbol(state.order[0] || "");
  else persist();
}

function selectSymbol(sym) {
  if (sym === state.selected && state.book) return;
  state.selected = sym;
  wl.select(sym);
  $("tas-symbol").textContent = sym;
  tas.reset();
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
  if (e.status === 404) {
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
    if (!sym) {
      note.hidden = true;
      return;
    }
    note.hidden = false;
    note.textContent = `loading ${tf} history…`;
  } else {
    state.pending = book;
  }
  try {
    const end = queryEnd(), start = feedNow() - tfi.span * tfi.sec * 1000;
    const bars = (await getBars([sym], tfi.api, start, end))[sym] || [];
    let minutes = null;
    if (tfi.sec > 60 && tfi.sec < 86400 && bars.length) {
      const lastBucket = book.bucketOf(Date.parse(bars[bars.length - 1].t) / 1000);
      minutes = (await getBars([sym], "1Min", (lastBucket - 2 * tfi.sec) * 1000, end))[sym] || [];
    }
    if (seq !== state.loadSeq) return;
    book.load(bars, minutes);
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
  schedule();
}

async function loadSnapshots(symbols) {
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

async function seedTrades(sym) {
  if (!sym || state.restOK === false) return;
  try {
    const trades = await getRecentTrades(sym, feedNow() - 3600000, queryEnd(), 100);
    if (sym !== state.selected || tas.n > 0) return; // live trades came first
    for (let i = trades.length - 1; i >= 0; i--) {
      const t = trades[i];
      tas.trade(Date.parse(t.t), t.p, t.s, t.x, t.c);
    }
  } catch {
    // Time and sales fills from the stream anyway; the bars say why REST failed.
  }
  schedule();
}

// ---- health --------------------------------------------------------------

const pageStats = { rate: NaN, reconnects: 0 };
let lastMsgs = 0, lastTick = performance.now();

async function pollStatus() {
  try {
    const st = await getStatus();
    health.update(st, performance.now());
    if (st.feed && st.feed.feed_time) state.feedMs = Date.parse(st.feed.feed_time) || state.feedMs;
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
  pageStats.rate = ((stream.messages - lastMsgs) * 1000) / (now - lastTick);
  pageStats.reconnects = stream.reconnects;
  lastMsgs = stream.messages;
  lastTick = now;
  if (stream.state === "reconnecting") showConnection("reconnecting", connInfo);
  pollStatus().finally(() => setTimeout(tick, document.hidden ? 5000 : 1000));
}

// ---- controls ------------------------------------------------------------

function showAuth(failed) {
  const f = $("auth-form");
  const c = credentials();
  $("auth-key").value = c.key;
  $("auth-secret").value = c.secret;
  f.hidden = false;
  f.querySelector("p").hidden = !failed;
  if (failed) $("auth-key").focus();
}

$("auth-open").addEventListener("click", () => showAuth(false));
$("auth-cancel").addEventListener("click", () => ($("auth-form").hidden = true));
$("auth-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  savePref("tape.key", $("auth-key").value.trim());
  savePref("tape.secret", $("auth-secret").value);
  $("auth-form").hidden = true;
  stream.stop("connecting");
  stream.start();
  loadChart();
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
    connection: () => stream.state,
    messages: () => stream.messages,
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
  stream.setSymbols(state.order);
  stream.start();
  const want = canonicalSymbol(params.get("symbol") || loadPref("tape.selected", ""));
  selectSymbol(state.rows.has(want) ? want : state.order[0] || "");
  loadSnapshots(state.order.slice());
  seedSparklines(state.order.slice());
  setTimeout(tick, 1000);
  schedule();
}

start();
