#!/usr/bin/env bash
# Builds Tape's release: the dashboard's chart library first (so every
# binary embeds the complete dashboard, which `go install` cannot give),
# then a static binary (CGO_ENABLED=0, -trimpath) per target with its
# version, commit and build date linked in (`tape version` prints them),
# each packed as tape_VERSION_OS_ARCH.tar.gz with the README, and the
# SHA256SUMS of the archives. docs/releases.md says how to use and check them.
#
#   ./scripts/release.sh                              # all targets into dist/
#   ./scripts/release.sh --targets linux/amd64 --out /tmp/rel
#   ./scripts/release.sh --version v0.4.0             # instead of git describe
#
# The version defaults to `git describe --tags --always --dirty`; the build
# date to now, or SOURCE_DATE_EPOCH if set (for reproducible builds: then
# the same commit and toolchain build the same binaries, and with GNU tar
# the same archives).
set -euo pipefail
cd "$(dirname "$0")/.."

targets="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64"
out=dist
version="${VERSION:-}"

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}
while [ $# -gt 0 ]; do
  case "$1" in
    --targets) targets="${2//,/ }"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "release: unknown argument $1" >&2; usage ;;
  esac
done

if [ -z "$version" ]; then
  version=$(git describe --tags --always --dirty 2>/dev/null) || {
    echo "release: no git history to take the version from: pass --version v0.4.0" >&2
    exit 1
  }
fi
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
  date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
else
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
fi

# The dashboard's chart library, embedded by go:embed: a release without
# it would show the page without its chart.
./scripts/build-web.sh
chart=internal/webui/static/vendor/lightweight-charts.standalone.production.js
if [ ! -s "$chart" ]; then
  echo "release: $chart is missing after scripts/build-web.sh" >&2
  exit 1
fi

# Archives that depend only on their files (GNU tar; BSD tar lacks the
# options, and its archives then carry the build's own times).
tarflags=()
if tar --version 2>/dev/null | grep -q GNU; then
  tarflags=(--sort=name --owner=0 --group=0 --numeric-owner --mtime="$date")
fi

if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$@"; }
else
  sha256() { shasum -a 256 "$@"; } # macOS
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

ldflags="-s -w -X main.version=$version -X main.commit=$commit -X main.date=$date"
archives=()
for t in $targets; do
  goos=${t%/*} goarch=${t#*/}
  name="tape_${version}_${goos}_${goarch}"
  echo "release: $name (go build, CGO_ENABLED=0)" >&2
  mkdir -p "$stage/$name"
  CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath -ldflags "$ldflags" -o "$stage/$name/tape" ./cmd/tape
  cp README.md "$stage/$name/"
  tar "${tarflags[@]}" -C "$stage" -cf - "$name" | gzip -n -9 >"$out/$name.tar.gz"
  archives+=("$name.tar.gz")
done

(cd "$out" && sha256 "${archives[@]}" >SHA256SUMS)
echo "release: tape $version ($commit, $date) in $out:" >&2
(cd "$out" && ls -l "${archives[@]}" SHA256SUMS) >&2
