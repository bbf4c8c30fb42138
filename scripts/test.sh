#!/usr/bin/env bash
# The whole test suite, runnable on a fresh machine: it fetches what it needs
# (Go modules now; npm packages and Debian's chromium once the browser tests
# exist) and then runs vet, a format check and every test with the race
# detector. CI runs exactly this (see .ci/run).
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

echo "== go test (race detector)"
# Fuzz targets run their seed corpus as ordinary tests here.
go test -race -count=1 -timeout 20m ./...

echo "== all tests passed"
