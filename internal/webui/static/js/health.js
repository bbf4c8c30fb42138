// Feed and hub health from GET /tape/v1/status, polled every second:
// upstream state and last error, messages per second in (ingest events)
// and out (stream messages), subscribers with their lag, queue and drops,
// slow-client disconnects and protocol errors. Nothing silent.

import { fmtRate, fmtInt, fmtCompact, fmtTimeNY, setText } from "./util.js";

const MAX_SUBS = 50; // rows shown; the busiest first

function fmtDuration(s) {
  if (!Number.isFinite(s)) return "—";
  if (s < 60) return Math.floor(s) + " s";
  if (s < 3600) return Math.floor(s / 60) + " min";
  if (s < 86400) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}


export class HealthView {
  constructor(doc) {
    const $ = (id) => doc.getElementById(id);
    this.el = {
      feed: $("h-feed"), inRate: $("h-in"), outRate: $("h-out"), subs: $("h-subs"), kicks: $("h-kicks"),
      conflated: $("h-conflated"), errors: $("h-errors"), page: $("h-page"), lastErr: $("h-lasterr"),
      subsBody: $("subs-body"), age: $("health-age"), brief: $("feed-brief"),
    };
    this.prev = null; // {at, events, messages}
    this.inRate = NaN;
    this.outRate = NaN;
    this.status = null;
    this.okAt = 0;
    this.failure = "";
    this.dirty = false;
    this.rows = [];
  }

  /** A status answer received at performance.now() at. */
  update(st, at) {
    const events = (st.ingest?.events || 0) + (st.ingest?.derived || 0);
    const messages = st.stream?.messages || 0;
    if (this.prev && at > this.prev.at && st.started === this.prev.started) {
      const dt = (at - this.prev.at) / 1000;
      this.inRate = Math.max(0, events - this.prev.events) / dt;
      this.outRate = Math.max(0, messages - this.prev.messages) / dt;
    }
    this.prev = { at, events, messages, started: st.started };
    this.status = st;
    this.okAt = Date.now();
    this.failure = "";
    this.dirty = true;
  }

  failed(err) {
    this.failure = err.status ? `HTTP ${err.status}: ${err.message}` : err.message;
    this.prev = null;
    this.inRate = this.outRate = NaN;
    this.dirty = true;
  }

  render(page) {
    const e = this.el, st = this.status;
    // The page's own figures change every second whatever the status does.
    const r = page.rate >= 1000 ? (page.rate / 1000).toFixed(1) + "k" : fmtRate(page.rate);
    setText(e.page, `${r}/s ↻${page.reconnects}`);
    e.page.title = `messages this page received per second; reconnects since it opened: ${page.reconnects}`;
    if (this.failure) {
      const secs = this.okAt ? Math.round((Date.now() - this.okAt) / 1000) + " s" : "start";
      setText(e.age, `status unreachable for ${secs}`);
      e.age.title = this.failure;
      e.age.dataset.state = "error";
    } else if (st) {
      setText(e.age, "up " + fmtDuration(st.uptime_seconds));
      e.age.dataset.state = "";
    }
    if (!this.dirty) return;
    this.dirty = false;
    if (this.failure) {
      setText(e.feed, "unreachable");
      e.feed.dataset.state = "failed";
      setText(e.inRate, "—");
      setText(e.outRate, "—");
      return;
    }
    if (!st) return;
    const f = st.feed || {};
    setText(e.feed, f.state || "?");
    e.feed.dataset.state = f.state || "";
    e.feed.title = `${f.name || "?"} feed${f.feed_time ? ", clock " + f.feed_time : ""}`;
    setText(e.brief, `${f.name || ""} · ${(st.symbols || []).length} symbols · feed ${f.feed_time ? fmtTimeNY(Date.parse(f.feed_time)) + " ET" : "—"} · ${st.version || ""}`);
    if (f.last_error) {
      e.lastErr.hidden = false;
      setText(e.lastErr, "last feed error: " + f.last_error);
    } else {
      e.lastErr.hidden = true;
    }
    setText(e.inRate, fmtRate(this.inRate));
    setText(e.outRate, fmtRate(this.outRate));
    const hub = st.hub || {}, stream = st.stream || {};
    setText(e.subs, fmtInt(hub.subscribers));
    e.subs.title = `${fmtInt(hub.subscribers)} hub subscribers, ${fmtInt(stream.sessions)} stream connections`;
    const kicks = (hub.slow_kicks || 0) + (stream.write_stalls || 0);
    setText(e.kicks, fmtInt(kicks));
    e.kicks.dataset.state = kicks ? "warn" : "";
    e.kicks.title = `407 slow client: ${fmtInt(hub.slow_kicks)}; stalled writes: ${fmtInt(stream.write_stalls)}`;
    setText(e.conflated, fmtCompact(hub.conflated));
    const errs = Object.entries(stream.errors || {}).sort();
    const nErr = errs.reduce((a, [, n]) => a + n, 0);
    setText(e.errors, fmtInt(nErr));
    e.errors.dataset.state = nErr ? "warn" : "";
    e.errors.title = (errs.map(([c, n]) => `${c}: ${n}`).join(", ") || "none") + `; auth failures: ${fmtInt(stream.auth_failures)}`;
    this.renderSubs(st.subscribers || []);
  }

  renderSubs(subs) {
    subs = subs.slice().sort((a, b) => b.lag_ms - a.lag_ms || b.dropped - a.dropped || a.id - b.id).slice(0, MAX_SUBS);
    const body = this.el.subsBody;
    while (this.rows.length < subs.length) {
      const tr = document.createElement("tr");
      tr.innerHTML = '<td class="client"></td><td class="num"></td><td class="num"></td><td class="num"></td><td class="num"></td><td class="num"></td>';
      body.appendChild(tr);
      this.rows.push(tr);
    }
    while (this.rows.length > subs.length) this.rows.pop().remove();
    subs.forEach((s, i) => {
      const [client, syms, lag, queued, delivered, dropped] = this.rows[i].children;
      setText(client, `#${s.id} ${s.client}`);
      client.title = s.client;
      setText(syms, s.wildcard ? "*" : fmtInt(s.symbols));
      setText(lag, s.lag_ms < 10 ? s.lag_ms.toFixed(1) : fmtInt(s.lag_ms));
      setText(queued, fmtCompact(s.queued_msgs));
      queued.title = `${fmtInt(s.queued_msgs)} messages, ${fmtInt(s.queued_bytes)} bytes queued`;
      setText(delivered, fmtCompact(s.delivered));
      setText(dropped, fmtInt(s.dropped));
      const state = s.dropped > 0 ? "warn" : s.lag_ms > 1000 ? "lag" : "";
      if (this.rows[i].dataset.state !== state) this.rows[i].dataset.state = state;
    });
  }
}
