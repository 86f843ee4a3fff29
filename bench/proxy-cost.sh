#!/usr/bin/env bash
# bench/proxy-cost.sh: what a proxy's own user-space time costs the whole machine.
#
# On a machine where wrk, the backends and the proxy share the CPUs, req/s is the machine's
# CPU time divided by everyone's CPU time per request, and the proxy's share is not the whole
# story: a proxy that runs longer between system calls is preempted more often, and the
# backends and wrk are woken more often, so their time per request grows too. This script
# measures that: the floor proxy of bench/router.sh (`bench_router floor`) as it is and with
# SPIN_NS of busy-waiting per request (the paas router's extra user-space time over the floor's
# by default), and the paas router, back to back, ROUNDS times. For each it prints req/s at 64
# connections and the CPU time per request of the proxy (user and system) and of the three
# backends, and the context switches of the whole machine per request (medians). Everything
# started here is stopped on exit. Loopback only.
#
# Environment: ROUNDS (3), DURATION seconds per run (8), SPIN_NS (1400), THREADS (nproc),
# CARGO_TARGET_DIR (/var/tmp/paas-target).
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
SPIN_NS=${SPIN_NS:-1400}
THREADS=${THREADS:-$(nproc)}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/paas-target}
HOST=web.bench.test
BACKENDS=(18281 18282 18283)
declare -A PORT=([floor]=18290 [floor+spin]=18291 [paas]=18292)
TARGETS=(floor floor+spin paas)

WORK=$(mktemp -d /tmp/paas-proxy-cost.XXXXXX)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

if ! command -v wrk >/dev/null; then
	log "installing wrk"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

# ticks PID...: user and system clock ticks of the processes (all their threads).
ticks() {
	local p
	for p in "$@"; do cat "/proc/$p/task/"*/stat; done |
		awk '{ sub(/^.*\) /, ""); u += $12; s += $13 } END { print u + 0, s + 0 }'
}

switches() { awk '/^ctxt/ { print $2 }' /proc/stat; }

# measure TARGET: prints "req/s proxy_user_us proxy_sys_us backends_us switches_per_request"
measure() {
	local target=$1 proxy before_p before_b before_s after_p after_b after_s
	proxy=${PID[$target]}
	before_p=$(ticks "$proxy")
	before_b=$(ticks "${BACKEND_PIDS[@]}")
	before_s=$(switches)
	wrk -t2 -c64 -d"${DURATION}s" -H "Host: $HOST" "http://127.0.0.1:${PORT[$target]}/" >"$WORK/wrk.out"
	after_s=$(switches)
	after_b=$(ticks "${BACKEND_PIDS[@]}")
	after_p=$(ticks "$proxy")
	awk -v p0="$before_p" -v p1="$after_p" -v b0="$before_b" -v b1="$after_b" \
		-v sw=$((after_s - before_s)) -v hz="$(getconf CLK_TCK)" '
		$1 == "Requests/sec:" { rps = $2 }
		$2 == "requests" && $3 == "in" { n = $1 }
		/Non-2xx/ { bad = $NF }
		END {
			if (bad > 0) { print "non-2xx answers: " bad > "/dev/stderr"; exit 1 }
			split(p0, a, " "); split(p1, b, " "); split(b0, c, " "); split(b1, d, " ")
			us = 1e6 / hz / n
			printf "%.0f %.2f %.2f %.2f %.2f\n", rps, (b[1] - a[1]) * us, (b[2] - a[2]) * us,
				(d[1] + d[2] - c[1] - c[2]) * us, sw / n
		}' "$WORK/wrk.out"
}

main() {
	log "building the bench binary (release)"
	cargo build --release -q -p paas-router --example bench_router
	local bin=$CARGO_TARGET_DIR/release/examples/bench_router port
	local addrs=() table="$WORK/routes.txt"
	BACKEND_PIDS=()
	for port in "${BACKENDS[@]}"; do
		start "backend-$port" "$bin" backend "127.0.0.1:$port"
		BACKEND_PIDS+=("${PID[backend-$port]}")
		addrs+=("127.0.0.1:$port")
	done
	echo "web ${addrs[*]}" >"$table"
	start floor "$bin" floor "127.0.0.1:${PORT[floor]}" --threads "$THREADS" "${addrs[@]}"
	start floor+spin "$bin" floor "127.0.0.1:${PORT[floor+spin]}" --threads "$THREADS" \
		--spin-ns "$SPIN_NS" "${addrs[@]}"
	start paas "$bin" router "127.0.0.1:${PORT[paas]}" --table "$table" --threads "$THREADS" \
		--mode per-thread
	local target round
	for target in "${TARGETS[@]}"; do
		wait_port "${PORT[$target]}"
		DURATION=2 measure "$target" >/dev/null
	done
	for round in $(seq "$ROUNDS"); do
		for target in "${TARGETS[@]}"; do
			log "round $round/$ROUNDS: $target"
			measure "$target" >>"$WORK/$target.runs"
		done
	done

	printf '%s: %s, %s CPUs; %s proxy threads; %s rounds of %ss, medians; floor+spin waits %s ns per request\n\n' \
		"$(date +%F)" "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$(nproc)" \
		"$THREADS" "$ROUNDS" "$DURATION" "$SPIN_NS"
	printf '| proxy      |  req/s (64c) | proxy user us/req | proxy sys us/req | backends us/req | switches/req |\n'
	printf '|------------|-------------:|------------------:|-----------------:|----------------:|-------------:|\n'
	local col values=()
	for target in "${TARGETS[@]}"; do
		values=()
		for col in 1 2 3 4 5; do values+=("$(awk -v c=$col '{ print $c }' "$WORK/$target.runs" | median)"); done
		printf '| %-10s | %12.0f | %17.2f | %16.2f | %15.2f | %12.2f |\n' "$target" "${values[@]}"
	done
}

main "$@"
