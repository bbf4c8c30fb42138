// Package webui serves Tape's live dashboard: a watchlist, a candlestick
// chart, time and sales, and the feed and hub health ("nothing silent"
// made visible).
//
// The page is plain HTML, CSS and ES modules under static/, embedded in the
// binary and served as they are: there is no build step for Tape's own
// code. It talks to Tape only through the public APIs (the JSON form of the
// Alpaca stream protocol at /v2/sip, the Alpaca-shaped REST API under /v2/
// — bars, trades, snapshots, clock, calendar, exchange and condition
// names — and /tape/v1/status), so it doubles as a living example of using
// them. The stream is read in a Web Worker (static/js/stream-worker.js)
// that subscribes only to what the page shows and reduces what arrives to
// one batch per frame, so a fast feed never makes Tape disconnect the page
// as a slow client.
//
// The one third-party file, TradingView's lightweight-charts, is not
// committed: scripts/build-web.sh installs it from web/package-lock.json
// and copies it to static/vendor/ before the binary is built. A binary
// built without it still serves a working page; the chart panel says
// "chart library not built" instead of drawing, and the page does not try
// to load the missing file.
//
// Files are held in memory with a strong ETag; every response must be
// revalidated (Cache-Control: no-cache), so a rebuilt binary never serves
// a stale mix of old and new modules. Text files are also kept gzipped and
// served so to clients that accept it.
package webui
