#!/usr/bin/env bash
# Makes paas's local base images. Nothing can be pulled on a host without a
# registry, so they are assembled from the host's Debian packages and
# `docker import`ed:
#
#   paas/busybox:latest   busybox-static alone (2 MB, under a second)
#   paas/debian:bookworm  mmdebstrap minbase + ca-certificates, trusting the
#                         host's CA bundle
#
# Usage: deploy/images.sh [--force] [busybox|debian|all]...   (default: all)
#
# Each image carries the hash of its recipe in the label `paas.recipe`; an
# image whose label matches is left alone, so a second run does nothing.
#
# Environment:
#   PAAS_IMAGES           images to make when none are named ("busybox", "busybox debian")
#   PAAS_CA_BUNDLE        CA bundle the debian image trusts (/etc/ssl/certs/ca-certificates.crt)
#   PAAS_DEBIAN_MIRROR    Debian mirror (default: the host's apt mirror, else deb.debian.org)
#   PAAS_DEBIAN_SECURITY_MIRROR  security mirror (same rule)
#   PAAS_IMAGES_FORCE=1   rebuild even when up to date (same as --force)
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PAAS_CA_BUNDLE=${PAAS_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
DEBIAN_SUITE=bookworm
BUSYBOX_IMAGE=paas/busybox:latest
DEBIAN_IMAGE=paas/debian:$DEBIAN_SUITE
CA_PATH=/etc/ssl/certs/ca-certificates.crt

# The environment every tool in the debian image needs to trust CA_PATH: a
# TLS-intercepting proxy's CA is only in that bundle, and pip, requests, node,
# npm and cargo each read their own variable.
DEBIAN_ENV=(
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	LANG=C.UTF-8
	"SSL_CERT_FILE=$CA_PATH"
	"REQUESTS_CA_BUNDLE=$CA_PATH"
	"PIP_CERT=$CA_PATH"
	"CURL_CA_BUNDLE=$CA_PATH"
	"NODE_EXTRA_CA_CERTS=$CA_PATH"
	"npm_config_cafile=$CA_PATH"
	"CARGO_HTTP_CAINFO=$CA_PATH"
	"GIT_SSL_CAINFO=$CA_PATH"
)

sha256() { sha256sum | cut -c1-64; }

# image_recipe IMAGE: the recipe label of IMAGE, empty if it has none or does
# not exist.
image_recipe() {
	docker_cli image inspect -f '{{ index .Config.Labels "paas.recipe" }}' "$1" 2>/dev/null || true
}

# up_to_date IMAGE HASH
up_to_date() {
	[ "${PAAS_IMAGES_FORCE:-0}" != 1 ] && [ "$(image_recipe "$1")" = "$2" ]
}

image_id() { docker_cli image inspect -f '{{ .Id }}' "$1" 2>/dev/null || true; }

# drop_replaced OLD_ID IMAGE: removes the image IMAGE's tag used to point at,
# unless containers still use it (no --force: those keep it alive).
drop_replaced() {
	local old=$1 image=$2
	if [ -n "$old" ] && [ "$old" != "$(image_id "$image")" ]; then
		docker_cli image rm "$old" >/dev/null 2>&1 || true
	fi
}

image_size() {
	docker_cli image inspect -f '{{ .Size }}' "$1" | awk '{ printf "%.1f MB", $1 / 1e6 }'
}

# --- busybox -----------------------------------------------------------------

# busybox_rootfs DIR: /bin/busybox, a symlink per applet, and the few files
# tools expect (a root user, /tmp).
busybox_rootfs() {
	local root=$1 applet
	mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/var/www"
	chmod 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for applet in $("$root/bin/busybox" --list); do
		[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
}

BUSYBOX_CHANGES=('CMD ["sh"]')

make_busybox() {
	[ -x /bin/busybox ] || die "/bin/busybox not found (install busybox-static)"
	# ldd fails on a static binary; a dynamic busybox cannot run without a libc.
	if ldd /bin/busybox >/dev/null 2>&1; then
		die "/bin/busybox is dynamically linked: install busybox-static"
	fi
	local hash
	hash=$({
		declare -f busybox_rootfs
		printf '%s\n' "${BUSYBOX_CHANGES[@]}"
		sha256sum </bin/busybox
	} | sha256)
	if up_to_date "$BUSYBOX_IMAGE" "$hash"; then
		log "$BUSYBOX_IMAGE up to date"
		return 0
	fi
	local start tmp old
	start=$(now)
	old=$(image_id "$BUSYBOX_IMAGE")
	tmp=$(mktemp -d)
	busybox_rootfs "$tmp/root"
	local change args=()
	for change in "${BUSYBOX_CHANGES[@]}" "LABEL paas.recipe=$hash"; do args+=(-c "$change"); done
	tar -C "$tmp/root" --numeric-owner --owner=0 --group=0 -c . |
		docker_cli import "${args[@]}" - "$BUSYBOX_IMAGE" >/dev/null
	rm -rf "$tmp"
	drop_replaced "$old" "$BUSYBOX_IMAGE"
	log "$BUSYBOX_IMAGE built in $(elapsed "$start") ($(image_size "$BUSYBOX_IMAGE"))"
}

# --- debian ------------------------------------------------------------------

# host_mirror SUFFIX: the first URI of the host's apt sources whose path ends
# in SUFFIX (/debian or /debian-security), so the image uses a mirror the
# host is known to reach.
host_mirror() {
	local suffix=$1
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -v '^[[:space:]]*#' |
		grep -oE '(https?|file)://[^[:space:]]+' |
		sed 's,/*$,,' |
		grep -E "${suffix}\$" | head -n 1 || true
}

# The mmdebstrap customize hook: the host's CA bundle replaces the image's,
# and the certificates only the host has are also added to
# /usr/local/share/ca-certificates, so a later update-ca-certificates inside
# the image keeps them.
ca_hook() {
	cat <<'EOF'
#!/bin/sh
set -eu
root=$1
bundle=$PAAS_CA_BUNDLE
extra="$root/usr/local/share/ca-certificates"
mkdir -p "$extra"
tr -d '\r' <"$bundle" | awk -v dir="$extra" '
	FNR == 1 { file++ }
	/-----BEGIN CERTIFICATE-----/ { inside = 1; block = "" }
	inside { block = block $0 "\n" }
	/-----END CERTIFICATE-----/ {
		inside = 0
		if (file == 1) { known[block] = 1 }
		else if (!(block in known)) {
			out = sprintf("%s/paas-host-%03d.crt", dir, ++n)
			printf "%s", block > out
			close(out)
		}
	}
' "$root/etc/ssl/certs/ca-certificates.crt" -
cp "$bundle" "$root/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$root/etc/ssl/certs/ca-certificates.crt"
EOF
}

make_debian() {
	[ -r "$PAAS_CA_BUNDLE" ] || die "CA bundle $PAAS_CA_BUNDLE not readable (set PAAS_CA_BUNDLE)"
	command -v mmdebstrap >/dev/null 2>&1 || die "mmdebstrap not found (install mmdebstrap)"
	local mirror security
	mirror=${PAAS_DEBIAN_MIRROR:-$(host_mirror /debian)}
	mirror=${mirror:-http://deb.debian.org/debian}
	security=${PAAS_DEBIAN_SECURITY_MIRROR:-$(host_mirror /debian-security)}
	security=${security:-http://deb.debian.org/debian-security}
	local sources=(
		"deb $mirror $DEBIAN_SUITE main"
		"deb $mirror $DEBIAN_SUITE-updates main"
		"deb $security $DEBIAN_SUITE-security main"
	)
	local changes=('CMD ["bash"]')
	local env
	for env in "${DEBIAN_ENV[@]}"; do changes+=("ENV $env"); done
	local mmdebstrap_args=(--variant=minbase --include=ca-certificates)
	# eatmydata spares dpkg's fsyncs (older mmdebstrap versions lack the hook).
	if [ -d /usr/share/mmdebstrap/hooks/eatmydata ]; then
		mmdebstrap_args+=(--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata)
	fi
	local hash
	hash=$({
		printf '%s\n' "$DEBIAN_SUITE" "${sources[@]}" "${changes[@]}" "${mmdebstrap_args[@]}"
		ca_hook
		sha256sum <"$PAAS_CA_BUNDLE"
	} | sha256)
	if up_to_date "$DEBIAN_IMAGE" "$hash"; then
		log "$DEBIAN_IMAGE up to date"
		return 0
	fi
	local start tmp old
	start=$(now)
	old=$(image_id "$DEBIAN_IMAGE")
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT
	ca_hook >"$tmp/ca-hook"
	chmod +x "$tmp/ca-hook"
	local change import_args=()
	for change in "${changes[@]}" "LABEL paas.recipe=$hash"; do import_args+=(-c "$change"); done
	log "$DEBIAN_IMAGE: mmdebstrap $DEBIAN_SUITE from $mirror (about 15-30s)"
	# mmdebstrap reads sources from stdin when it is not a terminal, hence
	# </dev/null; the tar goes to a file so a failed bootstrap imports nothing.
	# Its chatter (hooks ignore --quiet) is shown only when it fails.
	if ! PAAS_CA_BUNDLE=$PAAS_CA_BUNDLE mmdebstrap "${mmdebstrap_args[@]}" \
		--customize-hook="$tmp/ca-hook" \
		"$DEBIAN_SUITE" "$tmp/rootfs.tar" "${sources[@]}" </dev/null >"$tmp/mmdebstrap.log" 2>&1; then
		tail -n 30 "$tmp/mmdebstrap.log" >&2
		die "mmdebstrap failed (mirror: $mirror; set PAAS_DEBIAN_MIRROR to use another)"
	fi
	local bootstrapped
	bootstrapped=$(elapsed "$start")
	docker_cli import "${import_args[@]}" "$tmp/rootfs.tar" "$DEBIAN_IMAGE" >/dev/null
	rm -rf "$tmp"
	trap - EXIT
	drop_replaced "$old" "$DEBIAN_IMAGE"
	log "$DEBIAN_IMAGE built in $(elapsed "$start") (mmdebstrap $bootstrapped; $(image_size "$DEBIAN_IMAGE"))"
}

# --- main --------------------------------------------------------------------

main() {
	local wanted=() arg
	for arg in "$@"; do
		case "$arg" in
		--force) PAAS_IMAGES_FORCE=1 ;;
		busybox | debian) wanted+=("$arg") ;;
		all) wanted+=(busybox debian) ;;
		-h | --help)
			sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
			return 0
			;;
		*) die "unknown image '$arg' (expected busybox, debian or all)" ;;
		esac
	done
	if [ "${#wanted[@]}" -eq 0 ]; then
		local list=${PAAS_IMAGES:-all}
		read -ra wanted <<<"${list//,/ }"
		if [ "${wanted[*]}" = all ]; then wanted=(busybox debian); fi
	fi
	docker_works || die "docker does not answer ('$PAAS_DOCKER info' fails); start it first (deploy/bootstrap.sh does)"
	local start image
	start=$(now)
	for image in "${wanted[@]}"; do
		case "$image" in
		busybox) make_busybox ;;
		debian) make_debian ;;
		*) die "unknown image '$image' in PAAS_IMAGES (expected busybox, debian or all)" ;;
		esac
	done
	log "images: done in $(elapsed "$start")"
}

# deploy/stacks/make.sh sources this file for its functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
