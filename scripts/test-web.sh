#!/usr/bin/env bash
# Tests of the dashboard: builds the chart library (scripts/build-web.sh),
# runs the JS unit tests (web/test/), installs Debian's chromium if it is missing, builds Tape, runs it with a
# fast simulator (a simulated minute per second, so bars close every second;
# 50 symbols at several thousand messages per second) and drives the page
# in headless Chromium with playwright-core (web/e2e/dashboard.test.mjs):
# about a minute, 25 s of it watching 50 symbols, during which Tape must not
# disconnect the page (407) nor drop anything for it.
# Before the browser, real clients from npm use the same Tape: the official
# Alpaca JS SDK v4's stream (web/sdk/alpaca-js.test.mjs) and REST clients
# (web/sdk/alpaca-rest.test.mjs), and ccxt's alpaca exchange over REST and
# ccxt.pro's over the websocket (web/sdk/ccxt.test.mjs).
# Takes a screenshot (docs/dashboard.png only with TAPE_SCREENSHOT=docs/dashboard.png). Always stops Tape and removes its files.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/build-web.sh

echo "test-web: unit tests (node --test web/test/)" >&2
node --test --test-reporter=dot web/test/

chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "test-web: installing Debian's chromium" >&2
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

tmp=$(mktemp -d)
tape_pid=""
cleanup() {
  if [ -n "$tape_pid" ] && kill -0 "$tape_pid" 2>/dev/null; then
    kill "$tape_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$tape_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$tape_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

go build -o "$tmp/tape" ./cmd/tape

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')

# The simulator's rate is per simulated second and follows the intraday
# curve, so the clock starts at a fixed mid-morning and the rate is set for
# about 5-8k messages per real second at --speed 60.
symbols=AAPL,MSFT,NVDA,AMZN,GOOGL,META,TSLA,AMD,NFLX,INTC,SPY,QQQ,IWM,JPM,BAC,XOM,KO,DIS,BA,PLTR,FAKEPACA
symbols=$symbols,ORCL,CRM,ADBE,CSCO,PEP,WMT,COST,HD,MCD,NKE,SBUX,PFE,MRK,ABBV,LLY,UNH,CVX,GS,MS,V,MA,PYPL,UBER,ABNB,SHOP,SQ,COIN,RIVN,F
"$tmp/tape" serve --listen "127.0.0.1:$port" --data "$tmp/data" --speed 60 --rate 25 --seed 1 \
  --sim-start 2026-11-24T14:50:00Z --symbols "$symbols" --log-level warn >"$tmp/tape.log" 2>&1 &
tape_pid=$!

base="http://127.0.0.1:$port/"
# A fresh data directory gets its synthetic past (a year of daily bars, weeks
# of minute bars) before Tape serves; /healthz answers 503 meanwhile, which
# takes several seconds on a slow machine. Wait up to 90 s, while Tape lives.
deadline=$((SECONDS + 90))
until curl -fsS --max-time 2 "${base}healthz" >/dev/null 2>&1; do
  if ! kill -0 "$tape_pid" 2>/dev/null; then
    cat "$tmp/tape.log" >&2
    echo "test-web: tape exited before it was healthy" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    tail -n 30 "$tmp/tape.log" >&2
    echo "test-web: tape not healthy after 90 s: $(curl -sS --max-time 2 "${base}healthz" 2>&1)" >&2
    exit 1
  fi
  sleep 0.2
done

status=0
# The official Alpaca JS SDK v4 as a client of the same Tape.
node web/sdk/alpaca-js.test.mjs "ws://127.0.0.1:$port/v2/iex" || status=$?
if [ "$status" = 0 ]; then
  # Its REST clients, and ccxt's alpaca exchange (REST and ccxt.pro).
  echo "test-web: npm clients (node --test web/sdk/alpaca-rest.test.mjs web/sdk/ccxt.test.mjs)" >&2
  TAPE_URL="http://127.0.0.1:$port" node --test --test-reporter=spec --test-timeout=60000 \
    web/sdk/alpaca-rest.test.mjs web/sdk/ccxt.test.mjs || status=$?
fi
if [ "$status" = 0 ]; then
  CHROMIUM="$chromium" node web/e2e/dashboard.test.mjs "$base" "$tape_pid" || status=$?
fi
if [ "$status" != 0 ]; then
  echo "--- tape log (tail)" >&2
  tail -n 30 "$tmp/tape.log" >&2 || true
fi
exit "$status"
