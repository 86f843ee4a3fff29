#!/usr/bin/env bash
# bench/router.sh: the paas router against nginx and HAProxy on loopback.
#
# Three identical fast backends (router/examples/bench_router.rs, one thread each), then
# nginx and HAProxy (Debian packages, installed when missing) configured as equivalent
# reverse proxies (host routing, round robin over the three backends, upstream keep-alive,
# X-Forwarded-* and X-Request-Id headers, no access log, as many workers/threads as the paas
# router), and the paas router with the same app plus 1,000 other apps in its table. wrk runs
# against each back to back, ROUNDS times; the table shows medians. Everything started here
# is stopped on exit. Loopback only.
#
# "floor" is a yardstick, not a proxy: the least a keep-alive proxy on tokio does per request
# (bench_router floor: no routing, no header rewriting, no timeouts; round robin per request
# over the backends, as the proxies are configured).
#
# "paas" runs the router as `serve_threads` does (a single-threaded runtime and SO_REUSEPORT
# listener per thread, like nginx's workers); "paas-shared" runs `serve` in one multi-threaded
# runtime (how paasd embeds it by default).
#
# Then a soak: SOAK seconds of alternating small (64 connections) and 1 MiB (16 connections)
# load on the paas router, its memory sampled after each 30 s slice.
#
# Environment: ROUNDS (3), DURATION seconds per run (8), THREADS (nproc), SOAK seconds (300;
# 0 skips it), CARGO_TARGET_DIR (/var/tmp/paas-target).
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
THREADS=${THREADS:-$(nproc)}
SOAK=${SOAK:-300}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/paas-target}
HOST=web.bench.test
BACKENDS=(18081 18082 18083)
declare -A PORT=([direct]=18081 [nginx]=18090 [haproxy]=18091 [paas]=18092 [paas-shared]=18093 [floor]=18095)
TARGETS=(direct nginx haproxy paas paas-shared floor)

WORK=$(mktemp -d /tmp/paas-bench.XXXXXX)
PIDS=()
cleanup() {
	local rc=$? pid f
	if [ "$rc" -ne 0 ]; then
		for f in "$WORK"/*.log; do
			[ -s "$f" ] && { log "--- $f"; tail -n 20 "$f" >&2; }
		done
	fi
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

ensure_tools() {
	local missing=()
	command -v wrk >/dev/null || missing+=(wrk)
	command -v nginx >/dev/null || missing+=(nginx-light)
	command -v haproxy >/dev/null || missing+=(haproxy)
	if [ "${#missing[@]}" -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

# cpu_ticks PID: user + system clock ticks of the process, its threads and its children.
cpu_ticks() {
	local pids p
	pids="$1 $(pgrep -P "$1" | tr '\n' ' ')"
	# shellcheck disable=SC2086 # one pid per word
	for p in $pids; do cat "/proc/$p/task/"*/stat 2>/dev/null; done |
		awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}

write_configs() {
	local upstreams="" servers="" i=1 port
	for port in "${BACKENDS[@]}"; do
		upstreams+="        server 127.0.0.1:$port;"$'\n'
		servers+="    server s$i 127.0.0.1:$port"$'\n'
		i=$((i + 1))
	done
	cat >"$WORK/nginx.conf" <<EOF
worker_processes $THREADS;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx-body;
    proxy_temp_path $WORK/nginx-proxy;
    fastcgi_temp_path $WORK/nginx-fastcgi;
    uwsgi_temp_path $WORK/nginx-uwsgi;
    scgi_temp_path $WORK/nginx-scgi;
    upstream web {
$upstreams        keepalive 128;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:${PORT[nginx]} default_server;
        return 404;
    }
    server {
        listen 127.0.0.1:${PORT[nginx]};
        server_name $HOST;
        location / {
            proxy_pass http://web;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Port \$server_port;
            proxy_set_header X-Request-Id \$request_id;
            proxy_max_temp_file_size 0;
        }
    }
}
EOF
	cat >"$WORK/haproxy.cfg" <<EOF
global
    nbthread $THREADS
    maxconn 8000
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
    http-reuse always
frontend fe
    bind 127.0.0.1:${PORT[haproxy]}
    unique-id-format %{+X}o%ci%cp%fi%fp%Ts%rt
    option forwardfor
    http-request set-header X-Forwarded-Proto http
    http-request set-header X-Forwarded-Port %[dst_port]
    http-request set-header X-Request-Id %[unique-id]
    acl web hdr(host),field(1,:) -i $HOST
    http-request return status 404 unless web
    default_backend web
backend web
    balance roundrobin
$servers
EOF
	# The same app, plus 1,000 others that are never asked for.
	{
		printf 'web'
		for port in "${BACKENDS[@]}"; do printf ' 127.0.0.1:%s' "$port"; done
		printf '\n'
		for i in $(seq 1000); do
			printf 'app%04d 127.0.0.1:%d 127.0.0.1:%d\n' "$i" $((20000 + i)) $((21000 + i))
		done
	} >"$WORK/routes.txt"
}

# run_wrk TARGET CONNECTIONS PATH: prints "req/s p50_ms p99_ms MB/s cpu_us_per_request"
run_wrk() {
	local target=$1 conns=$2 path=$3 threads=2 before after
	[ "$conns" -lt 2 ] && threads=1
	before=$(cpu_ticks "${PID[$target]}")
	wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency -H "Host: $HOST" \
		"http://127.0.0.1:${PORT[$target]}$path" >"$WORK/wrk.out" 2>&1
	after=$(cpu_ticks "${PID[$target]}")
	awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
		function ms(v) {
			if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
			if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
			if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
			return v
		}
		function mb(v) {
			if (v ~ /GB$/) return substr(v, 1, length(v) - 2) * 1024
			if (v ~ /MB$/) return substr(v, 1, length(v) - 2) + 0
			if (v ~ /KB$/) return substr(v, 1, length(v) - 2) / 1024
			if (v ~ /B$/) return substr(v, 1, length(v) - 1) / 1048576
			return v
		}
		$1 == "50%" { p50 = ms($2) }
		$1 == "99%" { p99 = ms($2) }
		$1 == "Requests/sec:" { rps = $2 }
		$1 == "Transfer/sec:" { tps = mb($2) }
		$2 == "requests" && $3 == "in" { n = $1 }
		/Non-2xx/ { bad = $NF }
		END {
			if (bad > 0) { print "non-2xx answers: " bad > "/dev/stderr"; exit 1 }
			printf "%.0f %.3f %.3f %.1f %.2f\n", rps, p50, p99, tps, ticks * 1e6 / hz / n
		}' "$WORK/wrk.out"
}

rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

main() {
	ensure_tools
	log "building the bench binary (release)"
	cargo build --release -q -p paas-router --example bench_router
	local bin=$CARGO_TARGET_DIR/release/examples/bench_router
	write_configs

	local port
	for port in "${BACKENDS[@]}"; do start "backend-$port" "$bin" backend "127.0.0.1:$port"; done
	PID[direct]=${PID[backend-${BACKENDS[0]}]}
	start nginx nginx -c "$WORK/nginx.conf" -g 'daemon off;'
	start haproxy haproxy -db -f "$WORK/haproxy.cfg"
	start paas "$bin" router "127.0.0.1:${PORT[paas]}" --table "$WORK/routes.txt" \
		--threads "$THREADS" --mode per-thread
	local paas_pid=${PID[paas]}
	start paas-shared "$bin" router "127.0.0.1:${PORT[paas-shared]}" --table "$WORK/routes.txt" \
		--threads "$THREADS" --mode shared
	local backend_addrs=()
	for port in "${BACKENDS[@]}"; do backend_addrs+=("127.0.0.1:$port"); done
	start floor "$bin" floor "127.0.0.1:${PORT[floor]}" --threads "$THREADS" "${backend_addrs[@]}"
	for target in "${TARGETS[@]}"; do wait_port "${PORT[$target]}"; done

	local target
	for target in "${TARGETS[@]}"; do
		local code
		code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "http://127.0.0.1:${PORT[$target]}/")
		[ "$code" = 200 ] || { log "$target answers $code"; exit 1; }
		DURATION=2 run_wrk "$target" 64 / >/dev/null
	done
	local rss_start
	rss_start=$(rss_mib "$paas_pid")

	local round
	for round in $(seq "$ROUNDS"); do
		for target in "${TARGETS[@]}"; do
			log "round $round/$ROUNDS: $target"
			run_wrk "$target" 64 / >>"$WORK/$target.c64"
			run_wrk "$target" 1 / >>"$WORK/$target.c1"
			run_wrk "$target" 16 /1m >>"$WORK/$target.1m"
		done
	done
	local rss_end soak=() elapsed=0 path conns
	rss_end=$(rss_mib "$paas_pid")
	while [ "$elapsed" -lt "$SOAK" ]; do
		if [ $((elapsed / 30 % 2)) -eq 0 ]; then path=/ conns=64; else path=/1m conns=16; fi
		log "soak: ${elapsed}s/${SOAK}s"
		DURATION=30 run_wrk paas "$conns" "$path" >/dev/null
		soak+=("$(rss_mib "$paas_pid")")
		elapsed=$((elapsed + 30))
	done

	declare -A RPS
	printf '%s: %s, %s CPUs; %s workers/threads per proxy; %s rounds of %ss, medians\n\n' \
		"$(date -u +%Y-%m-%d)" "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
		"$(nproc)" "$THREADS" "$ROUNDS" "$DURATION"
	printf '| %-11s | %12s | %12s | %12s | %11s | %11s | %10s | %11s | %8s | %9s |\n' \
		proxy "req/s (64c)" "p50 64c (ms)" "p99 64c (ms)" "p50 1c (ms)" "p99 1c (ms)" "MB/s 1MiB" "CPU us/req" "vs nginx" "vs direct"
	printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' ------------- -------------: -------------: -------------: ------------: ------------: -----------: ------------: ---------: ----------:
	for target in "${TARGETS[@]}"; do
		RPS[$target]=$(awk '{ print $1 }' "$WORK/$target.c64" | median)
	done
	for target in "${TARGETS[@]}"; do
		printf '| %-11s | %12.0f | %12.3f | %12.3f | %11.3f | %11.3f | %10.1f | %11.2f | %8.2f | %9.2f |\n' "$target" \
			"${RPS[$target]}" \
			"$(awk '{ print $2 }' "$WORK/$target.c64" | median)" \
			"$(awk '{ print $3 }' "$WORK/$target.c64" | median)" \
			"$(awk '{ print $2 }' "$WORK/$target.c1" | median)" \
			"$(awk '{ print $3 }' "$WORK/$target.c1" | median)" \
			"$(awk '{ print $4 }' "$WORK/$target.1m" | median)" \
			"$(awk '{ print $5 }' "$WORK/$target.c64" | median)" \
			"$(awk -v a="${RPS[$target]}" -v b="${RPS[nginx]}" 'BEGIN { print a / b }')" \
			"$(awk -v a="${RPS[$target]}" -v b="${RPS[direct]}" 'BEGIN { print a / b }')"
	done
	printf '\npaas router RSS: %s MiB after warm-up, %s MiB after all rounds\n' "$rss_start" "$rss_end"
	if [ "${#soak[@]}" -gt 0 ]; then
		printf 'paas router RSS every 30 s of a %s s soak (MiB): %s\n' "$SOAK" "${soak[*]}"
	fi
	printf 'router/nginx throughput ratio: %.2f\n' \
		"$(awk -v a="${RPS[paas]}" -v b="${RPS[nginx]}" 'BEGIN { print a / b }')"
}

main "$@"
