#!/usr/bin/env bash
# The whole test suite, runnable on a fresh machine: it fetches what it needs
# (Go modules, the npm packages in web/ and Debian's chromium) and then runs
# vet, a format check, every test with the race detector and the dashboard's
# browser tests. CI runs exactly this (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go modules"
go mod download

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== npm packages (web/: the chart library, playwright-core, the Alpaca JS SDK)"
./scripts/build-web.sh
# With them installed, the Go tests also drive the official Alpaca JS SDK.
export TAPE_JS_SDK_TESTS=1

echo "== go test (race detector)"
# Fuzz targets run their seed corpus as ordinary tests here.
go test -race -count=1 -timeout 20m ./...

echo "== browser tests"
# The dashboard in headless Chromium; installs the npm packages and Debian's
# chromium if they are missing.
./scripts/test-web.sh

echo "== all tests passed"
