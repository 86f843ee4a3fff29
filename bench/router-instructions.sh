#!/usr/bin/env bash
# bench/router-instructions.sh: user-space instructions per proxied request of the paas router,
# counted by valgrind's callgrind. Unlike req/s or CPU time this does not depend on what else
# the machine is doing, so it shows what a change to the request path costs or saves.
#
# Three backends (router/examples/bench_router.rs) and the router with one thread under
# callgrind; after a warm-up the counters are zeroed, REQUESTS keep-alive GET requests go
# through 8 connections, and the counters are dumped. Prints the total per request and the
# functions with the most instructions (exclusive and inclusive). Everything started here is
# stopped on exit.
#
# Environment: REQUESTS (20000), TOP (15), CARGO_TARGET_DIR (/var/tmp/paas-target), PROXY
# (`router`, or `floor` for the yardstick of bench/router.sh: the least a keep-alive proxy on
# tokio does), REQUEST (`plain`: Host, User-Agent and Accept; `browser`: the 13 fields a
# browser sends with a page request).
set -euo pipefail

REQUESTS=${REQUESTS:-20000}
REQUEST=${REQUEST:-plain}
TOP=${TOP:-15}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/paas-target}
BACKENDS=(18181 18182 18183)
PORT=18192
HOST=web.bench.test

log() { printf '%s\n' "$*" >&2; }

WORK=$(mktemp -d /tmp/paas-instructions.XXXXXX)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	[ -n "${KEEP_CALLGRIND:-}" ] && cp "$WORK"/callgrind.out.* "$KEEP_CALLGRIND" 2>/dev/null; rm -rf "$WORK"
}
trap cleanup EXIT

if ! command -v valgrind >/dev/null; then
	log "installing valgrind"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi
log "building the bench binary (release)"
cargo build --release -q -p paas-router --example bench_router
bin=$CARGO_TARGET_DIR/release/examples/bench_router

{
	printf 'web'
	for port in "${BACKENDS[@]}"; do printf ' 127.0.0.1:%s' "$port"; done
	printf '\n'
	for i in $(seq 1000); do printf 'app%04d 127.0.0.1:%d\n' "$i" $((20000 + i)); done
} >"$WORK/routes.txt"
for port in "${BACKENDS[@]}"; do
	"$bin" backend "127.0.0.1:$port" >"$WORK/backend-$port.log" 2>&1 &
	PIDS+=($!)
done
PROXY=${PROXY:-router}
case $PROXY in
router) proxy=("$bin" router "127.0.0.1:$PORT" --table "$WORK/routes.txt" --threads 1 --mode per-thread) ;;
floor) proxy=("$bin" floor "127.0.0.1:$PORT" --threads 1 "${BACKENDS[@]/#/127.0.0.1:}") ;;
*) log "PROXY is router or floor, not $PROXY"; exit 2 ;;
esac
valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" "${proxy[@]}" \
	>"$WORK/router.log" 2>&1 &
router=$!
PIDS+=("$router")

# drive N: N keep-alive requests over 8 connections, each answer read whole.
drive() {
	python3 - "$1" "$PORT" "$HOST" "$REQUEST" <<'EOF'
import socket, sys
n, port, host, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
fields = [f"Host: {host}", "User-Agent: bench", "Accept: */*"]
if kind == "browser":
    fields = [
        f"Host: {host}",
        "sec-ch-ua: \"Chromium\";v=\"130\", \"Not?A_Brand\";v=\"99\"",
        "sec-ch-ua-mobile: ?0",
        "sec-ch-ua-platform: \"Linux\"",
        "Upgrade-Insecure-Requests: 1",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
        "Sec-Fetch-Site: none",
        "Sec-Fetch-Mode: navigate",
        "Sec-Fetch-Dest: document",
        "Accept-Encoding: gzip, deflate, br",
        "Accept-Language: en-US,en;q=0.9",
        "Cookie: session=8f2c0e1d9b7a4c3e5f6a7b8c9d0e1f2a",
    ]
request = ("GET / HTTP/1.1\r\n" + "".join(f + "\r\n" for f in fields) + "\r\n").encode()
sent = 0
while sent < n:
    for c in conns:
        c.sendall(request)
    for c in conns:
        answer = b""
        while not answer.endswith(b"Hello, world!\n"):
            chunk = c.recv(65536)
            if not chunk:
                sys.exit("the router closed a connection")
            answer += chunk
        if not answer.startswith(b"HTTP/1.1 200"):
            sys.exit("unexpected answer: " + answer[:80].decode(errors="replace"))
    sent += len(conns)
EOF
}

for _ in $(seq 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
	sleep 0.2
done
log "warming up"
drive 2000
callgrind_control -z "$router" >/dev/null
log "measuring $REQUESTS requests"
drive "$REQUESTS"
callgrind_control -d "$router" >/dev/null
sleep 1
dump=$(ls "$WORK"/callgrind.out.* | head -1)

total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(/,/, "", $1); print $1; exit }')
printf '%s: %s, 1 thread, %s keep-alive GETs over 8 connections, callgrind\n\n' \
	"$(date -u +%Y-%m-%d)" "$([ "$PROXY" = floor ] && echo "the floor proxy" || echo "paas router")" "$REQUESTS"
table() { # table HEADING ANNOTATE-FLAGS...
	printf '| %-10s | %s |\n|-----------:|:---|\n' "$1" "function"
	shift
	callgrind_annotate --threshold=100 "$@" "$dump" 2>/dev/null |
		sed -n '/file:function/,$p' | sed 's/,//g' |
		awk -v n="$REQUESTS" -v total="$total" -v top="$TOP" '
			$1 ~ /^[0-9]+$/ && $1 < total * 0.95 && shown < top {
				shown++
				f = $0; sub(/^ *[0-9]+ \( *[0-9.]+%\) +/, "", f); sub(/ \[.*$/, "", f); sub(/^[^:]*:/, "", f)
				printf "| %10.0f | %s |\n", $1 / n, substr(f, 1, 100)
			}'
	printf '\n'
}
table "instr/req" --inclusive=no
table "incl/req" --inclusive=yes
printf 'user-space instructions per proxied request: %.0f\n' "$(awk -v t="$total" -v n="$REQUESTS" 'BEGIN { print t / n }')"
