#!/bin/bash
# paas's buildpack runner: /paas/runner.sh in a build-stack container.
#
# The builder lays out /app (the source), /paas/env (ENV_DIR: one file per config
# var), /paas/buildpacks/NN-NAME (in order), /paas/mode (`detect`: the first
# buildpack whose bin/detect passes; `explicit`: all of them, each must pass) and
# mounts the app's cache at /cache. This script runs the Heroku classic API on
# them and leaves its result in /paas/out for the builder:
#   status           ok | none-detected | not-compatible NAME | no-compile NAME |
#                    compile-failed NAME CODE | release-failed NAME CODE  (tab-separated)
#   detect-failures  NAME<tab>bin/detect's output, per buildpack that did not match
#   detect-output    the failing bin/detect's output (not-compatible)
#   buildpacks       the names of the buildpacks that ran, one a line
#   release-N        bin/release's YAML of the Nth of them
set -uo pipefail
exec 2>&1

OUT=/paas/out
BUILD_DIR=/app
CACHE_DIR=/cache
ENV_DIR=/paas/env

# Started as root only to hand the build's directories to the stack's user;
# buildpacks run as that user, like the app later does.
if [ "$(id -u)" = 0 ]; then
	user=${PAAS_BUILD_USER:-app}
	mkdir -p "$OUT" "$ENV_DIR" || exit 70
	chown -R "$user:" "$BUILD_DIR" /paas/buildpacks "$OUT" || exit 70
	chown "$user:" "$CACHE_DIR" || exit 70
	exec setpriv --reuid="$user" --regid="$user" --init-groups "$0" "$@"
fi

mapfile -t packs < <(find /paas/buildpacks -mindepth 1 -maxdepth 1 -type d | sort)
mode=$(cat /paas/mode)

name_of() {
	local n=${1##*/}
	echo "${n#*-}"
}

# detect BP: whether BP's bin/detect accepts the app; its output in $detected.
detect() {
	detected=$(cd "$BUILD_DIR" && "$1/bin/detect" "$BUILD_DIR" 2>&1 </dev/null)
}

announce() {
	local label=${detected%%$'\n'*}
	echo "-----> ${label:-$(name_of "$1")} app detected"
}

selected=()
if [ "$mode" = detect ]; then
	for bp in "${packs[@]}"; do
		if detect "$bp"; then
			selected=("$bp")
			announce "$bp"
			break
		fi
		printf '%s\t%s\n' "$(name_of "$bp")" "$(printf '%s' "$detected" | tr '\n\t' '  ')" >>"$OUT/detect-failures"
	done
	if [ "${#selected[@]}" -eq 0 ]; then
		printf 'none-detected\n' >"$OUT/status"
		exit 1
	fi
else
	for bp in "${packs[@]}"; do
		if ! detect "$bp"; then
			printf 'not-compatible\t%s\n' "$(name_of "$bp")" >"$OUT/status"
			printf '%s' "$detected" >"$OUT/detect-output"
			exit 1
		fi
		announce "$bp"
	done
	selected=("${packs[@]}")
fi

i=0
for bp in "${selected[@]}"; do
	name=$(name_of "$bp")
	echo "$name" >>"$OUT/buildpacks"
	if [ ! -x "$bp/bin/compile" ]; then
		printf 'no-compile\t%s\n' "$name" >"$OUT/status"
		exit 1
	fi
	(cd "$BUILD_DIR" && exec "$bp/bin/compile" "$BUILD_DIR" "$CACHE_DIR" "$ENV_DIR" </dev/null)
	rc=$?
	if [ "$rc" -ne 0 ]; then
		printf 'compile-failed\t%s\t%s\n' "$name" "$rc" >"$OUT/status"
		exit 1
	fi
	# A buildpack's `export` file passes its environment on to the next ones.
	if [ -f "$bp/export" ]; then
		set +u
		# shellcheck source=/dev/null
		. "$bp/export"
		set -u
	fi
	if [ -e "$bp/bin/release" ]; then
		(cd "$BUILD_DIR" && exec "$bp/bin/release" "$BUILD_DIR" </dev/null) >"$OUT/release-$i" 2>"$OUT/release-$i.err"
		rc=$?
		if [ "$rc" -ne 0 ]; then
			printf 'release-failed\t%s\t%s\n' "$name" "$rc" >"$OUT/status"
			exit 1
		fi
	fi
	i=$((i + 1))
done
printf 'ok\n' >"$OUT/status"
