#!/usr/bin/env bash
# Zero-downtime benchmark: four clients send requests through the router the whole time while
# ten deploys run back to back (push, config:set, rollback, restart, scale down and up, ...).
# Prints the time of each deploy and the requests sent, non-2xx answers and connection errors.
# Target: 0 failed requests. Needs what deploy/test.sh needs (Docker, the busybox image).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/paas-target}
cargo build --release --workspace --bins -q
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
cargo test --release -q -p paasd --test integration under_load -- --ignored --nocapture --test-threads 1 >"$out" 2>&1 || status=$?
grep -E '^(\||failed requests|test result)' "$out" || cat "$out"
exit "$status"
