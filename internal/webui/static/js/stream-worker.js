// The stream worker: it holds the page's one stream connection
// (StreamClient), reduces what arrives (FeedReducer) and posts it to the
// page one batch at a time. Parsing and reducing happen here, off the
// page's main thread, so layout, the chart or a busy tab never slow down
// reading the socket: Tape sees a client that keeps up.
//
// Page -> worker: {op: "start", url, creds, want, detail}, {op: "want",
// want, detail}, {op: "creds", creds}, {op: "restart"}, {op: "ack"}.
// Worker -> page: {type: "state" | "event" | "error" | "subscription" |
// "batch", ...}. A batch is posted only after the page acknowledged the
// previous one, at most every FLUSH_MS.

import { StreamClient } from "./stream.js";
import { FeedReducer } from "./feed.js";

const FLUSH_MS = 16;

const reducer = new FeedReducer();
let client = null;
let creds = { key: "", secret: "" };
let inflight = false;
let timer = 0;

function flushSoon() {
  if (!inflight && !timer) timer = setTimeout(flush, FLUSH_MS);
}

function flush() {
  timer = 0;
  const b = reducer.take();
  if (!b) return;
  inflight = true;
  postMessage({ type: "batch", b });
}

self.onmessage = (ev) => {
  const m = ev.data;
  switch (m.op) {
    case "start":
      creds = m.creds;
      reducer.setDetail(m.detail);
      if (!client) {
        client = new StreamClient({
          url: m.url,
          credentials: () => creds,
          onData: (msgs) => {
            reducer.add(msgs);
            flushSoon();
          },
          onState: (state, info = {}) => postMessage({ type: "state", state, info }),
          onEvent: (text, level) => postMessage({ type: "event", text, level }),
          onError: (code, msg) => postMessage({ type: "error", code, msg }),
          onSubscription: (sub) => postMessage({ type: "subscription", sub }),
        });
      }
      client.setWanted(m.want);
      client.start();
      break;
    case "want":
      reducer.setDetail(m.detail);
      client?.setWanted(m.want);
      break;
    case "creds":
      creds = m.creds;
      break;
    case "restart":
      if (client) {
        client.stop("connecting");
        client.start();
      }
      break;
    case "ack":
      inflight = false;
      if (reducer.n) flushSoon();
      break;
  }
};
