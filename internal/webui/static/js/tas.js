// Time and sales: the latest trades of the selected symbol, newest first,
// with exchange and conditions; cancels and corrections shown as such.
// Trades go into a fixed ring; the panel shows as many rows as fit (no
// scrolling: a scroller's whole content would be repainted whenever a row
// is added at the top). render() moves the bottom row elements to the top
// and refills them, so a frame writes only the rows that are new.

import { fmtPrice, fmtInt, fmtTimeNY, setText, EXCHANGES, CONDITIONS } from "./util.js";

const CAP = 200; // trades kept
const ROW_PX = 19; // the CSS row height

export class TimeAndSales {
  constructor(box) {
    this.box = box;
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
      span.title = i === 3 ? EXCHANGES[e.x] || "" : i === 4 ? e.title || e.c.split(" ").map((k) => CONDITIONS[k] || k).filter(Boolean).join(", ") : "";
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

  /** A trade {t (ms), p, s, x, c[]}. */
  trade(t, p, s, x, c) {
    let dir = this.lastDir;
    if (p > this.lastP) dir = "u";
    else if (p < this.lastP) dir = "d";
    this.lastP = p;
    this.lastDir = dir;
    this.count++;
    this.push({ kind: "t", t, p, s, x, c: c ? c.join(" ").trim() : "", dir });
  }

  cancel(t, m) {
    this.push({ kind: "x", t, p: m.p, s: m.s, x: m.x, c: m.a === "E" ? "error" : "cancel", dir: "" });
  }

  correction(t, m) {
    this.push({ kind: "c", t, p: m.cp, s: m.cs, x: m.x, c: "corr " + (m.cc || []).join(" ").trim(), dir: "",
      title: `corrects ${fmtPrice(m.op)} × ${fmtInt(m.os)}` });
  }

  get dirty() { return this.pending > 0; }

  fill(row, e) {
    const [tm, p, s, x, c] = row.children;
    setText(tm, fmtTimeNY(e.t, true));
    setText(p, fmtPrice(e.p));
    setText(s, fmtInt(e.s));
    setText(x, e.x || "");
    setText(c, e.c);
    if (row.dataset.d !== e.dir) row.dataset.d = e.dir;
    if (row.dataset.k !== e.kind) row.dataset.k = e.kind;
    // Titles (exchange and condition names) are looked up on hover only.
    row.entry = e;
  }

  newRow() {
    const r = document.createElement("div");
    r.className = "tr";
    r.innerHTML = '<span></span><span class="num"></span><span class="num"></span><span></span><span></span>';
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
