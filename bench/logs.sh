#!/usr/bin/env bash
# Log pipeline benchmark: one process writes 200,000 lines as fast as it can; they go through
# the platform to a `paas logs -t` reader and to a syslog drain. Prints lines/s at each end,
# paasd's CPU use, and the app's own writing time against the bare engine. Target: 50,000
# lines/s per app without slowing the app. Needs what deploy/test.sh needs.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/paas-target}
cargo build --release --workspace --bins -q
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
cargo test --release -q -p paasd --test integration log_throughput -- --ignored --nocapture --test-threads 1 >"$out" 2>&1 || status=$?
grep -E '^(\||test result)' "$out" || tail -n 40 "$out"
exit "$status"
