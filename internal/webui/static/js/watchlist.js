// The watchlist: one row per symbol with the last price, the change since
// the day's open, bid/ask, the day's volume and a sparkline of recent
// minute closes. Stream messages update plain row state; render() writes
// only what changed, once per animation frame. A changed price tints its
// cell (up or down) for FLASH_MS, cleared by sweep() in a later frame: a
// static tint, not an animation, so a busy market that changes every price
// ten times a second costs a repaint per change, not a compositor layer
// per cell.

import { fmtPrice, fmtChange, fmtPct, fmtCompact, setText } from "./util.js";

const SPARK = 120; // minute closes per sparkline
// Sparklines redraw at most this often, all in the same frame: one frame a
// second carries canvas updates, not every frame a few.
const SPARK_MS = 1000;
const SPARK_W = 60, SPARK_H = 18;
const FLASH_MS = 600;

export class Row {
  constructor(sym) {
    this.sym = sym;
    this.last = NaN;
    this.lastT = 0; // ms of the trade that set last
    this.open = NaN; // the day's open (dailyBar.o)
    this.dayT = 0; // start of the day the open and volume belong to (s)
    this.dayVol = NaN; // volume of the last dailyBar
    this.liveVol = new Map(); // minute (s) -> volume of trades since
    this.bid = NaN;
    this.ask = NaN;
    this.halted = "";
    this.subscribed = false;
    this.noData = false; // Tape has nothing for it (the page checked)
    this.closes = new Float64Array(SPARK);
    this.closeTimes = new Float64Array(SPARK);
    this.nCloses = 0;
    this.head = 0; // next write index
    this.closeT = 0; // minute of the newest close
    this.dirty = true;
    this.sparkDirty = true;
    this.el = null;
  }

  /**
   * Trades reduced by the stream worker (FeedReducer): p, the last price
   * set at tMs under the consolidated-tape rules (NaN if none did), and
   * vols, [[minute (s), size]] that count toward the day's volume.
   */
  trades(p, tMs, vols, lastClosedMinute) {
    if (Number.isFinite(p) && tMs >= this.lastT) {
      this.last = p;
      this.lastT = tMs;
      this.sparkDirty = true;
    }
    if (!Number.isNaN(this.dayVol)) {
      for (const [m, v] of vols) {
        if (m <= lastClosedMinute) continue; // the next dailyBar has it
        this.liveVol.set(m, (this.liveVol.get(m) || 0) + v);
      }
      // dailyBars prune this; a quiet day may send few, so bound it anyway.
      while (this.liveVol.size > 30) this.liveVol.delete(this.liveVol.keys().next().value);
    }
    this.noData = false;
    this.dirty = true;
  }

  quote(bp, ap) {
    this.bid = bp;
    this.ask = ap;
    this.noData = false;
    this.dirty = true;
  }

  /** Whether anything priced the row (a trade, a quote, a snapshot). */
  hasData() {
    return Number.isFinite(this.last) || Number.isFinite(this.bid) || Number.isFinite(this.ask);
  }

  /** A minute bar (or updated bar) closing minute t (s). */
  minuteBar(t, c) {
    if (t > this.closeT) {
      this.closes[this.head] = c;
      this.closeTimes[this.head] = t;
      this.head = (this.head + 1) % SPARK;
      if (this.nCloses < SPARK) this.nCloses++;
      this.closeT = t;
    } else if (t === this.closeT && this.nCloses) {
      this.closes[(this.head + SPARK - 1) % SPARK] = c;
    } else {
      return;
    }
    this.sparkDirty = true;
  }

  /** Merges [[t, close]] from the REST API under the closes already seen. */
  seed(pairs) {
    const byT = new Map(pairs);
    for (let i = 0; i < this.nCloses; i++) {
      const k = (this.head - this.nCloses + i + SPARK) % SPARK;
      byT.set(this.closeTimes[k], this.closes[k]); // live bars win
    }
    const ts = [...byT.keys()].filter(Number.isFinite).sort((a, b) => a - b).slice(-SPARK);
    this.nCloses = this.head = 0;
    this.closeT = 0;
    for (const t of ts) this.minuteBar(t, byT.get(t));
    this.sparkDirty = true;
  }

  dailyBar(t, bar, lastClosedMinute) {
    if (t < this.dayT) return;
    if (t > this.dayT) this.liveVol.clear();
    this.dayT = t;
    if (bar.o > 0) this.open = bar.o;
    this.dayVol = bar.v;
    for (const m of this.liveVol.keys()) if (m <= lastClosedMinute) this.liveVol.delete(m);
    if (Number.isNaN(this.last) && bar.c > 0) this.last = bar.c;
    this.dirty = true;
  }

  volume() {
    if (Number.isNaN(this.dayVol)) return NaN;
    let v = this.dayVol;
    for (const x of this.liveVol.values()) v += x;
    return v;
  }

  status(msg) {
    // CTA "2" and UTP "H" are halts; anything else (resume, trading) is not.
    const halted = msg.sc === "2" || msg.sc === "H" ? (msg.rm || msg.sm || "halted") : "";
    if (halted !== this.halted) {
      this.halted = halted;
      this.dirty = true;
    }
  }
}

function setAttr(el, name, v) {
  if (el.getAttribute(name) !== v) el.setAttribute(name, v);
}

export class WatchlistView {
  /**
   * @param {HTMLElement} tbody
   * @param {{onSelect(sym), onRemove(sym), onShow()}} handlers
   */
  constructor(tbody, handlers) {
    this.tbody = tbody;
    this.flashing = new Set(); // rows whose price cell is tinted
    this.sparkAt = -Infinity;
    this.sparkDue = false;
    this.dpr = Math.min(window.devicePixelRatio || 1, 3);
    this.rowsByEl = new WeakMap();
    // Rows scrolled out of view are not written: they stay dirty and catch
    // up when they come back (handlers.onShow schedules a frame).
    this.io = new IntersectionObserver((entries) => {
      let shown = false;
      for (const en of entries) {
        const row = this.rowsByEl.get(en.target);
        if (!row || !row.el) continue;
        row.el.visible = en.isIntersecting;
        if (en.isIntersecting) shown = row.dirty = row.sparkDirty = true;
      }
      if (shown) handlers.onShow();
    }, { root: tbody.closest(".table-wrap"), rootMargin: "64px 0px" });
    tbody.addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr[data-sym]");
      if (!tr) return;
      if (ev.target.closest("button.rm-btn")) handlers.onRemove(tr.dataset.sym);
      else handlers.onSelect(tr.dataset.sym);
    });
  }

  /** Creates the row's elements and appends them. */
  add(row) {
    const tr = document.createElement("tr");
    tr.dataset.sym = row.sym;
    tr.innerHTML =
      '<td class="sym"><button type="button" class="sym-btn"></button><span class="badge" hidden>HALT</span></td>' +
      '<td class="num last"></td><td class="num chg"></td><td class="num pct"></td>' +
      '<td class="num c-bid"></td><td class="num c-ask"></td><td class="num c-vol"></td>' +
      '<td class="c-spark"><canvas></canvas></td>' +
      '<td class="rm"><button type="button" class="rm-btn">×</button></td>';
    const q = (s) => tr.querySelector(s);
    row.el = {
      tr, sym: q(".sym-btn"), badge: q(".badge"), last: q(".last"), chg: q(".chg"), pct: q(".pct"),
      bid: q(".c-bid"), ask: q(".c-ask"), vol: q(".c-vol"), canvas: q("canvas"),
      shownLast: NaN, flashUntil: 0, visible: true, noData: false,
    };
    row.el.sym.textContent = row.sym;
    q(".rm-btn").setAttribute("aria-label", "Remove " + row.sym);
    const c = row.el.canvas;
    c.width = SPARK_W * this.dpr;
    c.height = SPARK_H * this.dpr;
    c.style.width = SPARK_W + "px";
    c.style.height = SPARK_H + "px";
    this.tbody.appendChild(tr);
    this.rowsByEl.set(tr, row);
    this.io.observe(tr);
    row.dirty = row.sparkDirty = true;
  }

  /** Starts a frame's rendering: decides whether sparklines redraw in it. */
  beginFrame(now) {
    this.sparkDue = now - this.sparkAt >= SPARK_MS;
    if (this.sparkDue) this.sparkAt = now;
  }

  /** Clears the tints that are due; now is performance.now(). */
  sweep(now) {
    for (const row of this.flashing) {
      const e = row.el;
      if (e && now < e.flashUntil) continue;
      if (e) e.last.removeAttribute("data-f");
      this.flashing.delete(row);
    }
  }

  remove(row) {
    this.flashing.delete(row);
    if (row.el) {
      this.io.unobserve(row.el.tr);
      row.el.tr.remove();
    }
    row.el = null;
  }

  select(sym) {
    for (const tr of this.tbody.children) {
      const sel = tr.dataset.sym === sym;
      tr.classList.toggle("sel", sel);
      tr.setAttribute("aria-selected", String(sel));
    }
  }

  /** Writes what changed in row; now is performance.now(). */
  render(row, now, colors) {
    const e = row.el;
    if (!e || !e.visible) return;
    if (row.dirty) {
      row.dirty = false;
      if (row.last !== e.shownLast) {
        if (Number.isFinite(e.shownLast) && Number.isFinite(row.last)) {
          setAttr(e.last, "data-f", row.last > e.shownLast ? "u" : "d");
          e.flashUntil = now + FLASH_MS;
          this.flashing.add(row);
        }
        e.shownLast = row.last;
      }
      setText(e.last, row.noData ? "no data" : fmtPrice(row.last));
      if (row.noData !== e.noData) {
        e.noData = row.noData;
        e.last.title = row.noData ? `Tape has no trades or quotes for ${row.sym}` : "";
        setAttr(e.tr, "data-nodata", row.noData ? "1" : "0");
      }
      const chg = row.last - row.open;
      const sign = chg > 0 ? "+" : chg < 0 ? "-" : "";
      setText(e.chg, fmtChange(chg));
      setText(e.pct, fmtPct((chg / row.open) * 100));
      setAttr(e.chg, "data-sign", sign);
      setAttr(e.pct, "data-sign", sign);
      setText(e.bid, fmtPrice(row.bid));
      setText(e.ask, fmtPrice(row.ask));
      setText(e.vol, fmtCompact(row.volume()));
      const halted = row.halted !== "";
      if (e.badge.hidden === halted) {
        e.badge.hidden = !halted;
        e.badge.title = row.halted;
      }
      setAttr(e.tr, "data-sub", row.subscribed ? "1" : "0");
    }
    if ((row.sparkDirty && this.sparkDue) || colors.force) {
      row.sparkDirty = false;
      this.drawSpark(row, colors);
    }
  }

  drawSpark(row, colors) {
    const c = row.el.canvas, g = c.getContext("2d");
    const n = row.nCloses, extra = Number.isFinite(row.last) && row.lastT >= (row.closeT + 60) * 1000 ? 1 : 0;
    g.clearRect(0, 0, c.width, c.height);
    const total = n + extra;
    if (total < 2) return;
    const at = (i) => (i < n ? row.closes[(row.head - n + i + SPARK) % SPARK] : row.last);
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < total; i++) {
      const v = at(i);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const pad = 2 * this.dpr, w = c.width - 2 * pad, h = c.height - 2 * pad;
    const span = hi - lo || 1;
    g.lineWidth = 1.25 * this.dpr;
    g.lineJoin = "round";
    g.strokeStyle = at(total - 1) >= at(0) ? colors.up : colors.down;
    g.beginPath();
    for (let i = 0; i < total; i++) {
      const x = pad + (i / (total - 1)) * w;
      const y = pad + h - ((at(i) - lo) / span) * h;
      if (i === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    }
    g.stroke();
  }
}
