// CandleBook keeps the candles of one symbol at one timeframe: history
// loaded from the REST API, then the newest buckets kept live from the
// stream. It is plain data (no DOM) so the chart can take what changed once
// per animation frame.
//
// A live bucket is built from minutes: the minute bars Tape emits (bars,
// and updatedBars replacing them) and, for the minute still forming, its
// trades under the same condition rules as Tape's bar builder (util.js
// tradeFlags: e.g. an odd lot adds volume but sets no price, an
// out-of-sequence print sets high and low but not the close).
//
// The forming minute is seeded from the REST API (seed: the trades since
// the newest complete minute bar), so a page opened mid-minute shows the
// minute's true open and volume, not just what it saw. Live trades and
// seeded ones meet by trade ID (unique per symbol): each counts once,
// whichever comes first, and open and close go by trade time, not by
// arrival.
// A daily bucket is the day's dailyBar (regular-session prices, the day's
// volume) plus the trades since. The newest RECENT buckets stay editable,
// so a minute bar or an updated bar that arrives after the next bucket
// opened still lands; older buckets are frozen.

import { UPD_HL, UPD_LAST, UPD_VOL, nyDayStart, tradeFlags } from "./util.js";

const RECENT = 3;
const MAX_CANDLES = 10000;

function emptyAgg() {
  return { o: NaN, oT: Infinity, h: -Infinity, l: Infinity, c: NaN, cT: -Infinity, v: 0 };
}

/**
 * Adds a trade at t to an aggregate under update flags f (minute or daily).
 * Open and close go by time, so trades may come in any order.
 */
function addTrade(a, t, p, s, f) {
  if (f & UPD_HL) {
    if (p > a.h) a.h = p;
    if (p < a.l) a.l = p;
  }
  if (f & UPD_LAST) {
    if (t < a.oT) {
      a.o = p;
      a.oT = t;
    }
    if (t >= a.cT) {
      a.c = p;
      a.cT = t;
    }
  }
  if (f & UPD_VOL) a.v += s;
}

/** Merges bar-like b ({o,h,l,c,v}) after acc, in time order. */
function mergeInto(acc, b) {
  if (Number.isFinite(b.o) && Number.isNaN(acc.o)) acc.o = b.o;
  if (b.h > acc.h) acc.h = b.h;
  if (b.l < acc.l) acc.l = b.l;
  if (Number.isFinite(b.c)) acc.c = b.c;
  acc.v += b.v || 0;
}

export class CandleBook {
  /** @param {string} tf "1m" | "5m" | "15m" | "1h" | "1D"; @param {number} sec its length */
  constructor(tf, sec) {
    this.tf = tf;
    this.sec = sec;
    this.daily = tf === "1D";
    this.closed = []; // frozen candles {time,open,high,low,close,volume}, ascending
    this.recent = new Map(); // bucket start -> {minutes: Map, live: Map, day: bar|null}
    this.changed = new Set(); // recent buckets changed since the last drain
    this.needReset = true; // the chart must take every candle (setData)
    this.lastClosedMinute = 0; // the newest minute any minute bar closed
    this.fit = true; // the next reset is a fresh load: frame the newest candles
  }

  bucketOf(t) {
    return this.daily ? nyDayStart(t) : Math.floor(t / this.sec) * this.sec;
  }

  /**
   * The state of recent bucket b. A new one is made only after the newest
   * (the chart can append a candle, not insert one), unless force (a load,
   * after which the chart takes everything anew).
   */
  bucket(b, force = false) {
    let st = this.recent.get(b);
    if (st) return st;
    const lastClosed = this.closed.length ? this.closed[this.closed.length - 1].time : -Infinity;
    if (b <= lastClosed) return null;
    if (!force) {
      for (const k of this.recent.keys()) if (k > b) return null;
    }
    // ids: minute -> the IDs of the trades in live, so a trade counts once.
    st = { minutes: new Map(), live: new Map(), ids: new Map(), day: null };
    this.recent.set(b, st);
    if (this.recent.size > RECENT) this.freezeOldest();
    return st;
  }

  freezeOldest() {
    const oldest = Math.min(...this.recent.keys());
    const c = this.candle(oldest);
    this.recent.delete(oldest);
    this.changed.delete(oldest);
    if (c) this.closed.push(c);
    if (this.closed.length > MAX_CANDLES + 1000) {
      this.closed.splice(0, this.closed.length - MAX_CANDLES);
      this.needReset = true;
    }
  }

  /** A minute bar (bars) or its replacement (updatedBars) for this symbol. */
  minuteBar(t, bar) {
    if (t > this.lastClosedMinute) this.lastClosedMinute = t;
    if (this.daily) {
      // The dailyBar that follows carries this minute; drop its trades then.
      return;
    }
    const b = this.bucketOf(t);
    const st = this.bucket(b);
    if (!st) return;
    st.minutes.set(t, { o: bar.o, h: bar.h, l: bar.l, c: bar.c, v: bar.v });
    st.live.delete(t);
    st.ids.delete(t);
    this.changed.add(b);
  }

  /** A minute closed (a minute bar of any symbol): forming trades before it are superseded. */
  minuteClosed(t) {
    if (t > this.lastClosedMinute) this.lastClosedMinute = t;
  }

  /** The day's running aggregate (dailyBars), daily timeframe only. */
  dailyBar(t, bar) {
    if (!this.daily) return;
    const b = this.bucketOf(t);
    const st = this.bucket(b);
    if (!st) return;
    st.day = { o: bar.o, h: bar.h, l: bar.l, c: bar.c, v: bar.v };
    // The daily bar covers every closed minute.
    for (const m of st.live.keys()) {
      if (m <= this.lastClosedMinute) {
        st.live.delete(m);
        st.ids.delete(m);
      }
    }
    this.changed.add(b);
  }

  /**
   * A trade at t (seconds) with price p and size s; flags from tradeFlags
   * (minute rules in the low bits, daily rules shifted by 3); id, the
   * trade's ID, if known: a trade already counted is ignored.
   */
  trade(t, p, s, flags, id) {
    const m = Math.floor(t / 60) * 60;
    if (m <= this.lastClosedMinute - 60) return; // late: an updatedBar will carry it
    const f = this.daily ? flags >> 3 : flags & 7;
    if (!f) return;
    const b = this.bucketOf(m);
    const st = this.bucket(b);
    if (!st) return;
    if (!this.daily && st.minutes.has(m)) return; // the bar already holds this minute
    if (id !== undefined && id !== null) {
      let ids = st.ids.get(m);
      if (!ids) {
        ids = new Set();
        st.ids.set(m, ids);
      }
      if (ids.has(id)) return;
      ids.add(id);
    }
    let a = st.live.get(m);
    if (!a) {
      a = emptyAgg();
      st.live.set(m, a);
    }
    addTrade(a, t, p, s, f);
    this.changed.add(b);
  }

  /**
   * Seeds the forming minute(s) from the REST API: trades ({t, p, s, c,
   * i}, Alpaca's shape) after lastMinute, the start of the newest minute
   * whose bar the history had (0 if none). Call after load.
   */
  seed(trades, lastMinute) {
    if (lastMinute > this.lastClosedMinute) this.lastClosedMinute = lastMinute;
    for (const x of trades) {
      const t = Date.parse(x.t) / 1000;
      if (!Number.isFinite(t) || t < lastMinute + 60) continue;
      this.trade(t, x.p, x.s, tradeFlags(x.c), x.i);
    }
  }

  /** The candle of recent bucket b, or null if it has no price yet. */
  candle(b) {
    const st = this.recent.get(b);
    if (!st) return null;
    const acc = emptyAgg();
    if (this.daily) {
      if (st.day) mergeInto(acc, st.day);
      const ms = [...st.live.keys()].filter((m) => m > this.lastClosedMinute || !st.day).sort((x, y) => x - y);
      for (const m of ms) mergeInto(acc, st.live.get(m));
    } else {
      const ms = [...new Set([...st.minutes.keys(), ...st.live.keys()])].sort((x, y) => x - y);
      for (const m of ms) mergeInto(acc, st.minutes.get(m) || st.live.get(m));
    }
    if (!Number.isFinite(acc.o) || !Number.isFinite(acc.c) || !Number.isFinite(acc.h) || !Number.isFinite(acc.l)) return null;
    return { time: b, open: acc.o, high: acc.h, low: acc.l, close: acc.c, volume: acc.v };
  }

  /**
   * Takes history from the REST API: bars at this timeframe, and, for an
   * intraday timeframe above a minute, the minute bars of the newest
   * buckets (so they can keep updating). Bars are Alpaca's {t,o,h,l,c,v}.
   */
  load(bars, minuteBars) {
    const conv = (x) => ({ t: Math.floor(Date.parse(x.t) / 1000), o: x.o, h: x.h, l: x.l, c: x.c, v: x.v });
    bars = bars.map(conv).filter((x) => Number.isFinite(x.t)).sort((x, y) => x.t - y.t);
    if (!bars.length) {
      this.needReset = true;
      return;
    }
    const lastB = this.bucketOf(bars[bars.length - 1].t);
    let cut; // buckets from cut on stay live
    if (this.daily) {
      cut = lastB;
    } else {
      cut = lastB - (RECENT - 1) * this.sec;
      if (this.sec === 60) minuteBars = bars;
      else if (!minuteBars) cut = lastB + this.sec; // no minutes: keep REST candles as they are
    }
    // Live buckets older than the history's newest are superseded.
    for (const b of [...this.recent.keys()]) if (b < cut) this.recent.delete(b);
    this.closed = [];
    for (const x of bars) {
      const b = this.bucketOf(x.t);
      if (b >= cut) continue;
      this.closed.push({ time: b, open: x.o, high: x.h, low: x.l, close: x.c, volume: x.v });
    }
    if (this.closed.length > MAX_CANDLES) this.closed.splice(0, this.closed.length - MAX_CANDLES);
    if (this.daily) {
      const st = this.bucket(cut, true);
      if (st && !st.day) st.day = bars[bars.length - 1];
    } else if (minuteBars) {
      for (const x of minuteBars) {
        const m = typeof x.t === "number" ? x.t : Math.floor(Date.parse(x.t) / 1000);
        if (!Number.isFinite(m) || this.bucketOf(m) < cut) continue;
        const st = this.bucket(this.bucketOf(m), true);
        if (!st || st.minutes.has(m)) continue; // a live bar is as new or newer
        st.minutes.set(m, { o: x.o, h: x.h, l: x.l, c: x.c, v: x.v });
        st.live.delete(m);
        st.ids.delete(m);
        if (m > this.lastClosedMinute) this.lastClosedMinute = m;
      }
    }
    this.needReset = true;
    this.fit = true;
  }

  /** Every candle, ascending. */
  all() {
    const out = this.closed.slice();
    for (const b of [...this.recent.keys()].sort((x, y) => x - y)) {
      const c = this.candle(b);
      if (c) out.push(c);
    }
    return out;
  }

  /**
   * What the chart must apply: {reset: true, candles: all} after a load or
   * a trim, else {reset: false, candles: the changed ones, ascending}.
   */
  drain() {
    if (this.needReset) {
      this.needReset = false;
      this.changed.clear();
      const candles = this.all();
      const fit = this.fit && candles.length > 0;
      if (fit) this.fit = false;
      return { reset: true, fit, candles };
    }
    if (!this.changed.size) return null;
    const out = [];
    for (const b of [...this.changed].sort((x, y) => x - y)) {
      const c = this.candle(b);
      if (c) out.push(c);
    }
    this.changed.clear();
    return { reset: false, candles: out };
  }

  count() {
    return this.closed.length + [...this.recent.keys()].filter((b) => this.candle(b)).length;
  }

  last() {
    const keys = [...this.recent.keys()].sort((x, y) => y - x);
    for (const b of keys) {
      const c = this.candle(b);
      if (c) return c;
    }
    return this.closed.length ? this.closed[this.closed.length - 1] : null;
  }
}
