#!/usr/bin/env bash
# Runs Tape with its dashboard: builds the chart library if needed, then
# `go run ./cmd/tape serve` with any flags given. Open http://127.0.0.1:8080/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-web.sh
exec go run ./cmd/tape serve "$@"
