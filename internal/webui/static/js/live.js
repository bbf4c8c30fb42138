// The page's side of the stream worker (stream-worker.js): it starts the
// worker, tells it what to subscribe to and which symbol is selected, and
// hands each batch to the page, acknowledging it once applied so the
// worker sends the next. The page does per-batch work, never per-message.

export class LiveFeed {
  /**
   * @param {object} o
   * @param {string} o.url ws:// or wss:// stream endpoint
   * @param {(b: object) => void} o.onBatch a FeedReducer batch
   * @param {(state: string, info: object) => void} o.onState
   * @param {(text: string, level: string) => void} o.onEvent
   * @param {(code: number, msg: string) => void} o.onError protocol errors
   * @param {(sub: object) => void} o.onSubscription the server's echo
   * @param {(msg: string) => void} o.onFail the worker itself failed
   */
  constructor(o) {
    this.o = o;
    this.state = "idle";
    this.messages = 0; // data messages the worker received
    this.merged = 0; // quotes it dropped for a newer one before the page took them
    this.reconnects = 0;
    this.worker = null;
  }

  /** Starts the worker and the connection. */
  start(creds, want, detail) {
    const w = new Worker(new URL("./stream-worker.js", import.meta.url), { type: "module", name: "tape-stream" });
    this.worker = w;
    w.onmessage = (ev) => this.receive(ev.data);
    w.onerror = (ev) => {
      ev.preventDefault();
      this.o.onFail(ev.message || "the stream worker failed to start");
    };
    w.postMessage({ op: "start", url: this.o.url, creds, want, detail });
  }

  receive(m) {
    switch (m.type) {
      case "batch":
        this.messages = m.b.total;
        this.merged = m.b.merged;
        try {
          this.o.onBatch(m.b);
        } finally {
          this.worker.postMessage({ op: "ack" });
        }
        break;
      case "state":
        this.state = m.state;
        if (m.state === "reconnecting") this.reconnects++;
        this.o.onState(m.state, m.info);
        break;
      case "event":
        this.o.onEvent(m.text, m.level);
        break;
      case "error":
        this.o.onError(m.code, m.msg);
        break;
      case "subscription":
        this.o.onSubscription(m.sub);
        break;
    }
  }

  /** The wanted subscription (subs.js) and the symbol whose every trade the page wants. */
  setWanted(want, detail) {
    this.worker?.postMessage({ op: "want", want, detail });
  }

  /** New credentials: reconnects with them. */
  restart(creds) {
    if (!this.worker) return;
    this.worker.postMessage({ op: "creds", creds });
    this.worker.postMessage({ op: "restart" });
  }
}
