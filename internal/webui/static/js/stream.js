// A browser client of Tape's stream: Alpaca's market-data protocol in its
// JSON form (a browser cannot set the Content-Type header that selects
// msgpack). It keeps one connection, authenticates, keeps the server's
// subscription equal to the wanted one, and reconnects with exponential
// backoff and jitter. Everything that happens is reported through onState
// and onEvent, so the page can show it: nothing silent.

export const CHANNELS = ["trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses"];

const BACKOFF_MIN = 500, BACKOFF_MAX = 15000, HANDSHAKE_TIMEOUT = 10000;

// Error codes after which trying again cannot help until something changes.
const FATAL = { 402: "auth failed", 409: "insufficient subscription", 411: "insufficient scope" };

export class StreamClient {
  /**
   * @param {object} o
   * @param {string} o.url ws:// or wss:// endpoint, e.g. ws://host/v2/iex
   * @param {() => {key: string, secret: string}} o.credentials
   * @param {(msgs: object[]) => void} o.onData a frame's data messages
   * @param {(state: string, info: object) => void} o.onState
   * @param {(text: string, level: string) => void} o.onEvent
   * @param {(code: number, msg: string) => void} o.onError protocol errors
   * @param {(sub: object) => void} [o.onSubscription] the server's echo
   */
  constructor(o) {
    this.o = o;
    this.ws = null;
    this.state = "idle";
    this.want = Object.fromEntries(CHANNELS.map((c) => [c, new Set()]));
    this.sent = null; // what the server has been asked for on this connection
    this.attempt = 0;
    this.timer = 0;
    this.handshakeTimer = 0;
    this.stopped = true;
    this.reconnects = 0;
    this.messages = 0; // data messages received, for the page's own rate
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  /** Closes the connection and stays closed until start. */
  stop(state = "stopped", info = {}) {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.handshakeTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "bye");
    this.setState(state, info);
  }

  /** Replaces the wanted symbols of every channel; syncs if connected. */
  setSymbols(symbols) {
    for (const c of CHANNELS) this.want[c] = new Set(symbols);
    this.sync();
  }

  setState(state, info = {}) {
    this.state = state;
    this.o.onState(state, info);
  }

  connect() {
    clearTimeout(this.timer);
    const ws = new WebSocket(this.o.url);
    this.ws = ws;
    this.sent = null;
    this.setState("connecting", { attempt: this.attempt });
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = setTimeout(() => {
      if (this.ws === ws && this.state !== "live") {
        this.o.onEvent("no answer to the handshake within 10 s", "warn");
        ws.close(4000, "handshake timeout");
      }
    }, HANDSHAKE_TIMEOUT);
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        this.o.onEvent("unreadable frame from the server", "error");
        return;
      }
      if (!Array.isArray(frame)) return;
      // Control messages come alone; data frames carry no control messages.
      if (frame.length === 1 && !frame[0].S) {
        const m = frame[0];
        if (m.T === "success" || m.T === "error" || m.T === "subscription") {
          this.control(ws, m);
          return;
        }
      }
      this.messages += frame.length;
      this.o.onData(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearTimeout(this.handshakeTimer);
      if (this.stopped) return;
      const why = ev.code === 1006 ? "connection lost" : `closed ${ev.code}${ev.reason ? " " + ev.reason : ""}`;
      this.o.onEvent(why, "warn");
      this.scheduleReconnect(why);
    };
    // onerror is always followed by onclose, which does the work.
    ws.onerror = () => {};
  }

  scheduleReconnect(why) {
    const base = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** Math.min(this.attempt, 10));
    const delay = Math.round(base * (0.7 + 0.6 * Math.random())); // ±30% jitter
    this.attempt++;
    this.reconnects++;
    this.setState("reconnecting", { why, retryAt: Date.now() + delay, attempt: this.attempt });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  control(ws, m) {
    if (m.T === "success" && m.msg === "connected") {
      const { key, secret } = this.o.credentials();
      ws.send(JSON.stringify({ action: "auth", key, secret }));
      this.setState("authenticating");
    } else if (m.T === "success" && m.msg === "authenticated") {
      clearTimeout(this.handshakeTimer);
      this.attempt = 0;
      this.sent = Object.fromEntries(CHANNELS.map((c) => [c, new Set()]));
      this.setState("live");
      this.o.onEvent("connected and authenticated", "info");
      this.sync();
    } else if (m.T === "subscription") {
      this.o.onSubscription?.(m);
    } else if (m.T === "error") {
      this.o.onEvent(`error ${m.code}: ${m.msg}`, "error");
      this.o.onError(m.code, m.msg);
      if (FATAL[m.code]) {
        this.stop(m.code === 402 ? "auth-failed" : "failed", { code: m.code, msg: m.msg });
      } else if (m.code === 406 || m.code === 401 || m.code === 404 || m.code === 407) {
        // Connection limit, not authenticated, auth timeout, too slow:
        // the server closes or will; start over with backoff.
        ws.close(4001, "error " + m.code);
      }
    }
  }

  /** Sends the difference between the wanted and the requested sets. */
  sync() {
    const ws = this.ws;
    if (!ws || this.state !== "live" || !this.sent) return;
    const add = {}, del = {};
    let nAdd = 0, nDel = 0;
    for (const c of CHANNELS) {
      const want = this.want[c], sent = this.sent[c];
      const a = [...want].filter((s) => !sent.has(s));
      const d = [...sent].filter((s) => !want.has(s));
      if (a.length) { add[c] = a; nAdd += a.length; }
      if (d.length) { del[c] = d; nDel += d.length; }
      this.sent[c] = new Set(want);
    }
    if (nDel) ws.send(JSON.stringify({ action: "unsubscribe", ...del }));
    if (nAdd) ws.send(JSON.stringify({ action: "subscribe", ...add }));
  }

  /**
   * Forgets that symbols were requested, so the next sync asks again (after
   * the server refused them, e.g. 405 symbol limit).
   */
  forget(symbols) {
    if (!this.sent) return;
    for (const c of CHANNELS) for (const s of symbols) this.sent[c].delete(s);
  }
}
