// Small helpers shared by the dashboard's modules: number and time
// formatting (times in New York, the market's zone), symbol validation, and
// the consolidated-tape condition rules.

// Alpaca's symbol formats. A stock: 1-16 upper-case letters and digits
// starting with a letter, single '.' or '-' between parts (BRK.B, BF-B), as
// Tape's simulator accepts. A crypto pair: BASE/QUOTE (BTC/USD).
const STOCK_RE = /^[A-Z][A-Z0-9]*(?:[.-][A-Z0-9]+)*$/;
const CRYPTO_RE = /^[A-Z0-9]+\/[A-Z0-9]+$/;
export const MAX_SYMBOL_LEN = 16;

/**
 * Validates a symbol typed by a person: {sym, kind: "stock" | "crypto"}
 * (upper-cased) or {error: why it is not a symbol}.
 */
export function parseSymbol(raw) {
  const s = String(raw ?? "").trim().toUpperCase();
  if (!s) return { error: "empty" };
  if (s.length > MAX_SYMBOL_LEN) return { error: `longer than ${MAX_SYMBOL_LEN} characters` };
  if (STOCK_RE.test(s)) return { sym: s, kind: "stock" };
  if (CRYPTO_RE.test(s)) return { sym: s, kind: "crypto" };
  if (/\s/.test(s)) return { error: "one symbol at a time" };
  if (!/^[A-Z0-9./-]+$/.test(s)) return { error: "letters, digits and . - / only" };
  return { error: "not Alpaca's format (AAPL, BRK.B, BF-B or BTC/USD)" };
}

/** The upper-cased symbol if raw is one (stock or crypto), else "". */
export function canonicalSymbol(raw) {
  return parseSymbol(raw).sym || "";
}

const priceFmt2 = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const priceFmt4 = new Intl.NumberFormat("en-US", { minimumFractionDigits: 4, maximumFractionDigits: 4 });
const intFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const compactFmt = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/** A price: 2 decimals, 4 below $1 (sub-penny quotes). */
export function fmtPrice(p) {
  if (!Number.isFinite(p) || p === 0) return "—";
  return p < 1 ? priceFmt4.format(p) : priceFmt2.format(p);
}

/** A signed change with 2 decimals. */
export function fmtChange(d) {
  if (!Number.isFinite(d)) return "—";
  const s = priceFmt2.format(Math.abs(d));
  return d > 0 ? "+" + s : d < 0 ? "−" + s : s;
}

/** A signed percentage. */
export function fmtPct(p) {
  if (!Number.isFinite(p)) return "—";
  const s = Math.abs(p).toFixed(2) + "%";
  return p > 0 ? "+" + s : p < 0 ? "−" + s : s;
}

export function fmtInt(n) {
  return Number.isFinite(n) ? intFmt.format(n) : "—";
}

export function fmtCompact(n) {
  if (!Number.isFinite(n)) return "—";
  return n < 10000 ? intFmt.format(n) : compactFmt.format(n);
}

/** Bytes in KB, MB, GB (powers of 1024). */
export function fmtBytes(n) {
  if (!Number.isFinite(n)) return "—";
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 || n >= 100 ? Math.round(n) : n.toFixed(1)) + " " + u[i];
}

export function fmtRate(n) {
  if (!Number.isFinite(n)) return "—";
  return n < 100 ? n.toFixed(1) : intFmt.format(Math.round(n));
}

// New York's UTC offset changes twice a year; asking Intl for every
// timestamp is slow, so offsets are cached per UTC hour.
const nyParts = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York", hourCycle: "h23",
  year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
});
const offsetCache = new Map();

/** New York's offset from UTC, in milliseconds, at epoch milliseconds ms. */
export function nyOffset(ms) {
  const hour = Math.floor(ms / 3600000);
  let off = offsetCache.get(hour);
  if (off === undefined) {
    const p = {};
    for (const { type, value } of nyParts.formatToParts(new Date(hour * 3600000))) p[type] = value;
    off = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - hour * 3600000;
    if (offsetCache.size > 256) offsetCache.clear();
    offsetCache.set(hour, off);
  }
  return off;
}

/** Epoch seconds of the New York midnight that starts the day of t (seconds). */
export function nyDayStart(t) {
  const off = nyOffset(t * 1000) / 1000;
  let d = Math.floor((t + off) / 86400) * 86400 - off;
  // A DST change between midnight and t moves midnight's offset.
  const off0 = nyOffset(d * 1000) / 1000;
  if (off0 !== off) d = Math.floor((t + off) / 86400) * 86400 - off0;
  return d;
}

const pad2 = (n) => (n < 10 ? "0" : "") + n;
const pad3 = (n) => (n < 10 ? "00" : n < 100 ? "0" : "") + n;

/** HH:MM:SS in New York for epoch milliseconds ms; with millis, HH:MM:SS.mmm. */
export function fmtTimeNY(ms, millis = false) {
  if (!Number.isFinite(ms)) return "—";
  const local = ms + nyOffset(ms);
  const day = ((local % 86400000) + 86400000) % 86400000;
  const h = Math.floor(day / 3600000), m = Math.floor(day / 60000) % 60, s = Math.floor(day / 1000) % 60;
  const base = pad2(h) + ":" + pad2(m) + ":" + pad2(s);
  return millis ? base + "." + pad3(Math.floor(day % 1000)) : base;
}

/** YYYY-MM-DD in New York for epoch milliseconds ms. */
export function fmtDateNY(ms) {
  const d = new Date(ms + nyOffset(ms));
  return d.getUTCFullYear() + "-" + pad2(d.getUTCMonth() + 1) + "-" + pad2(d.getUTCDate());
}

// What a trade may update, per the CTA and UTP consolidated-tape rules; the
// same table as Tape's bar builder (internal/bars/conditions.go), so live
// candles agree with the bars Tape emits. Minute-bar flags in the low bits,
// daily-bar flags shifted by 3.
export const UPD_HL = 1, UPD_LAST = 2, UPD_VOL = 4;
const ALL = UPD_HL | UPD_LAST | UPD_VOL;
const both = (f) => f | (f << 3);
const condTable = new Uint8Array(256).fill(both(ALL));
function setCodes(codes, f) { for (const ch of codes) condTable[ch.charCodeAt(0)] = f; }
setCodes("@ ABDFKLOSXY1568", both(ALL));
setCodes("GPZ4", both(UPD_HL | UPD_VOL));
setCodes("CHINRVW7E", both(UPD_VOL));
setCodes("MQ", 0);
setCodes("9", both(UPD_LAST));
setCodes("T", ALL | (UPD_VOL << 3));
setCodes("U", UPD_HL | UPD_VOL | (UPD_VOL << 3));

/** The update flags of a trade's conditions: minute flags | daily flags << 3. */
export function tradeFlags(conds) {
  let f = both(ALL);
  if (conds) for (const c of conds) if (c.length) f &= condTable[c.charCodeAt(0) & 255];
  return f;
}

export const EXCHANGES = {
  A: "NYSE American", B: "Nasdaq BX", C: "NYSE National", D: "FINRA ADF / TRF", E: "Market Independent",
  H: "MIAX Pearl", I: "Nasdaq ISE", J: "Cboe EDGA", K: "Cboe EDGX", L: "Long-Term Stock Exchange",
  M: "NYSE Chicago", N: "NYSE", P: "NYSE Arca", Q: "Nasdaq", S: "Nasdaq Small Cap", T: "Nasdaq Int",
  U: "MEMX", V: "IEX", W: "Cboe", X: "Nasdaq PSX", Y: "Cboe BYX", Z: "Cboe BZX",
};

export const CONDITIONS = {
  "@": "Regular sale", " ": "Regular sale", A: "Acquisition", B: "Bunched", C: "Cash sale", D: "Distribution",
  E: "Placeholder", F: "Intermarket sweep", G: "Bunched sold", H: "Price variation", I: "Odd lot",
  K: "Rule 155", L: "Sold last", M: "Market center official close", N: "Next day", O: "Opening print",
  P: "Prior reference price", Q: "Market center official open", R: "Seller", S: "Split", T: "Extended hours",
  U: "Extended hours, sold out of sequence", V: "Contingent", W: "Average price", X: "Cross",
  Y: "Yellow flag", Z: "Sold out of sequence", 1: "Stopped stock", 4: "Derivatively priced",
  5: "Re-opening print", 6: "Closing print", 7: "Qualified contingent trade", 8: "Placeholder 611 exempt",
  9: "Corrected consolidated close",
};

/**
 * Sets el's text to s if it differs from what this function last set. The
 * existing text node is reused: textContent would make a new node per
 * update, garbage by the thousand a second in a busy market.
 */
export function setText(el, s) {
  if (el._t === s) return;
  el._t = s;
  const n = el.firstChild;
  if (n && n.nodeType === 3 && !n.nextSibling) n.nodeValue = s;
  else el.textContent = s;
}

/** Reads a JSON value from localStorage, or def. */
export function loadPref(key, def) {
  try {
    const v = localStorage.getItem(key);
    return v === null ? def : JSON.parse(v);
  } catch {
    return def;
  }
}

export function savePref(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch { /* storage full or blocked: preferences are a convenience */ }
}
