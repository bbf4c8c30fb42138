// Time and sales: the latest trades of the selected symbol, newest first,
// with exchange and conditions; cancels and corrections shown as such.
// Codes are explained three ways: a tooltip on each code, their names in
// the row when the panel is wide enough (CSS container query), and a
// legend of the codes on screen (Codes button). Names come from Tape's
// reference data (meta.js), per tape for conditions.
// Trades go into a fixed ring; the panel shows as many rows as fit (no
// scrolling: a scroller's whole content would be repainted whenever a row
// is added at the top). render() moves the bottom row elements to the top
// and refills them, so a frame writes only the rows that are new.

import { fmtPrice, fmtInt, fmtTimeNY, setText } from "./util.js";

const CAP = 200; // trades kept
const ROW_PX = 19; // the CSS row height

export class TimeAndSales {
  /** @param {HTMLElement} box @param {import("./meta.js").CodeNames} names */
  constructor(box, names) {
    this.box = box;
    this.names = names;
    this.ring = new Array(CAP);
    this.n = 0; // entries in the ring
    this.head = 0; // next write index
    this.pending = 0; // entries not rendered yet
    this.rows = []; // row elements, top (newest) first
    this.lastP = NaN;
    this.lastDir = "";
    this.count = 0; // trades seen, for the rate
    box.addEventListener("mouseover", (ev) => {
      const span = ev.target.closest(".tr > span");
      const e = span && span.parentElement.entry;
      if (!e) return;
      const i = Array.prototype.indexOf.call(span.parentElement.children, span);
      span.title = i === 3 ? this.exName(e) : i === 4 ? e.title || this.condNames(e) : "";
    });
    this.visible = 0; // rows that fit
    const fit = () => {
      const h = box.clientHeight;
      const n = Math.max(1, Math.min(CAP, Math.ceil(h / ROW_PX)));
      if (n !== this.visible) {
        this.visible = n;
        this.pending = CAP; // refill everything
      }
    };
    new ResizeObserver(fit).observe(box);
    fit();
  }

  reset() {
    this.n = this.head = this.pending = 0;
    this.lastP = NaN;
    this.lastDir = "";
    for (const r of this.rows) r.remove();
    this.rows = [];
  }

  push(e) {
    this.ring[this.head] = e;
    this.head = (this.head + 1) % CAP;
    if (this.n < CAP) this.n++;
    if (this.pending < CAP) this.pending++;
  }

  /** A trade at t (ms): price p, size s, exchange x, conditions c[], tape z. */
  trade(t, p, s, x, c, z) {
    let dir = this.lastDir;
    if (p > this.lastP) dir = "u";
    else if (p < this.lastP) dir = "d";
    this.lastP = p;
    this.lastDir = dir;
    this.count++;
    const codes = Array.isArray(c) ? c.filter((k) => k !== "") : [];
    this.push({ kind: "t", t, p, s, x, z: z || "", codes, c: codes.join(" ").trim(), dir });
  }

  cancel(t, m) {
    this.push({ kind: "x", t, p: m.p, s: m.s, x: m.x, z: m.z || "", codes: [], c: m.a === "E" ? "error" : "cancel", dir: "" });
  }

  correction(t, m) {
    const codes = (m.cc || []).filter((k) => k !== "");
    this.push({ kind: "c", t, p: m.cp, s: m.cs, x: m.x, z: m.z || "", codes, c: "corr " + codes.join(" ").trim(), dir: "",
      title: `corrects ${fmtPrice(m.op)} × ${fmtInt(m.os)}` });
  }

  exName(e) {
    return this.names.exchange(e.x);
  }

  condNames(e) {
    return e.codes.length ? this.names.conditions(e.codes, e.z) : "";
  }

  /** The newest entry's time (ms), or NaN. */
  newest() {
    return this.n ? this.ring[(this.head - 1 + CAP) % CAP].t : NaN;
  }

  /** Rewrites every row (the code names arrived). */
  refill() {
    this.pending = CAP;
  }

  /**
   * The codes of the trades on screen with their names, for the legend:
   * {exchanges: [[code, name]], conditions: [[code, description]], tape}.
   */
  legend() {
    const ex = new Map(), cond = new Map();
    let tape = "";
    for (const row of this.rows) {
      const e = row.entry;
      if (!e) continue;
      if (e.x && !ex.has(e.x)) ex.set(e.x, this.names.exchange(e.x));
      if (e.z) tape = e.z;
      for (const k of e.codes) if (!cond.has(k)) cond.set(k, this.names.condition(k, e.z));
    }
    const byCode = (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    return { exchanges: [...ex].sort(byCode), conditions: [...cond].sort(byCode), tape };
  }

  get dirty() { return this.pending > 0; }

  fill(row, e) {
    const [tm, p, s, x, c] = row.children;
    setText(tm, fmtTimeNY(e.t, true));
    setText(p, fmtPrice(e.p));
    setText(s, fmtInt(e.s));
    setText(x.firstChild, e.x || "");
    setText(x.lastChild, this.exName(e));
    setText(c.firstChild, e.c);
    setText(c.lastChild, e.kind === "t" ? this.condNames(e) : "");
    if (row.dataset.d !== e.dir) row.dataset.d = e.dir;
    if (row.dataset.k !== e.kind) row.dataset.k = e.kind;
    // Titles (exchange and condition names) are looked up on hover only.
    row.entry = e;
  }

  newRow() {
    const r = document.createElement("div");
    r.className = "tr";
    r.innerHTML = '<span></span><span class="num"></span><span class="num"></span>' +
      '<span class="code"><b></b><i class="nm"></i></span><span class="code"><b></b><i class="nm"></i></span>';
    return r;
  }

  render() {
    const want = Math.min(this.n, this.visible);
    let k = Math.min(this.pending, this.n, want);
    this.pending = 0;
    while (this.rows.length > want) this.rows.pop().remove();
    if (!k) return;
    const frag = document.createDocumentFragment();
    const fresh = [];
    // Newest first: ring index head-1 is the newest.
    for (let i = 0; i < k; i++) {
      const e = this.ring[(this.head - 1 - i + CAP * 2) % CAP];
      const row = this.rows.length + fresh.length < want ? this.newRow() : this.rows.pop();
      this.fill(row, e);
      frag.appendChild(row);
      fresh.push(row);
    }
    this.box.prepend(frag);
    this.rows = fresh.concat(this.rows);
    // A grown panel refills the rows below with older trades.
    for (let i = this.rows.length; i < want; i++) {
      const row = this.newRow();
      this.fill(row, this.ring[(this.head - 1 - i + CAP * 2) % CAP]);
      this.box.appendChild(row);
      this.rows.push(row);
    }
  }
}
