#!/usr/bin/env bash
# Builds the dashboard's one third-party file: installs web/'s npm packages
# exactly as web/package-lock.json pins them (npm ci, only when node_modules
# is missing or older than the lockfile) and copies lightweight-charts into
# internal/webui/static/vendor/, where go:embed picks it up. Idempotent and
# quiet; nothing it produces is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

lib=web/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js
dest=internal/webui/static/vendor/lightweight-charts.standalone.production.js

if ! command -v npm >/dev/null 2>&1; then
  echo "build-web: npm not found; install Node.js 20+ (the dashboard works without its chart until then)" >&2
  exit 1
fi

stamp=web/node_modules/.package-lock.json # npm writes it on every install
if [ ! -f "$stamp" ] || [ ! -f "$lib" ] || [ web/package-lock.json -nt "$stamp" ]; then
  echo "build-web: npm ci in web/" >&2
  (cd web && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

if [ ! -f "$dest" ] || ! cmp -s "$lib" "$dest"; then
  mkdir -p "$(dirname "$dest")"
  cp "$lib" "$dest.tmp"
  mv "$dest.tmp" "$dest"
  # go:embed takes it at build time: a binary built before has no chart.
  echo "build-web: chart library ready; rebuild tape to embed it (./scripts/serve.sh and go run do)" >&2
fi
