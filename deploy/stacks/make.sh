#!/usr/bin/env bash
# Makes paas's stack images: the images buildpack builds run on (build stack)
# and apps run on (run stack). There is no registry to pull them from, so they
# are made here from Debian packages, like deploy/images.sh does:
#
#   a stack with no STACK_FROM   mmdebstrap minbase + STACK_PACKAGES, the
#                                host's CA bundle, customize.sh, docker import
#   a stack FROM another stack   apt-get install STACK_PACKAGES and
#                                customize.sh in a container of that stack's
#                                image, docker commit (one layer on top)
#
# Usage: deploy/stacks/make.sh [--force] [--list] [STACK...]
#        (default: every stack in the recipes directory, parents first)
#
# A stack is a directory NAME/ holding stack.conf (see run/stack.conf) and
# optionally customize.sh (run as root inside the new image). Each image
# carries the hash of its recipe (and of its parent's) in the label
# `paas.recipe`; an image whose label matches is left alone, so a second run
# does nothing. `paasd stack build` runs this script.
#
# Environment:
#   PAAS_STACK_RECIPES    directory of stack recipes (default: this script's)
#   PAAS_CA_BUNDLE        CA bundle the stacks trust (/etc/ssl/certs/ca-certificates.crt)
#   PAAS_DEBIAN_MIRROR, PAAS_DEBIAN_SECURITY_MIRROR   as for deploy/images.sh
#   PAAS_IMAGES_FORCE=1   rebuild even when up to date (same as --force)
set -euo pipefail

STACKS_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# images.sh's functions (mirrors, the CA hook, recipe labels); sourcing it
# does not run its main.
# shellcheck source=SCRIPTDIR/../images.sh
. "$STACKS_SCRIPT_DIR/../images.sh"

RECIPES=${PAAS_STACK_RECIPES:-$STACKS_SCRIPT_DIR}
declare -A STACK_HASH=()

# stack_names: every directory under RECIPES with a stack.conf.
stack_names() {
	local conf
	for conf in "$RECIPES"/*/stack.conf; do
		[ -e "$conf" ] || continue
		basename "$(dirname "$conf")"
	done
}

# load_recipe NAME: sets the STACK_* variables from NAME/stack.conf.
load_recipe() {
	local name=$1 dir="$RECIPES/$1"
	[ -f "$dir/stack.conf" ] || die "no stack '$name': $dir/stack.conf not found (stacks: $(stack_names | tr '\n' ' '))"
	STACK_IMAGE='' STACK_FROM='' STACK_SUITE=bookworm STACK_USER=app
	STACK_PACKAGES=()
	# shellcheck source=/dev/null
	. "$dir/stack.conf"
	[ -n "$STACK_IMAGE" ] || die "$dir/stack.conf: STACK_IMAGE is not set"
	STACK_CUSTOMIZE=
	if [ -f "$dir/customize.sh" ]; then STACK_CUSTOMIZE="$dir/customize.sh"; fi
}

# The image settings every stack gets: the CA variables of deploy/images.sh,
# a home and working directory at /app, and the stack's user.
stack_changes() {
	local env
	for env in "${DEBIAN_ENV[@]}"; do printf '%s\n' "ENV $env"; done
	printf '%s\n' "ENV HOME=/app" "WORKDIR /app" "USER $STACK_USER" 'CMD ["bash"]'
}

# recipe_text NAME: everything the image depends on, hashed into its label.
recipe_text() {
	local name=$1
	cat "$RECIPES/$name/stack.conf"
	if [ -n "$STACK_CUSTOMIZE" ]; then cat "$STACK_CUSTOMIZE"; fi
	stack_changes
	declare -f make_bootstrapped make_derived
	sha256sum <"$PAAS_CA_BUNDLE"
}

make_stack() {
	local name=$1
	if [ -n "${STACK_HASH[$name]:-}" ]; then return 0; fi
	load_recipe "$name"
	local parent=$STACK_FROM
	if [ -n "$parent" ]; then
		[ "$parent" != "$name" ] || die "stack $name: STACK_FROM names itself"
		make_stack "$parent"
		load_recipe "$name"
		make_derived "$name" "$parent"
	else
		make_bootstrapped "$name"
	fi
}

make_bootstrapped() {
	local name=$1
	[ -r "$PAAS_CA_BUNDLE" ] || die "CA bundle $PAAS_CA_BUNDLE not readable (set PAAS_CA_BUNDLE)"
	command -v mmdebstrap >/dev/null 2>&1 || die "mmdebstrap not found (install mmdebstrap)"
	local mirror security
	mirror=${PAAS_DEBIAN_MIRROR:-$(host_mirror /debian)}
	mirror=${mirror:-http://deb.debian.org/debian}
	security=${PAAS_DEBIAN_SECURITY_MIRROR:-$(host_mirror /debian-security)}
	security=${security:-http://deb.debian.org/debian-security}
	local sources=(
		"deb $mirror $STACK_SUITE main"
		"deb $mirror $STACK_SUITE-updates main"
		"deb $security $STACK_SUITE-security main"
	)
	local packages
	packages=$(
		IFS=,
		echo "${STACK_PACKAGES[*]}"
	)
	local args=(--variant=minbase "--include=$packages")
	# eatmydata spares dpkg's fsyncs (older mmdebstrap versions lack the hook).
	if [ -d /usr/share/mmdebstrap/hooks/eatmydata ]; then
		args+=(--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata)
	fi
	local hash
	hash=$({
		recipe_text "$name"
		printf '%s\n' "${sources[@]}" "${args[@]}"
		ca_hook
	} | sha256)
	STACK_HASH[$name]=$hash
	if up_to_date "$STACK_IMAGE" "$hash"; then
		log "$STACK_IMAGE up to date"
		return 0
	fi
	local start tmp old
	start=$(now)
	old=$(image_id "$STACK_IMAGE")
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT
	ca_hook >"$tmp/ca-hook"
	chmod +x "$tmp/ca-hook"
	args+=("--customize-hook=$tmp/ca-hook")
	if [ -n "$STACK_CUSTOMIZE" ]; then
		cp "$STACK_CUSTOMIZE" "$tmp/customize.sh"
		args+=("--customize-hook=chroot \"\$1\" /bin/sh -s <'$tmp/customize.sh'")
	fi
	log "$STACK_IMAGE: mmdebstrap $STACK_SUITE + ${#STACK_PACKAGES[@]} packages from $mirror (about a minute)"
	if ! PAAS_CA_BUNDLE=$PAAS_CA_BUNDLE mmdebstrap "${args[@]}" \
		"$STACK_SUITE" "$tmp/rootfs.tar" "${sources[@]}" </dev/null >"$tmp/mmdebstrap.log" 2>&1; then
		tail -n 30 "$tmp/mmdebstrap.log" >&2
		die "mmdebstrap failed for stack $name (mirror: $mirror; set PAAS_DEBIAN_MIRROR to use another)"
	fi
	local bootstrapped change import_args=()
	bootstrapped=$(elapsed "$start")
	while IFS= read -r change; do import_args+=(-c "$change"); done < <(stack_changes)
	import_args+=(-c "LABEL paas.recipe=$hash" -c "LABEL paas.stack=$name")
	docker_cli import "${import_args[@]}" "$tmp/rootfs.tar" "$STACK_IMAGE" >/dev/null
	rm -rf "$tmp"
	trap - EXIT
	drop_replaced "$old" "$STACK_IMAGE"
	log "$STACK_IMAGE built in $(elapsed "$start") (mmdebstrap $bootstrapped; $(image_size "$STACK_IMAGE"))"
}

make_derived() {
	local name=$1 parent=$2 parent_image
	parent_image=$(
		load_recipe "$parent"
		echo "$STACK_IMAGE"
	)
	local hash
	hash=$({
		recipe_text "$name"
		echo "FROM $parent ${STACK_HASH[$parent]}"
	} | sha256)
	STACK_HASH[$name]=$hash
	if up_to_date "$STACK_IMAGE" "$hash"; then
		log "$STACK_IMAGE up to date"
		return 0
	fi
	local start tmp old container
	start=$(now)
	old=$(image_id "$STACK_IMAGE")
	tmp=$(mktemp -d)
	container="paas-stack-$name-$$"
	# shellcheck disable=SC2064 # expand now: tmp and container are local
	trap "rm -rf '$tmp'; docker_cli rm -f '$container' >/dev/null 2>&1 || true" EXIT
	{
		echo 'set -eu'
		echo 'export DEBIAN_FRONTEND=noninteractive'
		if [ "${#STACK_PACKAGES[@]}" -gt 0 ]; then
			echo 'apt-get update -q'
			# unsafe-io: no fsync per file; the image is committed whole or not at all.
			printf 'apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-unsafe-io %s\n' "${STACK_PACKAGES[*]}"
			echo 'apt-get clean'
			echo 'rm -rf /var/lib/apt/lists/*'
		fi
		if [ -n "$STACK_CUSTOMIZE" ]; then cat "$STACK_CUSTOMIZE"; fi
	} >"$tmp/setup.sh"
	log "$STACK_IMAGE: ${#STACK_PACKAGES[@]} packages on $parent_image (about a minute)"
	if ! docker_cli run --name "$container" --user 0 --label paas.stack-build=1 \
		-v "$tmp/setup.sh:/tmp/paas-stack-setup.sh:ro" \
		"$parent_image" /bin/sh /tmp/paas-stack-setup.sh >"$tmp/setup.log" 2>&1; then
		tail -n 30 "$tmp/setup.log" >&2
		die "making stack $name failed (see above)"
	fi
	local change commit_args=()
	while IFS= read -r change; do commit_args+=(-c "$change"); done < <(stack_changes)
	commit_args+=(-c "LABEL paas.recipe=$hash" -c "LABEL paas.stack=$name")
	docker_cli commit "${commit_args[@]}" "$container" "$STACK_IMAGE" >/dev/null
	docker_cli rm -f "$container" >/dev/null
	rm -rf "$tmp"
	trap - EXIT
	drop_replaced "$old" "$STACK_IMAGE"
	log "$STACK_IMAGE built in $(elapsed "$start") ($(image_size "$STACK_IMAGE"))"
}

stacks_main() {
	local wanted=() arg
	for arg in "$@"; do
		case "$arg" in
		--force) PAAS_IMAGES_FORCE=1 ;;
		--list)
			stack_names
			return 0
			;;
		-h | --help)
			sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
			return 0
			;;
		-*) die "unknown option '$arg' (expected --force, --list or stack names)" ;;
		*) wanted+=("$arg") ;;
		esac
	done
	if [ "${#wanted[@]}" -eq 0 ]; then
		mapfile -t wanted < <(stack_names)
		[ "${#wanted[@]}" -gt 0 ] || die "no stack recipes in $RECIPES"
	fi
	docker_works || die "docker does not answer ('$PAAS_DOCKER info' fails); start it first (deploy/bootstrap.sh does)"
	local start name
	start=$(now)
	for name in "${wanted[@]}"; do make_stack "$name"; done
	log "stacks: done in $(elapsed "$start")"
}

stacks_main "$@"
