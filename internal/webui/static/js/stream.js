// A browser client of Tape's stream: Alpaca's market-data protocol in its
// JSON form (a browser cannot set the Content-Type header that selects
// msgpack). It keeps one connection, authenticates, keeps the server's
// subscription equal to the wanted one (subs.js), and reconnects with
// exponential backoff and jitter. Everything that happens is reported
// through onState and onEvent, so the page can show it: nothing silent.
//
// It runs in the stream worker (stream-worker.js), away from the page's
// rendering, so the socket is read as fast as Tape writes whatever the
// page is doing; it needs only WebSocket and timers.

import { CHANNELS, subscriptionDiff } from "./subs.js";

const BACKOFF_MIN = 500, BACKOFF_MAX = 15000, HANDSHAKE_TIMEOUT = 10000;

// Error codes after which trying again cannot help until something changes.
const FATAL = { 402: "auth failed", 409: "insufficient subscription", 411: "insufficient scope" };

export class StreamClient {
  /**
   * @param {object} o
   * @param {string} o.url ws:// or wss:// endpoint, e.g. ws://host/v2/sip
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
    this.want = Object.fromEntries(CHANNELS.map((c) => [c, []]));
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

  /** Replaces the wanted subscription ({channel: [symbols]}); syncs if connected. */
  setWanted(want) {
    this.want = Object.fromEntries(CHANNELS.map((c) => [c, [...(want[c] || [])]]));
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
      this.sent = Object.fromEntries(CHANNELS.map((c) => [c, []]));
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

  /** Sends the difference between the wanted and the requested subscriptions. */
  sync() {
    const ws = this.ws;
    if (!ws || this.state !== "live" || !this.sent) return;
    const { unsubscribe, subscribe } = subscriptionDiff(this.sent, this.want);
    this.sent = Object.fromEntries(CHANNELS.map((c) => [c, this.want[c].slice()]));
    if (unsubscribe) ws.send(JSON.stringify(unsubscribe));
    if (subscribe) ws.send(JSON.stringify(subscribe));
  }
}
