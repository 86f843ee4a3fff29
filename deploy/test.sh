#!/usr/bin/env bash
# THE test command: `sudo deploy/test.sh` (CI runs it through .ci/run).
#
# Works from a fresh Debian machine (installs Docker and the host packages,
# starts the engine, makes the busybox base image) and is quick on reruns.
# Then: rustfmt check, clippy with warnings denied, a build of every binary
# (the integration tests run the real paasd and paas from the target
# directory), and every test against the real Docker engine.
#
# Environment: CARGO_TARGET_DIR (default /var/tmp/paas-target), and anything
# deploy/images.sh reads.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

START=$(now)
STEP=setup
TIMINGS=()

# step NAME: starts the next section; the time of the previous one is kept
# for the summary.
STEP_START=
step() {
	finish_step
	STEP=$1
	STEP_START=$(now)
	section "$STEP"
}
finish_step() {
	if [ -n "$STEP_START" ]; then TIMINGS+=("$STEP $(elapsed "$STEP_START")"); fi
	STEP_START=
}

on_exit() {
	local rc=$?
	if [ "$rc" -ne 0 ]; then
		printf '\npaas test: FAILED at "%s" (exit %s) after %s\n' "$STEP" "$rc" "$(elapsed "$START")" >&2
	fi
}
trap on_exit EXIT

# Containers the tests label paas.instance=test-...: leftovers of runs that
# were killed before their cleanup ran.
test_containers() {
	docker_cli ps -a --filter label=paas.instance --format '{{.ID}} {{.Label "paas.instance"}}' |
		awk '$2 ~ /^test-/ { print $1 }'
}

remove_test_containers() {
	local ids
	ids=$(test_containers)
	if [ -z "$ids" ]; then
		log "none"
		return 0
	fi
	# shellcheck disable=SC2086 # one id per word
	docker_cli rm -f $ids >/dev/null
	log "removed $(wc -w <<<"$ids") container(s)"
}

run_tests() {
	if cargo nextest --version >/dev/null 2>&1; then
		log "$(cargo nextest --version | head -n 1)"
		cargo nextest run --workspace --no-fail-fast
		# nextest does not run doctests.
		cargo test --workspace --doc --no-fail-fast
	else
		cargo test --workspace --no-fail-fast
	fi
}

main() {
	step "Host packages"
	# Peers only the tests talk to: a real syslog server receives log drains;
	# a real headless Chromium (driven through chromedriver) uses the dashboard;
	# a throwaway PostgreSQL server backs the postgres:// controller database tests.
	PAAS_PACKAGES+=(rsyslog chromium chromium-driver postgresql)
	ensure_packages
	step "Docker engine"
	ensure_dockerd
	step "Leftover test containers"
	remove_test_containers
	step "Base images"
	PAAS_IMAGES=busybox "$PAAS_LIB_DIR/images.sh"
	# The buildpack tests build on the stacks: about a minute the first time,
	# a label check afterwards.
	step "Stack images"
	"$PAAS_LIB_DIR/stacks/make.sh"
	step "Rust toolchain"
	ensure_cargo
	ensure_rust_lint_tools
	export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/paas-target}
	log "target dir: $CARGO_TARGET_DIR"
	cd "$PAAS_REPO_DIR"

	step "cargo fmt --check"
	cargo fmt --all -- --check
	step "cargo clippy"
	cargo clippy --workspace --all-targets -- -D warnings
	step "cargo build"
	cargo build --workspace --bins
	step "tests"
	run_tests
	step "Engine restart"
	# Restarts the engine every other test uses, so it runs alone, after them.
	cargo test -p paasd --test integration engine:: -- --ignored
	step "Containers left behind"
	# Tests must remove what they create; say so loudly when one does not.
	local left
	left=$(test_containers | wc -l)
	if [ "$left" -ne 0 ]; then
		log "WARNING: the tests left $left container(s) labelled paas.instance=test-*; removing them"
		remove_test_containers
	else
		log "none"
	fi
	finish_step

	printf '\npaas test: PASS in %s (' "$(elapsed "$START")"
	local IFS=,
	printf '%s' "${TIMINGS[*]}" | sed 's/,/, /g'
	printf ')\n'
}

main "$@"
