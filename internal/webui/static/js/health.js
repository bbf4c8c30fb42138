// Feed and hub health from GET /tape/v1/status, polled every second:
// upstream state and last error, messages per second in (ingest events)
// and out (stream messages), subscribers with their lag, queue and drops,
// slow-client disconnects and protocol errors, the journal's durability
// (events written but not yet synced to disk) and, when Tape reports it,
// how far the history store is behind, the node's cluster role and lag, and
// what gap fill did. Nothing silent.
//
// Status fields are read defensively: older and newer Tapes report more or
// less, and a figure that is absent is hidden, not shown as zero.

import { fmtRate, fmtInt, fmtCompact, fmtTimeNY, fmtBytes, setText } from "./util.js";

const MAX_SUBS = 50; // rows shown; the busiest first

function fmtDuration(s) {
  if (!Number.isFinite(s)) return "—";
  if (s < 60) return Math.floor(s) + " s";
  if (s < 3600) return Math.floor(s / 60) + " min";
  if (s < 86400) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}

const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * How far history is behind the feed, from status.history if Tape reports
 * it: {text, title, events} or null. Takes the first of lag_events,
 * lag_seq, lag, lag_ms, lag_seconds; else last_seq minus an applied or
 * indexed sequence number.
 */
export function historyLag(st) {
  const h = st && st.history;
  if (!h || typeof h !== "object") return null;
  const ev = num(h.lag_events) ?? num(h.lag_seq) ?? num(h.lag);
  if (ev !== null) return { text: fmtInt(ev), title: `history is ${fmtInt(ev)} events behind the journal`, events: ev };
  const ms = num(h.lag_ms) ?? (num(h.lag_seconds) !== null ? h.lag_seconds * 1000 : null);
  if (ms !== null) {
    const text = ms < 1000 ? Math.round(ms) + " ms" : (ms / 1000).toFixed(1) + " s";
    return { text, title: `history is ${text} behind the feed`, events: null };
  }
  const applied = num(h.applied_seq) ?? num(h.indexed_seq) ?? num(h.last_seq);
  const last = num(st.ingest?.released_seq) ?? num(st.ingest?.last_seq);
  if (applied !== null && last !== null) {
    const n = Math.max(0, last - applied);
    return { text: fmtInt(n), title: `history has events to ${fmtInt(applied)}; ${fmtInt(n)} released events to go`, events: n };
  }
  return null;
}

/**
 * The journal's durability, from status.journal: {text, title, state} or
 * null. Written events survive a crash of Tape; synced ones a power cut.
 */
export function journalDurability(st) {
  const j = st && st.journal;
  if (!j || typeof j !== "object") return null;
  const written = num(j.written_seq), synced = num(j.synced_seq);
  if (j.error) return { text: "error", title: "journal error: " + j.error, state: "failed" };
  if (written === null || synced === null) return null;
  const behind = Math.max(0, written - synced);
  const parts = [`written to ${fmtInt(written)} (survives a crash of Tape)`, `synced to ${fmtInt(synced)} (survives a power cut)`];
  if (num(j.first_seq) !== null && num(j.last_seq) !== null) parts.unshift(`events ${fmtInt(j.first_seq)}–${fmtInt(j.last_seq)}`);
  if (num(j.bytes) !== null) parts.push(`${fmtBytes(j.bytes)}${num(j.segments) !== null ? ` in ${fmtInt(j.segments)} segment${j.segments === 1 ? "" : "s"}` : ""}`);
  if (j.fsync) parts.push("fsync " + j.fsync);
  return {
    text: behind ? fmtCompact(behind) : "0",
    title: "journal: " + parts.join("; "),
    state: behind ? "" : "ok",
  };
}

/**
 * This node's part in a NATS JetStream cluster, from status.cluster:
 * {text, title, state} or null for a single Tape. An origin or leader shows
 * how far JetStream's acknowledgements are behind its journal, an edge how
 * many records the stream holds that it has not applied yet.
 */
export function clusterRole(st) {
  const c = st && st.cluster;
  if (!c || typeof c !== "object" || !c.role || c.role === "single") return null;
  const parts = [`role ${c.role}`];
  if (c.node) parts.push(`node ${c.node}`);
  let lag = null;
  if (num(c.published_acked) !== null || num(c.publish_lag) !== null) {
    lag = num(c.publish_lag) ?? 0;
    parts.push(`JetStream acknowledged to ${fmtInt(c.published_acked ?? 0)}, ${fmtInt(lag)} journaled records not yet`);
  }
  if (num(c.applied) !== null || num(c.edge_lag) !== null) {
    lag = num(c.edge_lag) ?? 0;
    parts.push(`applied from the stream to ${fmtInt(c.applied ?? 0)}, ${fmtInt(lag)} records behind it`);
  }
  if (num(c.epoch) !== null) parts.push(`lease epoch ${fmtInt(c.epoch)}`);
  if (num(c.takeovers) !== null) parts.push(`takeovers ${fmtInt(c.takeovers)}`);
  if (c.failed) {
    parts.push("failed: " + c.failed);
    return { text: c.role + " ✗", title: parts.join("; "), state: "failed" };
  }
  return {
    text: lag ? `${c.role} · ${fmtCompact(lag)}` : c.role,
    title: parts.join("; "),
    state: lag > 1000 ? "warn" : "",
  };
}

/**
 * What gap fill did, from status.gap_fill: {text, title, state} or null
 * when the feed has none (the simulator, an edge).
 */
export function gapFill(st) {
  const g = st && st.gap_fill;
  if (!g || typeof g !== "object") return null;
  const gaps = num(g.gaps) ?? 0, filled = num(g.filled_events) ?? 0, failures = num(g.failures) ?? 0;
  const parts = [`${fmtInt(gaps)} upstream gaps, ${fmtInt(filled)} events filled from REST`];
  if (g.last_from && g.last_to) parts.push(`last gap ${g.last_from} – ${g.last_to}`);
  if (failures) parts.push(`${fmtInt(failures)} fills failed${g.last_error ? ": " + g.last_error : ""}`);
  return {
    text: `${fmtInt(gaps)} / ${fmtCompact(filled)}`,
    title: parts.join("; "),
    state: failures ? "warn" : "",
  };
}

export class HealthView {
  constructor(doc) {
    const $ = (id) => doc.getElementById(id);
    this.el = {
      feed: $("h-feed"), inRate: $("h-in"), outRate: $("h-out"), subs: $("h-subs"), kicks: $("h-kicks"),
      conflated: $("h-conflated"), errors: $("h-errors"), page: $("h-page"), lastErr: $("h-lasterr"),
      subsBody: $("subs-body"), age: $("health-age"), brief: $("feed-brief"),
      journal: $("h-journal"), history: $("h-history"), cluster: $("h-cluster"), gaps: $("h-gaps"),
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
    e.page.title = `messages this page received per second; reconnects since it opened: ${page.reconnects}; ` +
      `quotes it skipped for a newer one before drawing: ${fmtInt(page.merged)}`;
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
    const jd = journalDurability(st);
    e.journal.parentElement.hidden = !jd;
    if (jd) {
      setText(e.journal, jd.text);
      e.journal.title = jd.title;
      e.journal.dataset.state = jd.state;
    }
    const hl = historyLag(st);
    e.history.parentElement.hidden = !hl;
    if (hl) {
      setText(e.history, hl.text);
      e.history.title = hl.title;
    }
    for (const [el, v] of [[e.cluster, clusterRole(st)], [e.gaps, gapFill(st)]]) {
      if (!el) continue;
      el.parentElement.hidden = !v;
      if (v) {
        setText(el, v.text);
        el.title = v.title;
        el.dataset.state = v.state;
      }
    }
    this.renderSubs(st.subscribers || []);
  }

  renderSubs(subs) {
    subs = subs.slice().sort((a, b) => b.lag_ms - a.lag_ms || b.dropped - a.dropped || a.id - b.id).slice(0, MAX_SUBS);
    const body = this.el.subsBody;
    while (this.rows.length < subs.length) {
      const tr = document.createElement("tr");
      tr.innerHTML = '<td class="client"><span class="c-id"></span> <span class="c-addr"></span> <span class="c-path"></span></td>' +
        '<td class="num"></td><td class="num"></td><td class="num"></td><td class="num"></td><td class="num"></td>';
      body.appendChild(tr);
      this.rows.push(tr);
    }
    while (this.rows.length > subs.length) this.rows.pop().remove();
    subs.forEach((s, i) => {
      const [client, syms, lag, queued, delivered, dropped] = this.rows[i].children;
      // The label is "address path codec key KEY****" (the key once the
      // client authenticated): the address on the first line,
      // the rest under it, so nothing is cut on a narrow screen.
      const label = String(s.client || ""), cut = label.indexOf(" ");
      setText(client.children[0], `#${s.id}`);
      setText(client.children[1], cut < 0 ? label : label.slice(0, cut));
      setText(client.children[2], cut < 0 ? "" : label.slice(cut + 1));
      client.title = `subscriber #${s.id}: ${label}`;
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
