#!/usr/bin/env bash
# Websocket fan-out, Tape against nats-server on the same work, side by side:
# saturated fan-out, CPU and latency at 200k deliveries/s, idle memory per
# connection, and never-reading clients. The clients live in a separate
# process (tape-loadgen run), each server is started fresh for each
# scenario, and the table comes out at the end.
#
#   scripts/bench.sh                 Tape (this tree) vs nats-server
#   scripts/bench.sh -b <git-ref>    also Tape at <git-ref> (before/after)
#
# Environment: CLIENTS (1000), IDLE (10000 idle connections), RATE (200
# one-trade events/s = 200k deliveries/s to 1000 clients), DUR (measured
# seconds, 5), QUEUE (client queue for the never-reading scenario, 1 MiB),
# SCENARIOS ("idle rate saturate stall"), OUT (results file).
set -euo pipefail
cd "$(dirname "$0")/.."

base=""
while getopts "b:" o; do
	case $o in
	b) base=$OPTARG ;;
	*) echo "usage: $0 [-b git-ref]" >&2; exit 2 ;;
	esac
done
CLIENTS=${CLIENTS:-1000}
IDLE=${IDLE:-10000}
RATE=${RATE:-200}
DUR=${DUR:-5}
QUEUE=${QUEUE:-1048576}
SCENARIOS=${SCENARIOS:-"idle rate saturate stall"}

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
OUT=${OUT:-$work/results.jsonl}
: >"$OUT"

echo "building tape-loadgen and nats-server (github.com/nats-io/nats-server/v2, go.mod's version)..." >&2
go build -o "$work/tape-loadgen" ./cmd/tape-loadgen
go build -o "$work/nats-server" github.com/nats-io/nats-server/v2
servers="tape nats"
if [ -n "$base" ]; then
	# The bench server uses only wsapi/hub options every version has, so the
	# same source builds against the older packages.
	git worktree add --detach -q "$work/base" "$base"
	cp -r cmd/tape-loadgen "$work/base/cmd/"
	(cd "$work/base" && go build -o "$work/tape-base" ./cmd/tape-loadgen)
	git worktree remove --force "$work/base"
	servers="tape-base tape nats"
fi

# Pin the server and the clients to separate cores when there are enough.
ncpu=$(nproc)
srv_cpus="" cli_cpus=""
if [ "$ncpu" -ge 4 ]; then
	srv_cpus="0-1"
	cli_cpus="2-$((ncpu - 1))"
	echo "server on cores $srv_cpus, clients on cores $cli_cpus" >&2
else
	echo "only $ncpu cores: server and clients SHARE them (figures include the clients' load)" >&2
fi
pin() { # pin CPUS cmd...: exec, so that "pin ... &" leaves $! the command's pid
	local cpus=$1
	shift
	if [ -n "$cpus" ]; then exec taskset -c "$cpus" "$@"; else exec "$@"; fi
}

# start_server NAME QUEUE: sets pid, url, ctl, natsaddr.
start_server() {
	local name=$1 queue=$2 log=$work/$1.log
	case $name in
	tape | tape-base)
		local bin=$work/tape-loadgen
		[ "$name" = tape-base ] && bin=$work/tape-base
		pin "$srv_cpus" "$bin" serve -client-queue "$queue" >"$log" 2>&1 &
		pid=$!
		for _ in $(seq 100); do grep -q '^ws=' "$log" && break; sleep 0.1; done
		url=$(sed -n 's/^ws=\([^ ]*\).*/\1/p' "$log")
		ctl=$(sed -n 's/.*control=\([^ ]*\).*/\1/p' "$log")
		;;
	nats)
		cat >"$work/nats.conf" <<-EOF
			listen: 127.0.0.1:-1
			websocket { listen: "127.0.0.1:-1", no_tls: true, compression: false }
			max_connections: 100000
		EOF
		pin "$srv_cpus" "$work/nats-server" -c "$work/nats.conf" >"$log" 2>&1 &
		pid=$!
		for _ in $(seq 100); do grep -q 'Server is ready' "$log" && break; sleep 0.1; done
		url="ws://$(sed -n 's/.*Listening for websocket clients on ws:\/\/\([^ ]*\).*/\1/p' "$log")"
		natsaddr=$(sed -n 's/.*Listening for client connections on \([^ ]*\).*/\1/p' "$log")
		;;
	esac
}

stop_server() {
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

for scenario in $SCENARIOS; do
	for s in $servers; do
		queue=16777216 n=$CLIENTS extra=()
		case $scenario in
		idle) n=$IDLE ;;
		rate) extra=(-rate "$RATE") ;;
		stall) queue=$QUEUE ;;
		esac
		start_server "$s" "$queue"
		proto=tape
		[ "$s" = nats ] && proto=nats
		echo "== $scenario on $s ($n clients)" >&2
		(pin "$cli_cpus" "$work/tape-loadgen" run -proto "$proto" -label "$s" -url "$url" -control "${ctl:-}" \
			-nats "${natsaddr:-}" -pid "$pid" -clients "$n" -scenario "$scenario" -duration "${DUR}s" \
			-out "$OUT" "${extra[@]}" >&2) || echo "   ($scenario on $s failed)" >&2
		stop_server
	done
done

echo
echo "cores: $ncpu ($([ -n "$srv_cpus" ] && echo "server pinned to $srv_cpus, clients to $cli_cpus" || echo "server and clients share them"))"
"$work/tape-loadgen" table "$OUT"
