// FeedReducer turns the stream's messages into what the page needs, in
// bounded memory, between two of the page's batches. It runs in the stream
// worker: the socket is read as fast as Tape writes, and the page takes a
// batch when it is ready for one (at most one in flight), so a page that
// falls behind gets fewer, larger batches instead of a growing backlog, and
// Tape never has to queue for it (no 407, no conflation on its side).
//
// What is kept until the next take():
//   quotes       the newest bid and ask per symbol; older ones are dropped
//                (a quote is a latest value: only the newest is shown)
//   trades       per symbol, the last price under the consolidated-tape
//                rules and the volume per minute: all the watchlist needs
//   events       every trade, cancel and correction of the detail symbol
//                (the selected one: time and sales, the forming candle),
//                in order, at most detailCap of them
//   others       bars, updated bars, daily bars and statuses as they came,
//                at most othersCap
// Past a cap the oldest entries go and the batch says so (overflow): the
// page then reloads what it shows from the REST API.

import { tradeFlags, UPD_LAST, UPD_VOL } from "./util.js";

const VOL_MINUTES = 8; // minutes of volume kept per symbol: older ones are in a dailyBar by then

export class FeedReducer {
  /** @param {{detailCap?: number, othersCap?: number}} [o] */
  constructor(o = {}) {
    this.detailCap = o.detailCap || 20000;
    this.othersCap = o.othersCap || 20000;
    this.detail = "";
    this.total = 0; // messages seen since construction
    this.merged = 0; // quotes replaced by a newer one before the page took them
    this.clear();
  }

  clear() {
    this.n = 0; // messages since the last take
    this.quotes = new Map(); // S -> [bp, ap]
    this.trades = new Map(); // S -> {p, t, vols: Map(minute s -> size)}
    this.events = [];
    this.others = [];
    this.detailOverflow = false;
    this.othersOverflow = false;
  }

  /** Sets the detail symbol; its events from now on are kept one by one. */
  setDetail(sym) {
    if (sym === this.detail) return;
    this.detail = sym;
    this.events = [];
    this.detailOverflow = false;
  }

  /** Takes one frame's data messages. */
  add(msgs) {
    this.n += msgs.length;
    this.total += msgs.length;
    for (const m of msgs) {
      switch (m.T) {
        case "q":
          if (this.quotes.has(m.S)) this.merged++;
          this.quotes.set(m.S, [m.bp, m.ap]);
          break;
        case "t":
          this.trade(m);
          break;
        case "x":
        case "c":
          if (m.S === this.detail) this.event({ ...m, ms: Date.parse(m.t) });
          break;
        default:
          this.others.push(m);
          if (this.others.length > this.othersCap) {
            this.others.splice(0, this.others.length - this.othersCap);
            this.othersOverflow = true;
          }
      }
    }
  }

  trade(m) {
    const ms = Date.parse(m.t), f = tradeFlags(m.c);
    let r = this.trades.get(m.S);
    if (!r) {
      r = { p: NaN, t: -Infinity, vols: new Map() };
      this.trades.set(m.S, r);
    }
    if (f & UPD_LAST && ms >= r.t) {
      r.p = m.p;
      r.t = ms;
    }
    if ((f >> 3) & UPD_VOL) {
      const min = Math.floor(ms / 60000) * 60;
      r.vols.set(min, (r.vols.get(min) || 0) + m.s);
      if (r.vols.size > VOL_MINUTES) r.vols.delete(Math.min(...r.vols.keys()));
    }
    if (m.S === this.detail) this.event({ T: "t", ms, p: m.p, s: m.s, x: m.x, c: m.c, z: m.z, i: m.i, f });
  }

  event(e) {
    this.events.push(e);
    if (this.events.length > this.detailCap) {
      this.events.splice(0, this.events.length - this.detailCap);
      this.detailOverflow = true;
    }
  }

  /**
   * Everything since the last take, or null if nothing came: {n, total,
   * merged, detail, quotes: [[S, bp, ap]], trades: [[S, p, t ms, [[minute
   * s, size]]]], events, others, detailOverflow, othersOverflow}. Plain
   * arrays and objects, cheap to post to the page.
   */
  take() {
    if (!this.n) return null;
    const b = {
      n: this.n, total: this.total, merged: this.merged, detail: this.detail,
      quotes: [...this.quotes].map(([S, q]) => [S, q[0], q[1]]),
      trades: [...this.trades].map(([S, r]) => [S, r.p, r.t, [...r.vols]]),
      events: this.events, others: this.others,
      detailOverflow: this.detailOverflow, othersOverflow: this.othersOverflow,
    };
    this.clear();
    return b;
  }
}
