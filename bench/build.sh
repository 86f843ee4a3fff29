#!/usr/bin/env bash
# bench/build.sh: buildpack builds of the Flask and Express examples, push to live.
#
#   cold   `git push` of a new app (empty build cache: pip and npm download
#          everything) until the router serves its page
#   warm   `git push` of a one-line code change until the new page is served
#
# plus the sizes of the app's image and of its two slug layers (dependencies,
# code) on the run stack. Targets: the warm Flask push live in under 10 s and
# under a third of the cold one.
#
# Runs a release paasd (built here) on free loopback ports with a temporary
# data dir, as deploy/bootstrap.sh would run it; removes its apps, containers
# and images at the end. Needs Docker, the stacks (made here when missing) and
# access to PyPI and the npm registry.
#
# Environment: ROUNDS (1; cold and warm are medians over this many fresh apps),
# CARGO_TARGET_DIR (/var/tmp/paas-target).
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
ROUNDS=${ROUNDS:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/paas-target}
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=docker

log() { printf '%s\n' "$*" >&2; }
now() { date +%s.%N; }
secs() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.1f", e - s }'; }
mb() { awk -v b="$1" 'BEGIN { if (b < 1e6) printf "%.1f kB", b / 1e3; else printf "%.1f MB", b / 1e6 }'; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

log "building paasd and paas (release)"
cargo build --release -q -p paasd -p paas-cli
BIN=$CARGO_TARGET_DIR/release
if ! "$REPO/deploy/stacks/make.sh" >/tmp/paas-bench-stacks.log 2>&1; then
	cat /tmp/paas-bench-stacks.log >&2
	exit 1
fi

WORK=$(mktemp -d /tmp/paas-bench-build.XXXXXX)
INSTANCE=bench-build-$$
API_PORT=$(free_port)
ROUTER_PORT=$(free_port)
PAASD_PID=
cleanup() {
	local rc=$? ids
	if [ -n "$PAASD_PID" ]; then kill "$PAASD_PID" 2>/dev/null || true; wait "$PAASD_PID" 2>/dev/null || true; fi
	if [ "$rc" -ne 0 ] && [ -f "$WORK/paasd.log" ]; then tail -n 30 "$WORK/paasd.log" >&2; fi
	ids=$("$DOCKER" ps -aq --filter "label=paas.instance=$INSTANCE")
	# shellcheck disable=SC2086 # one id per word
	if [ -n "$ids" ]; then "$DOCKER" rm -f $ids >/dev/null; fi
	"$DOCKER" images --format '{{.Repository}}:{{.Tag}}' | grep '^paas-app/bench-' | xargs -r "$DOCKER" rmi -f >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/data" "$WORK/home"
echo "$INSTANCE" >"$WORK/data/instance-id"
env -i PATH="$PATH" HOME="$WORK/home" PAAS_DATA_DIR="$WORK/data" \
	PAAS_API_LISTEN="127.0.0.1:$API_PORT" PAAS_ROUTER_LISTEN="127.0.0.1:$ROUTER_PORT" \
	PAAS_BUILDPACKS_DIR="$REPO/buildpacks" PAAS_LOG=warn \
	"$BIN/paasd" >"$WORK/paasd.log" 2>&1 &
PAASD_PID=$!
export HOME=$WORK/home PAAS_API_URL=http://127.0.0.1:$API_PORT
for _ in $(seq 100); do
	if curl -fs "$PAAS_API_URL/healthz" >/dev/null; then break; fi
	sleep 0.1
done
"$BIN/paas" register --api "$PAAS_API_URL" --username bench --password bench-password >/dev/null 2>&1

gitc() { git -c user.name=bench -c user.email=bench@paas.invalid "$@"; }

# wait_for APP TEXT: until the router serves TEXT for APP (at most 120 s).
wait_for() {
	local app=$1 text=$2
	for _ in $(seq 2400); do
		if curl -fs --max-time 2 -H "Host: $app.localhost" "http://127.0.0.1:$ROUTER_PORT/" | grep -qF "$text"; then
			return 0
		fi
		sleep 0.05
	done
	log "$app never served '$text'"
	exit 1
}

# push_to_live DIR APP TEXT: seconds from `git push` until the router serves
# TEXT. The push itself returns a little later: after going live, the old
# processes get the drain time and are stopped before git hears back.
push_to_live() {
	local dir=$1 app=$2 text=$3 start live pid
	start=$(now)
	(cd "$dir" && git push -q platform master >"$WORK/push.log" 2>&1) &
	pid=$!
	wait_for "$app" "$text"
	live=$(now)
	if ! wait "$pid"; then
		cat "$WORK/push.log" >&2
		exit 1
	fi
	secs "$start" "$live"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# measure EXAMPLE FILE GREETING: rows for one example.
measure() {
	local example=$1 file=$2 greeting=$3 round app dir colds=() warms=()
	for round in $(seq "$ROUNDS"); do
		app=bench-$example-$round
		dir=$WORK/src-$app
		"$BIN/paas" apps:create "$app" >/dev/null
		cp -r "$REPO/examples/$example" "$dir"
		(cd "$dir" && git init -q -b master && git add -A && gitc commit -qm init && "$BIN/paas" git:remote -a "$app" >/dev/null)
		colds+=("$(push_to_live "$dir" "$app" "release=v1")")
		sed -i "s/$greeting/Benchmarked/" "$dir/$file"
		(cd "$dir" && gitc commit -qam "code change")
		warms+=("$(push_to_live "$dir" "$app" "Benchmarked")")
	done
	local cold warm container image size layers deps code
	cold=$(printf '%s\n' "${colds[@]}" | median)
	warm=$(printf '%s\n' "${warms[@]}" | median)
	container=$("$DOCKER" ps -q --filter "label=paas.instance=$INSTANCE" --filter "label=paas.app=$app" | head -n 1)
	image=$("$DOCKER" inspect -f '{{.Image}}' "$container")
	size=$("$DOCKER" image inspect -f '{{.Size}}' "$image")
	# docker history: newest layer first (code), then dependencies, then the run stack.
	mapfile -t layers < <("$DOCKER" history --no-trunc --human=false --format '{{.Size}}' "$image")
	code=${layers[0]}
	deps=${layers[1]}
	printf '| %s | %s s | %s s | %s | %s | %s | %s |\n' "$example" "$cold" "$warm" \
		"$(awk -v w="$warm" -v c="$cold" 'BEGIN { printf "%.2f", w / c }')" \
		"$(mb "$size")" "$(mb "$deps")" "$(mb "$code")"
}

echo "| example | cold push to live | warm push to live (code only) | warm / cold | image | dependencies layer | code layer |"
echo "|---|---|---|---|---|---|---|"
measure flask app.py "Hello from Flask"
measure express server.js "Hello from Express"
echo
echo "run stack $("$DOCKER" image inspect -f '{{.Size}}' paas/stack-run:bookworm | awk '{ printf "%.1f MB", $1 / 1e6 }'), build stack $("$DOCKER" image inspect -f '{{.Size}}' paas/stack-build:bookworm | awk '{ printf "%.1f MB", $1 / 1e6 }'); $(nproc) CPUs; ROUNDS=$ROUNDS"
