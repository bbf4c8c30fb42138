#!/usr/bin/env bash
# Runs Tape with its dashboard: builds the chart library if needed, then
# `go run ./cmd/tape serve` with any flags given. Open http://127.0.0.1:8080/.
# It says what it is doing: the first run downloads the Go modules and
# compiles Tape, minutes with nothing else to show.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-web.sh
# Every module already here? (GOPROXY=off fails instead of downloading.)
if ! GOPROXY=off go list -deps ./cmd/tape >/dev/null 2>&1; then
  echo "serve: downloading Go modules (first run only, ~85 MB)..." >&2
  go mod download
fi
echo "serve: building and starting tape serve (the first build takes a minute or two)..." >&2
exec go run ./cmd/tape serve "$@"
